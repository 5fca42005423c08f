//! The replay against each real Apache Kafka the team runs: 0.8.2.2 (the Kafka Camus fed: no
//! headers, no idempotence, no CreateTopics), 2.1.1 (ZooKeeper mode) and 3.3.2 (KRaft). For each:
//! two runs of one replay at once, the second refused naming the first; a replay killed with
//! `kill -9` mid-publish, a rerun refused, `--resume` completing it; a broker
//! killed with `kill -9` mid-publish and restarted within `sink.delivery_timeout`; a broker that
//! never comes back (the documented failure with the delivered count), then `--resume` once it
//! is back. Every result is read back by a client that is not c2k's — Kafka's own
//! `SimpleConsumerShell` for 0.8.2.2, an rdkafka consumer for the others — and compared with the
//! same pipeline's output into a file: every record once, each partition in replay order.
//!
//! Each test starts its own broker; without the build installed (`scripts/setup.sh`) it skips,
//! saying so.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::support::apache_kafka::{ApacheKafka, Version};
use crate::support::c2k::{self, C2k, Run, Running};
use crate::support::kafka as support_kafka;

const PARTITIONS: u32 = 3;
const RECORDS: u64 = 6_000;
const RUN_TIMEOUT: Duration = Duration::from_secs(180);
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Publishing slowed to ~3 s, so that a kill lands mid-way.
const SLOW: &str = "sink.max_messages_per_sec=2000";

/// A sample tree of [`RECORDS`] records, the reference output of the pipeline (the same source,
/// key and format into a file: the replay's messages in order), and a temp dir for the run.
struct Replay {
    dir: tempfile::TempDir,
    reference: Vec<Vec<u8>>,
}

impl Replay {
    fn new() -> Replay {
        let dir = tempfile::tempdir().expect("temp dir");
        c2k::sample(dir.path(), RECORDS, PARTITIONS);
        let out = dir.path().join("reference.jsonl");
        let file = c2k::write_pipeline(
            dir.path(),
            "reference.yaml",
            &format!(
                "{}sink:\n  type: file\n  path: {}\n",
                c2k::sample_pipeline_head(dir.path()),
                out.display()
            ),
        );
        C2k::new(&["run", &file])
            .dir(dir.path())
            .timeout(RUN_TIMEOUT)
            .run()
            .assert_ok();
        let reference: Vec<Vec<u8>> = std::fs::read(&out)
            .expect("the reference output")
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(reference.len() as u64, RECORDS);
        Replay { dir, reference }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The pipeline replaying into `topic` of `kafka`; for 0.8.2.2 with the librdkafka settings
    /// old brokers need and the cluster's ZooKeeper unless `zookeeper` is false.
    fn pipeline(&self, kafka: &ApacheKafka, topic: &str, zookeeper: bool) -> String {
        let mut sink = format!(
            "sink:\n  type: kafka\n  brokers: '{}'\n  topic: {topic}\n  delivery_timeout: 15s\n",
            kafka.bootstrap()
        );
        if kafka.version == Version::V0_8_2_2 {
            sink.push_str(
                "  producer: { api.version.request: 'false', broker.version.fallback: '0.8.2.2' }\n",
            );
            if zookeeper {
                sink.push_str(&format!("  zookeeper: '{}'\n", kafka.zookeeper()));
            }
        }
        c2k::write_pipeline(
            self.path(),
            &format!("{topic}.yaml"),
            &format!(
                "{}{sink}offsets:\n  commit: none\n",
                c2k::sample_pipeline_head(self.path())
            ),
        )
    }

    fn run(&self, args: &[&str]) -> Run {
        C2k::new(args).dir(self.path()).timeout(RUN_TIMEOUT).run()
    }

    /// `c2k ARGS` in the background; its waits are bounded by `timeout`.
    fn spawn(&self, args: &[&str], timeout: Duration) -> Running {
        C2k::new(args).dir(self.path()).timeout(timeout).spawn()
    }

    /// Every record once, each partition a subsequence of the replay's order.
    #[track_caller]
    fn assert_exactly_once(&self, read: &BTreeMap<i32, Vec<Vec<u8>>>) {
        let mut all: Vec<&Vec<u8>> = read.values().flatten().collect();
        let mut expected: Vec<&Vec<u8>> = self.reference.iter().collect();
        let counts: BTreeMap<i32, usize> = read.iter().map(|(p, m)| (*p, m.len())).collect();
        assert_eq!(
            all.len(),
            expected.len(),
            "messages read back (per partition {counts:?}) vs records archived"
        );
        all.sort();
        expected.sort();
        assert!(
            all == expected,
            "the messages read back are not the archive's records, each once"
        );
        for (partition, messages) in read {
            let mut order = self.reference.iter();
            for (i, message) in messages.iter().enumerate() {
                assert!(
                    order.any(|r| r == message),
                    "partition {partition}: message {i} is out of the replay's order"
                );
            }
        }
        assert_eq!(read.len() as u32, PARTITIONS, "messages on every partition");
    }
}

/// The topic's messages per partition, read by a client that is not c2k's: Kafka 0.8.2.2's own
/// `kafka.tools.SimpleConsumerShell` (from the log start to the end, offsets printed), or an
/// rdkafka consumer for 2.1.1 and 3.3.2.
fn read_back(kafka: &ApacheKafka, topic: &str) -> BTreeMap<i32, Vec<Vec<u8>>> {
    if kafka.version != Version::V0_8_2_2 {
        let received = support_kafka::read_topic(&kafka.bootstrap(), topic, 0, READ_TIMEOUT);
        return support_kafka::by_partition(&received)
            .into_iter()
            .map(|(p, messages)| (p, messages.into_iter().map(|m| m.value).collect()))
            .collect();
    }
    (0..PARTITIONS as i32)
        .map(|partition| {
            let output = kafka.run_tool(
                "kafka.tools.SimpleConsumerShell",
                &[
                    "--broker-list",
                    &kafka.bootstrap(),
                    "--topic",
                    topic,
                    "--partition",
                    &partition.to_string(),
                    "--offset",
                    "-2",
                    "--no-wait-at-logend",
                ],
                90,
            );
            assert!(
                output.status.success(),
                "SimpleConsumerShell failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            // One message a line (the JSON values hold no newline), then the tool's own last line.
            let messages = output
                .stdout
                .split(|b| *b == b'\n')
                .filter(|line| {
                    !line.is_empty()
                        && !line.starts_with(b"Terminating. Reached the end of partition")
                })
                .map(<[u8]>::to_vec)
                .collect();
            (partition, messages)
        })
        .collect()
}

/// Messages written to `topic` so far (the partitions' high watermarks), 0 before it exists.
/// Asks for every topic's metadata first: asking for one that does not exist would make these
/// brokers (`auto.create.topics.enable`) create it with one partition.
fn written(consumer: &BaseConsumer, topic: &str) -> i64 {
    let Ok(metadata) = consumer.fetch_metadata(None, Duration::from_secs(5)) else {
        return 0;
    };
    let ready = metadata
        .topics()
        .iter()
        .any(|t| t.name() == topic && t.partitions().len() == PARTITIONS as usize);
    if !ready {
        return 0;
    }
    (0..PARTITIONS as i32)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .map_or(0, |(_, high)| high)
        })
        .sum()
}

/// Waits until `topic` holds more than `count` messages while `child` runs.
fn wait_for_messages(kafka: &ApacheKafka, topic: &str, count: i64, child: &mut Running) {
    let consumer: BaseConsumer = kafka
        .client_config()
        .set("group.id", "c2k-test-watcher")
        .create()
        .expect("watching consumer");
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        child.assert_running(&format!("before {count} messages were in {topic}"));
        let now = written(&consumer, topic);
        if now > count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: {now} messages after {RUN_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Two runs of one replay at once: the second, even with `--resume`, refuses (exit 4) before it
/// sends anything, naming the first by its pid — through the lock group on 2.1 and 3.3, the
/// ZooKeeper lock node on 0.8 — and the first completes exactly once.
fn two_at_once_refused(kafka: &ApacheKafka, replay: &Replay) {
    let topic = "TWICE_AT_ONCE";
    let pipeline = replay.pipeline(kafka, topic, true);
    // ~15 s of publishing: the second run surely meets it.
    let mut first = replay.spawn(
        &["run", &pipeline, "--set", "sink.max_messages_per_sec=400"],
        RUN_TIMEOUT,
    );
    wait_for_messages(kafka, topic, 500, &mut first);
    let second = replay.run(&["run", "--resume", &pipeline]);
    assert_eq!(second.code, Some(4), "{}", second.stderr);
    let pid = format!("pid={}", first.pid());
    second.assert_failed_with(&[
        "another c2k run is publishing this replay",
        &pid,
        "nothing was sent",
    ]);
    first.assert_running("after the second run was refused");
    first.wait().assert_ok();
    replay.assert_exactly_once(&read_back(kafka, topic));
}

/// The run killed with `kill -9` mid-publish: a rerun is refused (exit 4), `--resume` completes
/// it exactly once, and a second `--resume` finds it complete. The killed run's lock lets go
/// within its session: the rerun right after the kill gets past it.
fn killed_refused_and_resumed(kafka: &ApacheKafka) {
    let started = Instant::now();
    let replay = Replay::new();
    two_at_once_refused(kafka, &replay);
    let topic = "KILLED_REPLAY";
    let pipeline = replay.pipeline(kafka, topic, true);
    let mut child = replay.spawn(&["run", &pipeline, "--set", SLOW], RUN_TIMEOUT);
    wait_for_messages(kafka, topic, 1_500, &mut child);
    child.kill();
    let partial: usize = read_back(kafka, topic).values().map(Vec::len).sum();
    assert!(
        partial > 0 && (partial as u64) < RECORDS,
        "killed mid-way: {partial} of {RECORDS}"
    );

    let rerun = replay.run(&["run", &pipeline]);
    rerun.assert_failed_with(&["already holds", "of this same replay", "--resume"]);
    assert_eq!(rerun.code, Some(4), "a rerun is refused with exit code 4");

    replay.run(&["run", "--resume", &pipeline]).assert_ok();
    let read = read_back(kafka, topic);
    replay.assert_exactly_once(&read);
    let again = replay.run(&["run", "--resume", &pipeline]);
    again.assert_ok();
    assert!(
        again.stderr.contains("already complete"),
        "{}",
        again.stderr
    );
    assert_replay_configs(kafka, topic);
    eprintln!(
        "{}: killed at {partial} of {RECORDS}, refused, resumed: exactly once ({:.1?})",
        kafka.version.name(),
        started.elapsed()
    );
}

/// The topic c2k created keeps the replay: no time-based deletion. 0.8 has no DescribeConfigs:
/// its topic configs are read where its brokers read them, `/config/topics/<topic>` in ZooKeeper
/// (`retention.ms` as the largest value: 0.8 reads -1 as already expired).
fn assert_replay_configs(kafka: &ApacheKafka, topic: &str) {
    if kafka.version != Version::V0_8_2_2 {
        let configs = crate::support::topics::configs(&kafka.bootstrap(), topic);
        assert_eq!(configs.get("retention.ms").map(String::as_str), Some("-1"));
        assert_eq!(
            configs.get("cleanup.policy").map(String::as_str),
            Some("delete")
        );
        return;
    }
    let connect = kafka.zookeeper();
    let path = format!("/config/topics/{topic}");
    let node = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            // 0.8's ZooKeeper is 3.4: the client must not ask for what 3.5 added.
            let client = zookeeper_client::Client::connector()
                .with_server_version(3, 4, 0)
                .connect(&connect)
                .await
                .expect("connect to the 0.8 cluster's ZooKeeper");
            client
                .get_data(&path)
                .await
                .expect("the topic's config node")
                .0
        });
    let node: serde_json::Value = serde_json::from_slice(&node).expect("JSON");
    assert_eq!(
        node["config"]["retention.ms"],
        serde_json::json!(i64::MAX.to_string()),
        "{path}: {node}"
    );
    assert_eq!(node["config"]["cleanup.policy"], "delete", "{path}: {node}");
}

/// The broker killed with `kill -9` mid-publish and restarted at once (well within
/// `sink.delivery_timeout`). Three outcomes are allowed, none silent: every record exactly once;
/// a batch the broker wrote but never acknowledged, written again by the retry, caught and the
/// run failed saying so; or the producer failing for good (2.1.1 forgets the idempotent
/// producer's id across a `kill -9`: `UnknownProducerId`, which librdkafka will not retry) with
/// the delivered count — then `--resume` completes the replay exactly once.
fn broker_bounced(kafka: &ApacheKafka) -> String {
    let replay = Replay::new();
    let topic = "BOUNCED_REPLAY";
    let pipeline = replay.pipeline(kafka, topic, true);
    // Room for the restart and the producer's reconnection (the pipelines' 15 s are for the
    // broker that never comes back); the broker's restart is bounded by its own start timeout.
    let mut child = replay.spawn(
        &[
            "run",
            &pipeline,
            "--set",
            SLOW,
            "--set",
            "sink.delivery_timeout=60s",
        ],
        RUN_TIMEOUT * 2,
    );
    wait_for_messages(kafka, topic, 1_500, &mut child);
    kafka.kill_broker();
    if kafka.version == Version::V0_8_2_2 {
        // Restarted before ZooKeeper expired the dead broker's session (3 s here), an 0.8.2.2
        // broker can come back without an active controller, serving no metadata for minutes
        // (seen here). A crashed machine takes longer than that to come back anyway.
        std::thread::sleep(Duration::from_secs(4));
    }
    kafka.start_broker();
    let Run { status, stderr, .. } = child.wait();
    if status.success() {
        replay.assert_exactly_once(&read_back(kafka, topic));
        return "exactly once".into();
    }
    if stderr.contains("stored a retried batch twice") {
        assert!(stderr.contains("Offsets not committed"), "{stderr}");
        return "a retried batch stored twice: caught, run failed".into();
    }
    let error = stderr
        .lines()
        .find(|l| l.starts_with("c2k: error:"))
        .unwrap_or_else(|| panic!("c2k failed without an error line:\n{stderr}"))
        .to_string();
    assert!(
        error.contains("messages delivered") && error.contains("c2k run --resume"),
        "c2k failed across the bounce without the delivered count and the way on:\n{stderr}"
    );
    replay.run(&["run", "--resume", &pipeline]).assert_ok();
    replay.assert_exactly_once(&read_back(kafka, topic));
    format!("failed loudly ({error}); --resume: exactly once")
}

/// The broker killed mid-publish and not restarted: the run fails within `sink.delivery_timeout`
/// with the delivered count and the `--resume` hint; once the broker is back, `--resume`
/// completes the replay exactly once.
fn broker_gone_then_resumed(kafka: &ApacheKafka) {
    let replay = Replay::new();
    let topic = "GONE_REPLAY";
    let pipeline = replay.pipeline(kafka, topic, true);
    let mut child = replay.spawn(&["run", &pipeline, "--set", SLOW], RUN_TIMEOUT);
    wait_for_messages(kafka, topic, 1_500, &mut child);
    kafka.kill_broker();
    let started = Instant::now();
    let Run { status, stderr, .. } = child.wait();
    eprintln!(
        "{} gone: c2k exited {status} after {:.1?}:\n{stderr}",
        kafka.version.name(),
        started.elapsed()
    );
    assert!(!status.success(), "c2k cannot succeed with the broker gone");
    for needle in ["messages delivered", "c2k run --resume"] {
        assert!(stderr.contains(needle), "{needle:?} in:\n{stderr}");
    }
    kafka.start_broker();
    replay.run(&["run", "--resume", &pipeline]).assert_ok();
    replay.assert_exactly_once(&read_back(kafka, topic));
}

#[test]
fn kafka_0_8_replay_killed_is_refused_then_resumed_exactly_once_without_headers() {
    let Some(kafka) = ApacheKafka::start_0_8("") else {
        return;
    };
    killed_refused_and_resumed(&kafka);
}

#[test]
fn kafka_2_1_replay_killed_is_refused_then_resumed_exactly_once() {
    let Some(kafka) = ApacheKafka::start_2_1() else {
        return;
    };
    killed_refused_and_resumed(&kafka);
}

#[test]
fn kafka_3_3_replay_killed_is_refused_then_resumed_exactly_once() {
    let Some(kafka) = ApacheKafka::start() else {
        return;
    };
    killed_refused_and_resumed(&kafka);
}

#[test]
fn kafka_0_8_says_what_changed_and_without_zookeeper_names_how_to_create_the_topic() {
    let Some(kafka) = ApacheKafka::start_0_8("") else {
        return;
    };
    let replay = Replay::new();
    // Without the librdkafka settings old brokers need: named before anything is read.
    let unaware = c2k::write_pipeline(
        replay.path(),
        "unaware.yaml",
        &format!(
            "{}sink:\n  type: kafka\n  brokers: '{}'\noffsets:\n  commit: none\n",
            c2k::sample_pipeline_head(replay.path()),
            kafka.bootstrap()
        ),
    );
    let started = Instant::now();
    replay.run(&["run", &unaware]).assert_failed_with(&[
        "older than 0.10",
        "sink.producer.api.version.request: false",
        "sink.producer.broker.version.fallback",
    ]);
    eprintln!(
        "0.8.2.2 spoken to as a current broker: refused in {:.1?}",
        started.elapsed()
    );
    let no_zookeeper = replay.pipeline(&kafka, "NEW_REPLAY", false);
    let refused = replay.run(&["run", &no_zookeeper]);
    refused.assert_failed_with(&[
        "replay topic NEW_REPLAY does not exist",
        "cannot create topics",
        "sink.zookeeper",
        "bin/kafka-topics.sh --zookeeper ZK --create --topic NEW_REPLAY --partitions 3",
        "nothing was sent",
    ]);
    assert_eq!(
        refused.stderr.matches("older than Kafka 0.11").count(),
        1,
        "what changed is said once:\n{}",
        refused.stderr
    );
    for said in [
        "no idempotent producer",
        "acks=all",
        "one request in flight",
    ] {
        assert!(
            refused.stderr.contains(said),
            "{said:?}:\n{}",
            refused.stderr
        );
    }
    // Created by hand, as the error says: published into (it is empty), but without a record of
    // the replay a rerun cannot tell what is there.
    kafka.create_topic_0_8("NEW_REPLAY", PARTITIONS);
    replay.run(&["run", &no_zookeeper]).assert_ok();
    replay.assert_exactly_once(&read_back(&kafka, "NEW_REPLAY"));
    let blind = replay.run(&["run", "--resume", &no_zookeeper]);
    blind.assert_failed_with(&["cannot account for", "without sink.zookeeper"]);
    assert_eq!(blind.code, Some(4));
    // With sink.zookeeper there is still no record for this topic: refused too.
    let with_zookeeper = replay.pipeline(&kafka, "NEW_REPLAY", true);
    let unrecorded = replay.run(&["run", "--resume", &with_zookeeper]);
    unrecorded.assert_failed_with(&["no c2k record at /c2k/replays/NEW_REPLAY"]);
    assert_eq!(unrecorded.code, Some(4));
}

#[test]
fn kafka_0_8_a_message_another_producer_appended_is_refused_before_more_is_sent_to_it() {
    let Some(kafka) = ApacheKafka::start_0_8("") else {
        return;
    };
    let replay = Replay::new();
    let topic = "FOREIGN_REPLAY";
    let pipeline = replay.pipeline(&kafka, topic, true);
    let mut child = replay.spawn(&["run", &pipeline, "--set", SLOW], RUN_TIMEOUT);
    wait_for_messages(&kafka, topic, 1_500, &mut child);
    child.kill();
    // Another producer appends to partition 1.
    let producer: BaseProducer = kafka
        .client_config()
        .set("enable.idempotence", "false")
        .create()
        .expect("producer");
    producer
        .send(
            BaseRecord::<[u8], [u8]>::to(topic)
                .partition(1)
                .payload(b"not the replay's".as_slice()),
        )
        .expect("send");
    producer.flush(Duration::from_secs(30)).expect("flush");
    let before = read_back(&kafka, topic);

    let resumed = replay.run(&["run", "--resume", &pipeline]);
    resumed.assert_failed_with(&[
        "partition 1: the message at offset",
        "is not this replay's message number",
        "not the replay's",
        "Nothing more was sent to partition 1",
    ]);
    assert_eq!(resumed.code, Some(4));
    // Held until every partition's last message was compared: nothing was sent anywhere.
    let after = read_back(&kafka, topic);
    assert!(after == before, "the refused run sent messages");
}

#[test]
fn kafka_0_8_broker_killed_mid_publish_and_restarted_loses_and_duplicates_nothing() {
    let Some(kafka) = ApacheKafka::start_0_8("") else {
        return;
    };
    let outcome = broker_bounced(&kafka);
    eprintln!("0.8.2.2 broker bounce: {outcome}");
}

#[test]
fn kafka_2_1_broker_killed_mid_publish_and_restarted_loses_and_duplicates_nothing() {
    let Some(kafka) = ApacheKafka::start_2_1() else {
        return;
    };
    let outcome = broker_bounced(&kafka);
    eprintln!("2.1.1 broker bounce: {outcome}");
}

#[test]
fn kafka_0_8_broker_never_restarted_fails_with_the_delivered_count_and_resume_completes() {
    let Some(kafka) = ApacheKafka::start_0_8("") else {
        return;
    };
    broker_gone_then_resumed(&kafka);
}

#[test]
fn kafka_3_3_broker_never_restarted_fails_with_the_delivered_count_and_resume_completes() {
    let Some(kafka) = ApacheKafka::start() else {
        return;
    };
    broker_gone_then_resumed(&kafka);
}

#[test]
fn kafka_2_1_broker_never_restarted_fails_with_the_delivered_count_and_resume_completes() {
    let Some(kafka) = ApacheKafka::start_2_1() else {
        return;
    };
    broker_gone_then_resumed(&kafka);
}

/// The cut-offs of the sample's newest Camus run, per partition, as `c2k offsets show` prints them.
fn cutoffs(replay: &Replay, pipeline: &str) -> Vec<i64> {
    let shown = replay.run(&["offsets", "show", pipeline]);
    shown.assert_ok();
    let cutoffs: Vec<i64> = shown
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.first().is_some_and(|f| f.parse::<u32>().is_ok()))
        .map(|fields| fields[1].parse().expect("a cut-off"))
        .collect();
    assert_eq!(cutoffs.len() as u32, PARTITIONS, "{}", shown.stdout);
    cutoffs
}

/// The whole job on a Camus-era cluster in one `c2k run`: the replay published without headers,
/// then the original topic's offsets committed to ZooKeeper after the live topic was checked;
/// Kafka 0.8.2.2's own `ConsumerOffsetChecker` then reports the cut-offs and the lag.
#[test]
fn kafka_0_8_the_whole_job_replays_then_commits_offsets_kafka_own_checker_reports() {
    const MORE: i64 = 10;
    let Some(kafka) = ApacheKafka::start_0_8("") else {
        return;
    };
    let replay = Replay::new();
    let topic = "WHOLE_REPLAY";
    let replayed = replay.pipeline(&kafka, topic, true);
    let yaml = std::fs::read_to_string(&replayed).expect("the pipeline").replace(
        "offsets:\n  commit: none\n",
        &format!(
            "offsets:\n  exec_dir: {}/execution\n  commit: zookeeper\n  zookeeper: '{}'\n  group: replayed\n",
            replay.path().display(),
            kafka.zookeeper()
        ),
    );
    let pipeline = c2k::write_pipeline(replay.path(), "whole.yaml", &yaml);
    let cutoffs = cutoffs(&replay, &pipeline);
    // The live topic, MORE messages past each cut-off.
    kafka.create_topic_0_8("PAGE_VIEWS", PARTITIONS);
    let live: Vec<i64> = cutoffs.iter().map(|c| c + MORE).collect();
    crate::support::live::produce(&kafka.client_config(), "PAGE_VIEWS", &live);

    let started = Instant::now();
    replay.run(&["run", &pipeline]).assert_ok();
    eprintln!(
        "0.8.2.2 whole job (replay + commit: zookeeper): {:.1?}",
        started.elapsed()
    );
    replay.assert_exactly_once(&read_back(&kafka, topic));
    let checked = kafka.run_tool(
        "kafka.tools.ConsumerOffsetChecker",
        &[
            "--zookeeper",
            &kafka.zookeeper(),
            "--group",
            "replayed",
            "--topic",
            "PAGE_VIEWS",
        ],
        90,
    );
    let stdout = String::from_utf8_lossy(&checked.stdout);
    eprintln!("ConsumerOffsetChecker:\n{stdout}");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let mut rows: Vec<[i64; 4]> = stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.first() == Some(&"replayed") && f.get(1) == Some(&"PAGE_VIEWS"))
        .map(|f| [2, 3, 4, 5].map(|c| f[c].parse().expect("a number")))
        .collect();
    rows.sort();
    let expected: Vec<[i64; 4]> = (0..PARTITIONS as usize)
        .map(|p| [p as i64, cutoffs[p], live[p], MORE])
        .collect();
    assert_eq!(rows, expected, "Pid, Offset, logSize, Lag");
}
