//! Which guard judges what the replay topic already holds, chosen once per sink from the
//! pipeline: this replay's `c2k-*` headers (brokers of 0.11 and later), emptiness alone
//! (`sink.provenance: false`), or, on older brokers, a record of the replay in ZooKeeper and the
//! bytes of each partition's last message ([`super::legacy_guard`]).

use anyhow::Result;

use super::guard::{self, PartitionEnd, Resume};
use super::legacy_guard::{self, Expected};
use super::zookeeper::{self, ReplayRecord};
use crate::config::KafkaSinkConfig;

/// How the replay topic's contents are judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GuardMode {
    /// By the `c2k-*` headers of each partition's last message. `exact_offsets`: every message
    /// sits at a known offset (no transaction markers in between).
    Headers { exact_offsets: bool },
    /// `sink.provenance: false`: nothing tells this replay's messages apart, so only an empty
    /// topic is published to.
    Emptiness,
    /// Brokers older than 0.11 (no headers): the record in `sink.zookeeper`, when set, and the
    /// last messages compared with this replay's.
    OldBrokers { zookeeper: Option<String> },
}

/// What the guard decided about the replay topic.
pub(crate) struct Verdict {
    /// This replay's messages already there, per partition (skipped, not sent again).
    pub resume: Resume,
    /// Old brokers: per partition, the offset of the replay's first message.
    pub base_offsets: Option<Vec<i64>>,
    /// Old brokers: per partition, the message to compare before sending past it.
    pub expected: Vec<Option<Expected>>,
    /// Old brokers: the record to write in ZooKeeper before sending.
    pub record: Option<ReplayRecord>,
}

impl GuardMode {
    /// The mode of `sink`, on brokers older than 0.11 when `old_brokers`.
    pub(crate) fn of(sink: &KafkaSinkConfig, old_brokers: bool) -> GuardMode {
        match (old_brokers, sink.provenance) {
            (_, false) => GuardMode::Emptiness,
            (false, true) => GuardMode::Headers {
                exact_offsets: !sink.transactions,
            },
            (true, true) => GuardMode::OldBrokers {
                zookeeper: sink.zookeeper.clone(),
            },
        }
    }

    /// The replay's record in ZooKeeper (old brokers with `sink.zookeeper` only), read once.
    pub(crate) fn read_record(&self, topic: &str) -> Result<Option<ReplayRecord>> {
        match self {
            GuardMode::OldBrokers {
                zookeeper: Some(connect),
            } => zookeeper::read_record(connect, topic),
            _ => Ok(None),
        }
    }

    /// Judges the partitions' `ends`: publish, resume (`resume`: skip exactly what is there) or
    /// refuse ([`guard::TopicRefused`]).
    pub(crate) fn decide(
        &self,
        topic: &str,
        identity: &str,
        ends: &[PartitionEnd],
        record: Option<&ReplayRecord>,
        resume: bool,
    ) -> Result<Verdict> {
        let plain = |resume| Verdict {
            resume,
            base_offsets: None,
            expected: vec![None; ends.len()],
            record: None,
        };
        match self {
            GuardMode::Headers { exact_offsets } => Ok(plain(guard::decide(
                topic,
                identity,
                ends,
                resume,
                *exact_offsets,
            )?)),
            GuardMode::Emptiness => Ok(plain(guard::decide_without_provenance(
                topic, ends, resume,
            )?)),
            GuardMode::OldBrokers { zookeeper } => {
                let decided = legacy_guard::decide(
                    topic,
                    identity,
                    ends,
                    zookeeper.is_some(),
                    record,
                    resume,
                )?;
                Ok(Verdict {
                    resume: decided.resume,
                    base_offsets: Some(decided.base_offsets),
                    expected: decided.expected,
                    record: decided.record,
                })
            }
        }
    }

    /// Writes the record a verdict asks for (old brokers with `sink.zookeeper`).
    pub(crate) fn write_record(&self, topic: &str, verdict: &Verdict) -> Result<()> {
        match (self, &verdict.record) {
            (
                GuardMode::OldBrokers {
                    zookeeper: Some(connect),
                },
                Some(record),
            ) => zookeeper::write_record(connect, topic, record),
            _ => Ok(()),
        }
    }
}
