//! The replay topic's guard: before anything is sent, the last message of every replay partition
//! is read back, and the run either publishes (all empty), resumes (`--resume`, only messages of
//! this same replay: skip exactly what is there) or refuses with exit code 4 (anything c2k cannot
//! account for, or a rerun without `--resume`).
//!
//! The topic, not c2k's memory, is the truth: after a `kill -9` a message in flight either reached
//! the log (then it is read here and skipped) or did not (then it is sent again). The replay order
//! is deterministic, so "skip the first `c2k-seq + 1` messages of each partition" is exact.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

use super::provenance::{REPLAY_HEADER, SEQ_HEADER};
use crate::kafka::{self, Origin, Watch, Watched};

/// How far back from the end the first look at a partition starts; widened (×8) while it finds
/// only what is not a message (transaction markers, aborted messages under `read_committed`).
const FIRST_WINDOW: i64 = 16;

/// The guard's consumer context: reaching a partition's end is what the guard reads for, not an
/// error worth logging (librdkafka reports it as one); anything else goes to its [`Watch`].
#[derive(Default)]
struct EndIsExpected(Watch);

impl ClientContext for EndIsExpected {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.0.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(
            error,
            KafkaError::PartitionEOF(_)
                | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        );
        if !end {
            self.0.error(&error, reason);
        }
    }
}

impl ConsumerContext for EndIsExpected {}

impl Watched for EndIsExpected {
    fn watch(&self) -> &Watch {
        &self.0
    }
}

/// The guard's consumer, probed: it reads with the sink's connection settings.
fn guard_consumer(
    config: &ClientConfig,
    origin: &Origin,
    timeout: Duration,
) -> Result<GuardConsumer> {
    let consumer: GuardConsumer = kafka::create(config, EndIsExpected::default(), origin)?;
    kafka::probe(
        consumer.client(),
        |wait| kafka::serve_consumer(&consumer, wait),
        config,
        origin,
        timeout,
    )?;
    Ok(consumer)
}

type GuardConsumer = BaseConsumer<EndIsExpected>;

/// The end of one replay partition, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionEnd {
    pub partition: i32,
    /// The log start offset (messages before it were deleted by retention).
    pub low: i64,
    /// The end offset (the next message's), as the watermark said.
    pub high: i64,
    pub last: Option<LastMessage>,
}

/// The last message of a partition and what its headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LastMessage {
    pub offset: i64,
    /// `c2k-replay`, when present.
    pub replay: Option<String>,
    /// `c2k-seq`, when present and a number.
    pub seq: Option<u64>,
    /// Its key and value, which stand in for the headers on brokers that have none
    /// ([`super::legacy_guard`]).
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// What the guard decided: for each replay partition, how many messages of this replay are
/// already there (the first `present[p]` messages the run produces for it are skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resume {
    pub present: Vec<u64>,
}

impl Resume {
    pub(crate) fn total(&self) -> u64 {
        self.present.iter().sum()
    }
}

pub(crate) use crate::refusal::TopicRefused;

/// Reads the last message of each of the topic's `partitions` partitions. `config` is the
/// consumer's connection configuration (brokers, security), from `origin`; `read_committed` for
/// transactional replays, so that an aborted attempt's messages do not count.
pub(crate) fn read_ends(
    mut config: ClientConfig,
    origin: &Origin,
    topic: &str,
    partitions: i32,
    read_committed: bool,
    timeout: Duration,
) -> Result<Vec<PartitionEnd>> {
    config
        .set("group.id", "c2k-replay-guard")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "50")
        .set(
            "isolation.level",
            if read_committed {
                "read_committed"
            } else {
                "read_uncommitted"
            },
        );
    let consumer = guard_consumer(&config, origin, timeout)?;
    let marks = (0..partitions)
        .map(|partition| watermarks(&consumer, topic, partition, timeout))
        .collect::<Result<Vec<(i64, i64)>>>()?;
    // Every partition is read at once (one at a time cost a fetch round per partition: seconds
    // for a topic of a few dozen). A partition whose window held no message (only markers) but
    // starts after its log start is read again, with a wider window.
    let mut ends: Vec<Option<PartitionEnd>> = vec![None; partitions as usize];
    let mut pending: Vec<i32> = (0..partitions).collect();
    let mut window = FIRST_WINDOW;
    while !pending.is_empty() {
        let starts: Vec<(i32, i64)> = pending
            .iter()
            .map(|&p| {
                let (low, high) = marks[p as usize];
                (p, (high - window).max(low))
            })
            .collect();
        let mut lasts = last_messages_from(&consumer, topic, &starts, timeout)?;
        pending.clear();
        for (partition, start) in starts {
            let (low, high) = marks[partition as usize];
            let last = lasts.remove(&partition).flatten();
            if last.is_some() || start <= low {
                ends[partition as usize] = Some(PartitionEnd {
                    partition,
                    low,
                    high,
                    last,
                });
            } else {
                pending.push(partition);
            }
        }
        window = window.saturating_mul(8);
    }
    kafka::close_aside(consumer);
    Ok(ends.into_iter().flatten().collect())
}

/// The partition's log start and end offsets. A topic just created has no leader for a moment
/// (`NotLeaderForPartition`, `LeaderNotAvailable`), and on a cluster is unknown to the broker the
/// client first asked (`UnknownPartition`): asked again until `timeout`, then the last error is
/// the answer.
fn watermarks(
    consumer: &GuardConsumer,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<(i64, i64)> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match consumer.fetch_watermarks(topic, partition, left.max(Duration::from_millis(100))) {
            Ok(marks) => return Ok(marks),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(topic, partition, error = %e, "watermarks not available yet");
                std::thread::sleep(Duration::from_millis(200));
                // On a cluster the client may have asked a broker that did not know the new
                // topic yet, and a watermark query never asks again by itself: ask for the
                // topic's metadata, which refreshes what the client knows of it.
                let _ = consumer.fetch_metadata(Some(topic), Duration::from_secs(5));
            }
            Err(e) => {
                return Err(anyhow!(e)).with_context(|| {
                    format!("cannot read the offsets of {topic} partition {partition}")
                })
            }
        }
    }
}

/// Reads each `(partition, start)` from `start` to its end — the partition-EOF event, not the
/// watermark read before: some brokers report a watermark behind what a fetch returns — all at
/// once, and keeps each partition's last message.
fn last_messages_from(
    consumer: &GuardConsumer,
    topic: &str,
    starts: &[(i32, i64)],
    timeout: Duration,
) -> Result<BTreeMap<i32, Option<LastMessage>>> {
    let mut assignment = TopicPartitionList::new();
    for &(partition, start) in starts {
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(start))
            .map_err(|e| anyhow!("{topic}/{partition}: {e}"))?;
    }
    consumer
        .assign(&assignment)
        .with_context(|| format!("cannot read {topic}'s partitions"))?;
    let deadline = Instant::now() + timeout;
    // Partitions not at their end yet, and the last message of each seen so far.
    let mut reading: BTreeMap<i32, i64> = starts.iter().copied().collect();
    let mut lasts: BTreeMap<i32, Option<LastMessage>> =
        starts.iter().map(|&(p, _)| (p, None)).collect();
    // librdkafka reports transient trouble (a leader moving) as errors and retries by itself:
    // only an error still there at the deadline is the answer.
    let mut trouble: Option<KafkaError> = None;
    while !reading.is_empty() {
        if Instant::now() >= deadline {
            let why = trouble.map_or(String::new(), |e| format!(": {e}"));
            let (partition, start) = reading.first_key_value().expect("not empty");
            bail!(
                "cannot read to the end of {topic} partition {partition} within {timeout:?} \
                 (from offset {start}){why}"
            );
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => continue,
            Some(Err(KafkaError::PartitionEOF(p))) => {
                reading.remove(&p);
            }
            Some(Err(e)) => {
                tracing::debug!(topic, error = %e, "reading the replay topic's end");
                trouble = Some(e);
            }
            // A partition past its end grows only by what is written after the look.
            Some(Ok(message)) if !reading.contains_key(&message.partition()) => {}
            Some(Ok(message)) => {
                let header = |name: &str| {
                    message.headers().and_then(|headers| {
                        headers
                            .iter()
                            .find(|h| h.key == name)
                            .and_then(|h| h.value)
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                    })
                };
                lasts.insert(
                    message.partition(),
                    Some(LastMessage {
                        offset: message.offset(),
                        replay: header(REPLAY_HEADER),
                        seq: header(SEQ_HEADER).and_then(|s| s.parse().ok()),
                        key: message.key().map(<[u8]>::to_vec),
                        value: message.payload().map(<[u8]>::to_vec),
                    }),
                );
            }
        }
    }
    consumer.unassign().ok();
    Ok(lasts)
}

/// Decides from the partitions' ends. `exact_offsets`: the topic holds only this replay's data
/// messages (no transaction markers), so a partition whose log starts at 0 must end exactly at
/// `c2k-seq + 1` — anything else (a gap, a message from another producer) cannot be accounted for.
pub(crate) fn decide(
    topic: &str,
    identity: &str,
    ends: &[PartitionEnd],
    resume: bool,
    exact_offsets: bool,
) -> Result<Resume> {
    let mut present = Vec::with_capacity(ends.len());
    let mut foreign = BTreeMap::new();
    for end in ends {
        let Some(last) = &end.last else {
            present.push(0);
            continue;
        };
        let what = match (&last.replay, last.seq) {
            (None, _) => Some("messages without c2k headers".to_string()),
            (Some(replay), _) if replay != identity => Some(format!(
                "messages of another replay ({replay}, not this one: {identity})"
            )),
            (Some(_), None) => Some("a message of this replay without a valid c2k-seq".into()),
            (Some(_), Some(seq)) if exact_offsets && end.low == 0 && last.offset != seq as i64 => {
                Some(format!(
                    "{} messages where this replay wrote {} (its last message, c2k-seq {seq}, \
                     is at offset {})",
                    last.offset + 1,
                    seq + 1,
                    last.offset
                ))
            }
            (Some(_), Some(seq)) => {
                present.push(seq + 1);
                None
            }
        };
        if let Some(what) = what {
            foreign.insert(end.partition, (what, last.offset));
            present.push(0);
        }
    }
    if !foreign.is_empty() {
        let mut text = format!(
            "replay topic {topic} holds messages c2k cannot account for; nothing was sent:"
        );
        for (partition, (what, offset)) in &foreign {
            let _ = write!(
                text,
                "\n  partition {partition}: {what}, up to offset {offset}"
            );
        }
        text.push_str(
            "\nThe archive or the pipeline differs from the one the topic was written from, or \
             something else wrote to it. Publish into an empty topic (delete it, or set \
             sink.topic to a new one).",
        );
        if resume {
            text.push_str(
                " --resume only continues a replay of this same archive and pipeline: it refuses too.",
            );
        }
        return Err(TopicRefused(text).into());
    }
    let resume_plan = Resume { present };
    if resume_plan.total() > 0 && !resume {
        let mut text = format!(
            "replay topic {topic} already holds {} messages of this same replay; nothing was sent:",
            resume_plan.total()
        );
        for (partition, n) in resume_plan.present.iter().enumerate() {
            if *n > 0 {
                let _ = write!(text, "\n  partition {partition}: {n}");
            }
        }
        text.push_str(
            "\n`c2k run --resume` continues where it stopped (skips exactly the messages already \
             there and publishes the rest).",
        );
        return Err(TopicRefused(text).into());
    }
    Ok(resume_plan)
}

/// For `--dry-run`: what the replay topic holds and what a real run would do with it, in one
/// sentence. Reads only; a broker that cannot be reached is said, not an error. `decide` is the
/// run's decision from the ends, this replay's identity and whether `--resume` is given.
pub(crate) fn look(
    config: ClientConfig,
    origin: &Origin,
    topic: &str,
    identity_for: impl Fn(i32) -> String,
    decide: impl Fn(&[PartitionEnd], &str, bool) -> Result<Resume>,
    read_committed: bool,
) -> String {
    match look_inner(config, origin, topic, identity_for, decide, read_committed) {
        Ok(text) => text,
        Err(e) => format!("could not look at replay topic {topic}: {e:#}"),
    }
}

fn look_inner(
    config: ClientConfig,
    origin: &Origin,
    topic: &str,
    identity_for: impl Fn(i32) -> String,
    decide: impl Fn(&[PartitionEnd], &str, bool) -> Result<Resume>,
    read_committed: bool,
) -> Result<String> {
    let timeout = Duration::from_secs(10);
    let consumer = guard_consumer(&config, origin, timeout)?;
    // Every topic's metadata, not this one's: brokers with auto.create.topics.enable create a
    // topic a metadata request names (0.8 brokers whatever the client asks). A cluster without
    // topics answers nothing at all from 0.8 brokers.
    let partitions = match consumer.fetch_metadata(None, timeout) {
        Ok(metadata) => metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map_or(0, |t| t.partitions().len()) as i32,
        Err(e) if kafka::is_empty_cluster(&e) => 0,
        Err(e) => {
            return Err(kafka::explain(e, consumer.context().watch(), origin))
                .with_context(|| format!("cannot read the metadata of {topic}"))
        }
    };
    drop(consumer);
    if partitions == 0 {
        return Ok(format!(
            "replay topic {topic} does not exist yet: a run would create it and publish"
        ));
    }
    let ends = read_ends(config, origin, topic, partitions, read_committed, timeout)?;
    let identity = identity_for(partitions);
    Ok(
        match (
            decide(&ends, &identity, false),
            decide(&ends, &identity, true),
        ) {
            (Ok(_), _) => format!("replay topic {topic} is empty: a run would publish"),
            (Err(_), Ok(plan)) => format!(
            "replay topic {topic} already holds {} messages of this same replay: a run would be \
             refused (exit 4); with --resume it would skip them and publish the rest",
            plan.total()
        ),
            (Err(refused), Err(_)) => format!("a run would be refused (exit 4): {refused}"),
        },
    )
}

/// Without provenance headers nothing in the topic can be accounted for: only an empty topic is
/// published into, and `--resume` cannot be honoured.
pub(crate) fn decide_without_provenance(
    topic: &str,
    ends: &[PartitionEnd],
    resume: bool,
) -> Result<Resume> {
    let filled: Vec<String> = ends
        .iter()
        .filter_map(|end| {
            end.last
                .as_ref()
                .map(|last| format!("partition {} up to offset {}", end.partition, last.offset))
        })
        .collect();
    if filled.is_empty() && !resume {
        return Ok(Resume {
            present: vec![0; ends.len()],
        });
    }
    let mut text = if filled.is_empty() {
        format!("replay topic {topic} is empty")
    } else {
        format!(
            "replay topic {topic} is not empty ({}); nothing was sent",
            filled.join(", ")
        )
    };
    text.push_str(
        ": with sink.provenance: false the messages carry no c2k headers, so c2k cannot tell what is \
         there and never publishes into a non-empty topic",
    );
    if resume {
        text.push_str("; --resume needs sink.provenance: true");
    }
    Err(TopicRefused(text).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(partition: i32, seq: u64) -> PartitionEnd {
        PartitionEnd {
            partition,
            low: 0,
            high: seq as i64 + 1,
            last: Some(LastMessage {
                offset: seq as i64,
                replay: Some("me".into()),
                seq: Some(seq),
                key: None,
                value: None,
            }),
        }
    }

    fn empty(partition: i32) -> PartitionEnd {
        PartitionEnd {
            partition,
            low: 0,
            high: 0,
            last: None,
        }
    }

    #[test]
    fn an_empty_topic_is_published_into() {
        let plan = decide("R", "me", &[empty(0), empty(1)], false, true).unwrap();
        assert_eq!(plan.present, vec![0, 0]);
    }

    #[test]
    fn this_replay_is_refused_without_resume_and_continued_with_it() {
        let ends = [ours(0, 9), empty(1), ours(2, 0)];
        let refused = decide("R", "me", &ends, false, true).unwrap_err();
        assert!(refused.is::<TopicRefused>());
        let text = refused.to_string();
        assert!(text.contains("already holds 11 messages"), "{text}");
        assert!(text.contains("partition 0: 10"), "{text}");
        assert!(text.contains("--resume"), "{text}");
        let plan = decide("R", "me", &ends, true, true).unwrap();
        assert_eq!(plan.present, vec![10, 0, 1]);
    }

    #[test]
    fn foreign_messages_and_other_replays_are_refused_even_with_resume() {
        let mut other = ours(1, 4);
        other.last.as_mut().unwrap().replay = Some("them".into());
        let mut bare = ours(2, 4);
        bare.last.as_mut().unwrap().replay = None;
        for resume in [false, true] {
            let text = decide(
                "R",
                "me",
                &[ours(0, 1), other.clone(), bare.clone()],
                resume,
                true,
            )
            .unwrap_err()
            .to_string();
            assert!(
                text.contains("partition 1: messages of another replay (them"),
                "{text}"
            );
            assert!(
                text.contains("partition 2: messages without c2k headers"),
                "{text}"
            );
            assert!(text.contains("archive or the pipeline differs"), "{text}");
            assert_eq!(text.contains("--resume only continues"), resume, "{text}");
        }
    }

    #[test]
    fn a_partition_whose_offsets_do_not_match_its_sequence_is_refused() {
        let mut gap = ours(0, 4);
        gap.last.as_mut().unwrap().offset = 7;
        let text = decide("R", "me", &[gap.clone()], true, true)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("8 messages where this replay wrote 5"),
            "{text}"
        );
        // With transaction markers in the log, offsets are not message counts.
        assert_eq!(
            decide("R", "me", &[gap], true, false).unwrap().present,
            vec![5]
        );
    }

    #[test]
    fn without_provenance_only_an_empty_topic_is_accepted() {
        assert!(decide_without_provenance("R", &[empty(0)], false).is_ok());
        let text = decide_without_provenance("R", &[ours(0, 3)], false)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("not empty (partition 0 up to offset 3)"),
            "{text}"
        );
        let text = decide_without_provenance("R", &[empty(0)], true)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("--resume needs sink.provenance: true"),
            "{text}"
        );
    }
}
