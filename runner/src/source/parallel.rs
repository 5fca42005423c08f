//! The source's event stream with several files decoded at once, merged back in file order.
//!
//! Reading, decompressing and skipping/resolving records is most of a run's CPU outside the
//! plugins, and files are independent, so a small pool of worker threads decodes the next few
//! files while the consumer takes the current one. The stream is exactly the sequential one
//! ([`super::events::Events`]): the merger yields files in order and records in order, and it alone
//! hands out schema ids (workers only report each file's writer schema), so ids and announcements
//! follow file order whatever the timing.
//!
//! Bounds: at most `workers + 2` files are in flight, each with a queue of [`QUEUE_DEPTH`]
//! batches; a worker whose queue is full waits, so a large file is never buffered whole.
//! The first error (naming its file) cancels every worker; dropping the stream cancels them too
//! and waits for them, so no thread outlives it.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{anyhow, Result};
use crossbeam_channel::{Receiver, Sender};

use super::events::{open_container, OpenFile, Reading};
use super::format::SourceFormat;
use super::schemas::{Planner, ReaderSchema, Registry};
use super::text::{open_records, PlainFile};
use super::{SourceEvent, SourceFile};
use crate::record::{FileId, SourceBatch};
use crate::storage::Storage;

/// Batches a worker may get ahead of the consumer, per file.
const QUEUE_DEPTH: usize = 4;

/// The number of decoding threads by default: one per core.
pub(crate) fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// What a worker sends about one file, in this order.
enum Piece {
    /// The file's writer schema, from its header: the merger turns it into an id.
    Schema { canonical: String, json: String },
    /// Records, tagged with schema id 0 until the merger sets the real one.
    Batch(SourceBatch),
    /// Every record was sent and the count checked.
    Done,
}

/// One file for a worker to decode, and where its pieces go.
struct Job {
    index: usize,
    pieces: Sender<Piece>,
}

/// A file in flight, as the merger sees it.
struct InFlight {
    index: usize,
    pieces: Receiver<Piece>,
    schema_id: u32,
}

/// What the workers share.
struct Shared {
    files: Vec<SourceFile>,
    storage: Arc<dyn Storage>,
    planner: Planner,
    format: SourceFormat,
    batch_size: usize,
    max_block_bytes: u64,
    cancelled: AtomicBool,
    /// The error of the lowest-numbered file that failed.
    error: Mutex<Option<(usize, anyhow::Error)>>,
}

impl Shared {
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    fn fail(&self, index: usize, error: anyhow::Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(|(first, _)| index < *first) {
            *slot = Some((index, error));
        }
        drop(slot);
        self.cancel();
    }

    fn take_error(&self) -> Option<anyhow::Error> {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.take().map(|(_, e)| e)
    }
}

/// The merged stream; see the module documentation.
pub(crate) struct ParallelEvents {
    shared: Arc<Shared>,
    registry: Registry,
    /// `None` once every file has been handed out (workers then finish and exit).
    jobs: Option<Sender<Job>>,
    next_job: usize,
    max_in_flight: usize,
    in_flight: VecDeque<InFlight>,
    workers: Vec<JoinHandle<()>>,
    /// A batch waiting behind the schema announcement that must precede it.
    pending: Option<SourceBatch>,
    finished: bool,
}

impl ParallelEvents {
    /// Starts `workers` threads (at least one) on `files`. Fails only if no thread can be started.
    pub(crate) fn start(
        files: Vec<SourceFile>,
        storage: Arc<dyn Storage>,
        reader_schema: Option<ReaderSchema>,
        format: SourceFormat,
        batch_size: usize,
        max_block_bytes: u64,
        workers: usize,
    ) -> Result<ParallelEvents> {
        // A store a round trip away fetches the next files' first bytes while these decode.
        storage.read_ahead(&files.iter().map(|f| f.url.clone()).collect::<Vec<_>>());
        let shared = Arc::new(Shared {
            files,
            storage,
            planner: Planner::new(reader_schema.clone()),
            format,
            batch_size: batch_size.max(1),
            max_block_bytes,
            cancelled: AtomicBool::new(false),
            error: Mutex::new(None),
        });
        let (jobs, job_queue) = crossbeam_channel::unbounded::<Job>();
        let mut handles = Vec::new();
        for n in 0..workers.max(1) {
            let shared = shared.clone();
            let job_queue = job_queue.clone();
            match std::thread::Builder::new()
                .name(format!("c2k-source-{n}"))
                // The default stack: a larger one (for apache-avro's resolution of datums
                // nested 256 deep) raised the peak RSS of every replay by ~50 MiB, measured.
                .spawn(move || work(&shared, &job_queue))
            {
                Ok(handle) => handles.push(handle),
                // Fewer workers only make it slower; none at all is an error.
                Err(e) if handles.is_empty() => {
                    return Err(anyhow!("cannot start a source decoding thread: {e}"))
                }
                Err(_) => break,
            }
        }
        let mut events = ParallelEvents {
            shared,
            registry: Registry::new(reader_schema),
            jobs: Some(jobs),
            next_job: 0,
            max_in_flight: handles.len() + 2,
            in_flight: VecDeque::new(),
            workers: handles,
            pending: None,
            finished: false,
        };
        events.hand_out();
        Ok(events)
    }

    /// Hands files to the workers until `max_in_flight` are in flight or none are left.
    fn hand_out(&mut self) {
        while self.in_flight.len() < self.max_in_flight {
            let Some(jobs) = &self.jobs else { return };
            if self.next_job >= self.shared.files.len() {
                self.jobs = None;
                return;
            }
            let (sender, receiver) = crossbeam_channel::bounded(QUEUE_DEPTH);
            let index = self.next_job;
            self.next_job += 1;
            // If every worker is gone the job is dropped with its sender, and the merger
            // reports the file as not decoded when it reaches it.
            let _ = jobs.send(Job {
                index,
                pieces: sender,
            });
            self.in_flight.push_back(InFlight {
                index,
                pieces: receiver,
                schema_id: 0,
            });
        }
    }

    fn next_event(&mut self) -> Result<Option<SourceEvent>> {
        if let Some(batch) = self.pending.take() {
            return Ok(Some(SourceEvent::Batch(batch)));
        }
        loop {
            if self.shared.cancelled() {
                return Err(self.error_for(None));
            }
            let Some(front) = self.in_flight.front_mut() else {
                return Ok(None);
            };
            match front.pieces.recv() {
                Ok(Piece::Schema { canonical, json }) => {
                    front.schema_id = self.registry.id_for(&canonical, &json);
                }
                Ok(Piece::Batch(mut batch)) => {
                    batch.schema_id = front.schema_id;
                    return Ok(Some(self.registry.hand_on(batch, &mut self.pending)));
                }
                Ok(Piece::Done) => {
                    self.in_flight.pop_front();
                    self.hand_out();
                }
                Err(_) => {
                    let index = front.index;
                    return Err(self.error_for(Some(index)));
                }
            }
        }
    }

    /// The error that stopped the workers; `stopped` is the file whose worker went away without
    /// finishing it, named if no error was recorded.
    fn error_for(&self, stopped: Option<usize>) -> anyhow::Error {
        self.shared.take_error().unwrap_or_else(|| match stopped {
            Some(index) => anyhow!(
                "{}: the thread decoding it stopped before the end of the file",
                self.shared.files[index].url
            ),
            None => anyhow!("the source was cancelled"),
        })
    }

    /// Cancels the workers, releases them from any queue they wait on and waits for them.
    fn shut_down(&mut self) {
        self.shared.cancel();
        self.jobs = None;
        self.in_flight.clear();
        for worker in self.workers.drain(..) {
            // A panic was already turned into an error by the worker itself.
            let _ = worker.join();
        }
    }
}

impl Iterator for ParallelEvents {
    type Item = Result<SourceEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.next_event() {
            Ok(Some(event)) => Some(Ok(event)),
            Ok(None) => {
                self.finished = true;
                self.shut_down();
                None
            }
            Err(e) => {
                self.finished = true;
                self.shut_down();
                Some(Err(e))
            }
        }
    }
}

impl Drop for ParallelEvents {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A worker: decodes the files it is handed, one at a time, until there are none or the stream is
/// cancelled.
fn work(shared: &Shared, jobs: &Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        if shared.cancelled() {
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| decode(shared, &job)));
        let error = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(_) => anyhow!(
                "{}: decoding the file panicked",
                shared.files[job.index].url
            ),
        };
        shared.fail(job.index, error);
        return;
    }
}

/// Sends one file's schema, batches and end to the merger. Returns `Ok` also when the merger no
/// longer wants them (cancelled or dropped).
fn decode(shared: &Shared, job: &Job) -> Result<()> {
    let file = &shared.files[job.index];
    let id = job.index as FileId;
    let storage = shared.storage.as_ref();
    let (canonical, json, mut open) = match shared.format.encoding() {
        None => {
            let reader = open_container(storage, &file.url, shared.max_block_bytes)?;
            let canonical = reader.header.schema.canonical_form();
            let plan = shared
                .planner
                .plan(&file.url, &reader.header.schema, &canonical)?;
            let json = reader.header.schema_json.clone();
            let open = OpenFile::new(id, file, reader, plan, 0)?;
            (canonical, json, Reading::Avro(Box::new(open)))
        }
        Some(encoding) => {
            let records = open_records(storage, file, &shared.format, shared.max_block_bytes)?;
            let open = PlainFile::open(id, file, records, 0);
            (
                encoding.to_string(),
                encoding.to_string(),
                Reading::Plain(open),
            )
        }
    };
    if job.pieces.send(Piece::Schema { canonical, json }).is_err() {
        return Ok(());
    }
    while !shared.cancelled() {
        let piece = match open.next_checked(shared.batch_size)? {
            Some(batch) => Piece::Batch(batch),
            None => Piece::Done,
        };
        let done = matches!(piece, Piece::Done);
        if job.pieces.send(piece).is_err() || done {
            return Ok(());
        }
    }
    Ok(())
}
