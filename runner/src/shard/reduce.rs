//! The reduce stage of a sharded `partitioning: key` or `single` replay (`c2k run --plan PLAN.json
//! --stage reduce --partition r --staging DIR`): checks that every map shard's output is complete
//! (its manifest, and its run for `r` of the size the manifest says), merges the runs for `r` in
//! the sort's order and publishes them into replay partition `r`, always resuming (the guard skips
//! exactly what the partition already holds of this replay), committing nothing.
//!
//! The messages of partition `r` reach the sink in the order the single-machine run sends them,
//! so the sink numbers them (`c2k-seq`) as it does: the partition ends up identical.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use anyhow::{bail, Context, Result};

use super::complete::Incomplete;
use super::plan::Plan;
use super::staging::{self, Manifest, RunReader, Staging};
use crate::config::Pipeline;
use crate::sink::kafka::KafkaSink;
use crate::sink::{Sink, SourceFacts};

/// Every map shard's manifest, or an error naming the shards whose map stage is not complete.
pub(crate) fn manifests(plan: &Plan, staging: &Staging, what: &str) -> Result<Vec<Manifest>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for shard in &plan.shards {
        match staging.manifest(shard.index, &plan.content)? {
            Some(manifest) => found.push(manifest),
            None => missing.push(shard.index.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(Incomplete(format!(
            "the map stage is not complete under {}: no output of map shard(s) {} of {}; {what}. \
             Run them (`c2k run PIPELINE --plan PLAN.json --shard i --stage map --staging {}`), \
             then this again",
            staging.url(),
            missing.join(", "),
            plan.shards.len(),
            staging.url()
        ))
        .into());
    }
    for manifest in &found {
        let planned = plan.shard(manifest.shard)?.records;
        if manifest.messages() != planned {
            bail!(
                "map shard {} staged {} messages, the plan gives it {} records: the staging area \
                 {} was changed; {what}",
                manifest.shard,
                manifest.messages(),
                planned,
                staging.url()
            );
        }
    }
    Ok(found)
}

/// Messages each replay partition must hold, from the map shards' manifests.
pub(crate) fn expected(manifests: &[Manifest]) -> BTreeMap<u32, u64> {
    let mut expected = BTreeMap::new();
    for manifest in manifests {
        for (partition, run) in &manifest.runs {
            if run.messages > 0 {
                *expected.entry(*partition as u32).or_insert(0) += run.messages;
            }
        }
    }
    expected
}

/// Publishes replay partition `partition` from the staged runs.
pub fn reduce(pipeline: &Pipeline, plan: &Plan, partition: i32, staging: &Staging) -> Result<()> {
    let started = std::time::Instant::now();
    if !plan.is_map_reduce() {
        bail!(
            "--stage reduce: the plan is for partitioning: {}, which has no reduce stage",
            plan.partitioning
        );
    }
    let partitions = plan
        .replay_partitions
        .context("the plan has no replay partition count (replay_partitions): plan again")?;
    if partition < 0 || partition >= partitions {
        bail!(
            "--partition {partition}: the replay topic has {partitions} partitions (0 to {})",
            partitions - 1
        );
    }
    let what = format!("reduce {partition} sent nothing");
    let content = super::open_as_planned(pipeline, plan, &what)?.facts.content;
    let manifests = manifests(plan, staging, &what)?;
    let expected = expected(&manifests)
        .get(&(partition as u32))
        .copied()
        .unwrap_or(0);
    let mut readers = Vec::new();
    for manifest in &manifests {
        if let Some(run) = manifest.runs.get(&partition) {
            readers.push(staging.run_reader(manifest.shard, partition, *run)?);
        }
    }
    if expected == 0 {
        eprintln!(
            "c2k: replay partition {partition} receives no message (the map shards sent every \
             record elsewhere): nothing to do"
        );
        return Ok(());
    }
    let facts = SourceFacts {
        partitions: plan.partitions(),
        files: plan.files.iter().map(|f| f.path.clone()).collect(),
        content,
        records: Some(expected),
        only_partitions: Some(vec![partition]),
        oldest_bucket_ms: plan
            .files
            .iter()
            .filter_map(|f| {
                let name = f.path.rsplit('/').next()?;
                crate::source::CamusFileName::parse(name, Some(&pipeline.topic))?.bucket_start_ms
            })
            .min(),
    };
    // Reduce always resumes: the partition may hold what an earlier attempt of it sent.
    let sink = KafkaSink::connect_resuming(pipeline, &facts, true)?;
    if sink.partitions() != partitions {
        bail!(
            "replay topic {} has {} partitions, the plan's map stage split the messages into {}: \
             reduce {partition} sent nothing (plan again, into a topic of that count)",
            pipeline.replay_topic(),
            sink.partitions(),
            partitions
        );
    }
    let present = sink.already_present();
    if present == expected {
        eprintln!(
            "c2k: replay partition {partition} is already complete: {present} messages in {}; \
             nothing to send",
            pipeline.replay_topic()
        );
        return Ok(());
    }
    let mut sink: Box<dyn Sink> = Box::new(sink);
    let batch_size = pipeline.format.batch_size.max(1);
    let mut merge = Merge::start(readers)?;
    let mut batch = Vec::with_capacity(batch_size);
    let mut merged = 0u64;
    while let Some(message) = merge.next_message()? {
        batch.push(message);
        merged += 1;
        if batch.len() == batch_size {
            sink.send(std::mem::replace(
                &mut batch,
                Vec::with_capacity(batch_size),
            ))?;
        }
    }
    if !batch.is_empty() {
        sink.send(batch)?;
    }
    let report = sink.finish()?;
    if merged != expected || report.delivered != expected {
        bail!(
            "replay partition {partition}: {merged} messages merged, {} acknowledged, {expected} \
             expected: not complete",
            report.delivered
        );
    }
    eprintln!(
        "c2k: reduce {partition} is complete: {expected} messages in partition {partition} of {}{} \
         ({:.1} s); no offsets committed: once every partition is complete, `c2k offsets commit \
         PIPELINE --plan PLAN.json --staging {}` checks the replay topic and commits them once",
        pipeline.replay_topic(),
        match report.already_present {
            0 => String::new(),
            n => format!(" ({n} of them already there from an earlier attempt)"),
        },
        started.elapsed().as_secs_f64(),
        staging.url()
    );
    Ok(())
}

/// A k-way merge of sorted runs by the sort's order (`SortItem`'s `Ord`); equal positions cannot
/// occur (input order is unique), so the merge is deterministic.
struct Merge {
    readers: Vec<RunReader>,
    heads: BinaryHeap<Reverse<(crate::sort::SortItem, usize)>>,
}

impl Merge {
    fn start(mut readers: Vec<RunReader>) -> Result<Merge> {
        let mut heads = BinaryHeap::with_capacity(readers.len());
        for (i, reader) in readers.iter_mut().enumerate() {
            if let Some(item) = reader.next_item()? {
                heads.push(Reverse((item, i)));
            }
        }
        Ok(Merge { readers, heads })
    }

    fn next_message(&mut self) -> Result<Option<crate::record::OutMessage>> {
        let Some(Reverse((item, i))) = self.heads.pop() else {
            return Ok(None);
        };
        let reader = &mut self.readers[i];
        let message = staging::message_of(&item, reader.path())?;
        if let Some(next) = reader.next_item()? {
            if next < item {
                bail!(
                    "{} is not sorted: the staging area was changed; run its map shard again",
                    reader.path()
                );
            }
            self.heads.push(Reverse((next, i)));
        }
        Ok(Some(message))
    }
}
