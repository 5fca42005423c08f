//! Delivery reports: every message's acknowledgement (or failure) is counted here, so the sink can
//! tell exactly how many were delivered and where it stopped.

use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;

use crate::kafka::{Watch, Watched};

/// The first message that failed, in the order messages were sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Position of the message in the replay (0 = the first message sent).
    pub sequence: u64,
    pub partition: i32,
    pub error: String,
    /// librdkafka's (or the broker's) error code, which decides the advice.
    pub code: Option<rdkafka::types::RDKafkaErrorCode>,
}

/// What the delivery reports said so far.
#[derive(Debug, Default, Clone)]
pub struct Deliveries {
    pub delivered: u64,
    pub failed: u64,
    /// Value and key bytes of the delivered messages.
    pub bytes: u64,
    /// The failure with the lowest sequence number.
    pub first_failure: Option<Failure>,
    /// The highest offset acknowledged in each partition (-1: none yet).
    pub last_offsets: Vec<i64>,
}

impl Deliveries {
    /// Reports seen: delivered plus failed.
    pub fn reported(&self) -> u64 {
        self.delivered + self.failed
    }

    /// "N of M messages delivered; first failure: ... (message #s, partition p); last acknowledged
    /// offsets: partition 0 at 41, ..."
    pub fn describe(&self, sent: u64) -> String {
        let mut text = format!("{} of {} messages delivered", self.delivered, sent);
        if let Some(failure) = &self.first_failure {
            let _ = write!(
                text,
                "; first failure: {} (message #{} of the replay, partition {})",
                failure.error, failure.sequence, failure.partition
            );
        }
        let acknowledged: Vec<String> = self
            .last_offsets
            .iter()
            .enumerate()
            .filter(|(_, offset)| **offset >= 0)
            .map(|(partition, offset)| format!("partition {partition} at offset {offset}"))
            .collect();
        if !acknowledged.is_empty() {
            const SHOWN: usize = 16;
            let _ = write!(
                text,
                "; last acknowledged: {}",
                acknowledged[..acknowledged.len().min(SHOWN)].join(", ")
            );
            if acknowledged.len() > SHOWN {
                let _ = write!(text, " and {} more partitions", acknowledged.len() - SHOWN);
            }
        }
        text
    }

    fn record(&mut self, result: &DeliveryResult<'_>, sequence: u64) {
        match result {
            Ok(message) => {
                self.delivered += 1;
                crate::sink::count_delivered(1);
                self.bytes += (message.payload_len() + message.key().map_or(0, <[u8]>::len)) as u64;
                if let Ok(partition) = usize::try_from(message.partition()) {
                    if partition >= self.last_offsets.len() {
                        self.last_offsets.resize(partition + 1, -1);
                    }
                    self.last_offsets[partition] =
                        self.last_offsets[partition].max(message.offset());
                }
            }
            Err((error, message)) => {
                self.failed += 1;
                let earlier = self
                    .first_failure
                    .as_ref()
                    .is_some_and(|f| f.sequence < sequence);
                if !earlier {
                    self.first_failure = Some(Failure {
                        sequence,
                        partition: message.partition(),
                        error: error.to_string(),
                        code: error.rdkafka_error_code(),
                    });
                }
            }
        }
    }
}

/// The producer's context: counts delivery reports. Each message carries its sequence number as
/// the delivery opaque (a plain integer: no allocation per message). Its [`Watch`] keeps what
/// librdkafka reports about the broker connections.
#[derive(Default)]
pub(crate) struct DeliveryContext {
    state: Mutex<Deliveries>,
    watch: Watch,
}

impl DeliveryContext {
    /// A snapshot of the counts so far.
    pub(crate) fn deliveries(&self) -> Deliveries {
        self.lock().clone()
    }

    /// Delivered plus failed so far, and whether anything failed (cheap: no copy).
    pub(crate) fn progress(&self) -> (u64, bool) {
        let state = self.lock();
        (state.reported(), state.first_failure.is_some())
    }

    fn lock(&self) -> MutexGuard<'_, Deliveries> {
        // Counting cannot leave the state half-updated in a way that matters; keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.watch.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.watch.error(&error, reason);
    }
}

impl Watched for DeliveryContext {
    fn watch(&self) -> &Watch {
        &self.watch
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sequence: usize) {
        self.lock().record(result, sequence as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_the_counts_the_failure_and_where_each_partition_stopped() {
        let deliveries = Deliveries {
            delivered: 7,
            failed: 3,
            bytes: 70,
            first_failure: Some(Failure {
                sequence: 7,
                partition: 1,
                error: "Message production error: MessageTimedOut".into(),
                code: None,
            }),
            last_offsets: vec![3, -1, 2],
        };
        assert_eq!(
            deliveries.describe(10),
            "7 of 10 messages delivered; first failure: Message production error: MessageTimedOut \
             (message #7 of the replay, partition 1); last acknowledged: partition 0 at offset 3, \
             partition 2 at offset 2"
        );
    }
}
