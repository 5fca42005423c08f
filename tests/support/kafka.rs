//! Helpers for the Kafka sink tests: pipelines, messages to publish, and an independent rdkafka
//! consumer that reads a whole topic back (assign, never subscribe: a subscribing consumer waits
//! for a group rebalance, which can hang a test for minutes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use camus2kafka::testing::OutMessage;
use camus2kafka::Pipeline;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// A pipeline whose `sink:` section is `sink` (YAML flow mapping); the other sections are unused
/// by the sink and take their defaults.
pub fn pipeline(sink: &str) -> Pipeline {
    let yaml = format!("topic: PAGE_VIEWS\nsource: {{ dest_dir: /unused }}\nsink: {sink}\n");
    let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("test pipeline YAML");
    Pipeline::from_document(&doc).expect("test pipeline")
}

/// `count` messages spread over `partitions` source partitions, each different: a key (missing on
/// every 7th), a value of ~`value_len` bytes naming its sequence, two headers (none on every 5th),
/// and an increasing timestamp.
pub fn messages(count: usize, partitions: u32, value_len: usize) -> Vec<OutMessage> {
    (0..count)
        .map(|i| {
            let mut value = format!("message {i:08} ").into_bytes();
            value.resize(value_len.max(value.len()), b'a' + (i % 26) as u8);
            OutMessage {
                key: (i % 7 != 0).then(|| format!("user-{}", i % 101).into_bytes()),
                value: value.into(),
                headers: if i % 5 == 0 {
                    Vec::new()
                } else {
                    vec![
                        ("seq".to_string(), i.to_string().into_bytes()),
                        ("empty".to_string(), Vec::new()),
                    ]
                },
                timestamp_ms: Some(1_500_000_000_000 + i as i64 * 1000),
                source_partition: Some((i as u32 * 7 + i as u32 / 3) % partitions),
                origin: None,
            }
        })
        .collect()
}

/// A message as read back from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: Option<i64>,
}

/// Reads `topic` from the beginning of every partition until `expected` messages have arrived
/// (panicking after `timeout`, saying how many did), then keeps reading until a second passes
/// without a message (or `timeout` ends), so that any extra message (a duplicate) is returned too.
/// With `expected` 0 it reads whatever the topic holds.
///
/// It does not stop at the high watermarks: tansu's ListOffsets answer can lag behind what a
/// fetch returns right after the producer's acknowledgements.
///
/// It reads as librdkafka does by default, `read_committed` ([`read_topic_as`] chooses).
pub fn read_topic(brokers: &str, topic: &str, expected: usize, timeout: Duration) -> Vec<Received> {
    read_topic_as(Isolation::ReadCommitted, brokers, topic, expected, timeout)
}

/// Which messages of transactions a reader sees (the consumer's `isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Every message written, aborted transactions' too.
    ReadUncommitted,
    /// Only messages outside transactions and those of committed ones.
    ReadCommitted,
}

/// [`read_topic`] with the given isolation level.
pub fn read_topic_as(
    isolation: Isolation,
    brokers: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<Received> {
    let level = match isolation {
        Isolation::ReadUncommitted => "read_uncommitted",
        Isolation::ReadCommitted => "read_committed",
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "c2k-test-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "50")
        .set("isolation.level", level)
        .create()
        .expect("test consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .expect("metadata of the replay topic");
    let mut assignment = TopicPartitionList::new();
    for partition in metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .unwrap_or_else(|| panic!("topic {topic} not found"))
        .partitions()
    {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .expect("assignment");
    }
    consumer.assign(&assignment).expect("assign");
    let mut received = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut quiet_until: Option<Instant> = None;
    loop {
        if received.len() >= expected {
            let until = *quiet_until.get_or_insert_with(|| Instant::now() + Duration::from_secs(1));
            if Instant::now() >= until || Instant::now() >= deadline {
                break;
            }
        } else {
            assert!(
                Instant::now() < deadline,
                "read only {} of {expected} messages of {topic} within {timeout:?}",
                received.len()
            );
        }
        let Some(result) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = result.expect("consume");
        let headers = message
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        received.push(Received {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().unwrap_or_default().to_vec(),
            headers,
            timestamp_ms: message.timestamp().to_millis(),
        });
        quiet_until = None;
    }
    received
}

/// The messages of each partition, in offset order.
pub fn by_partition(received: &[Received]) -> BTreeMap<i32, Vec<Received>> {
    let mut map: BTreeMap<i32, Vec<Received>> = BTreeMap::new();
    for message in received {
        map.entry(message.partition)
            .or_default()
            .push(message.clone());
    }
    for messages in map.values_mut() {
        messages.sort_by_key(|m| m.offset);
    }
    map
}

/// Checks that `received` is exactly `sent` (each message once, nothing else), that each message
/// is on the partition `expected_partition` gives it, and that each partition holds its messages
/// in the order they were sent.
pub fn assert_replayed(
    sent: &[OutMessage],
    received: &[Received],
    expected_partition: impl Fn(&OutMessage) -> i32,
) {
    assert_eq!(received.len(), sent.len(), "messages read back vs sent");
    let mut expected: BTreeMap<i32, Vec<&OutMessage>> = BTreeMap::new();
    for message in sent {
        expected
            .entry(expected_partition(message))
            .or_default()
            .push(message);
    }
    let actual = by_partition(received);
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "partitions holding messages"
    );
    for (partition, wanted) in &expected {
        let got = &actual[partition];
        assert_eq!(got.len(), wanted.len(), "messages on partition {partition}");
        for (i, (got, wanted)) in got.iter().zip(wanted).enumerate() {
            let what = format!("message {i} of partition {partition}");
            assert_eq!(got.value, wanted.value, "{what}: value");
            assert_eq!(got.key, wanted.key, "{what}: key");
            let own: Vec<_> = got
                .headers
                .iter()
                .filter(|(name, _)| !name.starts_with("c2k-"))
                .cloned()
                .collect();
            assert_eq!(own, wanted.headers, "{what}: the format's headers");
            assert_eq!(
                header(got, "c2k-seq").as_deref(),
                Some(i.to_string().as_str()),
                "{what}: c2k-seq is its position in the partition"
            );
            assert_eq!(got.timestamp_ms, wanted.timestamp_ms, "{what}: timestamp");
        }
    }
}

/// A header's value as text, if the message has it.
pub fn header(message: &Received, name: &str) -> Option<String> {
    message
        .headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
}
