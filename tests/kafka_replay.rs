//! `c2k run` end to end into a real Kafka-protocol broker (`tansu`): a sample Camus tree is
//! replayed with `sink.type: kafka`, and an independent consumer reads back every record exactly
//! once, each replay partition holding its source partition's records in time order.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::c2k::{self, C2k};
use crate::support::{kafka, servers};

const RECORDS: u64 = 5_000;
const PARTITIONS: u32 = 4;
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn c2k_run_replays_a_sample_tree_into_kafka_each_partition_in_time_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    c2k::sample(dir.path(), RECORDS, PARTITIONS);

    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    let pipeline = c2k::kafka_pipeline(dir.path(), &brokers);
    let pipeline = pipeline.as_str();

    // The same replay into a file gives the whole sorted order to compare with.
    let sorted_file = dir.path().join("sorted.jsonl");
    let set_path = format!("sink.path={}", sorted_file.display());
    let into_file = C2k::new(&[
        "run",
        pipeline,
        "--set",
        "sink.type=file",
        "--set",
        &set_path,
    ])
    .timeout(RUN_TIMEOUT)
    .run();
    assert!(
        into_file.status.success(),
        "c2k run into a file failed: {}",
        into_file.stderr
    );
    let sorted: Vec<Vec<u8>> = std::fs::read(&sorted_file)
        .expect("the sorted file")
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(sorted.len() as u64, RECORDS);

    let into_kafka = C2k::new(&["run", pipeline]).timeout(RUN_TIMEOUT).run();
    assert!(
        into_kafka.status.success(),
        "c2k run into kafka failed: {}",
        into_kafka.stderr
    );

    let received = kafka::read_topic(
        &brokers,
        "PAGE_VIEWS_REPLAY",
        RECORDS as usize,
        Duration::from_secs(60),
    );
    assert_eq!(received.len() as u64, RECORDS, "every record exactly once");
    let partitions = kafka::by_partition(&received);
    assert_eq!(
        partitions.len() as u32,
        PARTITIONS,
        "one replay partition per source partition"
    );

    // Each record once: the same multiset of values as the file replay.
    let mut kafka_values: Vec<&[u8]> = received.iter().map(|m| m.value.as_slice()).collect();
    let mut file_values: Vec<&[u8]> = sorted.iter().map(Vec::as_slice).collect();
    kafka_values.sort();
    file_values.sort();
    assert!(
        kafka_values == file_values,
        "the values read back differ from the file replay's"
    );

    // Each partition keeps the sorted (time) order: its records appear in the same relative order
    // as in the whole sorted replay, and their timestamps never go back.
    let position: BTreeMap<&[u8], usize> = sorted
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_slice(), i))
        .collect();
    for (partition, messages) in &partitions {
        let positions: Vec<usize> = messages
            .iter()
            .map(|m| position[m.value.as_slice()])
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "partition {partition} is not in sorted order"
        );
        let times: Vec<i64> = messages
            .iter()
            .map(|m| {
                m.timestamp_ms
                    .expect("a timestamp on every replayed message")
            })
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "partition {partition}: timestamps go back in time"
        );
    }
}
