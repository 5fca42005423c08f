//! The committed offsets as Kafka's own tools see them: after `commit: zookeeper` on a Kafka
//! 0.8.2.2 cluster, the 0.8.2.2 build's `kafka.tools.ConsumerOffsetChecker` (what
//! `bin/kafka-consumer-offset-checker.sh` runs); after `commit: kafka` on 2.1.1 and 3.3.2, their
//! `kafka.admin.ConsumerGroupCommand --describe` (`bin/kafka-consumer-groups.sh`). Each tool must
//! report the cut-offs as the group's offsets and the lag to the live topic's end.
//!
//! Each test starts its own broker; without the build installed (`scripts/setup.sh`) it skips,
//! saying so.

use std::path::Path;
use std::time::Duration;

use crate::support::apache_kafka::{ApacheKafka, Version};
use crate::support::c2k::C2k;
use crate::support::{live, offsets};

const LIMIT: Duration = Duration::from_secs(120);
const TOOL_SECS: u32 = 90;
const TOPIC: &str = "PAGE_VIEWS";
/// Messages in the live topic's partitions, and the cut-offs of the newest Camus run.
const LIVE: [i64; 3] = [120, 201, 330];
const CUTOFFS: [i64; 3] = [100, 201, 302];

/// `(partition, offset, end, lag)` rows of a tool's table: in every line naming the topic, the
/// four numbers after it (every tool here prints partition, offset, log end and lag in that
/// order after the topic; 3.3.2 and 0.8.2.2 print the group before it, 2.1.1 does not).
fn rows(stdout: &str) -> Vec<[i64; 4]> {
    let mut found: Vec<[i64; 4]> = stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter_map(|fields| {
            let at = fields.iter().position(|f| *f == TOPIC)?;
            Some([1, 2, 3, 4].map(|c| {
                fields
                    .get(at + c)
                    .and_then(|f| f.parse().ok())
                    .unwrap_or_else(|| panic!("column {c} after the topic in {fields:?}"))
            }))
        })
        .collect();
    found.sort();
    found
}

/// What every tool must say: the cut-off as the offset, the live topic's end, and the lag.
fn expected() -> Vec<[i64; 4]> {
    (0..3)
        .map(|p| [p as i64, CUTOFFS[p], LIVE[p], LIVE[p] - CUTOFFS[p]])
        .collect()
}

fn commit(dir: &Path, pipeline: &Path) {
    let run = C2k::new(&[
        "offsets",
        "commit",
        pipeline.to_str().expect("a UTF-8 path"),
    ])
    .dir(dir)
    .timeout(LIMIT)
    .run();
    run.assert_ok();
}

#[test]
fn kafka_0_8_consumer_offset_checker_reports_the_offsets_committed_to_zookeeper_and_the_lag() {
    let Some(kafka) = ApacheKafka::start_0_8("") else {
        return;
    };
    kafka.create_topic_0_8(TOPIC, 3);
    live::produce(&kafka.client_config(), TOPIC, &LIVE);
    let dir = tempfile::tempdir().expect("a temp dir");
    let exec = dir.path().join("execution");
    live::history(&exec, &CUTOFFS);
    let pipeline = offsets::pipeline(
        dir.path(),
        &exec,
        &format!(
            "commit: zookeeper\nzookeeper: {}\ngroup: old-consumers",
            kafka.zookeeper()
        ),
    );
    commit(dir.path(), &pipeline);

    let checked = kafka.run_tool(
        "kafka.tools.ConsumerOffsetChecker",
        &[
            "--zookeeper",
            &kafka.zookeeper(),
            "--group",
            "old-consumers",
            "--topic",
            TOPIC,
        ],
        TOOL_SECS,
    );
    let stdout = String::from_utf8_lossy(&checked.stdout);
    eprintln!("ConsumerOffsetChecker (0.8.2.2):\n{stdout}");
    assert!(
        checked.status.success(),
        "ConsumerOffsetChecker failed:\n{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // Group Topic Pid Offset logSize Lag Owner
    assert!(stdout.contains("old-consumers"), "the group is named");
    assert_eq!(rows(&stdout), expected());
}

/// `commit: kafka` on `kafka`, then its own ConsumerGroupCommand describes the group.
fn consumer_groups_describe_the_committed_group(kafka: &ApacheKafka) {
    let brokers = kafka.bootstrap();
    live::create_topic(&brokers, TOPIC, 3);
    live::produce(&kafka.client_config(), TOPIC, &LIVE);
    let dir = tempfile::tempdir().expect("a temp dir");
    let exec = dir.path().join("execution");
    live::history(&exec, &CUTOFFS);
    let pipeline = offsets::pipeline(
        dir.path(),
        &exec,
        &format!("commit: kafka\nbrokers: {brokers}\ngroup: replayers"),
    );
    commit(dir.path(), &pipeline);

    let described = kafka.run_tool(
        "kafka.admin.ConsumerGroupCommand",
        &[
            "--bootstrap-server",
            &brokers,
            "--describe",
            "--group",
            "replayers",
        ],
        TOOL_SECS,
    );
    let stdout = String::from_utf8_lossy(&described.stdout);
    eprintln!(
        "ConsumerGroupCommand --describe ({}):\n{stdout}",
        kafka.version.name()
    );
    assert!(
        described.status.success(),
        "ConsumerGroupCommand failed:\n{}",
        String::from_utf8_lossy(&described.stderr)
    );
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
    assert_eq!(rows(&stdout), expected());
}

#[test]
fn kafka_3_3_consumer_groups_describe_reports_the_offsets_committed_to_the_coordinator() {
    let Some(kafka) = ApacheKafka::start() else {
        return;
    };
    assert_eq!(kafka.version, Version::V3_3_2);
    consumer_groups_describe_the_committed_group(&kafka);
}

#[test]
fn kafka_2_1_consumer_groups_describe_reports_the_offsets_committed_to_the_coordinator() {
    let Some(kafka) = ApacheKafka::start_2_1() else {
        return;
    };
    consumer_groups_describe_the_committed_group(&kafka);
}
