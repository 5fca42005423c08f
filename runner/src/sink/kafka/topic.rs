//! The replay topic's settings: what c2k creates it with, and what an existing topic must not do
//! to a replay — delete it (time retention is judged on the records' timestamps since Kafka
//! 0.10.1, and a replay carries old event times), cap it by size, collapse or reject it
//! (compaction), reject its timestamps (`message.timestamp.difference.max.ms`), rewrite them
//! (`LogAppendTime`), or refuse every write (more in-sync replicas required than it has).
//!
//! Rules only, no I/O: [`super::admin`] reads the settings (DescribeConfigs and metadata), the
//! sink applies the verdict before the first message, and [`TimeWindow`] checks each message's
//! timestamp against the same settings as it is sent.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::{KafkaSinkConfig, Timestamps, TopicCheck};
use crate::utc;

/// The topic configs c2k creates a replay topic with (then `sink.topic_config` on top):
/// - no deletion by time or size: a replay is kept until someone deletes it (a replay of events
///   older than `retention.ms` would otherwise be deleted at the broker's next retention check);
/// - `cleanup.policy=delete`: never compacted (null keys are refused, equal keys collapse);
/// - `CreateTime`, and no window on timestamps: the event times are kept as they are;
/// - no unclean leader election: an acknowledged message is never lost to a failover.
///
/// The replication factor and `min.insync.replicas` stay the cluster's own.
pub(crate) const REPLAY_CONFIGS: &[(&str, &str)] = &[
    ("retention.ms", "-1"),
    ("retention.bytes", "-1"),
    ("cleanup.policy", "delete"),
    ("message.timestamp.type", "CreateTime"),
    ("message.timestamp.difference.max.ms", "9223372036854775807"),
    ("unclean.leader.election.enable", "false"),
];

/// What a topic created through ZooKeeper gets (brokers older than 0.10.1): only the configs such
/// brokers know, and `retention.ms` as the largest value, since 0.8 reads -1 as "already expired"
/// (it judges retention by a segment file's age; 0.9 and later read -1 as "forever").
pub(crate) const LEGACY_CONFIGS: &[(&str, &str)] = &[
    ("retention.ms", "9223372036854775807"),
    ("retention.bytes", "-1"),
    ("cleanup.policy", "delete"),
];

/// The configs a replay topic is created with: c2k's, then `sink.topic_config` over them.
pub(crate) fn creation_configs(sink: &KafkaSinkConfig, legacy: bool) -> BTreeMap<String, String> {
    let own = if legacy {
        LEGACY_CONFIGS
    } else {
        REPLAY_CONFIGS
    };
    let mut configs: BTreeMap<String, String> = own
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    for (name, value) in &sink.topic_config {
        configs.insert(name.clone(), value.clone());
    }
    configs
}

/// What the brokers say of an existing replay topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Its effective configs (the broker's defaults where the topic sets nothing).
    pub configs: BTreeMap<String, String>,
    /// The fewest replicas any of its partitions has.
    pub replication_factor: Option<i32>,
}

impl Settings {
    fn text(&self, name: &str) -> Option<&str> {
        self.configs.get(name).map(String::as_str)
    }

    /// A numeric config; `None` when absent or not a number. Negative means "no limit".
    fn number(&self, name: &str) -> Option<i64> {
        self.text(name)?.trim().parse().ok()
    }

    /// A limit in milliseconds or bytes: `None` when there is none (absent, negative, or so
    /// large that it never applies).
    fn limit(&self, name: &str) -> Option<i64> {
        self.number(name).filter(|n| *n >= 0 && *n < i64::MAX / 4)
    }
}

/// What the replay will send, as far as it is known before reading a record.
#[derive(Debug, Clone)]
pub(crate) struct Expectation {
    /// The oldest event time the replay carries (the oldest Camus bucket's start), if known.
    pub oldest_ms: Option<i64>,
    pub now_ms: i64,
    /// `sink.min_lifetime`: how long every message must stay in the topic after the run.
    pub min_lifetime_ms: i64,
    pub timestamps: Timestamps,
}

/// One setting of the replay topic that would lose, reject or rewrite the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub property: String,
    pub value: String,
    /// Why it would lose or reject the replay.
    pub why: String,
    /// How to put it right.
    pub fix: String,
    /// `false`: worth saying, but no reason to refuse the replay.
    pub refuse: bool,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}: {}. Fix: {}",
            self.property, self.value, self.why, self.fix
        )
    }
}

pub(crate) use crate::refusal::TopicUnsafe;

/// Judges an existing (or just created) replay topic's settings against the replay.
pub(crate) fn judge(
    topic: &str,
    brokers: &str,
    settings: &Settings,
    expect: &Expectation,
) -> Vec<Finding> {
    let rules = Rules {
        topic,
        brokers,
        settings,
        expect,
    };
    [
        rules.retention_time(),
        rules.retention_bytes(),
        rules.compaction(),
        rules.log_append_time(),
        rules.timestamp_window(),
        rules.in_sync_replicas(),
        rules.unclean_election(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The rules a replay topic's settings are judged by, one method each.
struct Rules<'a> {
    topic: &'a str,
    brokers: &'a str,
    settings: &'a Settings,
    expect: &'a Expectation,
}

impl Rules<'_> {
    /// The command that sets `config` on the topic.
    fn alter(&self, config: &str) -> String {
        format!(
            "kafka-configs.sh --bootstrap-server {} --alter --entity-type topics \
             --entity-name {} --add-config {config}",
            self.brokers, self.topic
        )
    }

    fn log_append_time_set(&self) -> bool {
        self.settings
            .text("message.timestamp.type")
            .is_some_and(|t| t.eq_ignore_ascii_case("LogAppendTime"))
    }

    /// The time retention, judged on the messages' timestamps (or on the publish time).
    fn retention_time(&self) -> Option<Finding> {
        let event_times = self.expect.timestamps == Timestamps::Event;
        let lifetime = utc::span(self.expect.min_lifetime_ms);
        if let Some(retention) = self.settings.limit("retention.ms") {
            let value = retention.to_string();
            if !event_times {
                if retention < self.expect.min_lifetime_ms {
                    return Some(Finding {
                        property: "retention.ms".into(),
                        value,
                        why: format!(
                            "messages stamped when published are deleted {} after the replay, sooner \
                             than sink.min_lifetime ({lifetime}) allows its consumers",
                            utc::span(retention)
                        ),
                        fix: format!(
                            "{}, or a shorter sink.min_lifetime if the consumers need less",
                            self.alter(&format!("retention.ms={}", self.expect.min_lifetime_ms))
                        ),
                        refuse: true,
                    });
                }
            } else if let Some(oldest) = self.expect.oldest_ms {
                let deleted_from = oldest.saturating_add(retention);
                let needed_until = self
                    .expect
                    .now_ms
                    .saturating_add(self.expect.min_lifetime_ms);
                if deleted_from < needed_until {
                    let when = if deleted_from <= self.expect.now_ms {
                        "at the broker's next retention check".to_string()
                    } else {
                        format!("from {} on", utc::text(deleted_from))
                    };
                    let publish_helps = retention >= self.expect.min_lifetime_ms;
                    return Some(Finding {
                        property: "retention.ms".into(),
                        value,
                        why: format!(
                            "the broker deletes messages whose timestamp is older than {} ({}), and \
                             this replay's oldest event time is about {} (its oldest Camus bucket): \
                             its messages would be deleted {when}, within sink.min_lifetime \
                             ({lifetime})",
                            utc::span(retention),
                            "judged on the records' timestamps since Kafka 0.10.1",
                            utc::text(oldest)
                        ),
                        fix: if publish_helps {
                            format!(
                                "{} (keep the replay until it is deleted by hand), or --set \
                                 sink.timestamps=publish (stamped when published, the event time in \
                                 the c2k-event-time header)",
                                self.alter("retention.ms=-1")
                            )
                        } else {
                            format!(
                                "{} (keep the replay until it is deleted by hand)",
                                self.alter("retention.ms=-1")
                            )
                        },
                        refuse: true,
                    });
                }
            } else {
                return Some(Finding {
                    property: "retention.ms".into(),
                    value,
                    why: "the archive's file names give no Camus time bucket, so this replay's oldest \
                          event time is not known before reading: each message's timestamp is checked \
                          against it as it is sent, and the run stops before sending one the broker \
                          would delete within sink.min_lifetime"
                        .into(),
                    fix: format!(
                        "{} to keep the replay whatever its times",
                        self.alter("retention.ms=-1")
                    ),
                    refuse: false,
                });
            }
        }
        None
    }

    /// A size limit, which no replay can be checked against before it is sent.
    fn retention_bytes(&self) -> Option<Finding> {
        if let Some(bytes) = self.settings.limit("retention.bytes") {
            return Some(Finding {
                property: "retention.bytes".into(),
                value: bytes.to_string(),
                why: "each partition keeps only this many bytes and deletes its oldest messages \
                      beyond them; a replay's size on the brokers is not known before it is sent, \
                      and what is deleted after c2k has checked the topic is lost silently"
                    .into(),
                fix: format!(
                    "{}, or --set sink.topic_check=warn to publish anyway",
                    self.alter("retention.bytes=-1")
                ),
                refuse: true,
            });
        }
        None
    }

    /// Compaction, which rejects or collapses the replay.
    fn compaction(&self) -> Option<Finding> {
        if let Some(policy) = self.settings.text("cleanup.policy") {
            if policy.split(',').any(|p| p.trim() == "compact") {
                return Some(Finding {
                    property: "cleanup.policy".into(),
                    value: policy.to_string(),
                    why:
                        "a compacted topic refuses messages without a key and keeps only the last \
                          message of each key: the replay would be rejected or collapsed"
                            .into(),
                    fix: format!(
                        "{}, or replay into another topic (sink.topic)",
                        self.alter("cleanup.policy=delete")
                    ),
                    refuse: true,
                });
            }
        }
        None
    }

    /// `LogAppendTime`, which replaces the event times.
    fn log_append_time(&self) -> Option<Finding> {
        let event_times = self.expect.timestamps == Timestamps::Event;
        let log_append = self.log_append_time_set();
        if log_append && event_times {
            return Some(Finding {
                property: "message.timestamp.type".into(),
                value: "LogAppendTime".into(),
                why: "the broker replaces every message's timestamp with the time it appends it: the \
                      event times c2k sends are lost, and consumers' windows see the replay's time"
                    .into(),
                fix: format!(
                    "--set sink.timestamps=publish (the event time then travels in the c2k-event-time \
                     header), or {}",
                    self.alter("message.timestamp.type=CreateTime")
                ),
                refuse: true,
            });
        }
        None
    }

    /// A timestamp window that rejects old event times.
    fn timestamp_window(&self) -> Option<Finding> {
        let event_times = self.expect.timestamps == Timestamps::Event;
        let log_append = self.log_append_time_set();
        if let (Some(window), true, false) = (
            self.settings.limit("message.timestamp.difference.max.ms"),
            event_times,
            log_append,
        ) {
            let rejected = self
                .expect
                .oldest_ms
                .map(|oldest| self.expect.now_ms.saturating_sub(oldest) > window);
            if rejected != Some(false) {
                return Some(Finding {
                    property: "message.timestamp.difference.max.ms".into(),
                    value: window.to_string(),
                    why: match (rejected, self.expect.oldest_ms) {
                        (Some(true), Some(oldest)) => format!(
                            "the broker rejects a message whose timestamp is more than {} from its \
                             clock (INVALID_TIMESTAMP), and this replay's oldest event time is about \
                             {}",
                            utc::span(window),
                            utc::text(oldest)
                        ),
                        _ => format!(
                            "the broker rejects a message whose timestamp is more than {} from its \
                             clock, and this replay's oldest event time is not known before reading: \
                             each message is checked as it is sent",
                            utc::span(window)
                        ),
                    },
                    fix: format!(
                        "{}, or --set sink.timestamps=publish",
                        self.alter("message.timestamp.difference.max.ms=9223372036854775807")
                    ),
                    refuse: rejected == Some(true),
                });
            }
        }
        None
    }

    /// More in-sync replicas required than the topic has.
    fn in_sync_replicas(&self) -> Option<Finding> {
        if let (Some(needed), Some(replicas)) = (
            self.settings.number("min.insync.replicas"),
            self.settings.replication_factor,
        ) {
            if needed > i64::from(replicas) {
                return Some(Finding {
                    property: "min.insync.replicas".into(),
                    value: needed.to_string(),
                    why: format!(
                        "the topic has {replicas} replica(s) per partition, so the brokers answer \
                         NOT_ENOUGH_REPLICAS to every write c2k makes (acks=all): nothing could be \
                         delivered"
                    ),
                    fix: format!(
                        "{}, or delete the topic and let c2k create it with the cluster's replication \
                         factor (or sink.replication_factor ≥ {needed})",
                        self.alter(&format!("min.insync.replicas={replicas}"))
                    ),
                    refuse: true,
                });
            }
        }
        None
    }

    /// Unclean leader election, which loses acknowledged messages.
    fn unclean_election(&self) -> Option<Finding> {
        if self
            .settings
            .text("unclean.leader.election.enable")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Some(Finding {
                property: "unclean.leader.election.enable".into(),
                value: "true".into(),
                why: "a replica that is behind may become leader after a failure, and the messages it \
                      lacks are lost although they were acknowledged"
                    .into(),
                fix: self.alter("unclean.leader.election.enable=false"),
                refuse: false,
            });
        }
        None
    }
}

/// The verdict on the findings: `Err` with every refusal when `sink.topic_check: fail` and any
/// finding refuses the replay; otherwise the warnings to print (each prefixed for stderr).
pub(crate) fn verdict(
    topic: &str,
    findings: &[Finding],
    check: TopicCheck,
) -> Result<Vec<String>, TopicUnsafe> {
    let refusals: Vec<&Finding> = findings.iter().filter(|f| f.refuse).collect();
    if check == TopicCheck::Fail && !refusals.is_empty() {
        let list: Vec<String> = refusals.iter().map(|f| format!("  - {f}")).collect();
        return Err(TopicUnsafe(format!(
            "replay topic {topic} would lose or reject this replay; nothing was sent:\n{}\n\
             c2k changes nothing on a topic it did not create; sink.topic_check: warn publishes \
             anyway",
            list.join("\n")
        )));
    }
    Ok(findings
        .iter()
        .map(|f| format!("c2k: warning: replay topic {topic}: {f}"))
        .collect())
}

/// The timestamps a topic takes and keeps for at least `sink.min_lifetime`, checked for each
/// message as it is sent: the bucket names give only an estimate of the oldest event time
/// (a late record may be older than its bucket; some archives have no buckets in their names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    /// Messages stamped before this are refused (epoch ms), and why.
    pub oldest_ms: Option<(i64, Limit)>,
    /// Messages stamped after this are refused.
    pub newest_ms: Option<i64>,
}

/// Which setting bounds the oldest timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// `retention.ms` (with `sink.min_lifetime`): the message would be deleted too soon.
    Retention(i64),
    /// `message.timestamp.difference.max.ms`: the broker would reject it.
    Difference(i64),
}

impl TimeWindow {
    /// The window of a topic with `settings` (none with publish-time timestamps, with
    /// `LogAppendTime`, or with `sink.topic_check: warn`).
    pub(crate) fn of(settings: &Settings, expect: &Expectation, check: TopicCheck) -> TimeWindow {
        let log_append = settings
            .text("message.timestamp.type")
            .is_some_and(|t| t.eq_ignore_ascii_case("LogAppendTime"));
        if expect.timestamps == Timestamps::Publish || check == TopicCheck::Warn || log_append {
            return TimeWindow::default();
        }
        let retention = settings.limit("retention.ms").map(|r| {
            let oldest = expect
                .now_ms
                .saturating_add(expect.min_lifetime_ms)
                .saturating_sub(r);
            (oldest, Limit::Retention(r))
        });
        let difference = settings
            .limit("message.timestamp.difference.max.ms")
            .map(|d| (expect.now_ms.saturating_sub(d), Limit::Difference(d)));
        let oldest = match (retention, difference) {
            (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        TimeWindow {
            oldest_ms: oldest,
            newest_ms: settings
                .limit("message.timestamp.difference.max.ms")
                .map(|d| expect.now_ms.saturating_add(d)),
        }
    }

    /// Why a message stamped `timestamp_ms` cannot be sent, if it cannot.
    pub(crate) fn refuses(&self, timestamp_ms: i64) -> Option<String> {
        if let Some((oldest, limit)) = self.oldest_ms {
            if timestamp_ms < oldest {
                return Some(match limit {
                    Limit::Retention(r) => format!(
                        "its timestamp {} is so old that retention.ms={r} ({}) would delete it \
                         within sink.min_lifetime",
                        utc::text(timestamp_ms),
                        utc::span(r)
                    ),
                    Limit::Difference(d) => format!(
                        "its timestamp {} is further than message.timestamp.difference.max.ms={d} \
                         from now: the broker would reject it",
                        utc::text(timestamp_ms)
                    ),
                });
            }
        }
        match self.newest_ms {
            Some(newest) if timestamp_ms > newest => Some(format!(
                "its timestamp {} is further in the future than \
                 message.timestamp.difference.max.ms allows: the broker would reject it",
                utc::text(timestamp_ms)
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const NOW: i64 = 1_800_000_000_000;

    fn settings(configs: &[(&str, &str)], replicas: i32) -> Settings {
        Settings {
            configs: configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            replication_factor: Some(replicas),
        }
    }

    fn expect(oldest: Option<i64>, timestamps: Timestamps) -> Expectation {
        Expectation {
            oldest_ms: oldest,
            now_ms: NOW,
            min_lifetime_ms: 7 * DAY,
            timestamps,
        }
    }

    fn refused(s: &Settings, e: &Expectation) -> Vec<String> {
        judge("R", "b:9092", s, e)
            .into_iter()
            .filter(|f| f.refuse)
            .map(|f| f.property)
            .collect()
    }

    /// A topic as Kafka 3.3 creates it with nothing set: 7 days of retention, CreateTime, no
    /// timestamp window.
    fn kafka_defaults() -> Vec<(&'static str, &'static str)> {
        vec![
            ("retention.ms", "604800000"),
            ("retention.bytes", "-1"),
            ("cleanup.policy", "delete"),
            ("message.timestamp.type", "CreateTime"),
            ("message.timestamp.difference.max.ms", "9223372036854775807"),
            ("min.insync.replicas", "1"),
            ("unclean.leader.election.enable", "false"),
        ]
    }

    #[test]
    fn a_replay_of_old_events_into_default_retention_is_refused() {
        let s = settings(&kafka_defaults(), 1);
        let e = expect(Some(NOW - 400 * DAY), Timestamps::Event);
        assert_eq!(refused(&s, &e), ["retention.ms"]);
        let why = judge("R", "b", &s, &e).remove(0).to_string();
        assert!(why.contains("next retention check"), "{why}");
        assert!(why.contains("--add-config retention.ms=-1"), "{why}");
    }

    #[test]
    fn the_topic_c2k_creates_takes_any_replay() {
        let mut configs = kafka_defaults();
        for (name, value) in REPLAY_CONFIGS {
            configs.retain(|(n, _)| n != name);
            configs.push((name, value));
        }
        let s = settings(&configs, 3);
        for oldest in [Some(0), Some(NOW - 4000 * DAY), None] {
            assert!(judge("R", "b", &s, &expect(oldest, Timestamps::Event)).is_empty());
        }
    }

    #[test]
    fn recent_events_that_outlive_the_minimum_lifetime_pass() {
        let s = settings(&kafka_defaults(), 1);
        // Seven days of retention, events from today: deleted in 7 days, min_lifetime is 7 days.
        let e = expect(Some(NOW), Timestamps::Event);
        assert!(refused(&s, &e).is_empty());
        let e = expect(Some(NOW - DAY), Timestamps::Event);
        assert_eq!(refused(&s, &e), ["retention.ms"]);
    }

    #[test]
    fn publish_time_stamps_need_only_retention_past_the_minimum_lifetime() {
        let s = settings(&kafka_defaults(), 1);
        assert!(refused(&s, &expect(Some(0), Timestamps::Publish)).is_empty());
        let short = settings(&[("retention.ms", "3600000")], 1);
        assert_eq!(
            refused(&short, &expect(Some(0), Timestamps::Publish)),
            ["retention.ms"]
        );
    }

    #[test]
    fn compaction_size_retention_log_append_time_and_a_timestamp_window_are_refused() {
        let mut configs = kafka_defaults();
        configs.retain(|(n, _)| n != &"retention.ms");
        configs.retain(|(n, _)| n != &"cleanup.policy");
        configs.retain(|(n, _)| n != &"retention.bytes");
        configs.push(("cleanup.policy", "compact,delete"));
        configs.push(("retention.bytes", "1073741824"));
        let e = expect(Some(NOW - 30 * DAY), Timestamps::Event);
        assert_eq!(
            refused(&settings(&configs, 1), &e),
            ["retention.bytes", "cleanup.policy"]
        );
        let append = settings(&[("message.timestamp.type", "LogAppendTime")], 1);
        assert_eq!(refused(&append, &e), ["message.timestamp.type"]);
        assert!(refused(&append, &expect(Some(0), Timestamps::Publish)).is_empty());
        let window = settings(&[("message.timestamp.difference.max.ms", "86400000")], 1);
        assert_eq!(
            refused(&window, &e),
            ["message.timestamp.difference.max.ms"]
        );
        assert!(refused(&window, &expect(Some(NOW - 1000), Timestamps::Event)).is_empty());
    }

    #[test]
    fn more_in_sync_replicas_required_than_the_topic_has_is_refused() {
        let s = settings(&[("min.insync.replicas", "2")], 1);
        let e = expect(Some(NOW), Timestamps::Event);
        assert_eq!(refused(&s, &e), ["min.insync.replicas"]);
        assert!(refused(&settings(&[("min.insync.replicas", "2")], 3), &e).is_empty());
    }

    #[test]
    fn warn_publishes_and_fail_refuses_naming_every_property() {
        let s = settings(
            &[("cleanup.policy", "compact"), ("retention.ms", "1000")],
            1,
        );
        let findings = judge("R", "b", &s, &expect(Some(0), Timestamps::Event));
        let error = verdict("R", &findings, TopicCheck::Fail).unwrap_err().0;
        assert!(error.contains("retention.ms=1000") && error.contains("cleanup.policy=compact"));
        assert!(error.contains("nothing was sent"), "{error}");
        let warnings = verdict("R", &findings, TopicCheck::Warn).unwrap();
        assert_eq!(warnings.len(), 2);
    }

    #[test]
    fn each_message_is_checked_against_the_oldest_timestamp_the_topic_keeps() {
        let s = settings(&kafka_defaults(), 1);
        let e = expect(None, Timestamps::Event);
        let window = TimeWindow::of(&s, &e, TopicCheck::Fail);
        // 7 days' retention and 7 days' lifetime: nothing older than now is kept long enough.
        assert!(window.refuses(NOW - DAY).is_some());
        assert!(window.refuses(NOW + 1000).is_none());
        assert_eq!(
            TimeWindow::of(&s, &e, TopicCheck::Warn),
            TimeWindow::default()
        );
        let publish = expect(None, Timestamps::Publish);
        assert_eq!(
            TimeWindow::of(&s, &publish, TopicCheck::Fail),
            TimeWindow::default()
        );
    }

    #[test]
    fn creation_configs_are_c2k_s_then_the_users() {
        let yaml = "topic: T\nsource: { dest_dir: /d }\nsink: { brokers: b, topic_config: { retention.ms: 3600000, segment.bytes: 1048576 } }\n";
        let doc: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        let pipeline = crate::config::Pipeline::from_document(&doc).unwrap();
        let configs = creation_configs(pipeline.kafka_sink().unwrap(), false);
        assert_eq!(configs["retention.ms"], "3600000");
        assert_eq!(configs["segment.bytes"], "1048576");
        assert_eq!(configs["cleanup.policy"], "delete");
        let legacy = creation_configs(pipeline.kafka_sink().unwrap(), true);
        assert!(!legacy.contains_key("message.timestamp.type"));
    }
}
