//! The stages every replay runs, in order, on threads of their own: read + key + sort
//! ([`read_and_sort`]), then merge + format + send ([`write_sorted`]). `c2k run` chains them over
//! the whole archive or a shard's partitions; a map stage runs the first and its own write
//! ([`crate::shard::map`]) with the same parts ([`merge_in_batches`], [`format_batch`]).
//!
//! Invariants: batches cross every boundary; equal keys keep source order (each record carries
//! its input order); a sink is finished only when every record was formatted, so partial output
//! is never published as complete.

use std::borrow::Cow;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::config::Pipeline;
use crate::plugin::pool::FormatPool;
use crate::plugin::{FormatPlugin, KeyPlugin, PluginBatch, PluginError, SchemaLog};
use crate::progress::Progress;
use crate::record::{FileId, Origin, OutMessage, SourceBatch};
use crate::sink;
use crate::sort::buckets::{BucketOrder, Window};
use crate::sort::{SortItem, Sorted, Sorter};
use crate::source::{CamusSource, SourceEvent, SourceFile};

/// How many source batches may wait between the reader thread and the key plugin, and sorted
/// batches between each stage of the write side: enough to keep every core busy, few enough to
/// keep memory bounded (each batch is ~`batch_size` records).
pub(crate) const CHANNEL_DEPTH: usize = 8;

/// Reads every record, keys it, and feeds the sort. Files are read and decoded on a thread of
/// their own while this one runs the key plugin and the sort. Schemas are registered with the key
/// plugin, and handed to `on_schema` (the format plugin's registration), as the source announces
/// them: a plugin that rejects one stops the run before the sort.
///
/// `global_ids`, for a map stage that reads some of the archive's files: the archive-wide file id
/// of each of `source.files`, so items carry the ids (and input order) the single-machine run
/// gives them.
pub(crate) fn read_and_sort(
    pipeline: &Pipeline,
    source: &CamusSource,
    key: &mut KeyPlugin,
    progress: &Progress,
    global_ids: Option<&[FileId]>,
    on_schema: &mut dyn FnMut(u32, &str) -> Result<()>,
) -> Result<Sorted> {
    std::thread::scope(|scope| {
        let (reader, receiver) = spawn_reader(scope, source)?;
        let sorted = Sorter::new(pipeline.sort.memory.0, Path::new(&pipeline.sort.tmp_dir))
            .and_then(|mut sorter| {
                let schemas = key_records(
                    pipeline,
                    &source.files,
                    receiver,
                    key,
                    progress,
                    global_ids,
                    on_schema,
                    &mut sorter,
                )?;
                progress.sorting();
                warn_of_mixed_binary_schemas(pipeline, schemas);
                sorter.finish()
            });
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the source reader thread panicked"))?;
        sorted
    })
}

/// A reading thread and the events it sends.
type Reader<'scope> = (
    std::thread::ScopedJoinHandle<'scope, ()>,
    crossbeam_channel::Receiver<Result<SourceEvent>>,
);

/// The source read and decoded on a thread of its own, its events coming out of the receiver
/// until the end or the first error.
fn spawn_reader<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    source: &'scope CamusSource,
) -> Result<Reader<'scope>> {
    let (sender, receiver) = crossbeam_channel::bounded(CHANNEL_DEPTH);
    let reader = named("c2k-read").spawn_scoped(scope, move || {
        for event in source.events() {
            let failed = event.is_err();
            // A closed channel means the keying side stopped on an error of its own.
            if sender.send(event).is_err() || failed {
                break;
            }
        }
    })?;
    Ok((reader, receiver))
}

/// Where keyed records go: the sort of the whole archive, or a window of time buckets.
pub(crate) trait KeyTarget {
    /// A batch of the source's file at `position` follows (before its records are keyed).
    fn batch_of(&mut self, position: u32, key: &mut KeyPlugin) -> Result<()> {
        let _ = (position, key);
        Ok(())
    }
    fn push(&mut self, item: SortItem) -> Result<()>;
}

impl KeyTarget for Sorter {
    fn push(&mut self, item: SortItem) -> Result<()> {
        Sorter::push(self, item)
    }
}

/// Keys every record the source announces and hands it to `target`; returns how many schemas
/// the source announced.
#[allow(clippy::too_many_arguments)]
pub(crate) fn key_records(
    pipeline: &Pipeline,
    files: &[SourceFile],
    events: crossbeam_channel::Receiver<Result<SourceEvent>>,
    key: &mut KeyPlugin,
    progress: &Progress,
    global_ids: Option<&[FileId]>,
    on_schema: &mut dyn FnMut(u32, &str) -> Result<()>,
    target: &mut dyn KeyTarget,
) -> Result<usize> {
    let mut seq = 0u64;
    let mut schema_ids = Vec::new();
    let mut schemas = 0usize;
    for event in events {
        match event? {
            SourceEvent::Schema { id, json } => {
                key.register_schema(id, &json)?;
                on_schema(id, &json)?;
                schemas += 1;
            }
            SourceEvent::Batch(batch) => {
                progress.read(batch.len() as u64, batch.data.len() as u64);
                target.batch_of(batch.file, key)?;
                for chunk in split(&batch, pipeline.key.batch_size.max(1)) {
                    schema_ids.clear();
                    schema_ids.resize(chunk.len(), chunk.schema_id);
                    let keys = key
                        .extract_keys(&PluginBatch {
                            data: &chunk.data,
                            ends: &chunk.ends,
                            schema_ids: &schema_ids,
                        })
                        .map_err(|e| name_record(e, files, &chunk))?;
                    if keys.ends.len() != chunk.len() {
                        bail!(
                            "key plugin {} returned {} keys for a batch of {} records from {}",
                            pipeline.key.plugin,
                            keys.ends.len(),
                            chunk.len(),
                            file_url(files, chunk.file)
                        );
                    }
                    let file = match global_ids {
                        None => chunk.file,
                        Some(ids) => ids.get(chunk.file as usize).copied().with_context(|| {
                            format!("{}: not a planned file", file_url(files, chunk.file))
                        })?,
                    };
                    let mut start = 0usize;
                    for i in 0..chunk.len() {
                        let end = keys.ends[i] as usize;
                        let timestamp = keys.timestamps_ms.get(i).copied().flatten();
                        let offset = chunk.first_offset.map(|o| o + i as u64);
                        let index = chunk.first_index + i as u64;
                        // The input order: a map stage reads some files only, so it numbers each
                        // record by (archive-wide file id, index in file), which orders exactly
                        // as the single-machine run's counter over every file does.
                        let input_order = match global_ids {
                            None => seq,
                            Some(_) => (u64::from(file) << 40) | index,
                        };
                        target.push(SortItem::new(
                            &keys.data[start..end],
                            chunk.datum(i),
                            chunk.partition,
                            offset,
                            input_order,
                            timestamp,
                            chunk.schema_id,
                            file,
                            index,
                        ))?;
                        start = end;
                        seq += 1;
                    }
                }
            }
        }
    }
    Ok(schemas)
}

/// `avro-binary` passes datums through as they are: without `source.schema`, records of several
/// writer schemas are mixed in one topic with nothing marking which is which, and a consumer
/// decoding them all with one schema fails on some. Said once, plainly.
fn warn_of_mixed_binary_schemas(pipeline: &Pipeline, schemas: usize) {
    if schemas > 1 && pipeline.source.schema.is_none() && pipeline.format.plugin == "avro-binary" {
        eprintln!(
            "c2k: warning: the archive has {schemas} writer schemas and source.schema is not set: \
             avro-binary messages carry each record in its own writer schema, unmarked, so no \
             single schema decodes them all. Set source.schema: every record is then resolved \
             to it, and consumers decode with exactly that schema"
        );
    }
}

/// Formats the sorted records batch by batch and hands them to the sink: the merge of the sorted
/// segments, the format plugin's instances and the sink each run on threads of their own.
pub(crate) fn write_sorted(
    pipeline: &Pipeline,
    files: &[SourceFile],
    sorted: Sorted,
    format: &mut FormatPool,
    sink: Box<dyn sink::Sink>,
    progress: &Progress,
) -> Result<sink::SinkReport> {
    progress.writing(sorted.count);
    let Sorted {
        iter, spill_dir, ..
    } = sorted;
    let report = write_items(pipeline, files, iter, format, sink, progress, None);
    drop(spill_dir);
    report
}

/// [`write_sorted`]'s work on records already in order, from any source: the merge of sorted
/// segments or a stream of buckets (whose schemas, announced as it reads, are in `schemas`).
fn write_items(
    pipeline: &Pipeline,
    files: &[SourceFile],
    iter: Box<dyn Iterator<Item = Result<SortItem>> + Send>,
    format: &mut FormatPool,
    sink: Box<dyn sink::Sink>,
    progress: &Progress,
    schemas: Option<&SchemaLog>,
) -> Result<sink::SinkReport> {
    let batch_size = pipeline.format.batch_size.max(1);
    std::thread::scope(|scope| {
        let (batches_out, batches_in) =
            crossbeam_channel::bounded::<(u64, Result<Vec<SortItem>>)>(CHANNEL_DEPTH);
        let merger = named("c2k-merge").spawn_scoped(scope, move || {
            merge_in_batches(iter, batch_size, batches_out, |_| true)
        })?;
        let (messages_out, messages_in) = crossbeam_channel::bounded::<ToSink>(CHANNEL_DEPTH);
        let sender = named("c2k-sink").spawn_scoped(scope, move || send_all(sink, messages_in))?;
        let formatted = format_all(
            pipeline,
            files,
            format,
            batches_in,
            messages_out,
            progress,
            schemas,
        );
        let sent = sender
            .join()
            .map_err(|_| anyhow::anyhow!("the sink thread panicked"))?;
        merger
            .join()
            .map_err(|_| anyhow::anyhow!("the sort merge thread panicked"))?;
        // The first failure is the cause; a sink error explains a format side that stopped early.
        match (formatted, sent) {
            (Err(e), _) => Err(e),
            (Ok(()), sent) => sent,
        }
    })
}

/// Reads the merged, sorted records and groups them into batches for the format plugin, numbered
/// in order (the format side puts its results back in that order). `before_each` sees each batch
/// before it is sent and may stop the merge by returning false (the map stage sends the batch's
/// sort positions that way).
pub(crate) fn merge_in_batches(
    iter: Box<dyn Iterator<Item = Result<SortItem>> + Send>,
    batch_size: usize,
    out: crossbeam_channel::Sender<(u64, Result<Vec<SortItem>>)>,
    mut before_each: impl FnMut(&[SortItem]) -> bool,
) {
    let mut send =
        |seq: u64, batch: Vec<SortItem>| before_each(&batch) && out.send((seq, Ok(batch))).is_ok();
    let mut batch = Vec::with_capacity(batch_size);
    let mut seq = 0u64;
    for item in iter {
        match item {
            Ok(item) => batch.push(item),
            Err(e) => {
                let _ = out.send((seq, Err(e)));
                return;
            }
        }
        if batch.len() == batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            if !send(seq, full) {
                return;
            }
            seq += 1;
        }
    }
    if !batch.is_empty() {
        send(seq, batch);
    }
}

fn format_all(
    pipeline: &Pipeline,
    files: &[SourceFile],
    format: &mut FormatPool,
    batches: crossbeam_channel::Receiver<(u64, Result<Vec<SortItem>>)>,
    out: crossbeam_channel::Sender<ToSink>,
    progress: &Progress,
    schemas: Option<&SchemaLog>,
) -> Result<()> {
    let format_one = |instance: &mut FormatPlugin, items: Vec<SortItem>| {
        if let Some(log) = schemas {
            instance.catch_up(log)?;
        }
        format_batch(pipeline, files, instance, &items, progress)
    };
    // The sink stopped on an error of its own when the channel is closed: `send_all` reports it.
    format.format_in_order(batches, format_one, |messages| {
        out.send(ToSink::Batch(messages)).is_ok()
    })?;
    let _ = out.send(ToSink::Done);
    Ok(())
}

/// One batch through one instance of the format plugin, with the host's part of each message.
pub(crate) fn format_batch(
    pipeline: &Pipeline,
    files: &[SourceFile],
    format: &mut FormatPlugin,
    items: &[SortItem],
    progress: &Progress,
) -> Result<Vec<OutMessage>> {
    let mut data = Vec::with_capacity(items.iter().map(|i| i.datum().len()).sum());
    let mut ends = Vec::with_capacity(items.len());
    let mut schema_ids = Vec::with_capacity(items.len());
    for item in items {
        data.extend_from_slice(item.datum());
        ends.push(data.len() as u32);
        schema_ids.push(item.schema_id());
    }
    let mut messages = format
        .format(&PluginBatch {
            data: &data,
            ends: &ends,
            schema_ids: &schema_ids,
        })
        .map_err(|e| name_sorted_record(e, files, items))?;
    if messages.len() != items.len() {
        bail!(
            "format plugin {} returned {} messages for a batch of {} records",
            pipeline.format.plugin,
            messages.len(),
            items.len()
        );
    }
    for (message, item) in messages.iter_mut().zip(items) {
        fill_from_record(message, item);
    }
    progress.wrote(messages.len() as u64);
    Ok(messages)
}

/// What the format side tells the sink thread. Only `Done` lets the sink finish (flush, rename the
/// file into place); a channel closed without it means the run failed and the sink is dropped
/// unfinished, so no partial output is ever published as complete.
enum ToSink {
    Batch(Vec<OutMessage>),
    Done,
}

/// Feeds the sink until the format side is done, then waits for every acknowledgement.
fn send_all(
    mut sink: Box<dyn sink::Sink>,
    messages: crossbeam_channel::Receiver<ToSink>,
) -> Result<sink::SinkReport> {
    for message in messages {
        match message {
            ToSink::Batch(batch) => sink.send(batch)?,
            ToSink::Done => return sink.finish(),
        }
    }
    bail!("the run stopped before every record was formatted; the sink was not finished")
}

/// The host's part of a message: where the record came from and, unless the format plugin chose
/// one, the key extractor's event time as the timestamp.
fn fill_from_record(message: &mut OutMessage, item: &SortItem) {
    message.source_partition = item.partition();
    message.origin = Some(Origin {
        file: item.file(),
        index: item.index(),
    });
    if message.timestamp_ms.is_none() {
        message.timestamp_ms = item.timestamp_ms();
    }
}

/// A thread builder with a name that shows in `top -H`, `perf` and panics.
pub(crate) fn named(name: &str) -> std::thread::Builder {
    std::thread::Builder::new().name(name.to_string())
}

/// Splits a source batch into plugin calls of at most `size` records.
/// A batch that fits (the usual case: both sizes default to the same) is handed on as it is,
/// not copied.
fn split(batch: &SourceBatch, size: usize) -> Vec<Cow<'_, SourceBatch>> {
    if batch.len() <= size {
        return vec![Cow::Borrowed(batch)];
    }
    let mut chunks = Vec::new();
    for first in (0..batch.len()).step_by(size) {
        let last = (first + size).min(batch.len());
        let mut chunk = SourceBatch {
            file: batch.file,
            first_index: batch.first_index + first as u64,
            partition: batch.partition,
            first_offset: batch.first_offset.map(|o| o + first as u64),
            schema_id: batch.schema_id,
            data: Vec::new(),
            ends: Vec::with_capacity(last - first),
        };
        for i in first..last {
            chunk.push(batch.datum(i));
        }
        chunks.push(Cow::Owned(chunk));
    }
    chunks
}

fn file_url(files: &[SourceFile], id: u32) -> &str {
    files
        .get(id as usize)
        .map_or("<unknown file>", |f| f.url.as_str())
}

/// A key-plugin error with the file and record it concerns.
fn name_record(error: PluginError, files: &[SourceFile], batch: &SourceBatch) -> anyhow::Error {
    let url = file_url(files, batch.file);
    match error.index {
        Some(i) => anyhow::anyhow!("{error} (record {} of {url})", batch.first_index + i as u64),
        None => anyhow::anyhow!(
            "{error} (in a batch of records {}..{} of {url})",
            batch.first_index,
            batch.first_index + batch.len() as u64
        ),
    }
}

/// A format-plugin error with the file and record it concerns.
fn name_sorted_record(
    error: PluginError,
    files: &[SourceFile],
    items: &[SortItem],
) -> anyhow::Error {
    match error.index.and_then(|i| items.get(i as usize)) {
        Some(item) => anyhow::anyhow!(
            "{error} (record {} of {})",
            item.index(),
            file_url(files, item.file())
        ),
        None => anyhow::anyhow!("{error} (in a batch of {} sorted records)", items.len()),
    }
}

/// What streaming Camus' buckets cost.
pub(crate) struct Streamed {
    pub(crate) records: u64,
    pub(crate) spilled_bytes: u64,
}

/// The whole replay streamed bucket by bucket ([`crate::sort::buckets`]): files read in bucket
/// order on one thread, keyed and held in a window on another, each window's records below the
/// next bucket's floor sent in key order to the write side while the next bucket is read.
/// Records carry the archive's file ids and input order, so ties break as the whole-archive
/// sort breaks them.
pub(crate) fn stream_and_write(
    pipeline: &Pipeline,
    source: &CamusSource,
    order: &BucketOrder,
    key: &mut KeyPlugin,
    format: &mut FormatPool,
    sink: Box<dyn sink::Sink>,
    progress: &Progress,
) -> Result<(sink::SinkReport, Streamed)> {
    let reading = source.reordered(&order.reading);
    let archive_ids: Vec<FileId> = order.reading.iter().map(|&i| i as FileId).collect();
    let schemas = SchemaLog::default();
    let slack_ms = (pipeline.sort.bucket_slack.0 * 1000.0).round() as i64;
    std::thread::scope(|scope| {
        let reading = &reading;
        let (reader, events_in) = spawn_reader(scope, reading)?;
        let (items_out, items_in) = crossbeam_channel::bounded::<Streaming>(2);
        let schemas = &schemas;
        let archive_ids = &archive_ids;
        let keyer = named("c2k-key").spawn_scoped(scope, move || -> Result<Streamed> {
            let mut target = BucketTarget {
                window: Window::new(
                    pipeline.sort.memory.0,
                    Path::new(&pipeline.sort.tmp_dir),
                    slack_ms,
                ),
                order,
                files: &source.files,
                slack_ms,
                current: None,
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
                Some(archive_ids),
                &mut log,
                &mut target,
            )?;
            warn_of_mixed_binary_schemas(pipeline, count);
            target.finish()
        })?;
        let items = streamed_items(items_in);
        let written = write_items(
            pipeline,
            &source.files,
            Box::new(items),
            format,
            sink,
            progress,
            Some(schemas),
        );
        let streamed = keyer
            .join()
            .map_err(|_| anyhow::anyhow!("the keying thread panicked"))?;
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the source reader thread panicked"))?;
        // The reading side's failure is the cause when there is one: the write side then only
        // saw its records end early.
        let streamed = streamed?;
        let report = written?;
        Ok((report, streamed))
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
fn streamed_items(
    items: crossbeam_channel::Receiver<Streaming>,
) -> Box<dyn Iterator<Item = Result<SortItem>> + Send> {
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
    /// The archive's files, in its own order (the records' file ids).
    files: &'a [SourceFile],
    slack_ms: i64,
    /// The bucket being read.
    current: Option<i64>,
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

    fn finish(mut self) -> Result<Streamed> {
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
        Ok(Streamed {
            records: self.window.sent,
            spilled_bytes: self.window.spilled_bytes,
        })
    }
}

impl KeyTarget for BucketTarget<'_> {
    fn batch_of(&mut self, position: u32, key: &mut KeyPlugin) -> Result<()> {
        let start = self
            .order
            .start(position as usize)
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
        let file = &self.files[item.file() as usize];
        self.window.push(item, file)
    }
}
