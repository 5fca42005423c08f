//! [`Watch`]: the client context every c2k Kafka client carries. librdkafka reports why a broker
//! connection failed (a TLS handshake, SASL authentication) only through its error and log
//! callbacks, while the call that needed the connection just times out or says "all brokers down";
//! the watch keeps those reports so the real reason reaches the user ([`super::trouble`]).
//!
//! It also forwards librdkafka's log lines to `tracing` (target `librdkafka`), with the pipeline's
//! secrets scrubbed, and repeats of the same error logged once.

use std::sync::{Arc, Mutex, PoisonError};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryResult, ProducerContext};

use super::trouble::{self, Trouble};
use crate::config::secrets;

/// How many distinct reports a watch keeps (the newest).
const KEPT: usize = 32;

/// What librdkafka said went wrong, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    /// The error code, when it came through the error callback.
    pub code: Option<RDKafkaErrorCode>,
    /// librdkafka's text, secrets scrubbed (`ssl://host:port/id: SSL handshake failed: ...`).
    pub text: String,
    /// How many times it was reported.
    pub seen: u32,
}

/// The reports of one client, shared by its context and whoever asks after a failure.
#[derive(Debug, Clone, Default)]
pub(crate) struct Watch {
    reports: Arc<Mutex<Vec<Report>>>,
}

/// A client context that carries a [`Watch`] (every context of c2k's Kafka clients).
pub(crate) trait Watched: ClientContext {
    fn watch(&self) -> &Watch;
}

impl Watch {
    /// Keeps a report; true when it is new (not the same as one kept).
    fn keep(&self, code: Option<RDKafkaErrorCode>, text: &str) -> bool {
        let text = secrets::scrub(text).into_owned();
        let mut reports = self.reports.lock().unwrap_or_else(PoisonError::into_inner);
        // librdkafka appends "(after 3ms in state SSL_HANDSHAKE, 2 identical error(s)
        // suppressed)": the same failure again is not news.
        let stem = trouble::stem(&text).to_string();
        if let Some(at) = reports.iter().position(|r| trouble::stem(&r.text) == stem) {
            let mut report = reports.remove(at);
            report.code = report.code.or(code);
            report.seen = report.seen.saturating_add(1);
            reports.push(report);
            return false;
        }
        reports.push(Report {
            code,
            text,
            seen: 1,
        });
        if reports.len() > KEPT {
            reports.remove(0);
        }
        true
    }

    /// Every report kept, oldest first.
    pub(crate) fn reports(&self) -> Vec<Report> {
        self.reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The newest report that names a security problem (TLS, SASL, Kerberos, a protocol
    /// mismatch), if any.
    pub(crate) fn trouble(&self) -> Option<Trouble> {
        self.reports()
            .iter()
            .rev()
            .find_map(|report| Trouble::classify(report.code, &report.text, report.seen))
    }

    /// The newest report of any kind: why the brokers could not be reached, when it is not a
    /// security problem (connection refused, name not resolved).
    pub(crate) fn last(&self) -> Option<String> {
        self.reports().last().map(|report| report.text.clone())
    }

    /// The error callback's part, for contexts that filter errors first.
    pub(crate) fn error(&self, error: &KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        if self.keep(code, reason) {
            let reason = secrets::scrub(reason);
            // Every broker down is what a failed probe explains, or what a broker bounce is.
            if code == Some(RDKafkaErrorCode::AllBrokersDown) {
                tracing::info!(target: "librdkafka", "{error}: {reason}");
            } else {
                tracing::warn!(target: "librdkafka", "{error}: {reason}");
            }
        }
    }
}

impl ClientContext for Watch {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        // Broker failures are logged (facility FAIL) as they happen, on librdkafka's threads,
        // while the error callback only runs when the client is polled.
        let failure = matches!(
            level,
            RDKafkaLogLevel::Emerg
                | RDKafkaLogLevel::Alert
                | RDKafkaLogLevel::Critical
                | RDKafkaLogLevel::Error
        ) || fac == "FAIL";
        if failure && !self.keep(None, log_message) {
            return;
        }
        let message = secrets::scrub(log_message);
        // "linger.ms is a producer property and will be ignored by this consumer": the sink's
        // readers take sink.producer's connection settings, and the rest with them.
        if fac == "CONFWARN" {
            tracing::info!(target: "librdkafka", "{fac}: {message}");
            return;
        }
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", "{fac}: {message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", "{fac}: {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", "{fac}: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        Watch::error(self, &error, reason);
    }
}

impl ConsumerContext for Watch {}

/// For a producer-type client that sends nothing (the sink's probe, ahead of its admin client).
impl ProducerContext for Watch {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

impl Watched for Watch {
    fn watch(&self) -> &Watch {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_failure_is_kept_once_and_the_newest_trouble_wins() {
        let watch = Watch::default();
        let tls = "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL \
                   routines::certificate verify failed: broker certificate could not be verified";
        assert!(watch.keep(None, &format!("{tls} (after 3ms in state SSL_HANDSHAKE)")));
        assert!(!watch.keep(
            Some(RDKafkaErrorCode::SSL),
            &format!("{tls} (after 5ms in state SSL_HANDSHAKE, 1 identical error(s) suppressed)")
        ));
        assert_eq!(watch.reports().len(), 1);
        assert_eq!(watch.reports()[0].code, Some(RDKafkaErrorCode::SSL));
        assert!(watch.keep(
            None,
            "127.0.0.1:9093/bootstrap: Connect to ipv4#127.0.0.1:9093 failed: Connection refused"
        ));
        let trouble = watch.trouble().expect("the TLS failure is found");
        assert_eq!(trouble.broker, "127.0.0.1:9093");
        assert!(watch
            .last()
            .is_some_and(|l| l.contains("Connection refused")));
    }
}
