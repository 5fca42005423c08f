//! Camus' time buckets streamed in order ([`crate::sort::buckets`]): the reading side of a replay
//! that never holds more than a window of buckets, sending while it reads on.
//!
//! Invariant: only `Streaming::End` ends the records, and only once every record keyed was sent
//! in order; a reading side that stops early is an error on the write side, so no sink is ever
//! finished on part of the replay.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::keying::{key_records, KeyTarget};
use super::{named, spawn_reader, warn_of_mixed_binary_schemas, Items, ReadFacts};
use crate::config::Pipeline;
use crate::plugin::{KeyPlugin, SchemaLog};
use crate::progress::Progress;
use crate::record::FileId;
use crate::sort::buckets::{BucketOrder, Window};
use crate::sort::SortItem;
use crate::source::{CamusSource, SourceFile};

/// The records of a bucket stream, in order, handed to the write side as they are released.
/// Records carry the archive's file ids and input order, so ties break as the whole-archive
/// sort breaks them.
///
/// Files are read in bucket order on one thread, keyed and held in a window on another, and
/// each window's records below the next bucket's floor go to `write` (on this thread) while the
/// next bucket is read. `archive_ids`, for a map stage that reads some of the archive's files:
/// the archive-wide id of each of `source.files`.
pub(super) fn stream_buckets<R>(
    pipeline: &Pipeline,
    source: &CamusSource,
    order: &BucketOrder,
    key: &mut KeyPlugin,
    progress: &Progress,
    archive_ids: Option<&[FileId]>,
    write: impl FnOnce(Items, &SchemaLog) -> Result<R>,
) -> Result<(R, ReadFacts)> {
    let reading = source.reordered(&order.reading);
    let reading_ids = order
        .reading
        .iter()
        .map(|&position| match archive_ids {
            None => Ok(position as FileId),
            Some(ids) => ids
                .get(position)
                .copied()
                .with_context(|| format!("{}: not a planned file", source.files[position].url)),
        })
        .collect::<Result<Vec<FileId>>>()?;
    let schemas = SchemaLog::default();
    let slack_ms = (pipeline.sort.bucket_slack.0 * 1000.0).round() as i64;
    std::thread::scope(|scope| {
        let reading = &reading;
        let (reader, events_in) = spawn_reader(scope, reading)?;
        let (items_out, items_in) = crossbeam_channel::bounded::<Streaming>(2);
        let schemas = &schemas;
        let reading_ids = &reading_ids;
        let keyer = named("c2k-key").spawn_scoped(scope, move || -> Result<ReadFacts> {
            let mut target = BucketTarget {
                window: Window::new(
                    pipeline.sort.memory.0,
                    Path::new(&pipeline.sort.tmp_dir),
                    slack_ms,
                ),
                order,
                files: &reading.files,
                slack_ms,
                current: None,
                reading: 0,
                out: items_out,
                pending: Vec::new(),
                batch_size: pipeline.format.batch_size.max(1),
                pushed: 0,
            };
            let mut log = |id: u32, json: &str| {
                schemas
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((id, json.to_string()));
                Ok(())
            };
            let count = key_records(
                pipeline,
                &reading.files,
                events_in,
                key,
                progress,
                Some(reading_ids),
                &mut log,
                &mut target,
            )?;
            warn_of_mixed_binary_schemas(pipeline, count);
            target.finish()
        })?;
        let written = write(streamed_items(items_in), schemas);
        let streamed = keyer
            .join()
            .map_err(|_| anyhow::anyhow!("the keying thread panicked"))?;
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the source reader thread panicked"))?;
        // The reading side's failure is the cause when there is one: the write side then only
        // saw its records end early.
        let streamed = streamed?;
        Ok((written?, streamed))
    })
}

/// What the keying side of a bucket stream tells the write side. Only `End` ends the records: a
/// channel closed without it (the reading side failed) is an error, so the sink is never
/// finished on part of the replay.
enum Streaming {
    Items(Vec<SortItem>),
    End,
}

/// The records a bucket stream sends, in order, then an error if it stopped before its end.
fn streamed_items(items: crossbeam_channel::Receiver<Streaming>) -> Items {
    let mut ended = false;
    let mut failed = false;
    let mut current = Vec::new().into_iter();
    Box::new(std::iter::from_fn(move || loop {
        if let Some(item) = current.next() {
            return Some(Ok(item));
        }
        if ended || failed {
            return None;
        }
        match items.recv() {
            Ok(Streaming::Items(batch)) => current = batch.into_iter(),
            Ok(Streaming::End) => ended = true,
            Err(_) => {
                failed = true;
                return Some(Err(anyhow::anyhow!(
                    "the reading side stopped before the end of the archive"
                )));
            }
        }
    }))
}

/// The keyed records of a bucket stream: held in a window, sent when a bucket boundary allows.
struct BucketTarget<'a> {
    window: Window,
    order: &'a BucketOrder,
    /// The files in reading order.
    files: &'a [SourceFile],
    slack_ms: i64,
    /// The bucket being read.
    current: Option<i64>,
    /// The reading position of the file being read.
    reading: usize,
    out: crossbeam_channel::Sender<Streaming>,
    pending: Vec<SortItem>,
    batch_size: usize,
    /// Records keyed into the window: all must have been sent at the end.
    pushed: u64,
}

impl BucketTarget<'_> {
    fn send_all(&mut self, next: Option<(i64, Vec<u8>)>) -> Result<()> {
        if self.window.sent == 0 {
            tracing::debug!(
                "the first time bucket read, keyed and sorted: sending it while reading on"
            );
        }
        let Self {
            window,
            out,
            pending,
            batch_size,
            ..
        } = self;
        window.advance(next, &mut |item| {
            pending.push(item);
            if pending.len() >= *batch_size {
                out.send(Streaming::Items(std::mem::take(pending)))
                    .map_err(|_| anyhow::anyhow!("the write side stopped"))?;
            }
            Ok(())
        })?;
        if !pending.is_empty() {
            out.send(Streaming::Items(std::mem::take(pending)))
                .map_err(|_| anyhow::anyhow!("the write side stopped"))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<ReadFacts> {
        self.send_all(None)?;
        if self.window.sent != self.pushed {
            bail!(
                "{} records were read but {} sent in order: the bucket stream lost track of some; \
                 nothing more was sent (sort.mode: external sorts the whole archive)",
                self.pushed,
                self.window.sent
            );
        }
        self.out
            .send(Streaming::End)
            .map_err(|_| anyhow::anyhow!("the write side stopped"))?;
        Ok(ReadFacts {
            records: self.window.sent,
            spilled_bytes: self.window.spilled_bytes,
        })
    }
}

impl KeyTarget for BucketTarget<'_> {
    fn batch_of(&mut self, position: u32, key: &mut KeyPlugin) -> Result<()> {
        self.reading = position as usize;
        let start = self
            .order
            .start(self.reading)
            .context("a file outside the bucket order")?;
        if self.current == Some(start) {
            return Ok(());
        }
        if self.current.is_some() {
            let since = start.saturating_sub(self.slack_ms);
            let floor = key.key_floor(since)?.with_context(|| {
                "the key plugin stopped giving key floors while buckets were streamed"
            })?;
            self.send_all(Some((start, floor)))?;
        }
        self.current = Some(start);
        Ok(())
    }

    fn push(&mut self, item: SortItem) -> Result<()> {
        self.pushed += 1;
        let file = self
            .files
            .get(self.reading)
            .context("a record of a file outside the bucket order")?;
        self.window.push(item, file)
    }
}
