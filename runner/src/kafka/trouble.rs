//! The common mistakes of a secured cluster, told apart from what librdkafka reported
//! ([`super::context::Watch`]) and named as such, with the broker and the property to look at:
//! a TLS handshake that fails (a CA c2k does not trust, a certificate for another host name, a
//! listener that does not speak TLS), SASL credentials the broker rejects, a mechanism it does not
//! enable, Kerberos failing, a client in plain text on a TLS or SASL listener.

use std::fmt;

use rdkafka::error::RDKafkaErrorCode;

use super::Origin;

/// What went wrong, as librdkafka's reports tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The broker's certificate does not chain to a CA c2k trusts.
    UnknownCa,
    /// The broker's certificate is valid but for another host name (or address).
    HostnameMismatch,
    /// The broker wants a client certificate (TLS client authentication).
    ClientCertificate,
    /// Any other TLS handshake failure.
    Tls,
    /// A TLS client on a listener that does not speak TLS.
    NotTls,
    /// A plain-text client on a TLS listener.
    PlainOnTls,
    /// A client without SASL on a SASL listener.
    NeedsSasl,
    /// The broker rejected the SASL credentials.
    BadCredentials,
    /// The broker does not enable the SASL mechanism; `offered` is what it enables.
    Mechanism { offered: Option<String> },
    /// Kerberos (GSSAPI) failed: no ticket, an unknown principal, an unreachable KDC.
    Kerberos,
}

/// One security problem with one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trouble {
    pub kind: Kind,
    /// `host:port` of the broker, from librdkafka's report (empty when it named none).
    pub broker: String,
    /// librdkafka's report, secrets scrubbed.
    pub report: String,
}

/// A Kafka client could not connect because of its security settings: c2k exits with code 1
/// and this message, before anything is read from the archive or sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SecurityError(pub String);

/// librdkafka's report without the thread it came from (`[thrd:host:port/id]: `, in log lines)
/// and its variable tail (`(after 3ms in state X, N identical error(s) suppressed)`), to tell a
/// repeat from a new failure.
pub(crate) fn stem(text: &str) -> &str {
    let text = match text
        .strip_prefix("[thrd:")
        .and_then(|rest| rest.split_once("]: "))
    {
        Some((_, rest)) => rest,
        None => text,
    };
    match text.rfind(" (after ") {
        Some(at) => &text[..at],
        None => text,
    }
}

impl Trouble {
    /// The security problem a librdkafka report names, if it names one; `seen` is how many times
    /// it came (a broker closing the connection once may be restarting; every time, it is a TLS
    /// listener spoken to in plain text).
    pub(crate) fn classify(
        code: Option<RDKafkaErrorCode>,
        text: &str,
        seen: u32,
    ) -> Option<Trouble> {
        let kind = kind_of(code, &text.to_ascii_lowercase(), seen)?;
        let report = stem(text);
        Some(Trouble {
            kind,
            broker: broker_of(report),
            report: report.to_string(),
        })
    }

    /// The message for the user: what failed, with which broker, and the properties to look at
    /// (under the pipeline key `origin.key`).
    pub(crate) fn explain(&self, origin: &Origin) -> String {
        let key = origin.key;
        let broker = if self.broker.is_empty() {
            origin.brokers.as_str()
        } else {
            self.broker.as_str()
        };
        let property = |name: &str| origin.properties.get(name).map(String::as_str);
        let protocol = property("security.protocol").unwrap_or("PLAINTEXT");
        let mechanism = property("sasl.mechanism")
            .or_else(|| property("sasl.mechanisms"))
            .unwrap_or("GSSAPI");
        let what = match &self.kind {
            Kind::UnknownCa => format!(
                "TLS handshake with broker {broker} failed: unknown CA — the broker's certificate \
                 is not signed by a CA c2k trusts. Look at {key}.ssl.ca.location (or \
                 {key}.ssl.ca.pem): the CA certificate that signed the broker's"
            ),
            Kind::HostnameMismatch => format!(
                "TLS handshake with broker {broker} failed: hostname mismatch — the broker's \
                 certificate does not name the host c2k connected to ({}). Connect with a name the \
                 certificate holds ({} or the broker's advertised.listeners), or, knowingly, set \
                 {key}.ssl.endpoint.identification.algorithm=none",
                host_of(broker),
                origin.brokers_from
            ),
            Kind::ClientCertificate => format!(
                "TLS handshake with broker {broker} failed: the broker requires a client \
                 certificate. Look at {key}.ssl.certificate.location and {key}.ssl.key.location \
                 (or ssl.certificate.pem, ssl.key.pem, ssl.keystore.location)"
            ),
            Kind::Tls => format!(
                "TLS handshake with broker {broker} failed. Look at the {key}.ssl.* properties \
                 (ssl.ca.location, ssl.certificate.location, ssl.key.location)"
            ),
            Kind::NotTls => format!(
                "TLS handshake with broker {broker} failed: it does not speak TLS on that port (a \
                 PLAINTEXT or SASL_PLAINTEXT listener?). Look at {key}.security.protocol \
                 ({protocol}) and the port in {}",
                origin.brokers_from
            ),
            Kind::PlainOnTls => format!(
                "broker {broker} closes the connection before answering: a TLS listener spoken \
                 to in plain text, or a broker older than 0.10 (they answer no ApiVersions \
                 request: set {key}.api.version.request: false and {key}.broker.version.fallback, \
                 e.g. 0.8.2.2)? Look at {key}.security.protocol ({protocol}: SSL or SASL_SSL for a \
                 TLS listener) and the port in {}",
                origin.brokers_from
            ),
            Kind::NeedsSasl => format!(
                "broker {broker} closed the connection after it opened: a SASL listener? Look at \
                 {key}.security.protocol ({protocol}: SASL_SSL or SASL_PLAINTEXT, with \
                 {key}.sasl.mechanism)"
            ),
            Kind::BadCredentials => format!(
                "SASL authentication with broker {broker} failed: the broker rejected the \
                 credentials of {} for {mechanism} (authentication failed). Look at \
                 {key}.sasl.username and {key}.sasl.password",
                property("sasl.username").map_or("the user".to_string(), |u| format!("user {u}"))
            ),
            Kind::Mechanism { offered } => format!(
                "SASL mechanism {mechanism} is not enabled on broker {broker}{}. Look at \
                 {key}.sasl.mechanism",
                offered
                    .as_deref()
                    .map_or(String::new(), |list| format!(" (it enables {list})"))
            ),
            Kind::Kerberos => format!(
                "Kerberos (SASL GSSAPI) authentication with broker {broker} failed. Look at \
                 {key}.sasl.kerberos.keytab and {key}.sasl.kerberos.principal (c2k's own \
                 principal), {key}.sasl.kerberos.service.name (the broker's principal is \
                 <service>/{}), and KRB5_CONFIG / KRB5CCNAME",
                host_of(broker)
            ),
        };
        // librdkafka's own hint blames the CA whatever the verification failed on.
        let report = match self.kind {
            Kind::HostnameMismatch => self
                .report
                .split(": broker certificate could not be verified")
                .next()
                .unwrap_or(&self.report),
            _ => &self.report,
        };
        format!("{what} (librdkafka: {report})")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Kind::UnknownCa => "unknown CA",
            Kind::HostnameMismatch => "hostname mismatch",
            Kind::ClientCertificate => "client certificate required",
            Kind::Tls => "TLS handshake failed",
            Kind::NotTls => "not a TLS listener",
            Kind::PlainOnTls => "plain text on a TLS listener",
            Kind::NeedsSasl => "SASL required",
            Kind::BadCredentials => "authentication failed",
            Kind::Mechanism { .. } => "SASL mechanism not enabled",
            Kind::Kerberos => "Kerberos failed",
        };
        f.write_str(name)
    }
}

/// `text` is librdkafka's report in lower case.
fn kind_of(code: Option<RDKafkaErrorCode>, text: &str, seen: u32) -> Option<Kind> {
    let has = |needle: &str| text.contains(needle);
    if has("ssl handshake failed") || has("failed to verify broker certificate") {
        return Some(if has("connecting to a plaintext broker listener") {
            Kind::NotTls
        } else if has("hostname mismatch") || has("ip address mismatch") {
            Kind::HostnameMismatch
        } else if has("unexpected message") || has("client ssl authentication") {
            Kind::ClientCertificate
        } else if has("certificate verify failed")
            || has("could not be verified")
            || has("unable to get local issuer")
            || has("self-signed")
            || has("self signed")
        {
            Kind::UnknownCa
        } else {
            Kind::Tls
        });
    }
    if has("mechanism handshake failed") || has("unsupported sasl mechanism") {
        let offered = text
            .split("supported mechanisms: ")
            .nth(1)
            .map(|rest| {
                rest.split(" (")
                    .next()
                    .unwrap_or(rest)
                    .trim()
                    .to_uppercase()
            })
            .filter(|list| !list.is_empty());
        return Some(Kind::Mechanism { offered });
    }
    if has("gssapi") || has("kerberos") || has("kinit") || has("gss failure") {
        return Some(Kind::Kerberos);
    }
    if has("sasl authentication error")
        || has("authentication failed")
        || has("invalid credentials")
        || code == Some(RDKafkaErrorCode::Authentication)
    {
        return Some(Kind::BadCredentials);
    }
    if has("incorrect security.protocol")
        || (seen >= 2 && has("disconnected") && has("in state apiversion_query"))
    {
        return Some(Kind::PlainOnTls);
    }
    if has("broker might require sasl authentication") {
        return Some(Kind::NeedsSasl);
    }
    if code == Some(RDKafkaErrorCode::SSL) {
        return Some(Kind::Tls);
    }
    None
}

/// `ssl://127.0.0.1:9093/bootstrap: ...` → `127.0.0.1:9093`; empty when the report names none.
fn broker_of(text: &str) -> String {
    let Some((name, _)) = text.split_once(": ") else {
        return String::new();
    };
    let address = name.split_once("://").map_or(name, |(_, rest)| rest);
    let address = address.split('/').next().unwrap_or(address);
    if address.contains(':') && !address.contains(' ') {
        address.to_string()
    } else {
        String::new()
    }
}

/// The host of `host:port`.
fn host_of(broker: &str) -> &str {
    broker.rsplit_once(':').map_or(broker, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<Kind> {
        Trouble::classify(None, text, 1).map(|t| t.kind)
    }

    #[test]
    fn librdkafka_reports_of_each_common_mistake_are_told_apart() {
        assert_eq!(
            kind("ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured (after 4ms in state SSL_HANDSHAKE)"),
            Some(Kind::UnknownCa)
        );
        assert_eq!(
            kind("ssl://localhost:9093/bootstrap: SSL handshake failed: ssl/statem/statem_clnt.c:1889: error:0A000086:SSL routines::certificate verify failed: Hostname mismatch"),
            Some(Kind::HostnameMismatch)
        );
        assert_eq!(
            kind("ssl://127.0.0.1:9092/bootstrap: SSL handshake failed: Disconnected: connecting to a PLAINTEXT broker listener?"),
            Some(Kind::NotTls)
        );
        assert_eq!(
            kind("127.0.0.1:9093/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10 (see api.version.request)"),
            Some(Kind::PlainOnTls)
        );
        assert_eq!(
            kind("sasl_ssl://127.0.0.1:9094/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256 (after 312ms in state AUTH_REQ)"),
            Some(Kind::BadCredentials)
        );
        assert_eq!(
            kind("sasl_ssl://127.0.0.1:9094/bootstrap: SASL PLAIN mechanism handshake failed: Broker: Unsupported SASL mechanism: broker's supported mechanisms: SCRAM-SHA-256,SCRAM-SHA-512 (after 2ms in state AUTH_HANDSHAKE)"),
            Some(Kind::Mechanism { offered: Some("SCRAM-SHA-256,SCRAM-SHA-512".into()) })
        );
        assert_eq!(
            kind("sasl_plaintext://localhost:9095/bootstrap: Failed to initialize SASL authentication: SASL handshake failed (start (-1)): SASL(-1): generic failure: GSSAPI Error: Unspecified GSS failure.  Minor code may provide more information (Server kafka/localhost@C2K.TEST not found in Kerberos database)"),
            Some(Kind::Kerberos)
        );
        assert_eq!(
            kind("127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused"),
            None
        );
        let closed = "[thrd:127.0.0.1:19094/bootstrap]: 127.0.0.1:19094/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 2ms in state APIVERSION_QUERY)";
        assert_eq!(kind(closed), None, "once may be a restart");
        let twice = Trouble::classify(None, closed, 2).unwrap();
        assert_eq!(twice.kind, Kind::PlainOnTls);
        assert_eq!(twice.broker, "127.0.0.1:19094");
        assert!(
            twice
                .report
                .starts_with("127.0.0.1:19094/bootstrap: Disconnected"),
            "{twice:?}"
        );
    }

    fn origin(properties: &[(&str, &str)]) -> Origin {
        Origin {
            role: "the replay producer".into(),
            key: "sink.producer",
            brokers: "127.0.0.1:9094".into(),
            brokers_from: "sink.brokers".into(),
            properties: properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into(),
        }
    }

    #[test]
    fn the_message_names_the_mistake_the_broker_and_the_property() {
        let trouble = Trouble::classify(
            None,
            "sasl_ssl://127.0.0.1:9094/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 9ms in state AUTH_REQ)",
            1,
        )
        .unwrap();
        let text = trouble.explain(&origin(&[
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "c2k"),
        ]));
        for needle in [
            "SASL authentication with broker 127.0.0.1:9094 failed",
            "user c2k for SCRAM-SHA-512",
            "sink.producer.sasl.password",
            "(librdkafka: sasl_ssl://",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(!text.contains("after 9ms"), "{text}");
    }
}
