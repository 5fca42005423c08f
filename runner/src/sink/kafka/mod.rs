//! The Kafka sink: publishes the sorted replay to the replay topic with rdkafka, checking every
//! delivery report, so the run succeeds only when every message is acknowledged.
//!
//! - [`config`] — no-loss producer defaults, then the user's `sink.producer` properties on top;
//! - [`admin`] — the replay topic's partitions, created when missing, checked before anything is sent;
//! - [`partitioner`] — `sink.partitioning` (source | single | key with Java's murmur2);
//! - [`delivery`] — delivery reports counted, the first failure remembered;
//! - [`rate`] — `sink.max_messages_per_sec`;
//! - [`provenance`] — the `c2k-*` headers on every message;
//! - [`guard`] — what the replay topic already holds, read before anything is sent: publish,
//!   resume (skip exactly what is there) or refuse;
//! - [`legacy`], [`legacy_guard`], [`zookeeper`] — brokers older than 0.11 (no headers, no
//!   idempotence, before 0.10.1 no CreateTopics): their producer defaults, the guard by a record
//!   in ZooKeeper and the bytes of each partition's last message, topics created in ZooKeeper.
//!
//! The producer is a `BaseProducer` polled from the sending thread: delivery reports are served in
//! between batches and while waiting for room in librdkafka's queue (backpressure: wait, never
//! drop), with no extra thread competing for the CPU with the plugins and the sort.

pub mod account;
pub(crate) mod admin;
pub mod config;
pub mod delivery;
pub mod guard;
pub mod legacy;
pub mod legacy_guard;
pub mod partitioner;
pub mod provenance;
pub(crate) mod rate;
pub mod zookeeper;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::{Sink, SinkReport, SourceFacts};
use crate::config::{Partitioning, Pipeline};
use crate::kafka;
use crate::record::OutMessage;
use guard::Resume;
use provenance::Provenance;

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

/// What a connection failure of the sink's clients adds: they are all made before the archive's
/// records are read, and before anything is sent.
const NOTHING_SENT: &str = "checked before reading the archive's records: nothing was sent";

/// The most messages held while the last messages of an old broker's partitions are compared
/// (each partition is still checked before anything is sent to it past that).
const HOLD_LIMIT: usize = 100_000;

/// How long the guard may take to read one replay partition's end, and a transactional producer
/// to start (a broker without transactions must fail, not hang).
const BROKER_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// `None` with `sink.provenance: false`.
    provenance: Option<Provenance>,
    /// Where each message's provenance numbers are formatted.
    numbers: provenance::Numbers,
    /// The next message's `c2k-seq`, per replay partition.
    next_seq: Vec<u64>,
    /// Messages of this replay the topic already held, per partition (skipped, not sent again).
    resume: Resume,
    /// Messages produced by the replay that were found already in the topic.
    skipped: u64,
    /// With `sink.transactions`: messages per transaction, and how many the open one holds.
    transaction: Option<Transaction>,
    /// Per partition, the offset `c2k-seq` 0 has (or will have) in the topic, as the guard found
    /// it: every acknowledged message must sit at `base + c2k-seq`, which is how a batch the
    /// brokers wrote twice is caught (`None` where transaction markers make offsets uncountable).
    base_offsets: Vec<Option<i64>>,
    /// Brokers older than 0.11: no headers at all (`None` on current brokers).
    legacy: Option<legacy::Legacy>,
    /// Old brokers: per partition, the last message the topic holds, compared with this replay's
    /// message at that position before anything more is sent to the partition.
    expected: Vec<Option<legacy_guard::Expected>>,
    /// Whether a failed run can be continued with `--resume`.
    resumable: bool,
    /// Old brokers, resumed: messages held until every partition's last message is compared.
    holding: bool,
    held: Vec<(OutMessage, i32, u64)>,
}

struct Transaction {
    size: u64,
    open: u64,
}

impl KafkaSink {
    /// Creates the replay topic if needed (checking an existing one has enough partitions), then
    /// the producer.
    pub fn open(pipeline: &Pipeline, facts: &SourceFacts) -> Result<Box<dyn Sink>> {
        Ok(Box::new(KafkaSink::connect(pipeline, facts)?))
    }

    /// [`KafkaSink::open`], typed; a new replay (`--resume` not given).
    pub fn connect(pipeline: &Pipeline, facts: &SourceFacts) -> Result<KafkaSink> {
        KafkaSink::connect_resuming(pipeline, facts, false)
    }

    /// Creates the replay topic if needed, starts the producer (a transactional one fences and
    /// aborts a dead run's open transaction), then reads what the topic holds ([`guard`]): with
    /// `resume`, this replay's messages already there are skipped; anything else is refused.
    pub fn connect_resuming(
        pipeline: &Pipeline,
        facts: &SourceFacts,
        resume: bool,
    ) -> Result<KafkaSink> {
        let sink = pipeline.kafka_sink()?;
        let brokers = config::brokers(sink)?.to_string();
        let plan = plan_topic(pipeline, facts)?;
        let legacy = legacy::detect(sink);
        if let Some(old) = &legacy {
            if sink.transactions {
                bail!(
                    "sink.transactions: true needs brokers of Kafka 0.11 or later, and sink.producer \
                     says they are older (broker.version.fallback: {}); nothing was sent. Set \
                     sink.transactions: false",
                    old.fallback
                );
            }
            eprintln!("{}", legacy::notice(old, sink.zookeeper.is_some()));
        } else if sink.zookeeper.is_some() {
            eprintln!(
                "c2k: warning: sink.zookeeper is set, but sink.producer does not say the brokers \
                 are older than 0.11 (api.version.request: false, broker.version.fallback): it is \
                 not used; the replay is guarded by its c2k-* headers"
            );
        }
        let creation = match (&legacy, &sink.zookeeper) {
            (Some(old), Some(connect)) if !old.create_topics => {
                admin::Creation::ZooKeeper(connect.clone())
            }
            (Some(old), None) if !old.create_topics => {
                admin::Creation::Refused(old.fallback.clone())
            }
            _ => admin::Creation::Admin,
        };
        let origin = config::origin(sink, "the admin client of the replay topic")?;
        let admin = admin::connect(&config::admin_config(sink)?, &origin).context(NOTHING_SENT)?;
        let partitions = admin::ensure_topic(&admin, &plan, &origin, &creation)?;
        kafka::close_aside(admin);
        let identity =
            crate::identity::replay_identity(&facts.content, sink.partitioning, partitions);
        let mut producer_config = config::producer_config(sink)?;
        if sink.transactions && !sink.producer.contains_key("transactional.id") {
            producer_config.set("transactional.id", transactional_id(&identity, facts));
        }
        let origin = config::origin(sink, "the replay producer")?;
        let producer: BaseProducer<DeliveryContext> =
            kafka::create(&producer_config, DeliveryContext::default(), &origin)?;
        kafka::probe(
            producer.client(),
            |wait| producer.poll(wait),
            &producer_config,
            &origin,
            BROKER_TIMEOUT,
        )
        .context(NOTHING_SENT)?;
        if sink.transactions {
            producer
                .init_transactions(BROKER_TIMEOUT)
                .with_context(|| {
                    format!(
                    "cannot start a transactional producer on {brokers} (sink.transactions: true): \
                     the brokers must support transactions (Apache Kafka 0.11 or later, with a \
                     transaction state log they can write)"
                )
                })?;
        }
        tracing::debug!(destination = %origin.brokers, "producer connected");
        let ends = guard::read_ends(
            config::admin_config(sink)?,
            &config::origin(sink, "the reader of the replay topic")?,
            &plan.topic,
            partitions,
            sink.transactions,
            BROKER_TIMEOUT,
        )
        .with_context(|| format!("cannot read what replay topic {} holds", plan.topic))?;
        tracing::debug!(topic = %plan.topic, "the replay topic's ends read back");
        let mut base_offsets = ends
            .iter()
            .map(|end| match (&end.last, sink.transactions) {
                (_, true) => None,
                (None, false) => Some(end.low),
                (Some(last), false) => last.seq.map(|seq| last.offset - seq as i64),
            })
            .collect();
        let mut expected = vec![None; partitions as usize];
        let mut resume = match (&legacy, sink.provenance) {
            (None, true) => {
                guard::decide(&plan.topic, &identity, &ends, resume, !sink.transactions)?
            }
            (_, false) => guard::decide_without_provenance(&plan.topic, &ends, resume)?,
            (Some(_), true) => {
                let record = match &sink.zookeeper {
                    Some(connect) => zookeeper::read_record(connect, &plan.topic)?,
                    None => None,
                };
                let decided = legacy_guard::decide(
                    &plan.topic,
                    &identity,
                    &ends,
                    sink.zookeeper.is_some(),
                    record.as_ref(),
                    resume,
                )?;
                if let (Some(record), Some(connect)) = (&decided.record, &sink.zookeeper) {
                    zookeeper::write_record(connect, &plan.topic, record)?;
                }
                base_offsets = decided.base_offsets.into_iter().map(Some).collect();
                expected = decided.expected;
                decided.resume
            }
        };
        if let Some(only) = &facts.only_partitions {
            // A shard: the other shards' partitions are theirs, filling or full.
            for (partition, present) in resume.present.iter_mut().enumerate() {
                if !only.contains(&(partition as i32)) {
                    *present = 0;
                }
            }
        }
        if resume.total() > 0 {
            tracing::info!(
                topic = plan.topic,
                present = resume.total(),
                "resuming: messages of this replay already in the topic are skipped"
            );
        }
        let transaction = if sink.transactions {
            producer
                .begin_transaction()
                .with_context(|| format!("cannot begin a transaction on {brokers}"))?;
            Some(Transaction {
                size: sink.transaction_messages.max(1),
                open: 0,
            })
        } else {
            None
        };
        Ok(KafkaSink {
            producer,
            destination: format!("kafka {}@{brokers}", plan.topic),
            topic: plan.topic,
            partitioning: sink.partitioning,
            partitions,
            rate: sink.max_messages_per_sec.and_then(RateLimiter::new),
            delivery_timeout: sink.delivery_timeout.duration(),
            sent: 0,
            numbers: provenance::Numbers::default(),
            provenance: sink
                .provenance
                .then(|| Provenance::new(identity, facts.files.clone())),
            next_seq: vec![0; partitions as usize],
            resume,
            skipped: 0,
            transaction,
            base_offsets,
            resumable: sink.provenance && (legacy.is_none() || sink.zookeeper.is_some()),
            legacy,
            holding: expected.iter().any(Option::is_some),
            held: Vec::new(),
            expected,
        })
    }

    /// For `--dry-run`: what the replay topic holds and what a run would do, without sending.
    pub fn look(pipeline: &Pipeline, facts: &SourceFacts) -> Result<String> {
        let sink = pipeline.kafka_sink()?;
        let topic = pipeline.replay_topic();
        let legacy = legacy::detect(sink);
        // Old brokers: the record of the replay, read once (an unreadable one is said).
        let record = match (&legacy, &sink.zookeeper) {
            (Some(_), Some(connect)) => match zookeeper::read_record(connect, &topic) {
                Ok(record) => record,
                Err(e) => return Ok(format!("could not look at replay topic {topic}: {e:#}")),
            },
            _ => None,
        };
        let decide = |ends: &[guard::PartitionEnd], identity: &str, resume: bool| match (
            &legacy,
            sink.provenance,
        ) {
            (_, false) => guard::decide_without_provenance(&topic, ends, resume),
            (None, true) => guard::decide(&topic, identity, ends, resume, !sink.transactions),
            (Some(_), true) => legacy_guard::decide(
                &topic,
                identity,
                ends,
                sink.zookeeper.is_some(),
                record.as_ref(),
                resume,
            )
            .map(|plan| plan.resume),
        };
        Ok(guard::look(
            config::admin_config(sink)?,
            &config::origin(sink, "the reader of the replay topic")?,
            &topic,
            |partitions| {
                crate::identity::replay_identity(&facts.content, sink.partitioning, partitions)
            },
            decide,
            sink.transactions,
        ))
    }

    /// Messages of this replay the topic held before this run, in all partitions.
    pub fn already_present(&self) -> u64 {
        self.resume.total()
    }

    /// The replay's identity (the `c2k-replay` header), unless provenance is off.
    pub fn identity(&self) -> Option<&str> {
        self.provenance.as_ref().map(Provenance::identity)
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

    /// Hands one message to librdkafka, waiting while its queue is full — unless the topic already
    /// holds it (a resumed replay), when it is counted and skipped.
    ///
    /// Old brokers, resumed: while some partition's last message is still to be compared
    /// ([`legacy_guard`]), the messages to send are held (up to [`HOLD_LIMIT`]), so that a
    /// difference found is refused with nothing sent at all.
    fn send_one(&mut self, message: OutMessage) -> Result<()> {
        let partition = partition_for(self.partitioning, &message, self.partitions);
        let slot = partition as usize;
        let seq = self.next_seq[slot];
        self.next_seq[slot] += 1;
        if seq < self.resume.present.get(slot).copied().unwrap_or(0) {
            if let Some(expected) = self.expected[slot].take_if(|e| e.seq == seq) {
                legacy_guard::check(
                    &self.topic,
                    partition,
                    &expected,
                    message.key.as_deref(),
                    &message.value,
                )?;
                if self.expected.iter().all(Option::is_none) {
                    self.release()?;
                }
            }
            self.skipped += 1;
            return Ok(());
        }
        if self.holding {
            if self.held.len() < HOLD_LIMIT {
                self.held.push((message, partition, seq));
                return Ok(());
            }
            tracing::info!(
                held = self.held.len(),
                "publishing the held messages before every partition's last message was compared"
            );
            self.release()?;
        }
        self.publish(&message, partition, seq)
    }

    /// Publishes the held messages, in order, and stops holding.
    fn release(&mut self) -> Result<()> {
        self.holding = false;
        for (message, partition, seq) in std::mem::take(&mut self.held) {
            self.publish(&message, partition, seq)?;
        }
        Ok(())
    }

    /// Hands `message`, the `seq`-th of `partition`, to librdkafka, waiting while its queue is
    /// full.
    fn publish(&mut self, message: &OutMessage, partition: i32, seq: u64) -> Result<()> {
        if let Some(rate) = &mut self.rate {
            let wait = rate.admit(Instant::now());
            if !wait.is_zero() {
                self.producer.poll(wait);
            }
        }
        let sequence = self.sent;
        let provenance = match (&self.provenance, &self.legacy) {
            (Some(p), None) => p.headers(message, seq, &mut self.numbers),
            _ => provenance::Headers::default(),
        };
        if self.legacy.is_some() && !message.headers.is_empty() {
            bail!(
                "the format plugin gives message #{sequence} headers ({}), which brokers older \
                 than Kafka 0.11 cannot store (sink.producer broker.version.fallback); use a \
                 format without headers",
                message
                    .headers
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let mut record =
            BaseRecord::<[u8], [u8], usize>::with_opaque_to(&self.topic, sequence as usize)
                .payload(&message.value[..])
                .partition(partition);
        if let Some(key) = &message.key {
            record = record.key(key.as_slice());
        }
        if let Some(timestamp) = message.timestamp_ms {
            record = record.timestamp(timestamp);
        }
        if !message.headers.is_empty() || !provenance.is_empty() {
            record = record.headers(headers(&message.headers, &provenance));
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
        if let Some(transaction) = &mut self.transaction {
            transaction.open += 1;
            if transaction.open >= transaction.size {
                transaction.open = 0;
                self.commit_transaction()?;
                self.producer.begin_transaction().with_context(|| {
                    format!("cannot begin a transaction on {}", self.destination)
                })?;
            }
        }
        Ok(())
    }

    /// Every partition's last acknowledged message must sit at `base + c2k-seq`: more offsets than
    /// messages means the brokers stored a retried batch twice (seen after a broker's `kill -9`
    /// and restart). Loud, and before any offset is committed: the topic is not a faithful replay.
    fn check_offsets(&self, deliveries: &delivery::Deliveries) -> Result<()> {
        let mut problems = Vec::new();
        for (partition, base) in self.base_offsets.iter().enumerate() {
            let (Some(base), Some(&last)) = (base, deliveries.last_offsets.get(partition)) else {
                continue;
            };
            let sent_to = self.next_seq[partition];
            if last < 0 || sent_to == 0 {
                continue;
            }
            let expected = base + sent_to as i64 - 1;
            if last != expected {
                problems.push(format!(
                    "partition {partition}: its last message is at offset {last}, where c2k-seq {} \
                     belongs at {expected} ({} more offsets than messages)",
                    sent_to - 1,
                    last - expected
                ));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        bail!(
            "publishing to {} delivered every message, but the topic holds more than the replay \
             sent — the brokers stored a retried batch twice: {}. Offsets not committed. Delete the \
             replay topic and run again (sink.transactions: true keeps read_committed consumers \
             from ever seeing such duplicates)",
            self.destination,
            problems.join("; ")
        )
    }

    /// Commits the open transaction (which waits for its messages' acknowledgements).
    ///
    /// A broker may start a transactional producer and take its messages yet not implement
    /// transactions (tansu: InitProducerId yes, EndTxn no); only the commit tells, and by then the
    /// messages are in the topic, never committed. The error says so, and what to do.
    fn commit_transaction(&self) -> Result<()> {
        self.producer
            .commit_transaction(self.delivery_timeout)
            .map_err(|error| {
                let context = format!(
                    "cannot commit a transaction to {} (sink.transactions: true); {}",
                    self.destination,
                    self.producer.context().deliveries().describe(self.sent)
                );
                if error.rdkafka_error_code() == Some(RDKafkaErrorCode::UnsupportedFeature) {
                    anyhow::anyhow!(
                        "{context}: {error}\nThe brokers do not support transactions: the \
                         messages delivered are in the topic in a transaction that can never be \
                         committed (read_uncommitted consumers see them, read_committed ones may \
                         not). Delete the replay topic and run again with sink.transactions: false."
                    )
                } else {
                    anyhow::Error::new(error).context(context)
                }
            })
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

/// `c2k-<replay identity>`: a resumed run fences the dead run's producer. The shards of a sharded
/// replay share the identity but not their partitions, so each has its own id (with its
/// partitions): shards never fence each other, and a shard's retry fences its dead attempt.
fn transactional_id(identity: &str, facts: &SourceFacts) -> String {
    match &facts.only_partitions {
        None => format!("c2k-{identity}"),
        Some(partitions) => {
            let partitions: Vec<String> = partitions.iter().map(i32::to_string).collect();
            format!("c2k-{identity}-p{}", partitions.join("-"))
        }
    }
}

/// The format plugin's headers, then c2k's provenance headers.
fn headers(own: &[(String, Vec<u8>)], provenance: &provenance::Headers<'_>) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(own.len() + provenance.len());
    for (key, value) in own {
        headers = headers.insert(Header {
            key: key.as_str(),
            value: Some(value.as_slice()),
        });
    }
    for (key, value) in provenance.iter() {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    headers
}

impl Sink for KafkaSink {
    fn already_present(&self) -> u64 {
        self.resume.total()
    }

    fn send(&mut self, batch: Vec<OutMessage>) -> Result<()> {
        for message in batch {
            self.send_one(message)?;
        }
        // Serve the delivery reports that are ready, without waiting.
        self.producer.poll(Duration::ZERO);
        self.check_no_failure()
    }

    fn finish(mut self: Box<Self>) -> Result<SinkReport> {
        if let Some((partition, expected)) = self
            .expected
            .iter()
            .enumerate()
            .find_map(|(p, e)| e.as_ref().map(|e| (p, e)))
        {
            return Err(guard::TopicRefused(format!(
                "replay topic {} partition {partition} holds {} messages from offset {} on, more \
                 than this replay produces for it ({}): it is not this replay. Offsets not \
                 committed; {}. Publish into an empty topic.",
                self.topic,
                expected.seq + 1,
                expected.offset - expected.seq as i64,
                self.next_seq[partition],
                if self.sent == 0 {
                    "nothing was sent"
                } else {
                    "messages were sent to other partitions"
                }
            ))
            .into());
        }
        self.release()?;
        if self.transaction.is_some() {
            self.commit_transaction()?;
        }
        let flushed = self.producer.flush(self.delivery_timeout);
        let deliveries = self.producer.context().deliveries();
        if deliveries.delivered == self.sent && deliveries.failed == 0 {
            self.check_offsets(&deliveries)?;
            return Ok(SinkReport {
                delivered: deliveries.delivered + self.skipped,
                already_present: self.skipped,
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
            "publishing to {} failed: {}{waited}{}",
            self.destination,
            deliveries.describe(self.sent),
            resume_hint(self.resumable)
        )
    }
}

/// What to do after a failed publish: the topic tells a rerun what was delivered.
fn resume_hint(provenance: bool) -> &'static str {
    if provenance {
        "; `c2k run --resume` publishes exactly what is missing"
    } else {
        ""
    }
}
