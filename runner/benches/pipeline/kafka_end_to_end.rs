//! `c2k run` into a real broker against a bare rdkafka producer sending the same messages, in the
//! same run, for each format. The c2k figure is the whole replay (read, key, sort, format, publish,
//! wait for every acknowledgement), timed as a child process; the messages it published are then
//! read back from the topic, untimed, put back in the replay's order (by timestamp, each
//! partition's order kept) and sent again by a bare `BaseProducer` with c2k's own producer
//! configuration into a fresh topic with as many partitions, each to its partition, with its key,
//! headers and timestamp. The ratio is c2k's rate over the bare producer's.

use camus2kafka::testing::producer_config;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camus2kafka::testing::KafkaSink;
use camus2kafka::testing::SourceFacts;
use camus2kafka::Pipeline;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::counting::Counting;
use crate::end_to_end::{self, Layout};
use crate::formats::Format;

/// One format's comparison.
pub struct Comparison {
    pub records: u64,
    pub partitions: u32,
    pub c2k_seconds: f64,
    pub bare_seconds: f64,
    /// c2k's rate over the bare producer's (the target is at least 0.8).
    pub ratio: f64,
}

/// A message as read back from the replay topic.
struct Published {
    partition: i32,
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp_ms: Option<i64>,
}

const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// `c2k run` with `format` into a new topic of `brokers`, then the bare producer with its
/// messages; both topics are deleted afterwards.
pub fn compare(
    c2k: &Path,
    pipeline: &Path,
    layout: &Layout,
    brokers: &str,
    format: &Format,
    label: &str,
) -> Result<Comparison> {
    let c2k_topic = format!("BENCH_C2K_{label}");
    let bare_topic = format!("BENCH_BARE_{label}");
    delete_topics(brokers, &[&c2k_topic, &bare_topic]);
    let topic_set = format!("sink.topic={c2k_topic}");
    let mut sets: Vec<&str> = format.sets.to_vec();
    sets.push(&topic_set);
    let run = end_to_end::run(c2k, pipeline, layout, &format!("kafka-{label}"), &sets)
        .context("c2k run into the broker")?;
    let c2k_seconds = run.measured.elapsed.as_secs_f64();
    if run.records_out != run.records_in {
        bail!(
            "c2k published {} of {} records",
            run.records_out,
            run.records_in
        );
    }
    let mut messages = read_back(brokers, &c2k_topic, run.records_out)?;
    // Read back, the messages come partition by partition; c2k sent them in the replay's order,
    // by time across every partition, which batches worse. The bare producer sends them in that
    // same order (by timestamp, each partition's own order kept), or it would measure an easier
    // job than c2k's.
    messages.sort_by_key(|m| m.timestamp_ms);
    let partitions = messages.iter().map(|m| m.partition).max().unwrap_or(0) as u32 + 1;
    let loaded = Pipeline::load(pipeline, &[format!("sink.topic={bare_topic}")])?;
    let bare_seconds = bare(&loaded, &bare_topic, partitions, &messages)?;
    delete_topics(brokers, &[&c2k_topic, &bare_topic]);
    Ok(Comparison {
        records: run.records_out,
        partitions,
        c2k_seconds,
        bare_seconds,
        ratio: bare_seconds / c2k_seconds,
    })
}

/// Every message of `topic`, partition by partition from the start to the high watermark.
fn read_back(brokers: &str, topic: &str, expected: u64) -> Result<Vec<Published>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "c2k-bench-read-back")
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .create()
        .context("read-back consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .with_context(|| format!("metadata of {topic}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut assignment = TopicPartitionList::new();
    let mut remaining = 0u64;
    let mut ends = std::collections::BTreeMap::new();
    for &p in &partitions {
        let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(30))?;
        ends.insert(p, high);
        remaining += high.max(0) as u64;
        assignment.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    if remaining != expected {
        bail!("{topic} holds {remaining} messages, c2k said it published {expected}");
    }
    consumer.assign(&assignment)?;
    let mut messages = Vec::with_capacity(expected as usize);
    let deadline = Instant::now() + READ_TIMEOUT;
    while (messages.len() as u64) < expected {
        if Instant::now() > deadline {
            bail!(
                "read back {} of {expected} messages of {topic} in {READ_TIMEOUT:?}",
                messages.len()
            );
        }
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = message.with_context(|| format!("reading {topic} back"))?;
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        messages.push(Published {
            partition: message.partition(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().unwrap_or_default().to_vec(),
            headers,
            timestamp_ms: message.timestamp().to_millis(),
        });
    }
    Ok(messages)
}

/// The bare producer: c2k's producer configuration, the topic created (by a `KafkaSink` that
/// sends nothing) before the clock starts, every message to its partition, polled as a
/// well-written producer loop is; the seconds from the first send to the last acknowledgement.
fn bare(pipeline: &Pipeline, topic: &str, partitions: u32, messages: &[Published]) -> Result<f64> {
    let facts = SourceFacts {
        partitions: (0..partitions).collect(),
        ..Default::default()
    };
    KafkaSink::open(pipeline, &facts)?.finish()?;
    let producer: BaseProducer<Counting> = producer_config(pipeline.kafka_sink()?)?
        .create_with_context(Counting::default())
        .context("bare producer")?;
    let start = Instant::now();
    for (i, message) in messages.iter().enumerate() {
        if i % 256 == 0 {
            producer.poll(Duration::ZERO);
        }
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
        for (key, value) in &message.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_slice()),
            });
        }
        let mut record = BaseRecord::<[u8], [u8], ()>::to(topic)
            .payload(message.value.as_slice())
            .partition(message.partition)
            .headers(headers);
        if let Some(key) = &message.key {
            record = record.key(key.as_slice());
        }
        if let Some(timestamp) = message.timestamp_ms {
            record = record.timestamp(timestamp);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => bail!("bare send: {e}"),
            }
        }
    }
    producer
        .flush(Duration::from_secs(300))
        .context("bare producer flush")?;
    let elapsed = start.elapsed().as_secs_f64();
    let context = producer.context();
    let delivered = context.delivered();
    if delivered != messages.len() as u64 {
        bail!(
            "the bare producer delivered {delivered} of {} ({} failed)",
            messages.len(),
            context.failed()
        );
    }
    Ok(elapsed)
}

/// Deletes `topics` if they exist, so a rerun of the benchmark starts from empty topics and the
/// broker's disk does not fill; failures (a topic that is not there) do not matter.
fn delete_topics(brokers: &str, topics: &[&str]) {
    let admin: Result<AdminClient<DefaultClientContext>, _> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create();
    let Ok(admin) = admin else { return };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let _ = runtime.block_on(admin.delete_topics(topics, &options));
    // Deletion is asynchronous on the broker: give it a moment before the name is used again.
    std::thread::sleep(Duration::from_secs(2));
}
