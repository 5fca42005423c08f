//! The write side of a replay: records in order grouped into batches, formatted on every
//! instance of the format plugin (results put back in batch order) and handed to the sink.
//!
//! Invariant: a sink is finished only when every record was formatted (`ToSink::Done`), so
//! partial output is never published as complete.

use anyhow::{bail, Result};

use super::{file_url, named, Items, CHANNEL_DEPTH};
use crate::config::Pipeline;
use crate::plugin::pool::FormatPool;
use crate::plugin::{FormatPlugin, PluginBatch, PluginError, SchemaLog};
use crate::progress::Progress;
use crate::record::{Origin, OutMessage};
use crate::sink;
use crate::sort::SortItem;
use crate::source::SourceFile;

/// Formats records already in order batch by batch and hands them to the sink: the batching,
/// the format plugin's instances and the sink each run on threads of their own. The records come
/// from the merge of sorted segments or a stream of buckets (whose schemas, announced as it
/// reads, are in `schemas`).
pub(crate) fn write_items(
    pipeline: &Pipeline,
    files: &[SourceFile],
    iter: Items,
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
    iter: Items,
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
