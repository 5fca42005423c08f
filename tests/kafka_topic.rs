//! The replay topic against what real brokers do to it (Apache Kafka 3.3.2, 2.1.1): the topic c2k
//! creates keeps a replay of old events through the broker's retention checks (read back only
//! after a topic of old-stamped messages made with the broker's defaults was deleted by them);
//! publish-time timestamps survive a 7-day topic and carry the event time in a header; every
//! topic setting that would delete, reject or rewrite the replay is refused before a message is
//! sent, with exit code 8, the property, its value and the fix; a record too large for the
//! topic's `max.message.bytes` stops the replay right before it (no gap), and `--resume` after
//! the limit is raised completes it exactly once.

use std::path::Path;
use std::time::Duration;

use crate::kafka_apache::{assert_exactly_once_in_key_order, sample};
use crate::support::apache_kafka::{ApacheKafka, Version};
use crate::support::c2k::{kafka_pipeline, write_pipeline, C2k, Run};
use crate::support::camus::python;
use crate::support::kafka::{self, header};
use crate::support::live;
use crate::support::topics;

const RECORDS: u64 = 20_000;
const RUN_TIMEOUT: Duration = Duration::from_secs(240);
const READ_TIMEOUT: Duration = Duration::from_secs(90);
/// The broker checks retention every second once its first check (30 s after it starts) is due.
const FAST_RETENTION: &str = "log.retention.check.interval.ms=1000\n";

/// `c2k run PIPELINE --set ...` in `dir`.
fn run(dir: &Path, pipeline: &str, sets: &[&str]) -> Run {
    let mut args = vec!["run", pipeline];
    for set in sets {
        args.extend(["--set", set]);
    }
    C2k::new(&args).dir(dir).timeout(RUN_TIMEOUT).run()
}

#[test]
fn kafka_topic_a_replay_into_a_default_kafka_3_3_survives_its_retention_checks() {
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), RECORDS);
    let Some(broker) = ApacheKafka::start_with_properties(Version::V3_3_2, FAST_RETENTION) else {
        return;
    };
    let brokers = broker.bootstrap();
    // What a replay was before: old event times in a topic with the broker's defaults.
    topics::old_stamped_topic(&brokers, "CONTROL", 1, 100);
    // A topic the users already have, with Kafka's default 7 days of retention: only
    // publish-time timestamps may go there.
    topics::create(&brokers, "PUBLISHED", 4, 1, &[]);
    let pipeline = kafka_pipeline(dir.path(), &brokers);

    // librdkafka properties written as YAML numbers and booleans.
    let replay = run(
        dir.path(),
        &pipeline,
        &[
            "sink.producer.linger.ms=5",
            "sink.producer.enable.idempotence=true",
        ],
    );
    replay.assert_ok();
    let configs = topics::configs(&brokers, "PAGE_VIEWS_REPLAY");
    for (name, value) in [
        ("retention.ms", "-1"),
        ("retention.bytes", "-1"),
        ("cleanup.policy", "delete"),
        ("message.timestamp.type", "CreateTime"),
    ] {
        assert_eq!(configs.get(name).map(String::as_str), Some(value), "{name}");
    }
    let published = run(
        dir.path(),
        &pipeline,
        &["sink.topic=PUBLISHED", "sink.timestamps=publish"],
    );
    published.assert_ok();
    let before_publish = crate::support::topics::held(&brokers, "PUBLISHED");
    assert_eq!(before_publish, RECORDS as i64);

    let waited = topics::wait_for_retention(&brokers, "CONTROL", Duration::from_secs(120));
    eprintln!("the broker's retention check deleted CONTROL after {waited:?} more");
    // Checks run every second from here: give them two more.
    std::thread::sleep(Duration::from_secs(2));
    let replayed = kafka::read_topic(
        &brokers,
        "PAGE_VIEWS_REPLAY",
        RECORDS as usize,
        READ_TIMEOUT,
    );
    assert_exactly_once_in_key_order(&replayed, RECORDS);
    let marks = topics::marks(&brokers, "PAGE_VIEWS_REPLAY");
    assert!(
        marks.iter().all(|(low, _)| *low == 0),
        "nothing deleted: {marks:?}"
    );

    let stamped = kafka::read_topic(&brokers, "PUBLISHED", RECORDS as usize, READ_TIMEOUT);
    assert_eq!(
        stamped.len() as u64,
        RECORDS,
        "the publish-time replay is all there"
    );
    let now = camus2kafka::testing::now_ms();
    for message in &stamped {
        let event: i64 = header(message, "c2k-event-time")
            .expect("c2k-event-time on every message")
            .parse()
            .expect("milliseconds");
        let value: serde_json::Value = serde_json::from_slice(&message.value).expect("JSON");
        assert_eq!(
            Some(event),
            value["header"]["time"].as_i64(),
            "the event time"
        );
        let stamp = message.timestamp_ms.expect("a timestamp");
        assert!(
            (now - 600_000..=now).contains(&stamp),
            "stamped when published, not {stamp}"
        );
    }
}

/// One pre-created replay topic with a setting that would lose or reject the replay.
struct BadTopic {
    name: &'static str,
    configs: &'static [(&'static str, &'static str)],
    replicas: i32,
    /// What the refusal must say.
    says: &'static [&'static str],
}

const BAD_TOPICS: &[BadTopic] = &[
    BadTopic {
        name: "DEFAULT_RETENTION",
        configs: &[],
        replicas: 1,
        says: &[
            "retention.ms=604800000",
            "--add-config retention.ms=-1",
            "sink.timestamps=publish",
        ],
    },
    BadTopic {
        name: "COMPACTED",
        configs: &[("cleanup.policy", "compact"), ("retention.ms", "-1")],
        replicas: 1,
        says: &["cleanup.policy=compact", "cleanup.policy=delete"],
    },
    BadTopic {
        name: "SIZE_CAPPED",
        configs: &[("retention.bytes", "1048576"), ("retention.ms", "-1")],
        replicas: 1,
        says: &["retention.bytes=1048576", "retention.bytes=-1"],
    },
    BadTopic {
        name: "LOG_APPEND_TIME",
        configs: &[
            ("message.timestamp.type", "LogAppendTime"),
            ("retention.ms", "-1"),
        ],
        replicas: 1,
        says: &[
            "message.timestamp.type=LogAppendTime",
            "sink.timestamps=publish",
        ],
    },
    BadTopic {
        name: "TIMESTAMP_WINDOW",
        configs: &[
            ("message.timestamp.difference.max.ms", "86400000"),
            ("retention.ms", "-1"),
        ],
        replicas: 1,
        says: &[
            "message.timestamp.difference.max.ms=86400000",
            "INVALID_TIMESTAMP",
        ],
    },
    BadTopic {
        name: "MIN_INSYNC_ABOVE_REPLICAS",
        configs: &[("min.insync.replicas", "2"), ("retention.ms", "-1")],
        replicas: 1,
        says: &["min.insync.replicas=2", "NOT_ENOUGH_REPLICAS"],
    },
];

#[test]
fn kafka_topic_every_setting_that_would_lose_or_reject_a_replay_is_refused_before_sending() {
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), 2_000);
    let Some(broker) = ApacheKafka::start_with_properties(Version::V3_3_2, "") else {
        return;
    };
    let brokers = broker.bootstrap();
    let pipeline = kafka_pipeline(dir.path(), &brokers);
    let mut table = Vec::new();
    for bad in BAD_TOPICS {
        topics::create(&brokers, bad.name, 4, bad.replicas, bad.configs);
        let topic = format!("sink.topic={}", bad.name);
        let refused = run(dir.path(), &pipeline, &[&topic]);
        refused.assert_failed_with(bad.says);
        assert!(
            refused.stderr.contains("nothing was sent"),
            "{}: {}",
            bad.name,
            refused.stderr
        );
        assert_eq!(
            refused.code,
            Some(8),
            "{}: exit code 8\n{}",
            bad.name,
            refused.stderr
        );
        assert_eq!(
            topics::held(&brokers, bad.name),
            0,
            "{}: nothing sent",
            bad.name
        );
        // The dry run says the same, without sending.
        let look = C2k::new(&["run", "--dry-run", &pipeline, "--set", &topic])
            .dir(dir.path())
            .timeout(RUN_TIMEOUT)
            .run();
        look.assert_ok();
        let said = format!("{}{}", look.stdout, look.stderr);
        assert!(
            said.contains("a run would be refused (exit 8)") && said.contains(bad.says[0]),
            "{}: the dry run says why a run would be refused:\n{said}",
            bad.name
        );
        table.push(format!("{:<28} refused, exit 8, 0 messages sent", bad.name));
    }
    // A topic config the broker does not know is named by the broker's answer.
    let bad_config = run(
        dir.path(),
        &pipeline,
        &["sink.topic=NEW_TOPIC", "sink.topic_config.retention.msx=5"],
    );
    bad_config.assert_failed_with(&["cannot create replay topic NEW_TOPIC", "retention.msx=5: "]);
    assert!(
        !bad_config.stderr.contains("retention.ms=-1: "),
        "only the bad config is named:\n{}",
        bad_config.stderr
    );
    table.push(format!(
        "{:<28} creation refused, the config named",
        "sink.topic_config unknown"
    ));
    // A record the broker rejects, which no retry fixes: named with the broker's error and the
    // setting behind it, and --resume offered only once that is fixed.
    topics::create(
        &brokers,
        "SMALL_MESSAGES",
        4,
        1,
        &[("max.message.bytes", "200"), ("retention.ms", "-1")],
    );
    let rejected = run(dir.path(), &pipeline, &["sink.topic=SMALL_MESSAGES"]);
    rejected.assert_failed_with(&[
        "too large",
        "max.message.bytes=200",
        "Once the limit is raised, `c2k run --resume`",
    ]);
    assert_eq!(rejected.code, Some(8), "{}", rejected.stderr);
    assert_eq!(topics::held(&brokers, "SMALL_MESSAGES"), 0, "nothing sent");
    table.push(format!(
        "{:<28} refused, exit 8, 0 messages sent: max.message.bytes named",
        "SMALL_MESSAGES (200 bytes)"
    ));
    // Publish-time timestamps are what a topic with retention or LogAppendTime takes.
    for name in ["DEFAULT_RETENTION", "LOG_APPEND_TIME"] {
        let topic = format!("sink.topic={name}");
        run(dir.path(), &pipeline, &[&topic, "sink.timestamps=publish"]).assert_ok();
        assert_eq!(
            topics::held(&brokers, name),
            2_000,
            "{name}: the replay published"
        );
        table.push(format!("{name:<28} + sink.timestamps=publish: published"));
    }
    // sink.topic_check: warn publishes into a size-capped topic (this replay fits), saying what
    // is wrong.
    let warned = run(
        dir.path(),
        &pipeline,
        &["sink.topic=SIZE_CAPPED", "sink.topic_check=warn"],
    );
    warned.assert_ok();
    assert!(
        warned
            .stderr
            .contains("warning: replay topic SIZE_CAPPED: retention.bytes=1048576"),
        "{}",
        warned.stderr
    );
    table.push(format!(
        "{:<28} + sink.topic_check=warn: published, warned",
        "SIZE_CAPPED"
    ));
    eprintln!("topic settings x outcome:\n{}", table.join("\n"));
}

#[test]
fn kafka_topic_kafka_2_1_gets_the_replay_configs_and_its_own_replication_factor() {
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), 2_000);
    let Some(broker) = ApacheKafka::start_with_properties(Version::V2_1_1, FAST_RETENTION) else {
        return;
    };
    let brokers = broker.bootstrap();
    let pipeline = kafka_pipeline(dir.path(), &brokers);
    // 2.1 takes no replication factor -1 (KIP-464 is 2.4): c2k reads the brokers' default.
    let created = run(dir.path(), &pipeline, &[]);
    created.assert_ok();
    let configs = topics::configs(&brokers, "PAGE_VIEWS_REPLAY");
    assert_eq!(configs.get("retention.ms").map(String::as_str), Some("-1"));
    assert_eq!(
        configs.get("cleanup.policy").map(String::as_str),
        Some("delete")
    );
    let partitions = topics::partitions_of(&brokers, "PAGE_VIEWS_REPLAY");
    assert!(
        partitions.iter().all(|p| p.replicas.len() == 1),
        "{partitions:?}"
    );
    // A topic made with 2.1's defaults (7 days) is refused for this replay of 2024 events.
    topics::create(&brokers, "DEFAULTS", 4, 1, &[]);
    let refused = run(dir.path(), &pipeline, &["sink.topic=DEFAULTS"]);
    refused.assert_failed_with(&["retention.ms=604800000"]);
    assert_eq!(refused.code, Some(8));
    assert_eq!(topics::held(&brokers, "DEFAULTS"), 0);
}

#[test]
fn kafka_topic_a_replay_whose_start_is_gone_is_refused_on_resume_and_at_the_sharded_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), 4_000);
    let Some(broker) = ApacheKafka::start_with_properties(Version::V3_3_2, "") else {
        return;
    };
    let brokers = broker.bootstrap();
    let pipeline = kafka_pipeline(dir.path(), &brokers);

    // A replay killed mid-way whose first messages are then deleted: --resume cannot make it
    // complete, and says so before sending anything.
    let mut child = C2k::new(&["run", &pipeline, "--set", "sink.max_messages_per_sec=500"])
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .spawn();
    topics::watch_held(&brokers, "PAGE_VIEWS_REPLAY", |held| {
        child.assert_running("too soon");
        held < 400
    });
    child.kill();
    live::delete_records(&brokers, "PAGE_VIEWS_REPLAY", &[Some(5)]);
    let before = topics::marks(&brokers, "PAGE_VIEWS_REPLAY");
    let resumed = C2k::new(&["run", "--resume", &pipeline])
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .run()
        .assert_failed_with(&[
            "no longer holds the start of this replay",
            "partition 0",
            "nothing was sent",
        ])
        .code;
    assert_eq!(resumed, Some(8));
    assert_eq!(
        topics::marks(&brokers, "PAGE_VIEWS_REPLAY"),
        before,
        "nothing sent"
    );

    // A sharded replay complete in the topic, then its start deleted: the one commit refuses.
    let exec = format!("offsets.exec_dir={}/execution", dir.path().display());
    let plan = dir.path().join("plan.json");
    let plan = plan.to_str().expect("utf-8 path");
    let with = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--set", "sink.topic=SHARDED", "--set", &exec]);
        C2k::new(&all).dir(dir.path()).timeout(RUN_TIMEOUT).run()
    };
    with(&["plan", &pipeline, "--shards", "2", "--out", plan]).assert_ok();
    for shard in ["0", "1"] {
        with(&["run", &pipeline, "--plan", plan, "--shard", shard]).assert_ok();
    }
    live::delete_records(&brokers, "SHARDED", &[None, Some(3)]);
    let commit = with(&["offsets", "commit", &pipeline, "--plan", plan]);
    commit.assert_failed_with(&[
        "no longer holds all of the replay",
        "partition 1",
        "Nothing was committed",
    ]);
    assert_eq!(commit.code, Some(8));
}

/// The `c2k-seq` and `c2k-source-index` of each message, in the order read.
fn positions(messages: &[kafka::Received]) -> Vec<(u64, u64)> {
    messages
        .iter()
        .map(|m| {
            let number = |name| {
                header(m, name)
                    .unwrap_or_else(|| panic!("{name} on every message"))
                    .parse::<u64>()
                    .expect("a number")
            };
            (number("c2k-seq"), number("c2k-source-index"))
        })
        .collect()
}

#[test]
fn kafka_topic_a_record_over_max_message_bytes_stops_the_replay_before_it_and_resume_completes_it()
{
    const COUNT: u64 = 40;
    const LARGE: u64 = 5;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = python(
        "write_large_record_tree.py",
        &[
            dir.path().to_str().expect("utf-8 path"),
            "BIG",
            &COUNT.to_string(),
            &LARGE.to_string(),
            "1500",
        ],
    );
    let file = String::from_utf8_lossy(&file.stdout).trim().to_string();
    let Some(broker) = ApacheKafka::start_with_properties(Version::V3_3_2, "") else {
        return;
    };
    let brokers = broker.bootstrap();
    // Small messages fit: several to a batch would not, had c2k not kept batches within it.
    topics::create(
        &brokers,
        "BIG_REPLAY",
        1,
        1,
        &[("max.message.bytes", "1000"), ("retention.ms", "-1")],
    );
    std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp dir");
    let pipeline = write_pipeline(
        dir.path(),
        "big.yaml",
        &format!(
            "topic: BIG\nsource:\n  dest_dir: {d}/destination\n\
             key:\n  plugin: time-field\n  config: {{ field: header.time }}\n\
             sort:\n  tmp_dir: {d}/tmp\n\
             format:\n  plugin: json\n  config: {{ encoding: plain }}\n\
             sink:\n  type: kafka\n  brokers: '{brokers}'\n  topic: BIG_REPLAY\n\
             offsets:\n  commit: none\n",
            d = dir.path().display()
        ),
    );

    let refused = run(dir.path(), &pipeline, &[]);
    refused.assert_failed_with(&[
        &format!("message #{LARGE} of the replay (record {LARGE} of {file})"),
        "bytes as a record batch (value 15",
        "max.message.bytes=1000",
        "too large",
        "--entity-name BIG_REPLAY --add-config max.message.bytes=",
        "nothing more was sent",
        "Once the limit is raised, `c2k run --resume`",
    ]);
    assert_eq!(refused.code, Some(8), "{}", refused.stderr);
    // Exactly the messages before it, and nothing after it: no gap.
    let before = kafka::read_topic(&brokers, "BIG_REPLAY", LARGE as usize, READ_TIMEOUT);
    let want: Vec<(u64, u64)> = (0..LARGE).map(|i| (i, i)).collect();
    assert_eq!(positions(&before), want);
    assert_eq!(topics::held(&brokers, "BIG_REPLAY"), LARGE as i64);

    // The advice, as given: the limit raised with Kafka's own tool, then --resume.
    let needed = refused
        .stderr
        .split("--add-config max.message.bytes=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .expect("the size to raise the limit to")
        .to_string();
    let raise = format!("max.message.bytes={needed}");
    let altered = broker.run_tool(
        "kafka.admin.ConfigCommand",
        &[
            "--bootstrap-server",
            &brokers,
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "BIG_REPLAY",
            "--add-config",
            &raise,
        ],
        60,
    );
    assert!(
        altered.status.success(),
        "kafka-configs: {}",
        String::from_utf8_lossy(&altered.stderr)
    );
    let resumed = C2k::new(&["run", "--resume", &pipeline])
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .run();
    resumed.assert_ok();
    let all = kafka::read_topic(&brokers, "BIG_REPLAY", COUNT as usize, READ_TIMEOUT);
    let want: Vec<(u64, u64)> = (0..COUNT).map(|i| (i, i)).collect();
    assert_eq!(positions(&all), want, "every record once, in order");
    let large: serde_json::Value =
        serde_json::from_slice(&all[LARGE as usize].value).expect("JSON");
    assert_eq!(large["url"].as_str().map(str::len), Some(1500));
}
