//! SASL to a ZooKeeper ensemble: DIGEST-MD5 (a user and password) or GSSAPI (Kerberos), from the
//! `offsets.zookeeper_*` keys or a JAAS file's `Client` section — what Java clients read from
//! `java.security.auth.login.config`.
//!
//! GSSAPI uses the Kerberos ticket cache (`KRB5CCNAME`, as `kinit` leaves it). With a keytab,
//! `kinit` logs in into a ticket cache of this process's own, named in `KRB5CCNAME` before any
//! connection is made: the GSSAPI library offers no other way to choose the credentials.

use std::borrow::Cow;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use zookeeper_client::SaslOptions;

use crate::config::{OffsetsConfig, ZkSasl};

/// How `c2k` authenticates to ZooKeeper.
#[derive(Clone, Debug, Default)]
pub(crate) struct ZkAuth {
    pub sasl: Option<SaslOptions>,
    /// For messages: `SASL DIGEST-MD5 as bob`, `SASL GSSAPI (ticket cache)` — never a secret.
    pub described: String,
}

/// What a JAAS `Client` section holds.
#[derive(Debug, Default, PartialEq, Eq)]
struct Jaas {
    module: String,
    options: Vec<(String, String)>,
}

impl Jaas {
    fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl ZkAuth {
    /// From the pipeline's `offsets.zookeeper_*` keys (a JAAS file fills in what they leave out).
    pub(crate) fn from_config(offsets: &OffsetsConfig) -> Result<ZkAuth> {
        let jaas = match &offsets.zookeeper_jaas {
            Some(path) => Some(read_jaas(Path::new(path))?),
            None => None,
        };
        let mechanism = match (offsets.zookeeper_sasl, &jaas) {
            (ZkSasl::None, Some(jaas)) if jaas.module.ends_with("DigestLoginModule") => {
                ZkSasl::DigestMd5
            }
            (ZkSasl::None, Some(jaas)) if jaas.module.ends_with("Krb5LoginModule") => {
                ZkSasl::Gssapi
            }
            (ZkSasl::None, Some(jaas)) => bail!(
                "offsets.zookeeper_jaas: the Client section's login module {} is neither \
                 DigestLoginModule nor Krb5LoginModule",
                jaas.module
            ),
            (mechanism, _) => mechanism,
        };
        let from_jaas = |name: &str| jaas.as_ref().and_then(|j| j.get(name)).map(str::to_string);
        match mechanism {
            ZkSasl::None => Ok(ZkAuth::default()),
            ZkSasl::DigestMd5 => {
                let user = offsets
                    .zookeeper_username
                    .clone()
                    .or_else(|| from_jaas("username"))
                    .context(
                        "offsets.zookeeper_sasl: digest-md5 needs offsets.zookeeper_username (or \
                         a JAAS Client section with username)",
                    )?;
                let password = offsets
                    .zookeeper_password
                    .clone()
                    .or_else(|| from_jaas("password"))
                    .context(
                        "offsets.zookeeper_sasl: digest-md5 needs offsets.zookeeper_password (or \
                         a JAAS Client section with password)",
                    )?;
                Ok(ZkAuth {
                    described: format!("SASL DIGEST-MD5 as {user}"),
                    sasl: Some(SaslOptions::digest_md5(user, password).into()),
                })
            }
            ZkSasl::Gssapi => {
                let keytab = offsets.zookeeper_keytab.clone().or_else(|| {
                    (from_jaas("useKeyTab").as_deref() == Some("true"))
                        .then(|| from_jaas("keyTab"))
                        .flatten()
                });
                let principal = offsets
                    .zookeeper_principal
                    .clone()
                    .or_else(|| from_jaas("principal"));
                let described = match (&keytab, &principal) {
                    (Some(keytab), Some(principal)) => {
                        log_in_once(keytab, principal)?;
                        format!("SASL GSSAPI as {principal} (keytab {keytab})")
                    }
                    (Some(_), None) => bail!(
                        "offsets.zookeeper_keytab needs offsets.zookeeper_principal: which \
                         principal of the keytab logs in?"
                    ),
                    (None, _) => {
                        "SASL GSSAPI (the ticket cache: KRB5CCNAME or kinit's default)".to_string()
                    }
                };
                let service = offsets.zookeeper_service.clone();
                Ok(ZkAuth {
                    described: format!("{described}, service {service}"),
                    sasl: Some(
                        SaslOptions::gssapi()
                            .with_username(Cow::Owned(service))
                            .into(),
                    ),
                })
            }
        }
    }
}

/// `kinit` with the keytab into a ticket cache of this process, once per process.
fn log_in_once(keytab: &str, principal: &str) -> Result<()> {
    static LOGGED_IN: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    LOGGED_IN
        .get_or_init(|| log_in(keytab, principal).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn log_in(keytab: &str, principal: &str) -> Result<()> {
    let cache = std::env::temp_dir().join(format!("c2k-krb5cc-{}", std::process::id()));
    let cache = format!("FILE:{}", cache.display());
    let output = Command::new("kinit")
        .args(["-k", "-t", keytab, "-c", &cache, principal])
        .output()
        .context(
            "cannot run kinit (Debian package krb5-user) to log in with offsets.zookeeper_keytab",
        )?;
    if !output.status.success() {
        bail!(
            "kinit -k -t {keytab} {principal} failed: {} (is the principal in the keytab, and \
             the KDC of its realm reachable?)",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // The GSSAPI library reads the cache's name from the environment only. This runs before
    // the first ZooKeeper connection, from the one thread that does the offsets step.
    std::env::set_var("KRB5CCNAME", &cache);
    Ok(())
}

fn read_jaas(path: &Path) -> Result<Jaas> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("offsets.zookeeper_jaas: cannot read {}", path.display()))?;
    parse_jaas(&text, "Client").with_context(|| {
        format!(
            "offsets.zookeeper_jaas: {} has no usable `Client {{ ... }};` section",
            path.display()
        )
    })
}

/// The first login module of section `name`: `Name { module flag key="value" ...; };`.
fn parse_jaas(text: &str, name: &str) -> Option<Jaas> {
    let without_comments: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let tokens = tokenize(&without_comments);
    let start = tokens
        .windows(2)
        .position(|w| w[0] == name && w[1] == "{")?;
    let mut rest = tokens[start + 2..].iter();
    let module = rest.next()?.clone();
    let _flag = rest.next()?;
    let mut options = Vec::new();
    let mut pending: Option<String> = None;
    for token in rest {
        match token.as_str() {
            ";" | "}" => break,
            "=" => {}
            value if pending.is_some() && !value.is_empty() => {
                if let Some(key) = pending.take() {
                    options.push((key, value.trim_matches('"').to_string()));
                }
            }
            key => pending = Some(key.to_string()),
        }
    }
    Some(Jaas { module, options })
}

/// Words, quoted strings, and the punctuation `{ } ; =` as tokens of their own.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "{};=".contains(c) {
            tokens.push(c.to_string());
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut word = String::from("\"");
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                word.push(c);
            }
            word.push('"');
            tokens.push(word);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || "{};=".contains(c) {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_client_sections_give_the_module_and_its_options() {
        let text = r#"
            // The server's own section comes first in many files.
            Server {
                org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="s3cret";
            };
            Client {
                org.apache.zookeeper.server.auth.DigestLoginModule required
                username="bob"
                password="p; w=d";
            };
        "#;
        let jaas = parse_jaas(text, "Client").unwrap();
        assert_eq!(
            jaas.module,
            "org.apache.zookeeper.server.auth.DigestLoginModule"
        );
        assert_eq!(jaas.get("username"), Some("bob"));
        assert_eq!(jaas.get("password"), Some("p; w=d"));
        let kerberos = parse_jaas(
            "Client { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true \
             keyTab=\"/k/c2k.keytab\" principal=\"c2k@EXAMPLE.TEST\"; };",
            "Client",
        )
        .unwrap();
        assert_eq!(kerberos.get("keytab"), Some("/k/c2k.keytab"));
        assert_eq!(kerberos.get("useKeyTab"), Some("true"));
        assert_eq!(parse_jaas("Other { m required; };", "Client"), None);
    }
}
