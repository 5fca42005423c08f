//! `c2k offsets commit PIPELINE --plan PLAN.json`: the one commit at the end of a sharded
//! replay. The archive is checked against the plan once more, then the replay topic itself is
//! read back: every replay partition must hold exactly the messages the plan expects of it (by
//! `c2k-seq`, of this replay's identity). Only then are the offsets committed, by the same step
//! as `c2k run`'s, which never writes over other offsets and does nothing when identical ones are
//! there (so a second commit is harmless, and offsets are committed once).

use anyhow::Result;

use super::plan::Plan;
use crate::config::{CommitMode, Pipeline};
use crate::integrity::Inconsistent;
use crate::offsets::StepOptions;
use crate::sink::kafka::account::{account, Account};

/// Some replay partition does not hold all its messages yet: nothing was committed. `c2k` exits
/// with code 7.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Incomplete(pub String);

/// Checks the replay is complete, then commits the offsets.
pub fn commit(pipeline: &Pipeline, plan: &Plan, options: StepOptions) -> Result<()> {
    let (_, gate, content) = super::open_as_planned(pipeline, plan, "nothing was committed")?;
    if let Some(why) = &gate.commit_refused {
        if pipeline.offsets.commit != CommitMode::None {
            return Err(Inconsistent(format!("{why}: nothing was committed")).into());
        }
    }
    let found = account(pipeline, &content)?;
    check_complete(plan, &found)?;
    let total: u64 = found.present.iter().sum();
    eprintln!(
        "c2k: the replay is complete: {total} messages in {} ({} partitions, every one as the \
         plan expects)",
        found.topic,
        plan.partitions().len()
    );
    crate::offsets::commit_step(pipeline, options)
}

/// Compares what each replay partition holds with what the plan expects of it.
pub fn check_complete(plan: &Plan, found: &Account) -> Result<()> {
    let expected = plan.expected();
    if found.partitions.is_none() {
        return Err(Incomplete(format!(
            "replay topic {} does not exist: no shard has published yet; nothing was committed",
            found.topic
        ))
        .into());
    }
    let mut problems = Vec::new();
    for (partition, want) in &expected {
        let have = found.present.get(*partition as usize).copied().unwrap_or(0);
        if have != *want {
            let shard = plan
                .shard_of(*partition)
                .map_or("no shard".to_string(), |s| format!("shard {s}"));
            problems.push(format!(
                "partition {partition}: {have} of {want} messages ({shard})"
            ));
        }
    }
    for (partition, have) in found.present.iter().enumerate() {
        if *have > 0 && !expected.contains_key(&(partition as u32)) {
            problems.push(format!(
                "partition {partition}: {have} messages where the plan expects none"
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Incomplete(format!(
        "the replay in {} is not complete: {}; nothing was committed. Run the shards named (they \
         resume where they stopped), then commit again",
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
            content: String::new(),
            files: vec![file(0, 3), file(0, 2), file(2, 4)],
            cutoff: None,
            shards: vec![
                Shard {
                    index: 0,
                    partitions: vec![0],
                    bytes: 2,
                    records: 5,
                },
                Shard {
                    index: 1,
                    partitions: vec![2],
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
            identity: "me".into(),
            present,
        }
    }

    #[test]
    fn only_a_topic_holding_every_planned_message_is_complete() {
        assert!(check_complete(&plan(), &found(vec![5, 0, 4])).is_ok());
        let text = check_complete(&plan(), &found(vec![5, 0, 1]))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("partition 2: 1 of 4 messages (shard 1)"),
            "{text}"
        );
        let text = check_complete(&plan(), &found(vec![5, 1, 4]))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("partition 1: 1 messages where the plan expects none"),
            "{text}"
        );
        let mut missing = found(vec![]);
        missing.partitions = None;
        assert!(check_complete(&plan(), &missing)
            .unwrap_err()
            .is::<Incomplete>());
    }
}
