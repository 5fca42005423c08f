//! A message too large for the replay topic, found before it is handed to librdkafka.
//!
//! A broker refuses a record batch larger than the topic's `max.message.bytes` (the broker's
//! `message.max.bytes` where the topic sets none: DescribeConfigs gives the value in force), and
//! librdkafka refuses a message larger than the producer's `message.max.bytes`. When the broker
//! refuses one message, the messages after it, in other batches, are stored: a gap in the replay
//! that no `--resume` can fill. So every message is measured before it is sent, and the run stops
//! at the first one that would be refused, with nothing after it handed to the producer.
//!
//! The measure is never less than what the broker counts (so that everything it would refuse is
//! refused here): a message sent alone is a record batch of one — the batch header
//! ([`BATCH_OVERHEAD`]), the record's fixed fields at their longest varints ([`RECORD_OVERHEAD`],
//! librdkafka's own bound), the key, the value, and each header's key and value with two length
//! varints of at most 5 bytes ([`HEADER_OVERHEAD`]). Compression never makes a batch larger:
//! librdkafka sends it uncompressed when compressing does not shrink it. The margin: a message at
//! most about 100 bytes (plus 8 per header) under the limit may be refused although the broker
//! would take it; never the other way round.
//!
//! Several messages share a batch, and librdkafka closes a batch before it grows past the
//! producer's `batch.size` (the request's own header counted in): [`Limits::batch_size`] lowers
//! it to the topic's limit, so only a batch's first message can make it larger — and that one
//! is measured here.

use std::fmt;

use rdkafka::ClientConfig;

use super::topic::Settings;

/// A record batch's header (Kafka's `RECORD_BATCH_OVERHEAD`: base offset to record count).
pub(crate) const BATCH_OVERHEAD: u64 = 61;
/// A record's fixed fields with their varints at the longest (librdkafka's
/// `RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD`, which it checks `message.max.bytes` with).
pub(crate) const RECORD_OVERHEAD: u64 = 36;
/// A header's two length varints, at the longest.
pub(crate) const HEADER_OVERHEAD: u64 = 10;
/// librdkafka's `message.max.bytes` when the producer's configuration sets none.
const PRODUCER_DEFAULT: u64 = 1_000_000;

/// One message's size, as the broker and librdkafka count it at most.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Size {
    pub key: u64,
    pub value: u64,
    /// Every header's key and value, with their length varints.
    pub headers: u64,
}

impl Size {
    /// The size of a message with `key`, `value` and headers of these `(key, value)` lengths.
    pub(crate) fn of(
        key: Option<&[u8]>,
        value: &[u8],
        headers: impl IntoIterator<Item = (usize, usize)>,
    ) -> Size {
        Size {
            key: key.map_or(0, |k| k.len() as u64),
            value: value.len() as u64,
            headers: headers
                .into_iter()
                .map(|(k, v)| HEADER_OVERHEAD + k as u64 + v as u64)
                .sum(),
        }
    }

    /// The record alone: what librdkafka checks against the producer's `message.max.bytes`.
    pub(crate) fn record(&self) -> u64 {
        RECORD_OVERHEAD + self.key + self.value + self.headers
    }

    /// A batch holding only this record: what the broker checks against `max.message.bytes`.
    pub(crate) fn batch(&self) -> u64 {
        BATCH_OVERHEAD + self.record()
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes as a record batch (value {}, key {}, headers {} bytes, and {} bytes of \
             batch and record overhead at most)",
            self.batch(),
            self.value,
            self.key,
            self.headers,
            BATCH_OVERHEAD + RECORD_OVERHEAD
        )
    }
}

/// The limits a message must fit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The replay topic's `max.message.bytes`, when its configuration could be read.
    pub topic: Option<u64>,
    /// The producer's `message.max.bytes`.
    pub producer: u64,
}

/// Which limit a message is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TooLarge {
    /// The topic's `max.message.bytes`: the broker would refuse it.
    Topic(u64),
    /// The producer's `message.max.bytes`: librdkafka would refuse it.
    Producer(u64),
}

impl Limits {
    /// The topic's limit from its `settings` (none when they could not be read), the producer's
    /// from its configuration.
    pub(crate) fn new(settings: Option<&Settings>, producer: &ClientConfig) -> Limits {
        Limits {
            topic: settings.and_then(|s| number(s.configs.get("max.message.bytes")?)),
            producer: producer
                .get("message.max.bytes")
                .and_then(number)
                .unwrap_or(PRODUCER_DEFAULT),
        }
    }

    /// The limit `size` is over, if any (the topic's first: raising the producer's alone would
    /// not do).
    pub(crate) fn refuses(&self, size: &Size) -> Option<TooLarge> {
        match self.topic {
            Some(topic) if size.batch() > topic => Some(TooLarge::Topic(topic)),
            _ if size.record() > self.producer => Some(TooLarge::Producer(self.producer)),
            _ => None,
        }
    }

    /// The `batch.size` the producer must be given instead of `configured` (librdkafka's 1000000
    /// when unset), when that is over the topic's limit: a batch of several messages must fit too.
    pub(crate) fn batch_size(&self, configured: Option<&str>) -> Option<u64> {
        let topic = self.topic?;
        let configured = configured.and_then(number).unwrap_or(PRODUCER_DEFAULT);
        (configured > topic).then_some(topic)
    }
}

fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// What a refused message's error says after naming the message: the limit, and how to fix it.
/// `brokers` and `topic` complete the kafka-configs command.
pub(crate) fn explain(
    size: &Size,
    limit: TooLarge,
    limits: &Limits,
    brokers: &str,
    topic: &str,
) -> String {
    let needed = size.batch();
    // Raising the topic's limit is enough only if the producer takes the record too.
    let producer_too = if size.record() > limits.producer {
        format!(
            ", and the producer's (--set sink.producer.message.max.bytes={})",
            size.record()
        )
    } else {
        String::new()
    };
    match limit {
        TooLarge::Topic(max) => format!(
            "it is {size}, over replay topic {topic}'s max.message.bytes={max}: the broker would \
             refuse it as too large (MESSAGE_TOO_LARGE) and store the messages after it, a gap. \
             Raise the topic's limit to at least {needed} (kafka-configs.sh --bootstrap-server \
             {brokers} --alter --entity-type topics --entity-name {topic} --add-config \
             max.message.bytes={needed}){producer_too}"
        ),
        TooLarge::Producer(max) => format!(
            "it is {size}: its record of {} bytes is over the producer's message.max.bytes={max} \
             (librdkafka's default is {PRODUCER_DEFAULT}), and librdkafka would refuse it as too \
             large. Raise it to at least {} (--set sink.producer.message.max.bytes={}); replay \
             topic {topic}'s max.message.bytes is {}",
            size.record(),
            size.record(),
            size.record(),
            limits
                .topic
                .map_or("unknown: check it takes the message too".to_string(), |t| {
                    t.to_string()
                })
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max: Option<&str>) -> Settings {
        Settings {
            configs: max
                .map(|m| ("max.message.bytes".to_string(), m.to_string()))
                .into_iter()
                .collect(),
            replication_factor: Some(1),
        }
    }

    #[test]
    fn a_message_is_measured_as_a_batch_of_one_with_the_largest_overheads() {
        let size = Size::of(Some(&b"key"[..]), &[0; 900], [(7, 3), (10, 32)]);
        assert_eq!(size.headers, 10 + 10 + 10 + 42);
        assert_eq!(size.record(), 36 + 3 + 900 + 72);
        assert_eq!(size.batch(), 61 + size.record());
    }

    #[test]
    fn the_topic_limit_is_judged_on_the_batch_and_the_producer_limit_on_the_record() {
        let mut producer = ClientConfig::new();
        let limits = Limits::new(Some(&settings(Some("1000"))), &producer);
        assert_eq!(limits.producer, PRODUCER_DEFAULT);
        let fits = Size::of(None, &[0; 1000 - 97], []);
        assert_eq!(fits.batch(), 1000);
        assert_eq!(limits.refuses(&fits), None);
        let over = Size::of(None, &[0; 1000 - 96], []);
        assert_eq!(limits.refuses(&over), Some(TooLarge::Topic(1000)));

        producer.set("message.max.bytes", "2000");
        let limits = Limits::new(Some(&settings(Some("1048588"))), &producer);
        let big = Size::of(None, &[0; 1965], []);
        assert_eq!(big.record(), 2001);
        assert_eq!(limits.refuses(&big), Some(TooLarge::Producer(2000)));
        // A topic whose configuration could not be read: the producer's limit still holds.
        let unknown = Limits::new(None, &producer);
        assert_eq!(unknown.refuses(&big), Some(TooLarge::Producer(2000)));
    }

    #[test]
    fn batches_are_kept_within_a_topic_limit_below_the_batch_size() {
        let limits = Limits::new(Some(&settings(Some("1000"))), &ClientConfig::new());
        assert_eq!(limits.batch_size(Some("1048576")), Some(1000));
        assert_eq!(limits.batch_size(None), Some(1000));
        assert_eq!(limits.batch_size(Some("500")), None);
        let default_topic = Limits::new(Some(&settings(Some("1048588"))), &ClientConfig::new());
        assert_eq!(default_topic.batch_size(Some("1048576")), None);
        assert_eq!(
            Limits::new(Some(&settings(None)), &ClientConfig::new()).batch_size(Some("1048576")),
            None
        );
    }

    #[test]
    fn the_advice_names_the_property_the_size_and_the_command() {
        let limits = Limits::new(Some(&settings(Some("1000"))), &ClientConfig::new());
        let size = Size::of(None, &[0; 1500], []);
        let said = explain(&size, TooLarge::Topic(1000), &limits, "b:9092", "R");
        assert!(said.contains("1597 bytes as a record batch"), "{said}");
        assert!(said.contains("max.message.bytes=1000"), "{said}");
        assert!(
            said.contains(
                "--bootstrap-server b:9092 --alter --entity-type topics --entity-name R \
                 --add-config max.message.bytes=1597"
            ),
            "{said}"
        );
        assert!(!said.contains("sink.producer"), "{said}");
        let huge = Size::of(None, &[0; 1_500_000], []);
        let said = explain(&huge, TooLarge::Topic(1000), &limits, "b", "R");
        assert!(
            said.contains("--set sink.producer.message.max.bytes=1500036"),
            "{said}"
        );
    }
}
