//! The Kafka sink: publishes the sorted replay to the replay topic with rdkafka, checking every
//! delivery report, so the run succeeds only when every message is acknowledged.
//!
//! - [`config`] — no-loss producer defaults, then the user's `sink.producer` properties on top;
//! - [`admin`] — the replay topic's partitions, created when missing, checked before anything is sent;
//! - [`partitioner`] — `sink.partitioning` (source | single | key with Java's murmur2);
//! - [`delivery`] — delivery reports counted, the first failure remembered;
//! - [`rate`] — `sink.max_messages_per_sec`.
//!
//! The producer is a `BaseProducer` polled from the sending thread: delivery reports are served in
//! between batches and while waiting for room in librdkafka's queue (backpressure: wait, never
//! drop), with no extra thread competing for the CPU with the plugins and the sort.

pub mod admin;
pub mod config;
pub mod delivery;
pub mod partitioner;
pub mod rate;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::{Sink, SinkReport, SourceFacts};
use crate::config::{Partitioning, Pipeline};
use crate::record::OutMessage;

pub use admin::{plan_topic, TopicPlan};
pub use partitioner::{murmur2, partition_for};

use delivery::DeliveryContext;
use rate::RateLimiter;

/// How long to serve delivery reports before trying again when librdkafka's queue is full.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(5);

/// Serve ready delivery reports every this many messages. One poll serves one event (a whole
/// produce response's worth of reports), so this keeps up with any batch size worth having, at
/// a negligible cost per message.
const POLL_EVERY: u64 = 256;

pub struct KafkaSink {
    producer: BaseProducer<DeliveryContext>,
    topic: String,
    destination: String,
    partitioning: Partitioning,
    partitions: i32,
    rate: Option<RateLimiter>,
    delivery_timeout: Duration,
    /// Messages handed to librdkafka so far; also the next message's sequence number.
    sent: u64,
}

impl KafkaSink {
    /// Creates the replay topic if needed (checking an existing one has enough partitions), then
    /// the producer.
    pub fn open(pipeline: &Pipeline, facts: &SourceFacts) -> Result<Box<dyn Sink>> {
        Ok(Box::new(KafkaSink::connect(pipeline, facts)?))
    }

    /// [`KafkaSink::open`], typed.
    pub fn connect(pipeline: &Pipeline, facts: &SourceFacts) -> Result<KafkaSink> {
        let sink = pipeline.kafka_sink()?;
        let brokers = config::brokers(sink)?.to_string();
        let plan = plan_topic(pipeline, facts)?;
        let admin: AdminClient<DefaultClientContext> = config::admin_config(sink)?
            .create()
            .with_context(|| format!("cannot create a Kafka admin client for {brokers}"))?;
        let partitions = admin::ensure_topic(&admin, &plan, &brokers)?;
        drop(admin);
        let producer: BaseProducer<DeliveryContext> = config::producer_config(sink)?
            .create_with_context(DeliveryContext::default())
            .with_context(|| {
                format!("cannot create a Kafka producer for {brokers} (check sink.producer)")
            })?;
        Ok(KafkaSink {
            producer,
            destination: format!("kafka {}@{brokers}", plan.topic),
            topic: plan.topic,
            partitioning: sink.partitioning,
            partitions,
            rate: sink.max_messages_per_sec.and_then(RateLimiter::new),
            delivery_timeout: sink.delivery_timeout.duration(),
            sent: 0,
        })
    }

    /// Partitions of the replay topic (as found or created).
    pub fn partitions(&self) -> i32 {
        self.partitions
    }

    /// Serves the delivery reports that are ready and returns the counts so far (for progress,
    /// and for tests that wait for acknowledgements).
    pub fn deliveries(&self) -> delivery::Deliveries {
        self.producer.poll(Duration::ZERO);
        self.producer.context().deliveries()
    }

    /// Hands one message to librdkafka, waiting while its queue is full.
    fn send_one(&mut self, message: &OutMessage) -> Result<()> {
        if let Some(rate) = &mut self.rate {
            let wait = rate.admit(Instant::now());
            if !wait.is_zero() {
                self.producer.poll(wait);
            }
        }
        let partition = partition_for(self.partitioning, message, self.partitions);
        let sequence = self.sent;
        let mut record =
            BaseRecord::<[u8], [u8], usize>::with_opaque_to(&self.topic, sequence as usize)
                .payload(message.value.as_slice())
                .partition(partition);
        if let Some(key) = &message.key {
            record = record.key(key.as_slice());
        }
        if let Some(timestamp) = message.timestamp_ms {
            record = record.timestamp(timestamp);
        }
        if !message.headers.is_empty() {
            record = record.headers(headers(&message.headers));
        }
        let mut waiting_since: Option<(Instant, u64)> = None;
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(QUEUE_FULL_WAIT);
                    self.check_no_failure()?;
                    waiting_since = self.check_progress(waiting_since)?;
                }
                Err((error, _)) => bail!(
                    "cannot send message #{sequence} of the replay to {} partition {partition}: {error}",
                    self.destination
                ),
            }
        }
        self.sent += 1;
        if self.sent % POLL_EVERY == 0 {
            self.producer.poll(Duration::ZERO);
        }
        Ok(())
    }

    /// Fails as soon as a delivery has failed: with the idempotent producer, what follows on that
    /// partition fails too, and there is no point publishing the rest.
    fn check_no_failure(&self) -> Result<()> {
        let (_, failed) = self.producer.context().progress();
        if failed {
            bail!(
                "publishing to {} failed: {}",
                self.destination,
                self.producer.context().deliveries().describe(self.sent)
            );
        }
        Ok(())
    }

    /// While the queue is full, fails if no delivery report at all arrived for `delivery_timeout`
    /// (the brokers are unreachable): waiting forever would hang the run.
    fn check_progress(&self, since: Option<(Instant, u64)>) -> Result<Option<(Instant, u64)>> {
        let (reported, _) = self.producer.context().progress();
        match since {
            Some((start, seen)) if seen == reported => {
                if start.elapsed() >= self.delivery_timeout {
                    bail!(
                        "publishing to {} stalled: no delivery report for {:?} while librdkafka's \
                         queue is full; {}",
                        self.destination,
                        self.delivery_timeout,
                        self.producer.context().deliveries().describe(self.sent)
                    );
                }
                Ok(since)
            }
            _ => Ok(Some((Instant::now(), reported))),
        }
    }
}

fn headers(headers: &[(String, Vec<u8>)]) -> OwnedHeaders {
    headers.iter().fold(
        OwnedHeaders::new_with_capacity(headers.len()),
        |all, (key, value)| {
            all.insert(Header {
                key: key.as_str(),
                value: Some(value.as_slice()),
            })
        },
    )
}

impl Sink for KafkaSink {
    fn send(&mut self, batch: Vec<OutMessage>) -> Result<()> {
        for message in &batch {
            self.send_one(message)?;
        }
        // Serve the delivery reports that are ready, without waiting.
        self.producer.poll(Duration::ZERO);
        self.check_no_failure()
    }

    fn finish(self: Box<Self>) -> Result<SinkReport> {
        let flushed = self.producer.flush(self.delivery_timeout);
        let deliveries = self.producer.context().deliveries();
        if deliveries.delivered == self.sent && deliveries.failed == 0 {
            return Ok(SinkReport {
                delivered: deliveries.delivered,
                bytes: deliveries.bytes,
                destination: self.destination.clone(),
            });
        }
        let outstanding = self.sent - deliveries.reported().min(self.sent);
        let waited = match flushed {
            Err(_) if outstanding > 0 => format!(
                "; {outstanding} still unacknowledged after waiting sink.delivery_timeout ({:?})",
                self.delivery_timeout
            ),
            _ => String::new(),
        };
        bail!(
            "publishing to {} failed: {}{waited}",
            self.destination,
            deliveries.describe(self.sent)
        )
    }
}
