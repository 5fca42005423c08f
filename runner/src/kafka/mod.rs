//! Kafka clients as c2k makes them: the one place every librdkafka client is created (the sink's
//! admin client, producer and replay-topic reader, the offsets consumer, the live-topic check),
//! so that each one
//! - takes the pipeline's properties as written (`sink.producer`, `offsets.consumer`): TLS, SASL
//!   (PLAIN, SCRAM-SHA-256/512, GSSAPI, OAUTHBEARER) and every other librdkafka knob;
//! - carries a [`Watch`] context that keeps what librdkafka reports about broker connections;
//! - is [`probe`]d before it is used: the brokers must answer a metadata request, and a TLS
//!   handshake, SASL or Kerberos failure fails at once with a [`SecurityError`] that names the
//!   mistake, the broker and the property to look at ([`trouble`]), instead of a timeout;
//! - never shows a secret in an error ([`crate::config::secrets`]).
//!
//! It knows librdkafka, not the pipeline's stages: what each client does is the sink's and the
//! offsets step's business.

pub(crate) mod client_config;
pub(crate) mod context;
pub(crate) mod trouble;

pub(crate) use client_config::ClientConfigBuilder;

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::{ClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer};

use crate::config::secrets;
use crate::config::Properties;
pub(crate) use context::{Watch, Watched};
pub(crate) use trouble::SecurityError;
use trouble::Trouble;

/// The longest one metadata request of a probe waits before the watch is looked at again.
const PROBE_SLICE: Duration = Duration::from_millis(500);

/// How long a probe serves the client's events after a metadata request failed.
const SERVE_WAIT: Duration = Duration::from_millis(100);

/// Who a client is and where its settings come from, for its errors.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// What the client is for: `the replay producer`, `the offsets consumer of group g`.
    pub role: String,
    /// The pipeline key its librdkafka properties come from: `sink.producer` or
    /// `offsets.consumer`.
    pub key: &'static str,
    /// The bootstrap brokers.
    pub brokers: String,
    /// Where they come from: `sink.brokers`, `offsets.brokers`, a ZooKeeper path.
    pub brokers_from: String,
    /// The properties given under `key` (to name what is set in a hint).
    pub properties: Properties,
}

/// Closes a client the run is done with on a thread of its own: dropping an admin client or a
/// consumer joins librdkafka threads that wake every 100 ms, time the run need not wait for.
pub(crate) fn close_aside<T: Send + 'static>(client: T) {
    std::thread::spawn(move || drop(client));
}

/// Creates a client from `config` with `context`. A property librdkafka refuses, or a client it
/// cannot create (a certificate file that does not exist, a mechanism it lacks), is an error that
/// names the property under [`Origin::key`], its value redacted when secret.
///
/// librdkafka logs at info level too (a broker closing the connection is logged there), so the
/// client's [`Watch`] hears it; at debug level when the properties ask for `debug` contexts.
pub(crate) fn create<T, C>(config: &ClientConfig, context: C, origin: &Origin) -> Result<T>
where
    T: FromClientConfigAndContext<C>,
    C: ClientContext,
{
    let mut config = config.clone();
    config.set_log_level(if config.get("debug").is_some() {
        RDKafkaLogLevel::Debug
    } else {
        RDKafkaLogLevel::Info
    });
    T::from_config_and_context(&config, context).map_err(|error| creation_error(&error, origin))
}

fn creation_error(error: &KafkaError, origin: &Origin) -> anyhow::Error {
    let what = format!(
        "cannot create {} for brokers {} ({})",
        origin.role, origin.brokers, origin.key
    );
    match error {
        KafkaError::ClientConfig(_, description, name, value) => anyhow!(
            "{what}: librdkafka refuses {}.{name}={}: {}",
            origin.key,
            secrets::shown(name, value),
            redact_value(description, name, value)
        ),
        KafkaError::ClientCreation(message) => {
            let message = secrets::scrub(message);
            // librdkafka names the property at fault (`ssl.ca.location failed: ...`).
            let named: Vec<String> = origin
                .properties
                .keys()
                .filter(|name| message.contains(name.as_str()))
                .map(|name| format!("{}.{name}", origin.key))
                .collect();
            let look = if named.is_empty() {
                String::new()
            } else {
                format!(" (look at {})", named.join(", "))
            };
            anyhow!("{what}: {message}{look}")
        }
        other => anyhow!("{what}: {}", secrets::scrub(&other.to_string())),
    }
}

/// `text` with `value` replaced by the redaction mark when `name` is a secret property.
fn redact_value(text: &str, name: &str, value: &str) -> String {
    let text = secrets::scrub(text);
    if secrets::is_secret(name) && !value.is_empty() {
        text.replace(value, secrets::REDACTED)
    } else {
        text.into_owned()
    }
}

/// librdkafka's own check of one property, name and value, without creating a client: `Err`
/// with its complaint (a secret value redacted). For `c2k validate`.
pub(crate) fn check_property(name: &str, value: &str) -> std::result::Result<(), String> {
    let mut config = ClientConfig::new();
    config.set(name, value);
    match config.create_native_config() {
        Ok(_) => Ok(()),
        Err(KafkaError::ClientConfig(_, description, name, value)) => {
            Err(redact_value(&description, &name, &value))
        }
        Err(other) => Err(secrets::scrub(&other.to_string()).into_owned()),
    }
}

/// Waits until the brokers answer a metadata request, for at most `timeout`. A security problem
/// librdkafka reports meanwhile (TLS, SASL, Kerberos, a protocol mismatch) fails at once with a
/// [`SecurityError`]; brokers that stay unreachable fail at the deadline with librdkafka's last
/// word on why.
///
/// librdkafka hands its log lines and errors to the context only when the client is polled:
/// `serve(wait)` polls it (a producer's or consumer's `poll`) for up to `wait`.
pub(crate) fn probe<C: Watched>(
    client: &Client<C>,
    serve: impl Fn(Duration),
    config: &ClientConfig,
    origin: &Origin,
    timeout: Duration,
) -> Result<()> {
    let watch = client.context().watch();
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let error = match client.fetch_metadata(None, left.min(PROBE_SLICE)) {
            Ok(_) => return Ok(()),
            Err(error) if is_empty_cluster(&error) => return Ok(()),
            Err(error) => error,
        };
        serve(SERVE_WAIT.min(deadline.saturating_duration_since(Instant::now())));
        if let Some(trouble) = watch.trouble() {
            let trouble = tell_hostname_from_ca(trouble, config, origin);
            return Err(SecurityError(trouble.explain(origin)).into());
        }
        if Instant::now() >= deadline {
            return Err(unreachable(&error, watch, origin, timeout));
        }
    }
}

/// A Kafka 0.8 broker answers a metadata request in a cluster without topics with no brokers
/// either, which librdkafka reports as a partial response: the broker did answer, and there is
/// nothing.
pub(crate) fn is_empty_cluster(error: &rdkafka::error::KafkaError) -> bool {
    matches!(
        error,
        rdkafka::error::KafkaError::MetadataFetch(rdkafka::types::RDKafkaErrorCode::Partial)
    )
}

/// How long the second look of [`tell_hostname_from_ca`] may take.
const SECOND_LOOK: Duration = Duration::from_secs(5);

/// OpenSSL 3 reports a certificate for another host name and one from an unknown CA alike
/// ("certificate verify failed"). A second client with the same settings but no host name check
/// tells them apart: if it connects, the CA is trusted and the name is what failed.
fn tell_hostname_from_ca(trouble: Trouble, config: &ClientConfig, origin: &Origin) -> Trouble {
    let checks_hostname = config
        .get("ssl.endpoint.identification.algorithm")
        .is_none_or(|algorithm| !algorithm.eq_ignore_ascii_case("none"));
    if trouble.kind != trouble::Kind::UnknownCa || !checks_hostname {
        return trouble;
    }
    let mut without_check = config.clone();
    without_check.set("ssl.endpoint.identification.algorithm", "none");
    let Ok(second) = create::<BaseProducer<Watch>, _>(&without_check, Watch::default(), origin)
    else {
        return trouble;
    };
    let deadline = Instant::now() + SECOND_LOOK;
    while Instant::now() < deadline {
        if second.client().fetch_metadata(None, PROBE_SLICE).is_ok() {
            return Trouble {
                kind: trouble::Kind::HostnameMismatch,
                ..trouble
            };
        }
        second.poll(SERVE_WAIT);
        if second.context().trouble().is_some() {
            break;
        }
    }
    trouble
}

/// Polls a consumer for up to `wait`, so that its context hears what librdkafka reported. Only for
/// a consumer that is assigned nothing yet (a message would be dropped).
pub(crate) fn serve_consumer<C: rdkafka::consumer::ConsumerContext>(
    consumer: &rdkafka::consumer::BaseConsumer<C>,
    wait: Duration,
) {
    let until = Instant::now() + wait;
    while let Some(_event) = consumer.poll(until.saturating_duration_since(Instant::now())) {
        if Instant::now() >= until {
            break;
        }
    }
}

/// A failed call of a client that passed its probe: the security problem the watch saw since, if
/// any, else `error` with librdkafka's last report.
pub(crate) fn explain(error: KafkaError, watch: &Watch, origin: &Origin) -> anyhow::Error {
    match watch.trouble() {
        Some(trouble) => SecurityError(trouble.explain(origin)).into(),
        None => match watch.last() {
            Some(last) => anyhow::Error::new(error).context(format!("librdkafka: {last}")),
            None => anyhow::Error::new(error),
        },
    }
}

fn unreachable(
    error: &KafkaError,
    watch: &Watch,
    origin: &Origin,
    timeout: Duration,
) -> anyhow::Error {
    let why = watch
        .last()
        .map_or(String::new(), |last| format!(" (librdkafka: {last})"));
    anyhow!(
        "cannot reach the Kafka brokers {} ({}) within {timeout:?} for {}: {error}{why}",
        origin.brokers,
        origin.brokers_from,
        origin.role
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librdkafka_checks_names_and_values_and_never_shows_a_secret() {
        assert!(check_property("linger.ms", "5").is_ok());
        assert!(check_property("sasl.password", "hunter22").is_ok());
        let unknown = check_property("sasl.passwrod", "hunter22").unwrap_err();
        assert!(unknown.contains("sasl.passwrod"), "{unknown}");
        let bad = check_property("security.protocol", "SSLX").unwrap_err();
        assert!(bad.contains("SSLX"), "{bad}");
    }

    #[test]
    fn tls_and_every_sasl_mechanism_librdkafka_offers_are_built_in() {
        let origin = Origin {
            role: "a test client".into(),
            key: "sink.producer",
            brokers: "127.0.0.1:1".into(),
            brokers_from: "sink.brokers".into(),
            properties: Properties::default(),
        };
        let secured: &[&[(&str, &str)]] = &[
            &[("security.protocol", "SSL")],
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", "u"),
                ("sasl.password", "p"),
            ],
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-256"),
                ("sasl.username", "u"),
                ("sasl.password", "p"),
            ],
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "u"),
                ("sasl.password", "p"),
            ],
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "GSSAPI"),
                // No kinit for this client.
                ("sasl.kerberos.min.time.before.relogin", "0"),
            ],
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "OAUTHBEARER"),
                ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
            ],
            // OIDC needs libcurl.
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "OAUTHBEARER"),
                ("sasl.oauthbearer.method", "oidc"),
                ("sasl.oauthbearer.client.id", "c2k"),
                ("sasl.oauthbearer.client.secret", "s3cret"),
                (
                    "sasl.oauthbearer.token.endpoint.url",
                    "http://127.0.0.1:1/token",
                ),
            ],
        ];
        for settings in secured {
            let mut config = ClientConfig::new();
            config.set("bootstrap.servers", "127.0.0.1:1");
            for (name, value) in *settings {
                config.set(*name, *value);
            }
            let created = create::<BaseProducer<Watch>, _>(&config, Watch::default(), &origin);
            assert!(
                created.is_ok(),
                "{settings:?}: {:#}",
                created.err().map_or(anyhow!("?"), |e| e)
            );
        }
    }

    #[test]
    fn a_client_librdkafka_cannot_create_names_the_property() {
        let origin = Origin {
            role: "the replay producer".into(),
            key: "sink.producer",
            brokers: "127.0.0.1:1".into(),
            brokers_from: "sink.brokers".into(),
            properties: [
                ("security.protocol".to_string(), "SSL".to_string()),
                (
                    "ssl.ca.location".to_string(),
                    "/nonexistent/ca.pem".to_string(),
                ),
            ]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
            .into(),
        };
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", "127.0.0.1:1")
            .set("security.protocol", "SSL")
            .set("ssl.ca.location", "/nonexistent/ca.pem");
        let error =
            create::<rdkafka::producer::BaseProducer<Watch>, _>(&config, Watch::default(), &origin)
                .err()
                .expect("no such CA file");
        let text = format!("{error:#}");
        assert!(
            text.contains("the replay producer") && text.contains("sink.producer.ssl.ca.location"),
            "{text}"
        );
    }
}
