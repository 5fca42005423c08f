//! The stages every replay runs, on threads of their own: the reading side (read, key, order)
//! and the write side (batch, format, send: [`write_items`]). [`in_order`] joins them in one of
//! two orders: the whole archive sorted (`read_and_sort`, spilling past `sort.memory`), or Camus'
//! time buckets streamed (`stream.rs`), the write side sending while the next bucket is read.
//! `c2k run` writes to a sink; a map stage writes sorted runs ([`crate::shard::map`]) with the
//! same parts ([`merge_in_batches`], [`format_batch`]).
//!
//! Invariants: batches cross every boundary; equal keys keep the archive's order (each record
//! carries its input order, `keying.rs`); both orders give the same records in the same order.

mod keying;
mod stream;
mod write;

use std::path::Path;

use anyhow::Result;

use crate::config::{Pipeline, SortMode};
use crate::plugin::pool::FormatPool;
use crate::plugin::{KeyPlugin, SchemaLog};
use crate::progress::Progress;
use crate::record::FileId;
use crate::signals::{self, Stage};
use crate::sort::buckets::{self, BucketOrder};
use crate::sort::{SortItem, Sorted, Sorter};
use crate::source::{CamusSource, SourceEvent, SourceFile};

use keying::key_records;
pub(crate) use write::{format_batch, merge_in_batches, write_items};

/// Records in order, from the merge of the sorted archive or a bucket stream.
pub(crate) type Items = Box<dyn Iterator<Item = Result<SortItem>> + Send>;

/// What the reading side did.
pub(crate) struct ReadFacts {
    pub(crate) records: u64,
    pub(crate) spilled_bytes: u64,
}

/// Reads `source` in order and hands the records to `write` with the format pool and, when
/// streamed, the schemas announced so far (each instance catches up before a batch: see
/// [`crate::plugin::FormatPlugin::catch_up`]). With `order`, Camus' buckets are streamed and
/// `write` runs while the reading goes on; without, the whole archive is sorted first and the
/// format plugin is told every schema before `write` starts. `expected` is the record count the
/// names promise (for the progress bar); `archive_ids` as for [`read_and_sort`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn in_order<R>(
    pipeline: &Pipeline,
    source: &CamusSource,
    order: Option<&BucketOrder>,
    key: &mut KeyPlugin,
    format: &mut FormatPool,
    progress: &Progress,
    archive_ids: Option<&[FileId]>,
    expected: u64,
    write: impl FnOnce(Items, &mut FormatPool, Option<&SchemaLog>) -> Result<R>,
) -> Result<(R, ReadFacts)> {
    if let Some(order) = order {
        signals::stage(Stage::Writing);
        progress.streaming(expected);
        return stream::stream_buckets(
            pipeline,
            source,
            order,
            key,
            progress,
            archive_ids,
            |items, schemas| write(items, format, Some(schemas)),
        );
    }
    signals::stage(Stage::Sorting);
    let mut register = |id, json: &str| format.register_schema(id, json);
    let sorted = read_and_sort(pipeline, source, key, progress, archive_ids, &mut register)?;
    tracing::debug!(
        records = sorted.count,
        spilled = sorted.spilled_bytes,
        "read, keyed and sorted"
    );
    signals::stage(Stage::Writing);
    progress.writing(sorted.count);
    let Sorted {
        iter,
        spill_dir,
        count,
        spilled_bytes,
        ..
    } = sorted;
    let written = write(iter, format, None)?;
    drop(spill_dir);
    Ok((
        written,
        ReadFacts {
            records: count,
            spilled_bytes,
        },
    ))
}

/// Whether the replay streams Camus' time buckets (`sort.mode`), and in which order: when the key
/// plugin gives key floors (its keys order records by event time first) and every file's name
/// gives its bucket. `auto` says once why it sorts the whole archive instead; `buckets` refuses.
pub(crate) fn choose_order(
    pipeline: &Pipeline,
    files: &[SourceFile],
    key: &mut KeyPlugin,
) -> Result<Option<BucketOrder>> {
    let mode = pipeline.sort.mode;
    if mode == SortMode::External {
        return Ok(None);
    }
    let why_not = if key.key_floor(0)?.is_none() {
        format!(
            "key plugin {} does not say its keys order records by event time first (it gives \
             no key floor: contract 0.1.2's key-floor)",
            pipeline.key.plugin
        )
    } else {
        match BucketOrder::of(files) {
            Some(order) => {
                tracing::debug!(buckets = order.buckets(), "streaming Camus' time buckets");
                return Ok(Some(order));
            }
            None => "some file names give no Camus time bucket (Kafka Connect's and \
                     camus-sweeper's never do)"
                .to_string(),
        }
    };
    if mode == SortMode::Buckets {
        buckets::refuse(&why_not)?;
    }
    eprintln!("c2k: note: sorting the whole archive before sending (sort.mode: auto): {why_not}");
    Ok(None)
}

/// How many source batches may wait between the reader thread and the key plugin, and sorted
/// batches between each stage of the write side: enough to keep every core busy, few enough to
/// keep memory bounded (each batch is ~`batch_size` records).
pub(crate) const CHANNEL_DEPTH: usize = 8;

/// Reads every record, keys it, and sorts the whole archive. Files are read and decoded on a thread of
/// their own while this one runs the key plugin and the sort. Schemas are registered with the key
/// plugin, and handed to `on_schema` (the format plugin's registration), as the source announces
/// them: a plugin that rejects one stops the run before the sort.
///
/// `global_ids`, for a map stage that reads some of the archive's files: the archive-wide file id
/// of each of `source.files`, so items carry the ids (and input order) the single-machine run
/// gives them.
fn read_and_sort(
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

/// A thread builder with a name that shows in `top -H`, `perf` and panics.
pub(crate) fn named(name: &str) -> std::thread::Builder {
    std::thread::Builder::new().name(name.to_string())
}

fn file_url(files: &[SourceFile], id: u32) -> &str {
    files
        .get(id as usize)
        .map_or("<unknown file>", |f| f.url.as_str())
}
