//! What a test asks a real broker about a topic, with Kafka's own admin requests: create it with
//! chosen configs (the "bad" replay topics users already have), read its effective configs and
//! replication, its log start and end offsets, and wait until the broker's retention check has
//! deleted a topic of old-stamped messages (the proof that the checks ran before a test reads a
//! replay back).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

const TIMEOUT: Duration = Duration::from_secs(30);

fn admin(brokers: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("an admin client")
}

fn options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(TIMEOUT))
        .operation_timeout(Some(TIMEOUT))
}

/// Creates `topic` with `partitions`, `replicas` and topic `configs`, and waits for its leaders.
pub fn create(
    brokers: &str,
    topic: &str,
    partitions: i32,
    replicas: i32,
    configs: &[(&str, &str)],
) {
    let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replicas));
    for (name, value) in configs {
        new = new.set(name, value);
    }
    let results = futures::executor::block_on(admin(brokers).create_topics([&new], &options()))
        .expect("CreateTopics");
    for result in results {
        result.unwrap_or_else(|(name, code)| panic!("create topic {name}: {code}"));
    }
    super::servers::wait_until(&format!("leaders of {topic}"), TIMEOUT, || {
        metadata_of(brokers, topic).is_some_and(|found| {
            found.len() == partitions as usize && found.iter().all(|p| p.leader >= 0)
        })
    });
}

/// One partition as the metadata shows it.
#[derive(Debug, Clone)]
pub struct PartitionInfo {
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// The topic's partitions as the brokers' metadata shows them; `None` while it is unknown.
pub fn metadata_of(brokers: &str, topic: &str) -> Option<Vec<PartitionInfo>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("a metadata client");
    let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT).ok()?;
    let found = metadata.topics().iter().find(|t| t.name() == topic)?;
    if found.error().is_some() || found.partitions().is_empty() {
        return None;
    }
    Some(
        found
            .partitions()
            .iter()
            .map(|p| PartitionInfo {
                leader: p.leader(),
                replicas: p.replicas().to_vec(),
                isr: p.isr().to_vec(),
            })
            .collect(),
    )
}

/// The topic's partitions, waiting (up to 30 s) while the broker asked does not know it yet: a
/// cluster's brokers learn of a new topic one after the other.
pub fn partitions_of(brokers: &str, topic: &str) -> Vec<PartitionInfo> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(partitions) = metadata_of(brokers, topic) {
            return partitions;
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} unknown after {TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Messages the topic holds, read through one client for as long as `until` says to go on:
/// cheap enough to watch a replay in progress.
pub fn watch_held(brokers: &str, topic: &str, mut until: impl FnMut(i64) -> bool) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "c2k-test-marks")
        .create()
        .expect("a consumer");
    loop {
        // Metadata asked through the same client: a watermark query alone never refreshes what
        // the client knows of a topic created after it started.
        let held = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(2))
            .ok()
            .and_then(|m| {
                let t = m.topics().iter().find(|t| t.name() == topic)?;
                Some(t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
            })
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                consumer
                    .fetch_watermarks(topic, p, Duration::from_secs(2))
                    .ok()
            })
            .map(|(low, high)| high - low)
            .sum();
        if !until(held) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The topic's effective configs (DescribeConfigs).
pub fn configs(brokers: &str, topic: &str) -> BTreeMap<String, String> {
    let results = futures::executor::block_on(
        admin(brokers).describe_configs([&ResourceSpecifier::Topic(topic)], &options()),
    )
    .expect("DescribeConfigs");
    let resource = results
        .into_iter()
        .next()
        .expect("one resource")
        .expect("the topic's configs");
    resource
        .entries
        .into_iter()
        .filter_map(|e| Some((e.name, e.value?)))
        .collect()
}

/// Each partition's `(log start, end)` offsets.
pub fn marks(brokers: &str, topic: &str) -> Vec<(i64, i64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "c2k-test-marks")
        .create()
        .expect("a consumer");
    let partitions = partitions_of(brokers, topic).len() as i32;
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, TIMEOUT)
                .unwrap_or_else(|e| panic!("watermarks of {topic}/{p}: {e}"))
        })
        .collect()
}

/// How many messages the topic holds now (end minus log start, over its partitions).
pub fn held(brokers: &str, topic: &str) -> i64 {
    marks(brokers, topic)
        .iter()
        .map(|(low, high)| high - low)
        .sum()
}

/// A topic of `count` messages stamped 2024-03-10 (older than any default retention), created
/// with the cluster's defaults: what every replay of old events was before c2k set its own
/// topic configs. [`wait_for_retention`] watches it disappear.
pub fn old_stamped_topic(brokers: &str, topic: &str, replicas: i32, count: usize) {
    create(brokers, topic, 1, replicas, &[]);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .create()
        .expect("a producer");
    for i in 0..count {
        producer
            .send(
                BaseRecord::<(), str>::to(topic)
                    .payload("old")
                    .timestamp(1_710_028_800_000 + i as i64),
            )
            .expect("queue an old-stamped message");
    }
    producer
        .flush(TIMEOUT)
        .expect("old-stamped messages acknowledged");
    assert_eq!(
        held(brokers, topic),
        count as i64,
        "{topic} holds its messages"
    );
}

/// Waits until the broker's retention check has deleted every message of `control` (made by
/// [`old_stamped_topic`]): from then on, a topic that still holds its messages survived a check.
/// Brokers run the first check 30 s after they start.
pub fn wait_for_retention(brokers: &str, control: &str, timeout: Duration) -> Duration {
    let start = Instant::now();
    super::servers::wait_until(
        &format!("the retention check deleting {control}"),
        timeout,
        || held(brokers, control) == 0,
    );
    start.elapsed()
}
