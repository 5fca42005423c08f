//! `c2k offsets commit PIPELINE --plan PLAN.json`: the one commit at the end of a sharded
//! replay. The archive is checked against the plan once more, then the replay topic itself is
//! read back: every replay partition must hold exactly the messages the plan expects of it (by
//! `c2k-seq`, of this replay's identity). Only then are the offsets committed, by the same step
//! as `c2k run`'s, which never writes over other offsets and does nothing when identical ones are
//! there (so a second commit is harmless, and offsets are committed once).

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use super::plan::Plan;
use super::staging::Staging;
use crate::config::{CommitMode, Pipeline};
use crate::integrity::Inconsistent;
use crate::offsets::StepOptions;
use crate::sink::kafka::account::{account, Account};

pub(crate) use crate::refusal::Incomplete;

/// Checks the replay is complete, then commits the offsets. A `key` or `single` plan needs the
/// staging area: its map shards' manifests say how many messages each replay partition must hold
/// (and add up to the plan's records, checked).
pub fn commit(
    pipeline: &Pipeline,
    plan: &Plan,
    staging: Option<&Staging>,
    options: StepOptions,
) -> Result<()> {
    let expected = match (plan.is_map_reduce(), staging) {
        (false, _) => Expected::from_plan(plan),
        (true, Some(staging)) => Expected::from_staging(plan, staging)?,
        (true, None) => bail!(
            "the plan is for partitioning: {}: give the map stage's --staging area, whose \
             manifests say how many messages each replay partition must hold",
            plan.partitioning
        ),
    };
    let replay = super::open_as_planned(pipeline, plan, "nothing was committed")?;
    if let Some(why) = &replay.gate.commit_refused {
        if pipeline.offsets.commit != CommitMode::None {
            return Err(Inconsistent(format!("{why}: nothing was committed")).into());
        }
    }
    let found = account(pipeline, &replay.facts.content)?;
    if !found.lost.is_empty() {
        return Err(crate::sink::kafka::topic::TopicUnsafe(format!(
            "replay topic {} no longer holds all of the replay: {}. Nothing was committed. \
             Something deletes from the topic (retention.ms or retention.bytes judged on the \
             messages, a DeleteRecords): fix that, delete the topic and replay again",
            found.topic,
            found.lost.join("; ")
        ))
        .into());
    }
    check_complete(&expected, &found)?;
    let total: u64 = found.present.iter().sum();
    eprintln!(
        "c2k: the replay is complete: {total} messages in {} ({} partitions, every one as the \
         plan expects)",
        found.topic,
        expected.counts.len()
    );
    crate::offsets::commit_step(pipeline, replay.history.as_ref(), options)
}

/// What each replay partition must hold, and who publishes it (for the error).
pub(crate) struct Expected {
    pub counts: BTreeMap<u32, u64>,
    /// Shard publishing each partition (`source`), or `None`: the reduce of that partition.
    shards: Option<BTreeMap<u32, usize>>,
}

impl Expected {
    /// `partitioning: source`: the plan's counts per source partition.
    pub(crate) fn from_plan(plan: &Plan) -> Expected {
        let counts = plan.expected();
        let shards = counts
            .keys()
            .filter_map(|p| plan.shard_of(*p).map(|s| (*p, s)))
            .collect();
        Expected {
            counts,
            shards: Some(shards),
        }
    }

    /// `key` and `single`: the counts the map stage staged, which must be every planned record.
    pub(crate) fn from_staging(plan: &Plan, staging: &Staging) -> Result<Expected> {
        let manifests = super::reduce::manifests(plan, staging, "nothing was committed")?;
        let counts = super::reduce::expected(&manifests);
        let staged: u64 = counts.values().sum();
        let planned: u64 = plan.files.iter().map(|f| f.records).sum();
        if staged != planned {
            bail!(
                "the map stage staged {staged} messages, the plan has {planned} records: nothing \
                 was committed"
            );
        }
        Ok(Expected {
            counts,
            shards: None,
        })
    }

    fn publisher(&self, partition: u32) -> String {
        match &self.shards {
            Some(shards) => shards
                .get(&partition)
                .map_or("no shard".to_string(), |s| format!("shard {s}")),
            None => format!("reduce {partition}"),
        }
    }
}

/// Compares what each replay partition holds with what is expected of it.
pub(crate) fn check_complete(expected: &Expected, found: &Account) -> Result<()> {
    if found.partitions.is_none() {
        return Err(Incomplete(format!(
            "replay topic {} does not exist: no shard has published yet; nothing was committed",
            found.topic
        ))
        .into());
    }
    let mut problems = Vec::new();
    for (partition, want) in &expected.counts {
        let have = found.present.get(*partition as usize).copied().unwrap_or(0);
        if have != *want {
            let shard = expected.publisher(*partition);
            problems.push(format!(
                "partition {partition}: {have} of {want} messages ({shard})"
            ));
        }
    }
    for (partition, have) in found.present.iter().enumerate() {
        if *have > 0 && !expected.counts.contains_key(&(partition as u32)) {
            problems.push(format!(
                "partition {partition}: {have} messages where the plan expects none"
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Incomplete(format!(
        "the replay in {} is not complete: {}; nothing was committed. Run the shards (or \
         reduces) named: they resume where they stopped; then commit again",
        found.topic,
        problems.join(", ")
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::plan::{PlannedFile, Shard};

    fn plan() -> Plan {
        let file = |partition, records| PlannedFile {
            path: format!("f{partition}"),
            size: 1,
            partition,
            records,
        };
        Plan {
            version: 1,
            topic: "T".into(),
            replay_topic: "R".into(),
            input_dir: "/d/T".into(),
            partitioning: "source".into(),
            replay_partitions: None,
            content: String::new(),
            files: vec![file(0, 3), file(0, 2), file(2, 4)],
            cutoff: None,
            shards: vec![
                Shard {
                    index: 0,
                    partitions: vec![0],
                    files: vec![],
                    bytes: 2,
                    records: 5,
                },
                Shard {
                    index: 1,
                    partitions: vec![2],
                    files: vec![],
                    bytes: 1,
                    records: 4,
                },
            ],
        }
    }

    fn found(present: Vec<u64>) -> Account {
        Account {
            topic: "R".into(),
            partitions: Some(present.len() as i32),
            present,
            lost: Vec::new(),
        }
    }

    #[test]
    fn only_a_topic_holding_every_planned_message_is_complete() {
        assert!(check_complete(&Expected::from_plan(&plan()), &found(vec![5, 0, 4])).is_ok());
        let text = check_complete(&Expected::from_plan(&plan()), &found(vec![5, 0, 1]))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("partition 2: 1 of 4 messages (shard 1)"),
            "{text}"
        );
        let text = check_complete(&Expected::from_plan(&plan()), &found(vec![5, 1, 4]))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("partition 1: 1 messages where the plan expects none"),
            "{text}"
        );
        let mut missing = found(vec![]);
        missing.partitions = None;
        assert!(check_complete(&Expected::from_plan(&plan()), &missing)
            .unwrap_err()
            .is::<Incomplete>());
    }
}
