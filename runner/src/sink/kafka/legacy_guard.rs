//! The guard on brokers older than 0.11, where messages carry no headers ([`super::legacy`]).
//!
//! What stands in for `c2k-replay` is the record c2k keeps in the cluster's ZooKeeper
//! ([`super::zookeeper::ReplayRecord`]: the identity and the offset of each partition's first
//! message); what stands in for `c2k-seq` is the offset itself — formats v0/v1 give every message
//! one offset, without gaps — so the last message of partition `p`, at offset `o`, is the replay's
//! message number `o - base[p]`. The output is deterministic: that message must be, byte for byte
//! (key and value), what this run produces at that position. The sink checks it as it gets there
//! ([`Expected`]), before it sends anything more to that partition; a difference is refused.

use std::fmt::Write as _;

use anyhow::Result;

use super::guard::{PartitionEnd, Resume, TopicRefused};
use super::zookeeper::{record_path, ReplayRecord};

/// A partition's last message as read back, which this replay must reproduce at `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expected {
    pub seq: u64,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// What the guard decided on an old cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub resume: Resume,
    /// Per partition, the offset of the replay's first message.
    pub base_offsets: Vec<i64>,
    /// Per partition, the message to compare before sending past it (none for empty partitions).
    pub expected: Vec<Option<Expected>>,
    /// The record to write before sending (a new replay into an empty topic).
    pub record: Option<ReplayRecord>,
}

/// Decides from the partitions' ends and the ZooKeeper record (`zookeeper`: whether
/// `sink.zookeeper` is set at all; `record`: what it holds for this topic).
pub(crate) fn decide(
    topic: &str,
    identity: &str,
    ends: &[PartitionEnd],
    zookeeper: bool,
    record: Option<&ReplayRecord>,
    resume: bool,
) -> Result<Plan> {
    let filled: Vec<&PartitionEnd> = ends.iter().filter(|e| e.last.is_some()).collect();
    if filled.is_empty() {
        return into_empty_topic(topic, identity, ends, zookeeper, resume);
    }
    let holds = filled
        .iter()
        .map(|e| format!("partition {} up to offset {}", e.partition, e.high - 1))
        .collect::<Vec<_>>()
        .join(", ");
    let refuse = |why: String| -> anyhow::Error {
        TopicRefused(format!(
            "replay topic {topic} holds messages c2k cannot account for ({holds}); nothing was \
             sent: {why}. Publish into an empty topic (delete it, or set sink.topic to a new one)."
        ))
        .into()
    };
    let record =
        this_replays_record(topic, identity, ends.len(), zookeeper, record).map_err(refuse)?;
    let (present, expected) = compare_ends(ends, &record.base_offsets).map_err(refuse)?;
    let resume_plan = Resume { present };
    if !resume {
        return Err(already_there(topic, &resume_plan).into());
    }
    Ok(Plan {
        resume: resume_plan,
        base_offsets: record.base_offsets.clone(),
        expected,
        record: None,
    })
}

/// An empty topic: published into from each partition's end, the record written first when
/// there is a ZooKeeper to keep it (without one, `--resume` cannot be honoured).
fn into_empty_topic(
    topic: &str,
    identity: &str,
    ends: &[PartitionEnd],
    zookeeper: bool,
    resume: bool,
) -> Result<Plan> {
    let base_offsets: Vec<i64> = ends.iter().map(|e| e.high).collect();
    if resume && !zookeeper {
        return Err(TopicRefused(format!(
            "replay topic {topic} is empty, and --resume on brokers older than 0.11 needs \
             sink.zookeeper (the record of which replay wrote the topic); nothing was sent"
        ))
        .into());
    }
    Ok(Plan {
        resume: Resume {
            present: vec![0; ends.len()],
        },
        record: zookeeper.then(|| ReplayRecord {
            version: 1,
            identity: identity.to_string(),
            base_offsets: base_offsets.clone(),
        }),
        base_offsets,
        expected: vec![None; ends.len()],
    })
}

/// The record of this replay, of this many partitions, or why the messages cannot be its.
fn this_replays_record<'r>(
    topic: &str,
    identity: &str,
    partitions: usize,
    zookeeper: bool,
    record: Option<&'r ReplayRecord>,
) -> std::result::Result<&'r ReplayRecord, String> {
    if !zookeeper {
        return Err(
            "on brokers older than 0.11 messages carry no c2k headers, and without \
                    sink.zookeeper c2k keeps no record of which replay wrote them"
                .into(),
        );
    }
    let Some(record) = record else {
        return Err(format!(
            "ZooKeeper (sink.zookeeper) has no c2k record at {}: c2k did not publish them",
            record_path(topic)
        ));
    };
    if record.identity != identity {
        return Err(format!(
            "they are another replay's ({}, not this one: {identity}), as recorded at {}; the \
             archive or the pipeline differs",
            record.identity,
            record_path(topic)
        ));
    }
    if record.base_offsets.len() != partitions {
        return Err(format!(
            "the record at {} is of {} partitions, the topic has {partitions}",
            record_path(topic),
            record.base_offsets.len(),
        ));
    }
    Ok(record)
}

/// Per partition, how many of this replay's messages it holds (from the recorded first offset)
/// and the last one, to compare with this run's message at that position before sending more.
fn compare_ends(
    ends: &[PartitionEnd],
    base_offsets: &[i64],
) -> std::result::Result<(Vec<u64>, Vec<Option<Expected>>), String> {
    let mut present = Vec::with_capacity(ends.len());
    let mut expected = Vec::with_capacity(ends.len());
    for (end, &base) in ends.iter().zip(base_offsets) {
        match &end.last {
            None if end.high == base => {
                present.push(0);
                expected.push(None);
            }
            None => {
                return Err(format!(
                    "partition {} is empty but its offsets moved from {base} to {} (messages \
                     deleted)",
                    end.partition, end.high
                ))
            }
            Some(last) if last.offset < base => {
                return Err(format!(
                    "partition {}: its last message is at offset {}, the replay started at {base}",
                    end.partition, last.offset
                ))
            }
            Some(last) => {
                let seq = (last.offset - base) as u64;
                present.push(seq + 1);
                expected.push(Some(Expected {
                    seq,
                    offset: last.offset,
                    key: last.key.clone(),
                    value: last.value.clone(),
                }));
            }
        }
    }
    Ok((present, expected))
}

/// A rerun without `--resume` of a replay the topic already holds part of.
fn already_there(topic: &str, resume: &Resume) -> TopicRefused {
    let mut text = format!(
        "replay topic {topic} already holds {} messages of this same replay (recorded at {} \
         in ZooKeeper); nothing was sent:",
        resume.total(),
        record_path(topic)
    );
    for (partition, n) in resume.present.iter().enumerate() {
        if *n > 0 {
            let _ = write!(text, "\n  partition {partition}: {n}");
        }
    }
    text.push_str(
        "\n`c2k run --resume` continues where it stopped (skips exactly the messages already \
         there, after checking each partition's last one, and publishes the rest).",
    );
    TopicRefused(text)
}

/// Whether `key`/`value`, this replay's message number `expected.seq` of `partition`, is what the
/// topic holds there; a refusal naming both otherwise.
pub(crate) fn check(
    topic: &str,
    partition: i32,
    expected: &Expected,
    key: Option<&[u8]>,
    value: &[u8],
) -> Result<()> {
    if expected.key.as_deref() == key && expected.value.as_deref().unwrap_or(&[]) == value {
        return Ok(());
    }
    let show = |bytes: Option<&[u8]>| match bytes {
        None => "none".to_string(),
        Some(b) => {
            let text = String::from_utf8_lossy(&b[..b.len().min(80)]).into_owned();
            format!("{} bytes {text:?}", b.len())
        }
    };
    Err(TopicRefused(format!(
        "replay topic {topic} partition {partition}: the message at offset {} is not this \
         replay's message number {} (topic: key {}, value {}; this replay: key {}, value {}): \
         something else wrote to the topic, or the record in ZooKeeper belongs to a topic \
         deleted since. Nothing more was sent to partition {partition}; offsets not committed. \
         Publish into an empty topic.",
        expected.offset,
        expected.seq,
        show(expected.key.as_deref()),
        show(expected.value.as_deref()),
        show(key),
        show(Some(value)),
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::kafka::guard::LastMessage;

    fn end(partition: i32, low: i64, high: i64) -> PartitionEnd {
        PartitionEnd {
            partition,
            low,
            high,
            last: (high > low).then(|| LastMessage {
                offset: high - 1,
                replay: None,
                seq: None,
                key: None,
                value: Some(format!("m{}", high - 1).into_bytes()),
            }),
        }
    }

    fn record(identity: &str, base: &[i64]) -> ReplayRecord {
        ReplayRecord {
            version: 1,
            identity: identity.into(),
            base_offsets: base.to_vec(),
        }
    }

    #[test]
    fn an_empty_topic_is_published_into_and_recorded_from_its_ends() {
        let plan = decide("R", "me", &[end(0, 0, 0), end(1, 7, 7)], true, None, false).unwrap();
        assert_eq!(plan.resume.present, vec![0, 0]);
        assert_eq!(plan.base_offsets, vec![0, 7]);
        assert_eq!(plan.record, Some(record("me", &[0, 7])));
        let without = decide("R", "me", &[end(0, 0, 0)], false, None, false).unwrap();
        assert_eq!(without.record, None);
        let text = decide("R", "me", &[end(0, 0, 0)], false, None, true)
            .unwrap_err()
            .to_string();
        assert!(text.contains("needs sink.zookeeper"), "{text}");
    }

    #[test]
    fn this_replay_is_resumed_from_its_offsets_and_checked_at_its_last_message() {
        let ends = [end(0, 0, 10), end(1, 3, 3), end(2, 0, 5)];
        let ours = record("me", &[0, 3, 2]);
        let refused = decide("R", "me", &ends, true, Some(&ours), false).unwrap_err();
        assert!(refused.is::<TopicRefused>());
        assert!(refused.to_string().contains("already holds 13 messages"));
        let plan = decide("R", "me", &ends, true, Some(&ours), true).unwrap();
        assert_eq!(plan.resume.present, vec![10, 0, 3]);
        let expected = plan.expected[2].as_ref().unwrap();
        assert_eq!((expected.seq, expected.offset), (2, 4));
        assert!(check("R", 2, expected, None, b"m4").is_ok());
        let text = check("R", 2, expected, None, b"other")
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("offset 4 is not this replay's message number 2"),
            "{text}"
        );
    }

    #[test]
    fn what_c2k_cannot_account_for_is_refused_even_with_resume() {
        let ends = [end(0, 0, 4)];
        for (zookeeper, record, why) in [
            (false, None, "without sink.zookeeper"),
            (true, None, "no c2k record at /c2k/replays/R"),
            (true, Some(record("them", &[0])), "another replay's (them"),
            (true, Some(record("me", &[0, 0])), "of 2 partitions"),
            (true, Some(record("me", &[9])), "the replay started at 9"),
        ] {
            let text = decide("R", "me", &ends, zookeeper, record.as_ref(), true)
                .unwrap_err()
                .to_string();
            assert!(text.contains(why), "{why}: {text}");
            assert!(text.contains("partition 0 up to offset 3"), "{text}");
        }
    }
}
