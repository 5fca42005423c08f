//! `c2k run`: the data path, top to bottom —
//! `source → key plugin → external sort → format plugin → sink → offsets`.
//!
//! Invariants (ARCHITECTURE.md, "Invariants"): batches cross every boundary; the count read
//! equals the count the sink acknowledged or the run fails; offsets are committed only after every
//! message is acknowledged; equal keys keep source order.

use std::borrow::Cow;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::config::Pipeline;
use crate::plugin::pool::FormatPool;
use crate::plugin::{FormatPlugin, KeyPlugin, PluginBatch, PluginError};
use crate::progress::{Progress, Summary};
use crate::record::{FileId, Origin, OutMessage, SourceBatch};
use crate::signals::{self, Stage};
use crate::sink::{self, SourceFacts};
use crate::sort::{SortItem, Sorted, Sorter};
use crate::source::{CamusSource, SourceEvent, SourceFile};

/// How many source batches may wait between the reader thread and the key plugin, and sorted
/// batches between each stage of the write side: enough to keep every core busy, few enough to
/// keep memory bounded (each batch is ~`batch_size` records).
pub(crate) const CHANNEL_DEPTH: usize = 8;

/// How `c2k run` was asked to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Everything but the send and the commit.
    pub dry_run: bool,
    /// Continue a replay the topic already holds part of (`--resume`).
    pub resume: bool,
    /// Commit offsets even when messages after the cut-off are gone from the live topic
    /// (`--accept-loss`).
    pub accept_loss: bool,
    /// The pipeline file, for messages that say which command finishes the job.
    pub pipeline_file: Option<std::path::PathBuf>,
    /// One shard of a sharded replay (`--plan PLAN.json --shard i`).
    pub shard: Option<ShardRun>,
}

/// A shard of a sharded replay: only its source partitions are published, always resuming (a
/// retried task skips exactly what its partitions hold), and nothing is committed — that is
/// `c2k offsets commit --plan`'s, once every shard is complete.
#[derive(Debug, Clone)]
pub struct ShardRun {
    pub plan: crate::shard::Plan,
    pub plan_file: std::path::PathBuf,
    pub index: usize,
}

/// Runs the whole job.
pub fn run(pipeline: &Pipeline, options: &RunOptions) -> Result<()> {
    let started = Instant::now();
    signals::watch(pipeline, options);
    let (source, gate, facts) = match &options.shard {
        None => {
            let mut source = CamusSource::open(pipeline)?;
            // What the offsets step needs is checked before anything is published, so a replay
            // is never sent only to find that its hand-off cannot be made.
            crate::offsets::preflight(pipeline, step_options(options))?;
            // Duplicates, gaps and strays are found from names and the history, before anything
            // is read.
            let gate = crate::integrity::gate(pipeline, &mut source)?;
            let facts = source_facts(pipeline, &source)?;
            (source, gate, facts)
        }
        // `c2k plan` checked the hand-off; the shard checks the archive is still the planned
        // one (the gate included) and keeps its own partitions.
        Some(shard) => crate::shard::narrow(pipeline, &shard.plan, shard.index)?,
    };
    if let Some(shard) = &options.shard {
        if source.files.is_empty() {
            eprintln!(
                "c2k: shard {} has no source partitions (the plan has more shards than the \
                 archive has partitions): nothing to do",
                shard.index
            );
            return Ok(());
        }
    }
    // A shard always resumes: its partitions may hold what an earlier attempt of it sent.
    let sink_options = RunOptions {
        resume: options.resume || options.shard.is_some(),
        ..options.clone()
    };
    let options = &sink_options;
    if options.resume && pipeline.kafka_sink().is_err() {
        eprintln!(
            "c2k: note: --resume continues Kafka replays; sink.type {} is written whole again \
             (and only appears when complete)",
            pipeline.sink.type_name()
        );
    }
    // The plugins load (compile or read from the cache, instantiate), each on a thread of its
    // own, while the sink connects, creates the topic and reads back what it holds: one is CPU,
    // the other waits on brokers. A sink that fails is still reported first, and nothing has been
    // read either way.
    let (sink, plugins) = std::thread::scope(|scope| {
        let key = named("c2k-load-key")
            .spawn_scoped(scope, || KeyPlugin::load(&pipeline.key))
            .context("cannot start a thread to load the key plugin")?;
        let format = named("c2k-load-format")
            .spawn_scoped(scope, || FormatPool::load(&pipeline.format))
            .context("cannot start a thread to load the format plugin")?;
        let sink = sink::open(pipeline, &facts, options);
        let panicked = |_| anyhow::anyhow!("loading the plugins panicked");
        let key = key.join().map_err(panicked)?;
        let format = format.join().map_err(panicked)?;
        anyhow::Ok((sink, key.and_then(|key| Ok((key, format?)))))
    })?;
    let sink = sink?;
    let present = sink.already_present();
    if present > 0 && facts.records == Some(present) {
        eprintln!(
            "c2k: the replay is already complete: {present} messages in {} ({} records archived); \
             nothing to send",
            pipeline.replay_topic(),
            present
        );
        if let Some(shard) = &options.shard {
            shard_done(pipeline, shard, present, present);
            return Ok(());
        }
        signals::stage(Stage::Committing);
        return finish_with_offsets(pipeline, options, &gate, present);
    }

    let (mut key, mut format) = plugins?;
    let progress = Progress::new(source.files.iter().map(|f| f.size).sum());
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "sink open and plugins loaded"
    );

    signals::stage(Stage::Sorting);
    let sorted = read_and_sort(pipeline, &source, &mut key, &mut format, &progress, None)?;
    let records_read = sorted.count;
    let spilled = sorted.spilled_bytes;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        records_read,
        spilled,
        "read, keyed and sorted"
    );

    signals::stage(Stage::Writing);
    let report = write_sorted(
        pipeline,
        &source.files,
        sorted,
        &mut format,
        sink,
        &progress,
    )?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "merged, formatted and written"
    );
    if report.delivered != records_read {
        bail!(
            "{} records read but {} acknowledged by {}: offsets not committed",
            records_read,
            report.delivered,
            report.destination
        );
    }
    progress.finish();
    let summary = Summary {
        records_in: records_read,
        report,
        spilled_bytes: spilled,
        elapsed: started.elapsed(),
        copies_skipped: gate.copies_skipped,
    };
    if let Some(shard) = &options.shard {
        summary.print();
        shard_done(
            pipeline,
            shard,
            summary.report.delivered,
            summary.report.already_present,
        );
        return Ok(());
    }
    signals::stage(Stage::Committing);
    let committed = finish_with_offsets(pipeline, options, &gate, summary.report.delivered);
    summary.print();
    committed
}

/// What the sink is told about the source before anything is read: partitions, file names, the
/// replay's content identity and, when every file has a Camus name, how many records there are.
fn source_facts(pipeline: &Pipeline, source: &CamusSource) -> Result<SourceFacts> {
    let input_dir = pipeline.input_dir();
    let records = source
        .files
        .iter()
        .map(|file| file.name.as_ref().map(|name| name.count))
        .sum::<Option<u64>>();
    Ok(SourceFacts {
        partitions: source.partitions(),
        files: source
            .files
            .iter()
            .map(|file| crate::identity::relative_path(&input_dir, &file.url))
            .collect(),
        content: crate::identity::content_digest(pipeline, &input_dir, &source.files)?,
        records,
        only_partitions: None,
        oldest_bucket_ms: SourceFacts::oldest_bucket(&source.files),
    })
}

/// A shard's last word: what it published, and that the commit is not its job.
fn shard_done(pipeline: &Pipeline, shard: &ShardRun, messages: u64, already_there: u64) {
    let partitions = shard
        .plan
        .shard(shard.index)
        .map(|s| format!("{:?}", s.partitions))
        .unwrap_or_default();
    let resumed = match already_there {
        0 => String::new(),
        n => format!(" ({n} of them already there from an earlier attempt)"),
    };
    eprintln!(
        "c2k: shard {} of {} is complete: {messages} messages{resumed} in partitions {partitions} \
         of {}; no offsets committed: once every shard is complete, `c2k offsets commit PIPELINE --plan \
         {}` checks the replay topic and commits them once",
        shard.index,
        shard.plan.shards.len(),
        pipeline.replay_topic(),
        shard.plan_file.display()
    );
}

/// The offsets step once the replay is complete. A failure here says so, and which command
/// finishes the job without publishing anything again.
fn finish_with_offsets(
    pipeline: &Pipeline,
    options: &RunOptions,
    gate: &crate::integrity::Gate,
    messages: u64,
) -> Result<()> {
    if let Some(why) = &gate.commit_refused {
        if pipeline.offsets.commit != crate::config::CommitMode::None {
            return Err(crate::integrity::Inconsistent(format!(
                "the replay is published ({messages} messages in {}), but {why}: no offsets \
                 were committed (source.integrity: warn publishes a damaged archive, never a \
                 cut-off past it)",
                pipeline.replay_topic()
            ))
            .into());
        }
    }
    crate::offsets::commit_step(pipeline, step_options(options)).with_context(|| {
        let file = options
            .pipeline_file
            .as_ref()
            .map_or("PIPELINE".to_string(), |f| f.display().to_string());
        format!(
            "the replay is complete ({messages} messages in {}), but the offsets step failed; \
             `c2k offsets commit {file}` finishes the job (and `c2k run --resume {file}` would \
             also just commit)",
            pipeline.replay_topic()
        )
    })
}

fn step_options(options: &RunOptions) -> crate::offsets::StepOptions {
    crate::offsets::StepOptions {
        dry_run: options.dry_run,
        accept_loss: options.accept_loss,
    }
}

/// Reads every record, keys it, and feeds the sort. Files are read and decoded on a thread of
/// their own while this one runs the key plugin and the sort. Schemas are registered with both
/// plugins as the source announces them.
///
/// `global_ids`, for a map stage that reads some of the archive's files: the archive-wide file id
/// of each of `source.files`, so items carry the ids (and input order) the single-machine run
/// gives them.
pub(crate) fn read_and_sort(
    pipeline: &Pipeline,
    source: &CamusSource,
    key: &mut KeyPlugin,
    format: &mut FormatPool,
    progress: &Progress,
    global_ids: Option<&[FileId]>,
) -> Result<Sorted> {
    std::thread::scope(|scope| {
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
        let sorted = key_and_sort(
            pipeline,
            &source.files,
            receiver,
            key,
            format,
            progress,
            global_ids,
        );
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the source reader thread panicked"))?;
        sorted
    })
}

fn key_and_sort(
    pipeline: &Pipeline,
    files: &[SourceFile],
    events: crossbeam_channel::Receiver<Result<SourceEvent>>,
    key: &mut KeyPlugin,
    format: &mut FormatPool,
    progress: &Progress,
    global_ids: Option<&[FileId]>,
) -> Result<Sorted> {
    let mut sorter = Sorter::new(pipeline.sort.memory.0, Path::new(&pipeline.sort.tmp_dir))?;
    let mut seq = 0u64;
    let mut schema_ids = Vec::new();
    let mut schemas = 0usize;
    for event in events {
        match event? {
            SourceEvent::Schema { id, json } => {
                key.register_schema(id, &json)?;
                format.register_schema(id, &json)?;
                schemas += 1;
            }
            SourceEvent::Batch(batch) => {
                progress.read(batch.len() as u64, batch.data.len() as u64);
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
                        sorter.push(SortItem::new(
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
    progress.sorting();
    warn_of_mixed_binary_schemas(pipeline, schemas);
    sorter.finish()
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
fn write_sorted(
    pipeline: &Pipeline,
    files: &[SourceFile],
    sorted: Sorted,
    format: &mut FormatPool,
    sink: Box<dyn sink::Sink>,
    progress: &Progress,
) -> Result<sink::SinkReport> {
    progress.writing(sorted.count);
    let batch_size = pipeline.format.batch_size.max(1);
    let Sorted {
        iter, spill_dir, ..
    } = sorted;
    let report = std::thread::scope(|scope| {
        let (batches_out, batches_in) =
            crossbeam_channel::bounded::<(u64, Result<Vec<SortItem>>)>(CHANNEL_DEPTH);
        let merger = named("c2k-merge").spawn_scoped(scope, move || {
            merge_in_batches(iter, batch_size, batches_out, |_| true)
        })?;
        let (messages_out, messages_in) = crossbeam_channel::bounded::<ToSink>(CHANNEL_DEPTH);
        let sender = named("c2k-sink").spawn_scoped(scope, move || send_all(sink, messages_in))?;
        let formatted = format_all(pipeline, files, format, batches_in, messages_out, progress);
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
    });
    drop(spill_dir);
    report
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
) -> Result<()> {
    let format_one = |instance: &mut FormatPlugin, items: Vec<SortItem>| {
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

/// The process exit code for an error: 3 when the offsets step found the group already has
/// offsets and left them alone, 4 when the replay topic holds what this run cannot account for,
/// 5 when the archive is not consistent with the Camus history, 6 when the live topic refused
/// the hand-off, 7 when a sharded replay is not complete yet (`c2k offsets commit --plan`), 1 for
/// anything else.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error
        .chain()
        .any(|e| e.is::<crate::integrity::Inconsistent>())
    {
        5
    } else if error
        .chain()
        .any(|e| e.is::<crate::sink::kafka::guard::TopicRefused>())
    {
        4
    } else if error
        .chain()
        .any(|e| e.is::<crate::offsets::HandOffRefused>())
    {
        6
    } else if error
        .chain()
        .any(|e| e.is::<crate::offsets::AlreadyCommitted>())
    {
        3
    } else if error
        .chain()
        .any(|e| e.is::<crate::shard::complete::Incomplete>())
    {
        7
    } else if error
        .chain()
        .any(|e| e.is::<crate::sink::kafka::topic::TopicUnsafe>())
    {
        8
    } else {
        1
    }
}
