//! The map stage of a sharded `partitioning: key` or `single` replay (`c2k run --plan PLAN.json
//! --shard i --stage map --staging DIR`): shard `i` reads its planned files, keys, sorts and
//! formats them exactly as the single-machine run does (streaming Camus' time buckets where the
//! run would, so nothing is spilled locally), and writes one sorted run per replay
//! partition to the staging area ([`super::staging`]), then its manifest. It sends nothing and
//! commits nothing.
//!
//! Formatting happens here, not in the reduce stage: the replay partition of a `key` message is
//! its formatted key's hash, so the runs can only be split by partition once messages exist; and
//! the schema ids a format plugin is given are handed out per process, in the order a process
//! meets the writer schemas, so only the process that decoded a record can format it. The
//! format plugin is deterministic per record, so a message formatted here is byte for byte the
//! one the single-machine run formats; the records keep the archive-wide file ids and input
//! order (`stages::in_order` with the archive ids), so the sort positions are the single run's.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

use super::plan::Plan;
use super::staging::{Manifest, RunFacts, RunWriter, Staging};
use crate::config::Pipeline;
use crate::plugin::pool::FormatPool;
use crate::plugin::{FormatPlugin, KeyPlugin, SchemaLog};
use crate::progress::Progress;
use crate::record::{FileId, OutMessage};
use crate::sink::kafka::partition_for;
use crate::sort::SortItem;
use crate::source::SourceFile;
use crate::stages::{self, Items, CHANNEL_DEPTH};

/// Runs shard `index`'s map stage into `staging`.
pub fn map(pipeline: &Pipeline, plan: &Plan, index: usize, staging: &Staging) -> Result<()> {
    let started = std::time::Instant::now();
    let shard = plan.shard(index)?.clone();
    if !plan.is_map_reduce() {
        bail!(
            "--stage map: the plan is for partitioning: {}, whose shards publish their own \
             partitions: run them without --stage",
            plan.partitioning
        );
    }
    let partitions = plan
        .replay_partitions
        .context("the plan has no replay partition count (replay_partitions): plan again")?;
    let mut source =
        super::open_as_planned(pipeline, plan, &format!("map shard {index} wrote nothing"))?.source;
    if let Some(done) = staging.manifest(index, &plan.content)? {
        eprintln!(
            "c2k: map shard {index} is already complete: {} messages in {} runs under {} (an \
             earlier attempt wrote them; the map stage is deterministic, so they stand)",
            done.messages(),
            done.runs.len(),
            staging.url()
        );
        return Ok(());
    }
    staging.prepare(index)?;
    let all_files = source.files.clone();
    if all_files.len() != plan.files.len() {
        bail!(
            "the archive lists {} files, the plan {}: plan again",
            all_files.len(),
            plan.files.len()
        );
    }
    let global_ids: Vec<FileId> = shard.files.iter().map(|&i| i as FileId).collect();
    source
        .keep_positions(&shard.files)
        .with_context(|| format!("the plan's shard {index}: plan again"))?;

    let (runs, spilled) = if source.files.is_empty() {
        (BTreeMap::new(), 0)
    } else {
        let mut key = KeyPlugin::load(&pipeline.key)?;
        let mut format = FormatPool::load(&pipeline.format)?;
        let progress = Progress::new(source.files.iter().map(|f| f.size).sum());
        let order = stages::choose_order(pipeline, &source.files, &mut key)?;
        let target = Target {
            staging,
            shard: index,
            partitions,
        };
        let (runs, read) = stages::in_order(
            pipeline,
            &source,
            order.as_ref(),
            &mut key,
            &mut format,
            &progress,
            Some(&global_ids),
            shard.records,
            |items, format, schemas| {
                format_into_runs(
                    pipeline, &all_files, items, schemas, format, &target, &progress,
                )
            },
        )?;
        if read.records != shard.records {
            bail!(
                "map shard {index} read {} records, but its files' Camus names count {}: the \
                 archive does not hold what its names say; nothing is marked complete",
                read.records,
                shard.records
            );
        }
        progress.finish();
        (runs, read.spilled_bytes)
    };
    let manifest = Manifest {
        version: 1,
        content: plan.content.clone(),
        shard: index,
        runs,
    };
    if manifest.messages() != shard.records {
        bail!(
            "map shard {index} staged {} messages of its {} records: nothing is marked complete",
            manifest.messages(),
            shard.records
        );
    }
    staging.write_manifest(&manifest)?;
    eprintln!(
        "c2k: map shard {index} of {} is complete: {} messages from {} files in {} sorted runs \
         under {} ({:.1} s, {} spilled locally); nothing sent or committed: once every map shard is complete, run \
         the reduce stage for each replay partition (--stage reduce --partition r)",
        plan.shards.len(),
        manifest.messages(),
        shard.files.len(),
        manifest.runs.len(),
        staging.url(),
        started.elapsed().as_secs_f64(),
        crate::progress::human_bytes(spilled)
    );
    Ok(())
}

/// Where the runs go.
struct Target<'a> {
    staging: &'a Staging,
    shard: usize,
    partitions: i32,
}

/// Merges the sorted records in batches, formats them on every format instance (results put back
/// in batch order) and appends each message to its replay partition's run.
fn format_into_runs(
    pipeline: &Pipeline,
    files: &[SourceFile],
    iter: Items,
    schemas: Option<&SchemaLog>,
    format: &mut FormatPool,
    target: &Target<'_>,
    progress: &Progress,
) -> Result<BTreeMap<i32, RunFacts>> {
    let partitioning = pipeline.kafka_sink()?.partitioning;
    let batch_size = pipeline.format.batch_size.max(1);
    let mut writers: BTreeMap<i32, RunWriter> = BTreeMap::new();
    let mut failure: Option<anyhow::Error> = None;
    let formatted = std::thread::scope(|scope| -> Result<()> {
        let (batches_out, batches_in) =
            crossbeam_channel::bounded::<(u64, Result<Vec<SortItem>>)>(CHANNEL_DEPTH);
        // The sort positions of each batch, in batch order: the format side gives messages back
        // in that order, so the deliverer pairs them one for one. Unbounded, but it holds only
        // the positions (no datums) of the batches in flight, which the bounded channel limits.
        let (positions_out, positions_in) = crossbeam_channel::unbounded::<Vec<SortItem>>();
        let merger = stages::named("c2k-merge").spawn_scoped(scope, move || {
            // Each batch's sort positions (key and tie-breakers only) go out before the batch.
            stages::merge_in_batches(iter, batch_size, batches_out, |batch| {
                positions_out
                    .send(batch.iter().map(position).collect())
                    .is_ok()
            })
        })?;
        let format_one = |instance: &mut FormatPlugin, items: Vec<SortItem>| {
            if let Some(log) = schemas {
                instance.catch_up(log)?;
            }
            stages::format_batch(pipeline, files, instance, &items, progress)
        };
        let deliver = |messages: Vec<OutMessage>| {
            let written = positions_in
                .recv()
                .context("the merge stopped before the formatted messages")
                .and_then(|positions| {
                    write_batch(&positions, &messages, partitioning, target, &mut writers)
                });
            match written {
                Ok(()) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        };
        let result = format.format_in_order(batches_in, format_one, deliver);
        drop(positions_in);
        merger
            .join()
            .map_err(|_| anyhow::anyhow!("the sort merge thread panicked"))?;
        result
    });
    if let Some(e) = failure {
        return Err(e);
    }
    formatted?;
    let mut runs = BTreeMap::new();
    for (partition, writer) in writers {
        runs.insert(partition, writer.finish()?);
    }
    Ok(runs)
}

fn write_batch(
    positions: &[SortItem],
    messages: &[OutMessage],
    partitioning: crate::config::Partitioning,
    target: &Target<'_>,
    writers: &mut BTreeMap<i32, RunWriter>,
) -> Result<()> {
    if positions.len() != messages.len() {
        bail!(
            "{} formatted messages for a batch of {} records",
            messages.len(),
            positions.len()
        );
    }
    for (position, message) in positions.iter().zip(messages) {
        let partition = partition_for(partitioning, message, target.partitions);
        let writer = match writers.entry(partition) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(target.staging.run_writer(target.shard, partition)?)
            }
        };
        writer.push(position, message)?;
    }
    Ok(())
}

/// An item's sort position without its datum.
fn position(item: &SortItem) -> SortItem {
    SortItem::new(
        item.key(),
        b"",
        item.partition(),
        item.offset(),
        item.seq(),
        None,
        0,
        item.file(),
        item.index(),
    )
}
