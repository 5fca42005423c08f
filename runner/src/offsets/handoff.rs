//! Whether the hand-off can be made: each partition's cut-off (where the newest Camus run stopped)
//! against what the live cluster said ([`super::live`]). No I/O here: the rules, the offsets to
//! commit and the words that explain them.
//!
//! Refused (exit code 6, [`HandOffRefused`](crate::refusal::HandOffRefused)): a cut-off below the log start (the messages between
//! are in neither the archive nor Kafka; `--accept-loss` commits the log start instead), a cut-off
//! beyond the high watermark (the archive is ahead of this topic), a cut-off partition the live
//! topic lacks or no such topic, running group members, a live cluster that could not be read.
//! Said, not refused: a live partition Camus never archived.

use super::history::PartitionOffset;
use super::live::{Members, Snapshot};

/// One thing the live cluster says about the hand-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// The cut-off is below the log start: retention deleted messages the archive lacks.
    Lost {
        partition: i32,
        cutoff: i64,
        log_start: i64,
    },
    /// The cut-off is beyond the high watermark: wrong cluster, or the topic was recreated.
    Ahead {
        partition: i32,
        cutoff: i64,
        high_watermark: i64,
    },
    /// Camus has a cut-off for a partition the live topic does not have.
    NoSuchPartition {
        partition: i32,
        cutoff: i64,
        live_partitions: usize,
    },
    /// The topic does not exist on the live cluster.
    TopicMissing,
    /// A live partition no Camus run read: consumers start it per their `auto.offset.reset`.
    NotArchived { partition: i32, high_watermark: i64 },
    /// The group has consumers running.
    LiveMembers(Members),
}

impl Finding {
    /// Whether it stops the hand-off (a loss does not when it is accepted).
    pub(crate) fn refuses(&self, accept_loss: bool) -> bool {
        match self {
            Finding::Lost { .. } => !accept_loss,
            Finding::NotArchived { .. } => false,
            _ => true,
        }
    }

    /// One sentence naming the partition and the offsets.
    pub(crate) fn describe(&self, topic: &str, group: &str) -> String {
        match self {
            Finding::Lost {
                partition,
                cutoff,
                log_start,
            } => format!(
                "{topic}/{partition}: {} messages gone: the cut-off is {cutoff} but the log starts \
                 at {log_start} (offsets {cutoff}..{} are in neither the archive nor Kafka)",
                log_start - cutoff,
                log_start - 1
            ),
            Finding::Ahead {
                partition,
                cutoff,
                high_watermark,
            } => format!(
                "{topic}/{partition}: the cut-off {cutoff} is beyond the high watermark \
                 {high_watermark} ({} messages ahead)",
                cutoff - high_watermark
            ),
            Finding::NoSuchPartition {
                partition,
                cutoff,
                live_partitions,
            } => format!(
                "{topic}/{partition}: the archive has a cut-off ({cutoff}) for it but the live \
                 topic has no such partition ({live_partitions} partitions)"
            ),
            Finding::TopicMissing => {
                format!("topic {topic} does not exist on the live cluster")
            }
            Finding::NotArchived {
                partition,
                high_watermark,
            } => format!(
                "{topic}/{partition}: on the live topic (high watermark {high_watermark}) but in \
                 no Camus run: consumers will start it per their auto.offset.reset"
            ),
            Finding::LiveMembers(Members { location, members }) => format!(
                "group {group} has {} running member{} ({location}: {}): committing under \
                 running consumers corrupts their positions; stop them first",
                members.len(),
                if members.len() == 1 { "" } else { "s" },
                members.join(", ")
            ),
        }
    }

    /// What findings of this kind mean, said once however many partitions have one.
    pub(crate) fn meaning(&self) -> Option<&'static str> {
        match self {
            Finding::Lost { .. } => Some(
                "retention deleted messages the archive does not hold; --accept-loss commits the \
                 log start there instead and prints the loss",
            ),
            Finding::Ahead { .. } | Finding::NoSuchPartition { .. } | Finding::TopicMissing => {
                Some(
                    "an archive ahead of the live topic belongs to another cluster, or to an \
                     earlier incarnation of the topic, deleted and recreated",
                )
            }
            Finding::NotArchived { .. } | Finding::LiveMembers(_) => None,
        }
    }
}

/// Everything the live cluster says about the hand-off, in partition order, then the group.
pub(crate) fn findings(cutoffs: &[PartitionOffset], live: &Snapshot) -> Vec<Finding> {
    let mut found = Vec::new();
    match &live.partitions {
        None => found.push(Finding::TopicMissing),
        Some(partitions) => {
            for cut in cutoffs {
                match partitions.iter().find(|w| w.partition == cut.partition) {
                    None => found.push(Finding::NoSuchPartition {
                        partition: cut.partition,
                        cutoff: cut.offset,
                        live_partitions: partitions.len(),
                    }),
                    Some(w) if cut.offset < w.log_start => found.push(Finding::Lost {
                        partition: cut.partition,
                        cutoff: cut.offset,
                        log_start: w.log_start,
                    }),
                    Some(w) if cut.offset > w.high_watermark => found.push(Finding::Ahead {
                        partition: cut.partition,
                        cutoff: cut.offset,
                        high_watermark: w.high_watermark,
                    }),
                    Some(_) => {}
                }
            }
            for w in partitions {
                if !cutoffs.iter().any(|c| c.partition == w.partition) {
                    found.push(Finding::NotArchived {
                        partition: w.partition,
                        high_watermark: w.high_watermark,
                    });
                }
            }
        }
    }
    if let Some(members) = &live.members {
        if !members.members.is_empty() {
            found.push(Finding::LiveMembers(members.clone()));
        }
    }
    found
}

/// What the offsets step does, given the live cluster's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// What a commit writes: the cut-offs, except the log start where messages are gone
    /// (committing a vanished offset would send consumers to their `auto.offset.reset`, often
    /// `latest`, skipping far more than what is gone).
    pub plan: Vec<PartitionOffset>,
    /// Why the hand-off is refused; empty when it can be made.
    pub refusals: Vec<String>,
    /// What a commit accepts, said plainly on stderr: losses (`--accept-loss`).
    pub losses: Vec<String>,
    /// Worth saying, never refused: partitions Camus never archived.
    pub warnings: Vec<String>,
    /// Messages the consumers will read from the live topic after the switch, when known.
    pub to_read: Option<i64>,
    /// The cluster that answered, as [`super::live::Cluster`] says it; `None` when none did.
    pub cluster: Option<String>,
}

/// Decides from the live cluster's answer, or from the error that kept it from answering.
pub(crate) fn decide(
    topic: &str,
    group: &str,
    cutoffs: &[PartitionOffset],
    live: &anyhow::Result<Snapshot>,
    accept_loss: bool,
) -> Decision {
    let mut decision = Decision {
        plan: cutoffs.to_vec(),
        refusals: Vec::new(),
        losses: Vec::new(),
        warnings: Vec::new(),
        to_read: None,
        cluster: None,
    };
    let live = match live {
        Ok(live) => live,
        Err(error) => {
            decision.refusals.push(format!(
                "cannot read the live topic {topic}, so nothing says its messages after the \
                 cut-off still exist: {error:#}; point c2k at the live cluster with \
                 offsets.brokers (offsets.live_check: warn commits without this check)"
            ));
            return decision;
        }
    };
    decision.cluster = Some(live.cluster.to_string());
    let mut meanings = Vec::new();
    for finding in findings(cutoffs, live) {
        let text = finding.describe(topic, group);
        if let Finding::Lost {
            partition,
            log_start,
            ..
        } = finding
        {
            if let Some(planned) = decision.plan.iter_mut().find(|p| p.partition == partition) {
                planned.offset = log_start;
            }
            if accept_loss {
                decision
                    .losses
                    .push(format!("{text}; committing {log_start}, the log start"));
                continue;
            }
        }
        if finding.refuses(accept_loss) {
            decision.refusals.push(text);
            if let Some(meaning) = finding.meaning() {
                if !meanings.contains(&meaning) {
                    meanings.push(meaning);
                }
            }
        } else {
            decision.warnings.push(text);
        }
    }
    decision
        .refusals
        .extend(meanings.into_iter().map(str::to_string));
    if let Some(partitions) = &live.partitions {
        decision.to_read = Some(
            decision
                .plan
                .iter()
                .filter_map(|p| {
                    let w = partitions.iter().find(|w| w.partition == p.partition)?;
                    Some((w.high_watermark - p.offset).max(0))
                })
                .sum(),
        );
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::live::{Cluster, Watermarks};

    fn cut(partition: i32, offset: i64) -> PartitionOffset {
        PartitionOffset {
            partition,
            offset,
            node: "1".into(),
            file: "offsets-m-00000".into(),
        }
    }

    fn live(partitions: Option<&[(i32, i64, i64)]>, members: &[&str]) -> Snapshot {
        Snapshot {
            cluster: Cluster {
                brokers: "k:9092".into(),
                origin: "offsets.brokers".into(),
                fallback: None,
                properties: Default::default(),
                given: Default::default(),
            },
            partitions: partitions.map(|ps| {
                ps.iter()
                    .map(|&(partition, log_start, high_watermark)| Watermarks {
                        partition,
                        log_start,
                        high_watermark,
                    })
                    .collect()
            }),
            members: Some(Members {
                location: "ZooKeeper z:1, /consumers/g/ids".into(),
                members: members.iter().map(|m| m.to_string()).collect(),
            }),
        }
    }

    #[test]
    fn a_consistent_topic_commits_the_cut_offs_and_counts_what_is_left_to_read() {
        let cutoffs = [cut(0, 100), cut(1, 201)];
        let d = decide(
            "T",
            "g",
            &cutoffs,
            &Ok(live(Some(&[(0, 0, 150), (1, 201, 201)]), &[])),
            false,
        );
        assert_eq!(d.plan, cutoffs);
        assert!(d.refusals.is_empty() && d.losses.is_empty() && d.warnings.is_empty());
        assert_eq!(d.to_read, Some(50));
    }

    #[test]
    fn messages_gone_are_refused_with_their_count_or_accepted_at_the_log_start() {
        let cutoffs = [cut(0, 100), cut(1, 200)];
        let snapshot = Ok(live(Some(&[(0, 130, 150), (1, 200, 260)]), &[]));
        let d = decide("T", "g", &cutoffs, &snapshot, false);
        assert_eq!(d.refusals.len(), 2, "{:?}", d.refusals);
        assert!(
            d.refusals[0].contains("T/0: 30 messages gone") && d.refusals[0].contains("100..129"),
            "{}",
            d.refusals[0]
        );
        assert!(d.refusals[1].contains("--accept-loss"), "{}", d.refusals[1]);

        let d = decide("T", "g", &cutoffs, &snapshot, true);
        assert!(d.refusals.is_empty(), "{:?}", d.refusals);
        assert_eq!(d.losses.len(), 1);
        assert!(d.losses[0].contains("committing 130"), "{}", d.losses[0]);
        assert_eq!(
            d.plan.iter().map(|p| p.offset).collect::<Vec<_>>(),
            [130, 200]
        );
        assert_eq!(d.to_read, Some(20 + 60));
    }

    #[test]
    fn an_archive_ahead_missing_partitions_and_running_members_are_refused() {
        let cutoffs = [cut(0, 100), cut(1, 300), cut(5, 7)];
        let d = decide(
            "T",
            "g",
            &cutoffs,
            &Ok(live(
                Some(&[(0, 0, 100), (1, 0, 250), (2, 0, 9)]),
                &["g_host-1"],
            )),
            true,
        );
        assert_eq!(d.refusals.len(), 4, "{:?}", d.refusals);
        assert!(
            d.refusals[0].contains("T/1")
                && d.refusals[0].contains("300")
                && d.refusals[0].contains("250"),
            "{}",
            d.refusals[0]
        );
        assert!(d.refusals[1].contains("T/5"), "{}", d.refusals[1]);
        assert!(
            d.refusals[2].contains("1 running member") && d.refusals[2].contains("g_host-1"),
            "{}",
            d.refusals[2]
        );
        // What an archive ahead means, said once for both partitions.
        assert!(d.refusals[3].contains("recreated"), "{}", d.refusals[3]);
        // A partition Camus never read is said, not refused.
        assert_eq!(d.warnings.len(), 1);
        assert!(
            d.warnings[0].contains("T/2") && d.warnings[0].contains("auto.offset.reset"),
            "{}",
            d.warnings[0]
        );
    }

    #[test]
    fn a_missing_topic_or_an_unreadable_cluster_is_refused() {
        let cutoffs = [cut(0, 1)];
        let d = decide("T", "g", &cutoffs, &Ok(live(None, &[])), false);
        assert_eq!(d.refusals[0], "topic T does not exist on the live cluster");
        assert_eq!(d.refusals.len(), 2);
        assert_eq!(d.to_read, None);

        let unreachable = Err(anyhow::anyhow!("brokers k:9092: timed out"));
        let d = decide("T", "g", &cutoffs, &unreachable, true);
        assert_eq!(d.refusals.len(), 1);
        assert!(
            d.refusals[0].contains("k:9092: timed out")
                && d.refusals[0].contains("offsets.brokers"),
            "{}",
            d.refusals[0]
        );
        assert_eq!(d.plan, cutoffs);
    }
}
