//! `c2k offsets commit` with `offsets.commit: kafka` against a real Kafka-protocol broker
//! (`tansu`) started by the test: the offsets read back by a separate consumer of the group, and a
//! group that already has offsets for the topic left untouched (exit code 3). The topic holds no
//! messages, so the live-topic check only warns here (`offsets_live` tests it).

use camus2kafka::testing::write_sample_history;
use std::time::Duration;

use camus2kafka::testing::SampleCutoff;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::support::c2k::C2k;
use crate::support::{offsets, servers};

const LIMIT: Duration = Duration::from_secs(90);

fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = runtime
        .block_on(async {
            tokio::time::timeout(
                Duration::from_secs(30),
                admin.create_topics(
                    &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
                    &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
                ),
            )
            .await
        })
        .expect("create_topics in time")
        .expect("create_topics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("create {t}: {e}"));
    }
}

/// The group's committed offsets, read by a separate consumer of that group.
fn committed(brokers: &str, group: &str, topic: &str, partitions: i32) -> Vec<(i32, Offset)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(20))
        .unwrap();
    got.elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect()
}

#[test]
fn commits_through_the_group_coordinator_and_never_overwrites() {
    let broker = servers::Tansu::start();
    let brokers = broker.brokers();
    create_topic(&brokers, "PAGE_VIEWS", 3);

    let dir = tempfile::tempdir().unwrap();
    let exec = dir.path().join("execution");
    let cutoffs: Vec<SampleCutoff> = (0..3)
        .map(|p| SampleCutoff {
            partition: p,
            leader: 1,
            first_offset: 10,
            last_offset: 19 + p as u64,
            time_ms: 1_705_312_800_000,
            file_ends: Vec::new(),
        })
        .collect();
    write_sample_history(&exec, "PAGE_VIEWS", &cutoffs).unwrap();
    let pipeline = offsets::pipeline(
        dir.path(),
        &exec,
        &format!(
            "commit: kafka\nbrokers: {brokers}\ngroup: replayers\nlive_check: warn\n\
             consumer:\n  client.id: c2k-test"
        ),
    );
    let path = pipeline.to_str().unwrap();

    let first = C2k::new(&["offsets", "commit", path]).timeout(LIMIT).run();
    first.assert_ok();
    let want = vec![
        (0, Offset::Offset(20)),
        (1, Offset::Offset(21)),
        (2, Offset::Offset(22)),
    ];
    assert_eq!(committed(&brokers, "replayers", "PAGE_VIEWS", 3), want);

    // The same offsets again (an interrupted earlier attempt committed them): done, nothing written.
    let again = C2k::new(&["offsets", "commit", path]).timeout(LIMIT).run();
    again.assert_ok();
    let stdout = again.stdout.clone();
    assert!(stdout.contains("already committed, identical"), "{stdout}");
    assert_eq!(committed(&brokers, "replayers", "PAGE_VIEWS", 3), want);

    // A newer run appears: the group already has offsets, nothing is committed.
    let later: Vec<SampleCutoff> = cutoffs
        .iter()
        .map(|c| SampleCutoff {
            last_offset: c.last_offset + 100,
            time_ms: c.time_ms + 86_400_000,
            ..c.clone()
        })
        .collect();
    write_sample_history(&exec, "PAGE_VIEWS", &later).unwrap();
    offsets::archive_for_history(dir.path(), &exec);
    let second = C2k::new(&["offsets", "commit", path]).timeout(LIMIT).run();
    assert_eq!(second.status.code(), Some(3), "stderr: {}", second.stderr);
    let stderr = second.stderr.clone();
    assert!(
        stderr.contains("replayers") && stderr.contains("PAGE_VIEWS"),
        "{stderr}"
    );
    assert_eq!(committed(&brokers, "replayers", "PAGE_VIEWS", 3), want);

    // Another group gets the newer run's offsets.
    let other = C2k::new(&["offsets", "commit", path, "--set", "offsets.group=others"])
        .timeout(LIMIT)
        .run();
    other.assert_ok();
    assert_eq!(
        committed(&brokers, "others", "PAGE_VIEWS", 3),
        vec![
            (0, Offset::Offset(120)),
            (1, Offset::Offset(121)),
            (2, Offset::Offset(122))
        ]
    );
}
