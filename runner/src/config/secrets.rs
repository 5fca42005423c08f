//! Secrets in the pipeline's librdkafka properties (`sink.producer`, `offsets.consumer`): which
//! properties hold one, and the one helper everything that shows properties goes through, so a
//! password is never printed — not by `c2k validate`, a dry run, an error or a log line.
//!
//! A property holds a secret when its name contains `password`, `secret`, `token`, `key.pem`,
//! `jaas`, `credential`, `oauthbearer.config` or `ssl_key` (librdkafka's `sasl.password`,
//! `ssl.key.password`, `ssl.keystore.password`, `ssl.key.pem`, `sasl.oauthbearer.client.secret`,
//! `sasl.oauthbearer.config`, and Java-style `sasl.jaas.config` users bring along). Its value is
//! shown as [`REDACTED`].
//!
//! Beyond the properties c2k shows itself, librdkafka's own texts (errors, logs) may quote a value:
//! [`remember`] keeps the secret values of the loaded pipeline and [`scrub`] replaces them in any
//! text, which `c2k`'s error output and its log writer do last.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;

/// What a secret is shown as.
pub(crate) const REDACTED: &str = "***";

/// Parts of a property name that mark its value as a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "secret",
    "token",
    "key.pem",
    "jaas",
    "credential",
    "oauthbearer.config",
    "ssl_key",
    // Object stores' (storage.options): azure_storage_account_key, google_service_account_key,
    // azure_storage_sas_key.
    "account_key",
    "sas_key",
];

/// Secret values shorter than this are not scrubbed from free text ([`scrub`]): replacing every
/// `ab` in a message would garble it. Properties themselves are always shown redacted.
const SHORTEST_SCRUBBED: usize = 4;

/// Whether the value of librdkafka property `name` is a secret.
pub(crate) fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// The value of property `name` as it may be shown: itself, or [`REDACTED`].
pub(crate) fn shown<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret(name) {
        REDACTED
    } else {
        value
    }
}

/// A map of librdkafka properties (`sink.producer`, `offsets.consumer`): passed to librdkafka as
/// written, shown only with its secrets redacted (its `Debug` and [`Properties::redacted`]).
///
/// Values are written as librdkafka and Kafka take them, as text; YAML numbers and booleans
/// (`linger.ms: 5`, `enable.idempotence: true`) are read as that same text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties(BTreeMap<String, String>);

/// A property's value as YAML may write it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Flag(bool),
    Whole(i64),
    Large(u64),
    Real(f64),
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
        Ok(Properties(
            map.into_iter()
                .map(|(name, value)| {
                    let text = match value {
                        Scalar::Text(text) => text,
                        Scalar::Flag(flag) => flag.to_string(),
                        Scalar::Whole(n) => n.to_string(),
                        Scalar::Large(n) => n.to_string(),
                        Scalar::Real(n) => n.to_string(),
                    };
                    (name, text)
                })
                .collect(),
        ))
    }
}

impl Properties {
    /// `name=value, name=***, ...` in name order; `(none)` when empty.
    pub fn redacted(&self) -> String {
        if self.0.is_empty() {
            return "(none)".to_string();
        }
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={}", shown(name, value)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The values of its secret properties.
    pub fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|(name, _)| is_secret(name))
            .map(|(_, value)| value.as_str())
    }
}

impl std::ops::Deref for Properties {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<BTreeMap<String, String>> for Properties {
    fn from(map: BTreeMap<String, String>) -> Self {
        Properties(map)
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(name, value)| (name, shown(name, value))),
            )
            .finish()
    }
}

/// The secret values of the pipeline(s) this process loaded, scrubbed from what it prints.
static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remembers these secret values, so that [`scrub`] removes them from any text.
pub(crate) fn remember<'a>(values: impl IntoIterator<Item = &'a str>) {
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    for value in values {
        if value.len() >= SHORTEST_SCRUBBED && !known.iter().any(|k| k == value) {
            known.push(value.to_string());
        }
    }
    // The longest first, so that a secret containing another is replaced whole.
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `text` with every remembered secret value replaced by [`REDACTED`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    scrub_with(text, known.iter().map(String::as_str))
}

/// `text` with each of `secrets` replaced by [`REDACTED`].
pub(crate) fn scrub_with<'a, 't>(
    text: &'t str,
    secrets: impl Iterator<Item = &'a str>,
) -> Cow<'t, str> {
    let mut out = Cow::Borrowed(text);
    for secret in secrets {
        if !secret.is_empty() && out.contains(secret) {
            out = Cow::Owned(out.replace(secret, REDACTED));
        }
    }
    out
}

/// stderr, with remembered secrets scrubbed from every write (and remembered paths escaped,
/// [`crate::storage::shown`]): the log writer of `c2k`
/// ([`crate::progress::init_logging`]). The log formatter writes each event in one call.
pub(crate) struct ScrubbedStderr;

impl std::io::Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let text = scrub(&text);
        // Paths named with control characters escaped too, as in every message.
        std::io::stderr().write_all(crate::storage::shown::printable(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(pairs: &[(&str, &str)]) -> Properties {
        Properties(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn passwords_keys_secrets_and_tokens_are_secret_and_nothing_else() {
        for name in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.config",
            "sasl.jaas.config",
            "SASL.PASSWORD",
            "sasl.oauthbearer.token.endpoint.url",
        ] {
            assert!(is_secret(name), "{name}");
        }
        for name in [
            "security.protocol",
            "sasl.mechanism",
            "sasl.username",
            "ssl.ca.location",
            "ssl.certificate.pem",
            "ssl.key.location",
            "sasl.kerberos.keytab",
            "sasl.kerberos.principal",
        ] {
            assert!(!is_secret(name), "{name}");
        }
    }

    #[test]
    fn shown_debugged_and_listed_properties_never_carry_a_secret() {
        let p = properties(&[
            ("sasl.username", "alice"),
            ("sasl.password", "hunter22"),
            ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----"),
        ]);
        let listed = p.redacted();
        assert_eq!(
            listed,
            "sasl.password=***, sasl.username=alice, ssl.key.pem=***"
        );
        let debugged = format!("{p:?}");
        assert!(
            !debugged.contains("hunter22") && !debugged.contains("BEGIN"),
            "{debugged}"
        );
        assert!(debugged.contains("\"alice\""), "{debugged}");
        assert_eq!(Properties::default().redacted(), "(none)");
        let secrets: Vec<&str> = p.secret_values().collect();
        assert_eq!(secrets, ["hunter22", "-----BEGIN PRIVATE KEY-----"]);
    }

    #[test]
    fn scrubbing_replaces_every_known_secret_and_leaves_short_ones() {
        let text = "Invalid value \"hunter22\" for sasl.password; again hunter22";
        assert_eq!(
            scrub_with(text, ["hunter22"].into_iter()),
            "Invalid value \"***\" for sasl.password; again ***"
        );
        assert!(matches!(
            scrub_with("nothing here", ["hunter22"].into_iter()),
            Cow::Borrowed(_)
        ));
        remember(["s3cret-value", "ab"]);
        assert_eq!(scrub("x s3cret-value y ab"), "x *** y ab");
    }
}
