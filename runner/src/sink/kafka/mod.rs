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
//! - [`topic`] — the configs c2k creates the replay topic with, and the rules an existing one
//!   must pass (retention, compaction, timestamps, in-sync replicas) before anything is sent;
//! - [`proof`] — after the publish, each partition's log start and end read again: nothing of
//!   the replay may be gone before the run reports success;
//! - [`message_size`] — every message measured against the topic's `max.message.bytes` and the
//!   producer's `message.max.bytes` before it is sent: one too large stops the run, no gap;
//! - [`produce_errors`] — a failed publish's cause and the advice that is true for it;
//! - [`legacy`], [`legacy_guard`], [`zookeeper`] — brokers older than 0.11 (no headers, no
//!   idempotence, before 0.10.1 no CreateTopics): their producer defaults, the guard by a record
//!   in ZooKeeper and the bytes of each partition's last message, topics created in ZooKeeper.
//!
//! The producer is a `BaseProducer` polled from the sending thread: delivery reports are served in
//! between batches and while waiting for room in librdkafka's queue (backpressure: wait, never
//! drop), with no extra thread competing for the CPU with the plugins and the sort.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod config;
pub(crate) mod delivery;
pub(crate) mod guard;
pub(crate) mod guard_mode;
pub(crate) mod legacy;
pub(crate) mod legacy_guard;
pub(crate) mod message_size;
pub(crate) mod partitioner;
pub(crate) mod produce_errors;
pub(crate) mod proof;
pub(crate) mod provenance;
pub(crate) mod rate;
pub(crate) mod run_lock;
pub(crate) mod topic;
pub(crate) mod zookeeper;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::{Sink, SinkReport, SourceFacts};
use crate::config::{KafkaSinkConfig, Partitioning, Pipeline, Timestamps};
use crate::kafka;
use crate::record::OutMessage;
use guard::Resume;
use guard_mode::GuardMode;
use provenance::Provenance;

pub(crate) use admin::{plan_topic, TopicPlan};
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
    /// This run's hold on the replay (`None` on old brokers without `sink.zookeeper`): no other
    /// run publishes the same partitions while it is held.
    lock: Option<run_lock::RunLock>,
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
    /// Which clock stamps the messages (`sink.timestamps`).
    timestamps: Timestamps,
    /// The timestamps the topic takes and keeps long enough, checked per message.
    window: topic::TimeWindow,
    /// The topic's `min.insync.replicas`, when its configuration could be read (to name the
    /// cause of a stalled publish).
    min_insync: Option<i64>,
    /// The sizes every message must fit in, checked before it is sent.
    limits: message_size::Limits,
    /// The source files by [`crate::record::FileId`], to name a refused message's record.
    files: Vec<String>,
    /// Per partition, where this replay's first message sits (or, with transactions, the log
    /// start when the run began): what the proof after the publish compares with.
    first_offsets: Vec<i64>,
    /// How the proof's reader connects.
    reader: (rdkafka::ClientConfig, kafka::Origin),
}

/// The header that carries a message's event time (epoch milliseconds, decimal) when
/// `sink.timestamps: publish` lets the broker's clock stamp it.
pub(crate) const EVENT_TIME_HEADER: &str = "c2k-event-time";

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
        announce_brokers(sink, legacy.as_ref())?;
        let checked = prepare_topic(sink, facts, &plan, legacy.as_ref())?;
        // Before what the topic holds is read: another run publishing now would make it stale.
        let lock = run_lock::take(sink, &plan.topic, facts, legacy.is_some())?;
        let partitions = checked.partitions;
        let identity =
            crate::identity::replay_identity(&facts.content, sink.partitioning, partitions);
        let (producer, limits) =
            start_producer(sink, facts, &identity, &brokers, checked.settings.as_ref())?;
        let holds = read_holdings(
            sink,
            facts,
            &plan.topic,
            partitions,
            &identity,
            legacy.is_some(),
            resume,
        )?;
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
            lock,
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
            resume: holds.resume,
            skipped: 0,
            transaction,
            base_offsets: holds.base_offsets,
            resumable: sink.provenance && (legacy.is_none() || sink.zookeeper.is_some()),
            legacy,
            holding: holds.expected.iter().any(Option::is_some),
            held: Vec::new(),
            expected: holds.expected,
            timestamps: sink.timestamps,
            window: checked.window,
            min_insync: checked.min_insync,
            limits,
            files: facts.files.clone(),
            first_offsets: holds.first_offsets,
            reader: (
                config::admin_config(sink)?,
                config::origin(sink, "the reader of the replay topic")?,
            ),
        })
    }

    /// For `--dry-run`: what the replay topic holds, whether its settings would keep the replay,
    /// and what a run would do, without sending or creating anything.
    pub fn look(pipeline: &Pipeline, facts: &SourceFacts) -> Result<String> {
        let sink = pipeline.kafka_sink()?;
        let settings = look_at_settings(sink, facts, &pipeline.replay_topic());
        let holds = KafkaSink::look_at_contents(pipeline, facts)?;
        Ok(format!("{holds}\n{settings}"))
    }

    /// For `--dry-run`: what the replay topic holds and what a run would do with it.
    fn look_at_contents(pipeline: &Pipeline, facts: &SourceFacts) -> Result<String> {
        let sink = pipeline.kafka_sink()?;
        let topic = pipeline.replay_topic();
        let mode = GuardMode::of(sink, legacy::detect(sink).is_some());
        // Old brokers: the record of the replay, read once (an unreadable one is said).
        let record = match mode.read_record(&topic) {
            Ok(record) => record,
            Err(e) => return Ok(format!("could not look at replay topic {topic}: {e:#}")),
        };
        let decide = |ends: &[guard::PartitionEnd], identity: &str, resume: bool| {
            mode.decide(&topic, identity, ends, record.as_ref(), resume)
                .map(|verdict| verdict.resume)
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
            let until = Instant::now() + rate.admit(Instant::now());
            // A poll returns as soon as it served a delivery report: wait out the whole time.
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                self.producer.poll(left);
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
        let mut event_time = itoa::Buffer::new();
        let mut event_header = None;
        match (self.timestamps, message.timestamp_ms) {
            (Timestamps::Event, Some(timestamp)) => {
                if let Some(why) = self.window.refuses(timestamp) {
                    return Err(self.refuse_timestamp(message, sequence, &why));
                }
                record = record.timestamp(timestamp);
            }
            (Timestamps::Publish, Some(timestamp)) => {
                event_header = Some(event_time.format(timestamp).as_bytes());
            }
            (_, None) => {}
        }
        let size = message_size::Size::of(
            message.key.as_deref(),
            &message.value,
            message
                .headers
                .iter()
                .map(|(k, v)| (k.len(), v.len()))
                .chain(provenance.iter().map(|(k, v)| (k.len(), v.len())))
                .chain(event_header.map(|v| (EVENT_TIME_HEADER.len(), v.len()))),
        );
        if let Some(limit) = self.limits.refuses(&size) {
            return Err(self.refuse_size(message, sequence, &size, limit));
        }
        if !message.headers.is_empty() || !provenance.is_empty() || event_header.is_some() {
            record = record.headers(headers(&message.headers, &provenance, event_header));
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

    /// Which archived record `message` was made from, for an error: ` (record I of FILE)`.
    fn which_record(&self, message: &OutMessage) -> String {
        match &message.origin {
            Some(origin) => match self.files.get(origin.file as usize) {
                Some(file) => format!(" (record {} of {file})", origin.index),
                None => format!(" (record {} of file #{})", origin.index, origin.file),
            },
            None => String::new(),
        }
    }

    /// What to do once the cause of a refusal is fixed.
    fn then_resume(&self) -> &'static str {
        if self.resumable {
            "`c2k run --resume` publishes exactly what is missing"
        } else {
            "delete the topic and run again"
        }
    }

    /// A message too large for the topic or the producer ([`message_size`]): the run stops
    /// before handing it to librdkafka (nothing after it is sent, so the replay has no gap),
    /// waits for what was sent before it, and says which record it is and how to fix it.
    fn refuse_size(
        &self,
        message: &OutMessage,
        sequence: u64,
        size: &message_size::Size,
        limit: message_size::TooLarge,
    ) -> anyhow::Error {
        let record = self.which_record(message);
        self.producer.flush(self.delivery_timeout).ok();
        let why = message_size::explain(
            size,
            limit,
            &self.limits,
            &self.reader.1.brokers,
            &self.topic,
        );
        let text = format!(
            "message #{sequence} of the replay{record} is not sent to {}: {why}. {}; nothing more \
             was sent. Once the limit is raised, {}; or use an output format that makes smaller \
             messages (then delete the replay topic and run again: --resume continues only the \
             same replay)",
            self.destination,
            self.producer.context().deliveries().describe(self.sent),
            self.then_resume()
        );
        match limit {
            message_size::TooLarge::Topic(_) => topic::TopicUnsafe(text).into(),
            message_size::TooLarge::Producer(_) => anyhow::anyhow!(text),
        }
    }

    /// A message whose timestamp the topic would reject or delete too soon: the run stops before
    /// sending it, saying which record it is and what was sent before it.
    fn refuse_timestamp(&self, message: &OutMessage, sequence: u64, why: &str) -> anyhow::Error {
        let record = self.which_record(message);
        self.producer.flush(self.delivery_timeout).ok();
        topic::TopicUnsafe(format!(
            "message #{sequence} of the replay{record} is not sent to {}: {why}. {}; nothing more \
             was sent. Set the topic's retention.ms to -1 (kafka-configs.sh --alter --entity-type \
             topics --entity-name {} --add-config retention.ms=-1), then {}",
            self.destination,
            self.producer.context().deliveries().describe(self.sent),
            self.topic,
            self.then_resume()
        ))
        .into()
    }

    /// After every message is acknowledged: reads each partition's log start and end again and
    /// fails, naming what is gone, if anything of this replay is no longer there.
    fn prove_kept(&self) -> Result<()> {
        let spans = proof::spans(
            &self.first_offsets,
            &self.next_seq,
            self.transaction.is_none(),
        );
        let proving = Instant::now();
        let (config, origin) = &self.reader;
        let ends = guard::read_ends(
            config.clone(),
            origin,
            &self.topic,
            self.partitions,
            self.transaction.is_some(),
            BROKER_TIMEOUT,
        )
        .with_context(|| {
            format!(
                "every message was acknowledged, but {} could not be read back to prove the \
                 replay is still there: offsets not committed",
                self.destination
            )
        })?;
        let lost = proof::losses(&spans, &proof::marks_of(&ends));
        tracing::debug!(
            seconds = proving.elapsed().as_secs_f64(),
            "the replay topic read again after the publish"
        );
        if lost.is_empty() {
            return Ok(());
        }
        Err(topic::TopicUnsafe(format!(
            "every message was acknowledged by {}, but the topic no longer holds all of the \
             replay: {}. Offsets not committed. Something deletes from the topic (retention.ms \
             or retention.bytes judged on the messages, a DeleteRecords, the topic deleted and \
             created again): fix that, delete the topic and run again",
            self.destination,
            lost.join("; ")
        ))
        .into())
    }

    /// What a failed publish means and what to do, from the first failure's error and the
    /// replay topic's partitions as the cluster's metadata shows them now.
    fn failure_advice(&self, deliveries: &delivery::Deliveries) -> String {
        let code = deliveries.first_failure.as_ref().and_then(|f| f.code);
        let trouble = match self
            .producer
            .client()
            .fetch_metadata(Some(&self.topic), Duration::from_secs(10))
        {
            Ok(metadata) => {
                produce_errors::partition_trouble(&metadata, &self.topic, self.min_insync)
            }
            Err(e) => vec![format!("its metadata cannot be read ({e})")],
        };
        produce_errors::advice(code, &trouble, self.resumable)
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
            let deliveries = self.producer.context().deliveries();
            bail!(
                "publishing to {} failed: {}{}",
                self.destination,
                deliveries.describe(self.sent),
                self.failure_advice(&deliveries)
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
                    let deliveries = self.producer.context().deliveries();
                    bail!(
                        "publishing to {} stalled: no delivery report for {:?} while librdkafka's \
                         queue is full; {}{}",
                        self.destination,
                        self.delivery_timeout,
                        deliveries.describe(self.sent),
                        self.failure_advice(&deliveries)
                    );
                }
                Ok(since)
            }
            _ => Ok(Some((Instant::now(), reported))),
        }
    }
}

/// Says what brokers older than 0.11 change (and refuses transactions there); warns of a
/// `sink.zookeeper` that current brokers make useless.
fn announce_brokers(sink: &KafkaSinkConfig, legacy: Option<&legacy::Legacy>) -> Result<()> {
    if let Some(old) = legacy {
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
    Ok(())
}

/// The replay topic once ensured and judged.
struct CheckedTopic {
    partitions: i32,
    /// The timestamps the topic takes and keeps long enough.
    window: topic::TimeWindow,
    /// Its `min.insync.replicas`, when read.
    min_insync: Option<i64>,
    /// Its configuration, when it could be read (brokers older than 0.11 describe none).
    settings: Option<topic::Settings>,
}

/// Creates the replay topic when missing (through the admin API, or ZooKeeper before 0.10.1),
/// then judges its settings against the replay ([`topic`]) before anything is sent.
fn prepare_topic(
    sink: &KafkaSinkConfig,
    facts: &SourceFacts,
    plan: &TopicPlan,
    legacy: Option<&legacy::Legacy>,
) -> Result<CheckedTopic> {
    let creation = match (legacy, &sink.zookeeper) {
        (Some(old), Some(connect)) if !old.create_topics => {
            admin::Creation::ZooKeeper(connect.clone())
        }
        (Some(old), None) if !old.create_topics => admin::Creation::Refused(old.fallback.clone()),
        _ => admin::Creation::Admin,
    };
    let origin = config::origin(sink, "the admin client of the replay topic")?;
    let admin = admin::connect(&config::admin_config(sink)?, &origin).context(NOTHING_SENT)?;
    let ensured = admin::ensure_topic(&admin, plan, &origin, &creation)?;
    let partitions = ensured.partitions;
    let checking = Instant::now();
    let (window, settings) = match legacy {
        // Brokers older than 0.11 describe no configs; before 0.10.1 they judge retention by a
        // segment file's age, not by the messages' timestamps, but 0.10.1 and 0.10.2 judge it
        // by the timestamps.
        Some(old) => {
            if old.create_topics && !ensured.created {
                eprintln!(
                    "c2k: warning: replay topic {} is on brokers of 0.10.1 to 0.10.2 \
                     (broker.version.fallback {}), which judge retention by the messages' \
                     timestamps but describe no topic configs: its retention.ms is not \
                     checked; make sure it is -1 (kafka-configs.sh --zookeeper ... --alter \
                     --entity-type topics --entity-name {} --add-config retention.ms=-1)",
                    plan.topic, old.fallback, plan.topic
                );
            }
            (topic::TimeWindow::default(), None)
        }
        None => check_topic(sink, facts, &admin, &plan.topic, &origin, ensured)?,
    };
    let min_insync = settings
        .as_ref()
        .and_then(|s| s.configs.get("min.insync.replicas"))
        .and_then(|v| v.parse().ok());
    tracing::debug!(
        seconds = checking.elapsed().as_secs_f64(),
        "the replay topic's settings checked"
    );
    kafka::close_aside(admin);
    Ok(CheckedTopic {
        partitions,
        window,
        min_insync,
        settings,
    })
}

/// The replay's producer, connected (and, with `sink.transactions`, its transactions started:
/// a dead run's open transaction is fenced and aborted), and the sizes its messages must fit in
/// (the topic's from its `settings`), its batches kept within them.
fn start_producer(
    sink: &KafkaSinkConfig,
    facts: &SourceFacts,
    identity: &str,
    brokers: &str,
    settings: Option<&topic::Settings>,
) -> Result<(BaseProducer<DeliveryContext>, message_size::Limits)> {
    let mut producer_config = config::producer_config(sink)?;
    if sink.transactions && !sink.producer.contains_key("transactional.id") {
        producer_config.set("transactional.id", transactional_id(identity, facts));
    }
    let limits = message_size::Limits::new(settings, &producer_config);
    if let Some(lowered) = limits.batch_size(producer_config.get("batch.size")) {
        // A batch the broker refuses loses its messages while later batches are stored.
        let why =
            format!(
            "batch.size {} is lowered to {lowered}, the replay topic's max.message.bytes, so that \
             no batch of several messages is larger than the broker takes",
            producer_config.get("batch.size").unwrap_or("(librdkafka's default)")
        );
        if sink.producer.contains_key("batch.size") {
            eprintln!("c2k: warning: sink.producer {why}");
        } else {
            tracing::info!("{why}");
        }
        producer_config.set("batch.size", lowered.to_string());
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
    Ok((producer, limits))
}

/// What the replay topic holds of this replay, judged before anything is sent.
struct Holdings {
    resume: Resume,
    base_offsets: Vec<Option<i64>>,
    expected: Vec<Option<legacy_guard::Expected>>,
    first_offsets: Vec<i64>,
}

/// Reads each partition's end and judges it with the sink's guard mode; a shard counts only its
/// own partitions; a resume whose start the topic no longer holds is refused.
fn read_holdings(
    sink: &KafkaSinkConfig,
    facts: &SourceFacts,
    topic: &str,
    partitions: i32,
    identity: &str,
    old_brokers: bool,
    resume: bool,
) -> Result<Holdings> {
    let ends = guard::read_ends(
        config::admin_config(sink)?,
        &config::origin(sink, "the reader of the replay topic")?,
        topic,
        partitions,
        sink.transactions,
        BROKER_TIMEOUT,
    )
    .with_context(|| format!("cannot read what replay topic {topic} holds"))?;
    tracing::debug!(topic, "the replay topic's ends read back");
    let low_at_start: Vec<i64> = ends.iter().map(|end| end.low).collect();
    let mode = GuardMode::of(sink, old_brokers);
    let record = mode.read_record(topic)?;
    let verdict = mode.decide(topic, identity, &ends, record.as_ref(), resume)?;
    mode.write_record(topic, &verdict)?;
    let base_offsets: Vec<Option<i64>> = match &verdict.base_offsets {
        Some(bases) => bases.iter().copied().map(Some).collect(),
        None => ends
            .iter()
            .map(|end| match (&end.last, sink.transactions) {
                (_, true) => None,
                (None, false) => Some(end.low),
                (Some(last), false) => last.seq.map(|seq| last.offset - seq as i64),
            })
            .collect(),
    };
    let mut resume = verdict.resume;
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
            topic,
            present = resume.total(),
            "resuming: messages of this replay already in the topic are skipped"
        );
    }
    let first_offsets: Vec<i64> = base_offsets
        .iter()
        .zip(&low_at_start)
        .map(|(base, low)| base.unwrap_or(*low))
        .collect();
    if let Some(gone) = already_deleted(&first_offsets, &low_at_start, &resume) {
        return Err(topic::TopicUnsafe(format!(
            "replay topic {topic} no longer holds the start of this replay ({gone}): a resume \
             cannot make it complete; nothing was sent. Delete the topic (or, if retention \
             deleted them, fix its retention.ms first) and run again"
        ))
        .into());
    }
    Ok(Holdings {
        resume,
        base_offsets,
        expected: verdict.expected,
        first_offsets,
    })
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

/// The format plugin's headers, then c2k's provenance headers, then the event time when the
/// broker's clock stamps the message.
fn headers(
    own: &[(String, Vec<u8>)],
    provenance: &provenance::Headers<'_>,
    event_time: Option<&[u8]>,
) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(own.len() + provenance.len() + 1);
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
    if let Some(value) = event_time {
        headers = headers.insert(Header {
            key: EVENT_TIME_HEADER,
            value: Some(value),
        });
    }
    headers
}

/// Reads the replay topic's settings and judges them against the replay ([`topic::judge`]):
/// refuses (`sink.topic_check: fail`) or warns, before anything is sent. Returns the window of
/// timestamps each message is checked against, and the settings (`None` when unreadable).
fn check_topic(
    sink: &KafkaSinkConfig,
    facts: &SourceFacts,
    admin: &rdkafka::admin::AdminClient<kafka::Watch>,
    topic: &str,
    origin: &kafka::Origin,
    ensured: admin::Ensured,
) -> Result<(topic::TimeWindow, Option<topic::Settings>)> {
    let created = ensured.created;
    let settings = match admin::topic_settings(admin, topic, ensured.replicas) {
        Ok(settings) => settings,
        Err(why) => {
            eprintln!(
                "c2k: warning: cannot read the configuration of replay topic {topic} \
                 (DescribeConfigs: {why}): its retention, compaction and timestamp settings are \
                 not checked before the publish; what is deleted while c2k runs is still found \
                 after it"
            );
            return Ok((topic::TimeWindow::default(), None));
        }
    };
    if !created {
        for (name, value) in &sink.topic_config {
            let has = settings.configs.get(name);
            if has != Some(value) {
                eprintln!(
                    "c2k: warning: sink.topic_config.{name}={value} is not applied: replay topic \
                     {topic} exists already (it has {name}={}), and c2k changes nothing on a topic \
                     it did not create",
                    has.map_or("nothing", String::as_str)
                );
            }
        }
    }
    let expect = expectation(sink, facts);
    let findings = topic::judge(topic, &origin.brokers, &settings, &expect);
    let warnings = topic::verdict(topic, &findings, sink.topic_check).map_err(|refused| {
        if created {
            topic::TopicUnsafe(format!(
                "{} (c2k created it just now with sink.topic_config and the cluster's defaults)",
                refused.0
            ))
        } else {
            refused
        }
    })?;
    for warning in warnings {
        eprintln!("{warning}");
    }
    Ok((
        topic::TimeWindow::of(&settings, &expect, sink.topic_check),
        Some(settings),
    ))
}

/// For `--dry-run`: the settings the replay topic has (or would be created with) and what the
/// checks before the publish would say of them.
fn look_at_settings(sink: &KafkaSinkConfig, facts: &SourceFacts, topic: &str) -> String {
    let legacy = legacy::detect(sink).is_some();
    let look = || -> Result<String> {
        let origin = config::origin(sink, "the admin client of the replay topic")?;
        let admin = admin::connect(&config::admin_config(sink)?, &origin)?;
        let Some(shape) = admin::shape(&admin, topic, &origin)? else {
            return Ok(format!(
                "replay topic {topic} does not exist: a run creates it with replication factor \
                 {} and topic configs {}",
                sink.replication_factor
                    .map_or("the cluster's default".to_string(), |n| n.to_string()),
                admin::describe_configs(&topic::creation_configs(sink, legacy))
            ));
        };
        if legacy {
            return Ok(format!(
                "replay topic {topic}: brokers older than 0.11 describe no topic configs (and \
                 judge retention by a segment file's age, not the messages' timestamps)"
            ));
        }
        let settings = match admin::topic_settings(&admin, topic, shape.replicas) {
            Ok(settings) => settings,
            Err(why) => {
                return Ok(format!(
                    "replay topic {topic}: its configuration cannot be read ({why}): not checked"
                ))
            }
        };
        let findings = topic::judge(topic, &origin.brokers, &settings, &expectation(sink, facts));
        Ok(match topic::verdict(topic, &findings, sink.topic_check) {
            Ok(warnings) if warnings.is_empty() => {
                format!("replay topic {topic}: its settings keep this replay")
            }
            Ok(warnings) => warnings.join("\n"),
            Err(refused) => format!("a run would be refused (exit 8): {refused}"),
        })
    };
    look().unwrap_or_else(|e| format!("could not check replay topic {topic}'s settings: {e:#}"))
}

/// What the topic checks know of the replay before reading it.
fn expectation(sink: &KafkaSinkConfig, facts: &SourceFacts) -> topic::Expectation {
    topic::Expectation {
        oldest_ms: facts.oldest_bucket_ms,
        now_ms: crate::utc::now_ms(),
        min_lifetime_ms: (sink.min_lifetime.0 * 1000.0) as i64,
        timestamps: sink.timestamps,
    }
}

/// A resumed replay whose first messages the topic no longer holds (deleted by retention or by
/// hand): what is gone, per partition.
fn already_deleted(first: &[i64], low: &[i64], resume: &Resume) -> Option<String> {
    // Only the log start counts here: what follows the replay's messages is the rest to send.
    let spans = proof::spans(first, &resume.present, false);
    let marks: Vec<(i64, i64)> = low.iter().map(|&low| (low, i64::MAX)).collect();
    let lost = proof::losses(&spans, &marks);
    (!lost.is_empty()).then(|| lost.join("; "))
}

impl Sink for KafkaSink {
    fn already_present(&self) -> u64 {
        self.resume.total()
    }

    fn send(&mut self, batch: Vec<OutMessage>) -> Result<()> {
        if let Some(lock) = &self.lock {
            lock.check()?;
        }
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
            self.prove_kept()?;
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
            self.failure_advice(&deliveries)
        )
    }
}
