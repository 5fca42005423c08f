//! The Kafka sink against a real Kafka-protocol broker (`tansu`): every message published is read
//! back by an independent consumer exactly once, on the right partition, in order, with its key,
//! headers and timestamp; the replay topic is created when missing and refused when too small.

use std::time::Duration;

use camus2kafka::testing::Partitioning;
use camus2kafka::testing::{partition_for, KafkaSink};
use camus2kafka::testing::{Sink, SourceFacts};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;

use crate::support::{kafka, servers};

const READ_TIMEOUT: Duration = Duration::from_secs(60);

fn facts(partitions: u32) -> SourceFacts {
    SourceFacts {
        partitions: (0..partitions).collect(),
        ..Default::default()
    }
}

/// Publishes `count` messages through a `KafkaSink` in batches of 1,000 and returns them.
fn publish(
    sink_yaml: &str,
    facts: &SourceFacts,
    count: usize,
    partitions: u32,
) -> Vec<camus2kafka::testing::OutMessage> {
    let pipeline = kafka::pipeline(sink_yaml);
    let messages = kafka::messages(count, partitions, 300);
    let mut sink: Box<dyn Sink> = KafkaSink::open(&pipeline, facts).expect("open the Kafka sink");
    for batch in messages.chunks(1000) {
        sink.send(batch.to_vec()).expect("send");
    }
    let report = sink.finish().expect("every message acknowledged");
    assert_eq!(report.delivered, count as u64);
    let bytes: usize = messages
        .iter()
        .map(|m| m.value.len() + m.key.as_ref().map_or(0, Vec::len))
        .sum();
    assert_eq!(report.bytes, bytes as u64);
    assert!(
        report.destination.contains(&pipeline.replay_topic()),
        "{}",
        report.destination
    );
    messages
}

fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let results = futures::executor::block_on(admin.create_topics(
        [&NewTopic::new(
            topic,
            partitions,
            TopicReplication::Fixed(1),
        )],
        &options,
    ))
    .expect("create topic");
    for result in results {
        result.expect("topic created");
    }
}

#[test]
fn source_partitioning_replays_each_source_partition_in_order_into_a_created_topic() {
    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    let sent = publish(&format!("{{ brokers: '{brokers}' }}"), &facts(4), 10_000, 4);
    let received = kafka::read_topic(&brokers, "PAGE_VIEWS_REPLAY", sent.len(), READ_TIMEOUT);
    // Created with as many partitions as the source had.
    assert_eq!(kafka::by_partition(&received).len(), 4);
    kafka::assert_replayed(&sent, &received, |m| m.source_partition.unwrap() as i32);
}

#[test]
fn single_partitioning_puts_everything_in_partition_zero_in_send_order() {
    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    let sent = publish(
        &format!("{{ brokers: '{brokers}', topic: ALL_IN_ONE, partitioning: single }}"),
        &facts(3),
        5_000,
        3,
    );
    let received = kafka::read_topic(&brokers, "ALL_IN_ONE", sent.len(), READ_TIMEOUT);
    kafka::assert_replayed(&sent, &received, |_| 0);
}

#[test]
fn key_partitioning_hashes_keys_like_java_clients() {
    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    let sent = publish(
        &format!("{{ brokers: '{brokers}', topic: BY_KEY, partitioning: key, partitions: 5 }}"),
        &facts(2),
        5_000,
        2,
    );
    let received = kafka::read_topic(&brokers, "BY_KEY", sent.len(), READ_TIMEOUT);
    kafka::assert_replayed(&sent, &received, |m| partition_for(Partitioning::Key, m, 5));
    // The sink's hash is Java's: check a few keys against Kafka's own `Utils.murmur2` values.
    let java_partition = |hash: i32| (hash & 0x7fff_ffff) % 5;
    assert_eq!(camus2kafka::testing::murmur2(b"foobar"), -790_332_482);
    let foobar = camus2kafka::testing::OutMessage {
        key: Some(b"foobar".to_vec()),
        ..Default::default()
    };
    assert_eq!(
        partition_for(Partitioning::Key, &foobar, 5),
        java_partition(-790_332_482)
    );
}

#[test]
fn an_existing_topic_with_enough_partitions_is_used_as_is() {
    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    create_topic(&brokers, "EXISTING", 6);
    let sent = publish(
        &format!("{{ brokers: '{brokers}', topic: EXISTING }}"),
        &facts(3),
        2_000,
        3,
    );
    let received = kafka::read_topic(&brokers, "EXISTING", sent.len(), READ_TIMEOUT);
    kafka::assert_replayed(&sent, &received, |m| m.source_partition.unwrap() as i32);
}

#[test]
fn an_existing_topic_with_too_few_partitions_is_refused_before_anything_is_sent() {
    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    create_topic(&brokers, "TOO_SMALL", 2);
    let pipeline = kafka::pipeline(&format!("{{ brokers: '{brokers}', topic: TOO_SMALL }}"));
    let error = match KafkaSink::open(
        &pipeline,
        &SourceFacts {
            partitions: vec![0, 1, 4],
            ..Default::default()
        },
    ) {
        Ok(_) => panic!("a 2-partition topic accepted for source partitions up to 4"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("TOO_SMALL"), "{error}");
    assert!(error.contains("has 2 partitions"), "{error}");
    assert!(error.contains("needs 5"), "{error}");
    let received = kafka::read_topic(&brokers, "TOO_SMALL", 0, READ_TIMEOUT);
    assert!(received.is_empty(), "{} messages were sent", received.len());
}

#[test]
fn a_full_producer_queue_makes_send_wait_and_loses_nothing() {
    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    // A queue of 50 messages against batches of 1,000: send must wait for room again and again.
    let sent = publish(
        &format!(
            "{{ brokers: '{brokers}', topic: SMALL_QUEUE, producer: {{ queue.buffering.max.messages: '50', linger.ms: '1' }} }}"
        ),
        &facts(2),
        3_000,
        2,
    );
    let received = kafka::read_topic(&brokers, "SMALL_QUEUE", sent.len(), READ_TIMEOUT);
    kafka::assert_replayed(&sent, &received, |m| m.source_partition.unwrap() as i32);
}

#[test]
fn max_messages_per_sec_paces_the_publish() {
    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    let start = std::time::Instant::now();
    let sent = publish(
        &format!("{{ brokers: '{brokers}', topic: PACED, max_messages_per_sec: 2000 }}"),
        &facts(1),
        3_000,
        1,
    );
    let elapsed = start.elapsed();
    // 3,000 at 2,000/s, of which a burst of 200 goes at once: at least 1.4 s.
    assert!(
        elapsed >= Duration::from_millis(1_350),
        "published in {elapsed:?}"
    );
    let received = kafka::read_topic(&brokers, "PACED", sent.len(), READ_TIMEOUT);
    kafka::assert_replayed(&sent, &received, |_| 0);
}

/// An independent check of the key hash: librdkafka's own `murmur2` partitioner (documented as
/// Java-compatible) places each key on the same partition as `partition_for` does.
#[test]
fn key_partitions_agree_with_librdkafkas_java_compatible_murmur2_partitioner() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    create_topic(&brokers, "LIBRDKAFKA_MURMUR2", 7);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("partitioner", "murmur2")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let keys: Vec<String> = (0..500)
        .map(|i| format!("key-{i}-{}", "x".repeat(i % 9)))
        .collect();
    for key in &keys {
        producer
            .send(
                BaseRecord::to("LIBRDKAFKA_MURMUR2")
                    .key(key.as_str())
                    .payload(key.as_str()),
            )
            .expect("enqueue");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    let received = kafka::read_topic(&brokers, "LIBRDKAFKA_MURMUR2", keys.len(), READ_TIMEOUT);
    assert_eq!(received.len(), keys.len());
    for message in &received {
        let ours = camus2kafka::testing::OutMessage {
            key: message.key.clone(),
            ..Default::default()
        };
        assert_eq!(
            partition_for(Partitioning::Key, &ours, 7),
            message.partition,
            "key {:?}",
            String::from_utf8_lossy(message.key.as_deref().unwrap_or_default())
        );
    }
}
