//! Helpers for the live-topic tests: a Camus history with given cut-offs, the original topic made
//! on a real broker (created, filled, trimmed with DeleteRecords), a consumer of the group running
//! on a thread of its own, and what old (ZooKeeper) consumers and brokers register in ZooKeeper.
//! Every wait is bounded.

use camus2kafka::testing::write_sample_history;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use camus2kafka::testing::SampleCutoff;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use zookeeper_client::{Acls, Client, CreateMode};

/// How long any one server conversation of these helpers may take.
const WAIT: Duration = Duration::from_secs(30);

/// Writes a Camus history (our own writer) whose newest run resumes partition `i` of
/// `PAGE_VIEWS` at `cutoffs[i]`.
pub fn history(exec: &Path, cutoffs: &[i64]) {
    let cutoffs: Vec<SampleCutoff> = cutoffs
        .iter()
        .enumerate()
        .map(|(partition, &cutoff)| SampleCutoff {
            partition: partition as u32,
            leader: 1,
            first_offset: 0,
            last_offset: u64::try_from(cutoff - 1).expect("a cut-off above 0"),
            time_ms: 1_705_312_800_000,
            file_ends: Vec::new(),
        })
        .collect();
    write_sample_history(exec, "PAGE_VIEWS", &cutoffs).expect("write the Camus history");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Creates `topic` with `partitions` partitions through the admin API (3.3.2, tansu).
pub fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("an admin client");
    let results = runtime()
        .block_on(async {
            tokio::time::timeout(
                WAIT,
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

/// Produces `counts[i]` messages to partition `i` of `topic`, and waits until each partition's
/// high watermark says so (a broker's ListOffsets may lag behind its produce acknowledgements).
/// `config` says how to reach the broker (`ApacheKafka::client_config` for 0.8).
pub fn produce(config: &ClientConfig, topic: &str, counts: &[i64]) {
    let mut config = config.clone();
    let producer: BaseProducer = config
        .set("enable.idempotence", "false")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("a producer");
    for (partition, &count) in counts.iter().enumerate() {
        for i in 0..count {
            let value = format!("live message {i} of partition {partition}");
            let mut record = BaseRecord::<(), String>::to(topic)
                .partition(partition as i32)
                .payload(&value);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((e, back)) => {
                        assert!(
                            matches!(
                                e.rdkafka_error_code(),
                                Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                            ),
                            "produce to {topic}/{partition}: {e}"
                        );
                        producer.poll(Duration::from_millis(50));
                        record = back;
                    }
                }
            }
        }
    }
    producer
        .flush(WAIT)
        .expect("every message delivered in time");
    assert_eq!(producer.in_flight_count(), 0, "undelivered messages");
    let reader: BaseConsumer = config.create().expect("a watermark reader");
    let deadline = Instant::now() + WAIT;
    for (partition, &count) in counts.iter().enumerate() {
        loop {
            let high = reader
                .fetch_watermarks(topic, partition as i32, Duration::from_secs(10))
                .map(|(_, high)| high)
                .unwrap_or(-1);
            if high == count {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{topic}/{partition}: high watermark {high}, {count} produced"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Deletes the records of `topic` before `before[i]` in partition `i` (`None`: leaves it), as
/// retention would, through DeleteRecords; returns the new log start offsets.
pub fn delete_records(brokers: &str, topic: &str, before: &[Option<i64>]) -> Vec<(i32, i64)> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("an admin client");
    let mut offsets = TopicPartitionList::new();
    for (partition, offset) in before.iter().enumerate() {
        if let Some(offset) = offset {
            offsets
                .add_partition_offset(topic, partition as i32, Offset::Offset(*offset))
                .expect("a partition offset");
        }
    }
    let result = runtime()
        .block_on(async {
            tokio::time::timeout(
                WAIT,
                admin.delete_records(
                    &offsets,
                    &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
                ),
            )
            .await
        })
        .expect("delete_records in time")
        .expect("delete_records");
    result
        .elements()
        .iter()
        .map(|e| {
            assert!(
                e.error().is_ok(),
                "delete records of {topic}/{}: {:?}",
                e.partition(),
                e.error()
            );
            match e.offset() {
                Offset::Offset(low) => (e.partition(), low),
                other => panic!("delete records of {topic}/{}: {other:?}", e.partition()),
            }
        })
        .collect()
}

/// The group's committed offsets of `topic`'s first `partitions` partitions, read by a separate
/// consumer of that group (`Offset::Invalid` where none).
pub fn committed(brokers: &str, group: &str, topic: &str, partitions: i32) -> Vec<Offset> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    // A coordinator just elected (a fresh broker) answers NotCoordinator for a moment.
    let deadline = Instant::now() + WAIT;
    let got = loop {
        match consumer.committed_offsets(tpl.clone(), Duration::from_secs(20)) {
            Ok(got) => break got,
            Err(e) if Instant::now() < deadline => {
                eprintln!("committed offsets of {group}, again: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("the committed offsets of {group}: {e}"),
        }
    };
    got.elements().iter().map(|e| e.offset()).collect()
}

/// A consumer of `group` subscribed to `topic`, polling on a thread of its own until dropped,
/// as a running application would. It never commits.
pub struct RunningConsumer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RunningConsumer {
    /// Starts it and returns once the group coordinator has given it partitions.
    pub fn start(brokers: &str, group: &str, topic: &str) -> RunningConsumer {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", group)
            .set("client.id", "live-test-consumer")
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .create()
            .expect("a group consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let stop = Arc::new(AtomicBool::new(false));
        let (assigned_tx, assigned_rx) = mpsc::channel();
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut told = false;
            while !stopping.load(Ordering::Relaxed) {
                let _ = consumer.poll(Duration::from_millis(100));
                if !told && consumer.assignment().is_ok_and(|a| a.count() > 0) {
                    let _ = assigned_tx.send(());
                    told = true;
                }
            }
            // Leave the group before the consumer is dropped (rust-rdkafka #509/#611).
            consumer.unsubscribe();
            let _ = consumer.poll(Duration::from_millis(100));
        });
        assigned_rx
            .recv_timeout(WAIT)
            .expect("the consumer got partitions in time");
        RunningConsumer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for RunningConsumer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits until `group` has no member left on the coordinator.
pub fn wait_until_group_is_empty(brokers: &str, group: &str) {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("a client");
    let deadline = Instant::now() + WAIT;
    loop {
        let members = client
            .fetch_group_list(Some(group), Duration::from_secs(10))
            .map(|list| {
                list.groups()
                    .iter()
                    .map(|g| g.members().len())
                    .sum::<usize>()
            })
            .unwrap_or(usize::MAX);
        if members == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "group {group} still has members after {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A ZooKeeper session that keeps ephemeral nodes alive until dropped, as a running old
/// consumer keeps `/consumers/<group>/ids/<id>`.
pub struct ZooKeeperSession {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
}

impl ZooKeeperSession {
    pub fn connect(connect: &str) -> ZooKeeperSession {
        let runtime = runtime();
        let client = runtime
            .block_on(async { tokio::time::timeout(WAIT, Client::connect(connect)).await })
            .expect("connect to ZooKeeper in time")
            .expect("connect to ZooKeeper");
        ZooKeeperSession {
            runtime,
            client: Some(client),
        }
    }

    /// Creates `path` (its parents too, persistent) holding `data`; ephemeral if asked.
    pub fn create(&self, path: &str, data: &[u8], ephemeral: bool) {
        let client = self.client.as_ref().expect("an open session");
        self.runtime.block_on(async {
            let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
            if let Some((parent, _)) = path.rsplit_once('/') {
                if !parent.is_empty() {
                    client.mkdir(parent, &persistent).await.expect("mkdir");
                }
            }
            let mode = if ephemeral {
                CreateMode::Ephemeral.with_acls(Acls::anyone_all())
            } else {
                persistent
            };
            client
                .create(path, data, &mode)
                .await
                .unwrap_or_else(|e| panic!("create {path}: {e}"));
        });
    }
}

impl Drop for ZooKeeperSession {
    fn drop(&mut self) {
        // The last client dropped closes the session, which removes its ephemeral nodes; the
        // runtime runs a little longer so the close request goes out.
        drop(self.client.take());
        self.runtime
            .block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    }
}

/// Waits until `path` has no children in ZooKeeper `connect` (or does not exist).
pub fn wait_until_no_children(connect: &str, path: &str) {
    let deadline = Instant::now() + WAIT;
    while !super::offsets::read_zookeeper_tree(connect, path).is_empty() {
        assert!(
            Instant::now() < deadline,
            "{path} still has children after {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
