//! `c2k run` against a real Apache Kafka 3.3.2 broker (KRaft, `support::apache_kafka`): a sample
//! tree replayed exactly once and guarded against a second run; a transactional replay killed with
//! `kill -9` mid-way and resumed, read back by a `read_committed` consumer with nothing lost or
//! repeated; and a broker without transactions (tansu) refusing `sink.transactions` in time.
//!
//! Each test starts its own broker; without Kafka 3.3.2 installed (`scripts/setup.sh`) they skip,
//! saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::support::apache_kafka::ApacheKafka;
use crate::support::c2k::{self, kafka_pipeline, C2k, Run, Running};
use crate::support::kafka::{self, header, Isolation, Received};
use crate::support::servers;

const PARTITIONS: u32 = 4;
const TOPIC: &str = "PAGE_VIEWS_REPLAY";
const RUN_TIMEOUT: Duration = Duration::from_secs(240);
const READ_TIMEOUT: Duration = Duration::from_secs(90);

/// Writes a `c2k sample` tree of `records` records over [`PARTITIONS`] partitions into `dir`.
pub(crate) fn sample(dir: &Path, records: u64) {
    c2k::sample(dir, records, PARTITIONS);
}

/// What a read of the replay topic holds, by provenance.
#[derive(Debug)]
struct Census {
    messages: usize,
    /// Distinct (c2k-source-file, c2k-source-index) pairs.
    distinct: usize,
    /// Messages whose pair was seen before.
    duplicates: usize,
}

fn census(received: &[Received]) -> Census {
    let mut seen = BTreeSet::new();
    let mut duplicates = 0;
    for message in received {
        let file = header(message, "c2k-source-file").expect("c2k-source-file on every message");
        let index = header(message, "c2k-source-index").expect("c2k-source-index on every message");
        if !seen.insert((file, index)) {
            duplicates += 1;
        }
    }
    Census {
        messages: received.len(),
        distinct: seen.len(),
        duplicates,
    }
}

/// Every record of the sample exactly once, from one replay, each partition in key (time) order
/// with `c2k-seq` counting 0, 1, 2, … in offset order.
pub(crate) fn assert_exactly_once_in_key_order(received: &[Received], records: u64) {
    let count = census(received);
    if count.duplicates > 0 {
        // Evidence: where the first repeated records are, both copies.
        let mut first_copy: BTreeMap<(String, String), &Received> = BTreeMap::new();
        let mut shown = 0;
        for message in kafka::by_partition(received).values().flatten() {
            let pair = (
                header(message, "c2k-source-file").unwrap_or_default(),
                header(message, "c2k-source-index").unwrap_or_default(),
            );
            if let Some(first) = first_copy.get(&pair) {
                if shown < 3 {
                    eprintln!(
                        "repeated: {pair:?} on partition {} at offset {} (c2k-seq {:?}) and offset \
                         {} (c2k-seq {:?})",
                        message.partition,
                        first.offset,
                        header(first, "c2k-seq"),
                        message.offset,
                        header(message, "c2k-seq")
                    );
                    shown += 1;
                }
            } else {
                first_copy.insert(pair, message);
            }
        }
    }
    assert_eq!(count.duplicates, 0, "no record twice: {count:?}");
    assert_eq!(count.messages as u64, records, "every record: {count:?}");
    let replays: BTreeSet<Option<String>> =
        received.iter().map(|m| header(m, "c2k-replay")).collect();
    assert_eq!(
        replays.len(),
        1,
        "one c2k-replay on every message: {replays:?}"
    );
    assert!(replays.iter().all(Option::is_some), "c2k-replay missing");
    let partitions = kafka::by_partition(received);
    assert_eq!(
        partitions.len() as u32,
        PARTITIONS,
        "messages on every partition"
    );
    for (partition, messages) in &partitions {
        for (i, message) in messages.iter().enumerate() {
            assert_eq!(
                header(message, "c2k-seq"),
                Some(i.to_string()),
                "partition {partition}, message {i} (offset {}): c2k-seq",
                message.offset
            );
        }
        let times: Vec<i64> = messages.iter().map(header_time).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "partition {partition} is not in key (header.time) order"
        );
    }
}

/// The sort key of a replayed record: `header.time` of its JSON value, which is also the
/// message's timestamp.
fn header_time(message: &Received) -> i64 {
    let value: serde_json::Value =
        serde_json::from_slice(&message.value).expect("a JSON value on every message");
    let time = value["header"]["time"]
        .as_i64()
        .expect("header.time in every value");
    assert_eq!(
        message.timestamp_ms,
        Some(time),
        "the timestamp is header.time"
    );
    time
}

#[test]
fn c2k_run_replays_into_kafka_3_3_exactly_once_and_a_rerun_is_refused_or_resumed_as_complete() {
    const RECORDS: u64 = 20_000;
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), RECORDS);
    let Some(broker) = ApacheKafka::start() else {
        return;
    };
    let pipeline = kafka_pipeline(dir.path(), &broker.bootstrap());

    C2k::new(&["run", &pipeline])
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .run()
        .assert_ok();
    let first = kafka::read_topic(&broker.bootstrap(), TOPIC, RECORDS as usize, READ_TIMEOUT);
    assert_exactly_once_in_key_order(&first, RECORDS);

    let rerun = C2k::new(&["run", &pipeline])
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .run();
    rerun.assert_failed_with(&["already holds", "--resume"]);
    assert_eq!(rerun.code, Some(4), "a rerun is refused with exit code 4");

    let resumed = C2k::new(&["run", "--resume", &pipeline])
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .run();
    resumed.assert_ok();
    assert!(
        resumed.stderr.contains("already complete"),
        "a resumed complete replay says so:\n{}",
        resumed.stderr
    );
    let after = kafka::read_topic(&broker.bootstrap(), TOPIC, RECORDS as usize, READ_TIMEOUT);
    assert!(
        kafka::by_partition(&after) == kafka::by_partition(&first),
        "the topic is changed by the refused and resumed runs: {} messages, were {}",
        after.len(),
        first.len()
    );
}

/// Watches the replay topic while `c2k` runs and returns as soon as `ready(committed, written)`
/// holds: `committed`, messages a `read_committed` consumer has seen; `written`, the sum of the
/// partitions' high watermarks (every message written, aborted or open transactions' and
/// transaction markers included). Fails if `c2k` exits first or `timeout` passes.
fn watch_until(
    brokers: &str,
    child: &mut Running,
    timeout: Duration,
    ready: impl Fn(usize, i64) -> bool,
) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "c2k-test-watcher")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "50")
        .create()
        .expect("watching consumer");
    let deadline = Instant::now() + timeout;
    let mut assigned = false;
    let mut committed = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "{TOPIC}: not there within {timeout:?} ({committed} committed messages seen)"
        );
        child.assert_running("before it could be interrupted mid-way");
        if !assigned {
            let metadata = consumer
                .fetch_metadata(Some(TOPIC), Duration::from_secs(5))
                .expect("metadata");
            let partitions = metadata
                .topics()
                .iter()
                .find(|t| t.name() == TOPIC && t.error().is_none())
                .map(|t| t.partitions().len())
                .unwrap_or(0);
            if partitions < PARTITIONS as usize {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            let mut assignment = TopicPartitionList::new();
            for partition in 0..PARTITIONS as i32 {
                assignment
                    .add_partition_offset(TOPIC, partition, Offset::Beginning)
                    .expect("assignment");
            }
            consumer.assign(&assignment).expect("assign");
            assigned = true;
        }
        while let Some(Ok(_)) = consumer.poll(Duration::from_millis(20)) {
            committed += 1;
        }
        let written: i64 = (0..PARTITIONS as i32)
            .map(|p| {
                consumer
                    .fetch_watermarks(TOPIC, p, Duration::from_secs(5))
                    .map(|(_, high)| high)
                    .unwrap_or(0)
            })
            .sum();
        if ready(committed, written) {
            return;
        }
    }
}

#[test]
fn a_transactional_replay_killed_mid_way_and_resumed_is_read_committed_exactly_once() {
    const RECORDS: u64 = 100_000;
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), RECORDS);
    let Some(broker) = ApacheKafka::start() else {
        return;
    };
    let brokers = broker.bootstrap();
    let pipeline = kafka_pipeline(dir.path(), &brokers);
    let transactional = [
        "--set",
        "sink.transactions=true",
        "--set",
        "sink.transaction_messages=5000",
    ];

    // The first run is slowed to ~10 s of publishing, so that it is surely killed mid-way.
    let mut child = C2k::new(
        &[
            &["run", &pipeline][..],
            &transactional[..],
            &["--set", "sink.max_messages_per_sec=10000"][..],
        ]
        .concat(),
    )
    .dir(dir.path())
    .timeout(RUN_TIMEOUT)
    .spawn();
    // Killed once a transaction is committed and the next one holds a few thousand messages:
    // 5000 committed + 4 commit markers, then more than 1000 written after them.
    watch_until(&brokers, &mut child, RUN_TIMEOUT, |committed, written| {
        committed > 0 && written > 6004
    });
    let status = child.kill().status;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "c2k was killed, not finished"
    );

    let committed =
        kafka::read_topic_as(Isolation::ReadCommitted, &brokers, TOPIC, 0, READ_TIMEOUT);
    let written =
        kafka::read_topic_as(Isolation::ReadUncommitted, &brokers, TOPIC, 0, READ_TIMEOUT);
    eprintln!(
        "killed: {} messages committed, {} written (read_uncommitted) of {RECORDS}",
        committed.len(),
        written.len()
    );
    assert!(
        !committed.is_empty() && (committed.len() as u64) < RECORDS,
        "killed mid-way: {} of {RECORDS} committed",
        committed.len()
    );
    assert_eq!(
        committed.len() % 5000,
        0,
        "whole transactions of 5000 messages are visible, nothing else"
    );

    let resumed = C2k::new(&[&["run", "--resume", &pipeline][..], &transactional[..]].concat())
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .run();
    resumed.assert_ok();

    let read_committed = kafka::read_topic_as(
        Isolation::ReadCommitted,
        &brokers,
        TOPIC,
        RECORDS as usize,
        READ_TIMEOUT,
    );
    let count = census(&read_committed);
    eprintln!("read_committed after the resume: {count:?} of {RECORDS} records");
    assert_exactly_once_in_key_order(&read_committed, RECORDS);

    let read_uncommitted = kafka::read_topic_as(
        Isolation::ReadUncommitted,
        &brokers,
        TOPIC,
        RECORDS as usize,
        READ_TIMEOUT,
    );
    let count = census(&read_uncommitted);
    eprintln!("read_uncommitted after the resume: {count:?} of {RECORDS} records");
    assert_eq!(
        count.distinct as u64, RECORDS,
        "every record, read_uncommitted"
    );
    assert_eq!(
        count.messages - count.duplicates,
        count.distinct,
        "read_uncommitted: the extra messages are the aborted chunk's"
    );
    // The partitions now end in commit markers: the guard still finds the replay complete.
    let again = C2k::new(&[&["run", "--resume", &pipeline][..], &transactional[..]].concat())
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .run();
    again.assert_ok();
    assert!(
        again.stderr.contains("already complete"),
        "a complete transactional replay, resumed, says so:\n{}",
        again.stderr
    );
    let refused = C2k::new(&[&["run", &pipeline][..], &transactional[..]].concat())
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .run();
    refused.assert_failed_with(&["already holds 100000 messages", "--resume"]);
    assert_eq!(refused.code, Some(4));

    let mut per_partition: BTreeMap<i32, usize> = BTreeMap::new();
    for message in &read_uncommitted {
        *per_partition.entry(message.partition).or_default() += 1;
    }
    eprintln!("read_uncommitted messages per partition: {per_partition:?}");
}

/// A broker killed and restarted mid-replay: the run either holds every record exactly once, or —
/// when the broker stored a retried batch twice, which happens about half the time here after a
/// `kill -9` of Kafka 3.3.2 — fails saying so. Never a silent duplicate.
#[test]
fn a_broker_killed_and_restarted_mid_replay_never_duplicates_silently() {
    const RECORDS: u64 = 50_000;
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), RECORDS);
    let Some(broker) = ApacheKafka::start() else {
        return;
    };
    let brokers = broker.bootstrap();
    let pipeline = kafka_pipeline(dir.path(), &brokers);
    // ~5 s of publishing; the broker is killed after the first 5000 messages and is down for the
    // few seconds a restart takes, well within sink.delivery_timeout.
    // The broker's restart is bounded by its own start timeout: room for it in c2k's.
    let mut child = C2k::new(&["run", &pipeline, "--set", "sink.max_messages_per_sec=10000"])
        .dir(dir.path())
        .timeout(RUN_TIMEOUT * 2)
        .spawn();
    watch_until(&brokers, &mut child, RUN_TIMEOUT, |_, written| {
        written > 5000
    });
    broker.kill_broker();
    broker.start_broker();
    let Run { status, stderr, .. } = child.wait();
    if status.success() {
        let received = kafka::read_topic(&brokers, TOPIC, RECORDS as usize, READ_TIMEOUT);
        assert_exactly_once_in_key_order(&received, RECORDS);
        eprintln!("broker bounce: exactly once, {RECORDS} records");
    } else {
        assert!(
            stderr.contains("stored a retried batch twice")
                && stderr.contains("Offsets not committed"),
            "c2k failed across the bounce for another reason:\n{stderr}"
        );
        eprintln!("broker bounce: duplicates caught and refused:\n{stderr}");
    }
}

#[test]
fn sink_transactions_on_a_broker_without_transactions_fails_in_time_with_a_clear_error() {
    const RECORDS: u64 = 1_000;
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), RECORDS);
    let tansu = servers::Tansu::start();
    let pipeline = kafka_pipeline(dir.path(), &tansu.brokers());
    let started = Instant::now();
    let run = C2k::new(&["run", &pipeline, "--set", "sink.transactions=true"])
        .dir(dir.path())
        .timeout(Duration::from_secs(120))
        .run();
    eprintln!(
        "tansu with sink.transactions: exit {:?} after {:.1?}:\n{}",
        run.code,
        started.elapsed(),
        run.stderr
    );
    // tansu starts a transactional producer and takes its messages; only the commit fails.
    run.assert_failed_with(&[
        "cannot commit a transaction",
        "sink.transactions: true",
        "do not support transactions",
        "sink.transactions: false",
    ]);
    let uncommitted = kafka::read_topic_as(
        Isolation::ReadUncommitted,
        &tansu.brokers(),
        TOPIC,
        RECORDS as usize,
        READ_TIMEOUT,
    );
    let committed = kafka::read_topic_as(
        Isolation::ReadCommitted,
        &tansu.brokers(),
        TOPIC,
        0,
        READ_TIMEOUT,
    );
    eprintln!(
        "tansu after the failed commit: read_uncommitted {:?}, read_committed {} messages",
        census(&uncommitted),
        committed.len()
    );
    assert_eq!(census(&uncommitted).distinct as u64, RECORDS);
}
