//! Sharded replays (`partitioning: source`): `c2k plan` lists the archive once and assigns its
//! source partitions to N shards, balanced by bytes ([`plan`], [`assign`]); shard `i` publishes
//! only its partitions and commits nothing (`c2k run --plan PLAN.json --shard i`, in `run.rs`
//! through [`narrow`]); `c2k offsets commit --plan PLAN.json` checks from the replay topic itself
//! that every partition is complete, then commits once ([`complete`]).
//!
//! Every shard and the commit re-list the archive and compare it with the plan: a changed archive
//! (a file added, gone or of another size), pipeline or Camus history is refused, never published
//! or committed. A shard is resumable as a whole run is: it always resumes (the guard skips
//! exactly what its partitions already hold), so a retried task neither loses nor duplicates.

pub(crate) mod assign;
pub(crate) mod complete;
pub(crate) mod map;
pub(crate) mod plan;
pub(crate) mod reduce;
pub(crate) mod staging;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};

use crate::config::{CommitMode, Partitioning, Pipeline};
use crate::identity;
use crate::integrity::Inconsistent;
use crate::replay_plan::ReplayPlan;
use crate::sink::SourceFacts;
pub use plan::Plan;

/// How many differences between the plan and the archive an error lists.
const LISTED_DIFFERENCES: usize = 8;

/// `c2k plan PIPELINE --shards N`: lists and checks the archive (the integrity gate), checks the
/// offsets step can be made, and assigns the source partitions to `shards` shards.
pub fn make_plan(pipeline: &Pipeline, shards: usize) -> Result<Plan> {
    if shards == 0 {
        bail!("--shards 0: a plan needs at least one shard");
    }
    let sink = pipeline
        .kafka_sink()
        .context("c2k plan shards a Kafka replay")?;
    if !sink.provenance {
        bail!(
            "sink.provenance: false: shards resume and the final commit checks the replay topic \
             from the c2k-* headers; a sharded replay needs sink.provenance: true"
        );
    }
    // The hand-off is checked before any shard publishes, as `c2k run` does before it sends.
    let replay = ReplayPlan::build(pipeline, crate::offsets::StepOptions::default())?;
    if let Some(why) = &replay.gate.commit_refused {
        if pipeline.offsets.commit != CommitMode::None {
            return Err(Inconsistent(format!("{why}: no plan was written")).into());
        }
    }
    let input_dir = pipeline.input_dir();
    let source = &replay.source;
    let mut files = Vec::with_capacity(source.files.len());
    for file in &source.files {
        let Some(name) = &file.name else {
            bail!(
                "{} is not named as Camus names its files (topic.leader.partition.count.offset...): \
                 its source partition is unknown, so no shard can be given it",
                file.url
            );
        };
        files.push(plan::PlannedFile {
            path: identity::relative_path(&input_dir, &file.url),
            size: file.size,
            partition: name.partition,
            records: name.count,
        });
    }
    let cutoff = match pipeline.offsets.commit {
        CommitMode::None => None,
        _ => Some(planned_cutoff(pipeline, &replay)?),
    };
    let (shards, replay_partitions) = match sink.partitioning {
        Partitioning::Source => (by_partitions(&files, shards), None),
        Partitioning::Key | Partitioning::Single => {
            let topic = crate::sink::kafka::admin::plan_topic(pipeline, &replay.facts)?;
            (by_files(&files, shards), Some(topic.partitions))
        }
    };
    Ok(Plan {
        version: plan::VERSION,
        topic: pipeline.topic.clone(),
        replay_topic: pipeline.replay_topic(),
        input_dir,
        partitioning: plan::partitioning_name(sink.partitioning).into(),
        replay_partitions,
        content: plan::to_hex(&replay.facts.content),
        files,
        cutoff,
        shards,
    })
}

/// `partitioning: source`: whole source partitions to shards, balanced by bytes.
fn by_partitions(files: &[plan::PlannedFile], shards: usize) -> Vec<plan::Shard> {
    let mut partition_bytes = BTreeMap::new();
    let mut partition_records = BTreeMap::new();
    for file in files {
        *partition_bytes.entry(file.partition).or_insert(0u64) += file.size;
        *partition_records.entry(file.partition).or_insert(0u64) += file.records;
    }
    assign::by_bytes(&partition_bytes, shards)
        .into_iter()
        .enumerate()
        .map(|(index, partitions)| plan::Shard {
            index,
            bytes: partitions.iter().map(|p| partition_bytes[p]).sum(),
            records: partitions.iter().map(|p| partition_records[p]).sum(),
            partitions,
            files: Vec::new(),
        })
        .collect()
}

/// `partitioning: key` and `single`: every replay partition draws on every source partition, so
/// nothing is gained by keeping a partition's files together; files go to shards (their map
/// stage), balanced by bytes, which also spreads one large source partition over many shards.
fn by_files(files: &[plan::PlannedFile], shards: usize) -> Vec<plan::Shard> {
    let file_bytes: BTreeMap<u32, u64> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (i as u32, f.size))
        .collect();
    assign::by_bytes(&file_bytes, shards)
        .into_iter()
        .enumerate()
        .map(|(index, assigned)| {
            let assigned: Vec<usize> = assigned.into_iter().map(|i| i as usize).collect();
            plan::Shard {
                index,
                partitions: Vec::new(),
                bytes: assigned.iter().map(|&i| files[i].size).sum(),
                records: assigned.iter().map(|&i| files[i].records).sum(),
                files: assigned,
            }
        })
        .collect()
}

/// The newest Camus run's offsets in the history `replay` read, as the offsets step commits them.
fn planned_cutoff(pipeline: &Pipeline, replay: &ReplayPlan) -> Result<plan::Cutoff> {
    let run = replay.cutoff(pipeline)?;
    Ok(plan::Cutoff {
        run_dir: run.run_dir,
        offsets: run
            .partitions
            .iter()
            .map(|p| (p.partition, p.offset))
            .collect(),
    })
}

/// Opens the source and checks it against the plan: the same pipeline, the integrity gate, the
/// same files with the same sizes, the same content digest (reader schema, plugins) and, when the
/// plan has one, the same Camus cut-off. `what` names who checks, for the error. The history is
/// read once, for the gate, the cut-off check and the commit.
pub(crate) fn open_as_planned(pipeline: &Pipeline, plan: &Plan, what: &str) -> Result<ReplayPlan> {
    plan.check_pipeline(pipeline)?;
    let replay = ReplayPlan::gated(pipeline)?;
    let input_dir = pipeline.input_dir();
    let now: Vec<(String, u64)> = replay
        .source
        .files
        .iter()
        .map(|f| (identity::relative_path(&input_dir, &f.url), f.size))
        .collect();
    let planned: Vec<(String, u64)> = plan
        .files
        .iter()
        .map(|f| (f.path.clone(), f.size))
        .collect();
    if let Some(differences) = differences(&planned, &now) {
        return Err(Inconsistent(format!(
            "the archive under {input_dir} changed since the plan was made: {differences}; \
             {what}. Plan again (`c2k plan`) and start every shard over into a new replay topic"
        ))
        .into());
    }
    if plan::to_hex(&replay.facts.content) != plan.content {
        return Err(Inconsistent(format!(
            "the pipeline's reader schema, key or format plugin (or their config) is not the one \
             the plan was made with; {what}. Plan again (`c2k plan`)"
        ))
        .into());
    }
    if let Some(planned) = &plan.cutoff {
        let current = planned_cutoff(pipeline, &replay)?;
        if current.offsets != planned.offsets {
            return Err(Inconsistent(format!(
                "the Camus history moved on since the plan was made (newest run {}, planned {}): \
                 its cut-off is not the one the plan's archive ends at; {what}. Plan again \
                 (`c2k plan`)",
                current.run_dir, planned.run_dir
            ))
            .into());
        }
    }
    Ok(replay)
}

/// What differs between the planned files and the files now, or `None`.
fn differences(planned: &[(String, u64)], now: &[(String, u64)]) -> Option<String> {
    let planned_map: BTreeMap<&str, u64> = planned.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let now_map: BTreeMap<&str, u64> = now.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let mut found = Vec::new();
    for (path, size) in &planned_map {
        match now_map.get(path) {
            None => found.push(format!("{path} is gone")),
            Some(now) if now != size => {
                found.push(format!("{path} has {now} bytes (planned: {size})"))
            }
            Some(_) => {}
        }
    }
    for path in now_map.keys().filter(|p| !planned_map.contains_key(*p)) {
        found.push(format!("{path} is new"));
    }
    if found.is_empty() {
        return None;
    }
    let mut text = found
        .iter()
        .take(LISTED_DIFFERENCES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if found.len() > LISTED_DIFFERENCES {
        let _ = write!(text, " and {} more", found.len() - LISTED_DIFFERENCES);
    }
    Some(text)
}

/// For shard `index` of `c2k run --plan`: checks the archive against the plan and keeps only the
/// shard's source partitions. The sink is told the whole archive's partitions and content (so
/// every shard plans the same topic and has the same identity) and this shard's files, records
/// and replay partitions.
pub(crate) fn narrow(pipeline: &Pipeline, plan: &Plan, index: usize) -> Result<ReplayPlan> {
    let shard = plan.shard(index)?.clone();
    if plan.is_map_reduce() {
        bail!(
            "the plan is for partitioning: {}: its shards are map tasks (`--stage map --staging \
             DIR`), followed by one reduce per replay partition (`--stage reduce --partition r \
             --staging DIR`)",
            plan.partitioning
        );
    }
    let mut replay = open_as_planned(pipeline, plan, &format!("shard {index} sent nothing"))?;
    let input_dir = pipeline.input_dir();
    let source = &mut replay.source;
    source.keep_partitions(&shard.partitions);
    replay.facts = SourceFacts {
        files: source
            .files
            .iter()
            .map(|f| identity::relative_path(&input_dir, &f.url))
            .collect(),
        records: Some(shard.records),
        only_partitions: Some(shard.partitions.iter().map(|p| *p as i32).collect()),
        oldest_bucket_ms: SourceFacts::oldest_bucket(&source.files),
        // The whole archive's partitions and content.
        ..std::mem::take(&mut replay.facts)
    };
    Ok(replay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_differences_name_files_gone_new_and_resized() {
        let planned = vec![("a".to_string(), 1), ("b".to_string(), 2)];
        assert_eq!(differences(&planned, &planned), None);
        let now = vec![("b".to_string(), 3), ("c".to_string(), 1)];
        assert_eq!(
            differences(&planned, &now).unwrap(),
            "a is gone, b has 3 bytes (planned: 2), c is new"
        );
    }
}
