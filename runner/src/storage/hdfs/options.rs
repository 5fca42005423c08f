//! How the HDFS backend connects: timeouts and an optional explicit user, from the environment.
//!
//! Everything else (namenode addresses of a nameservice, viewfs mount tables, Kerberos) comes from
//! the Hadoop configuration that `hdfs-native` reads itself from `$HADOOP_CONF_DIR` (or
//! `$HADOOP_HOME/etc/hadoop`), exactly like the Java client.

use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Seconds to wait for a namenode (connect + each metadata call) before failing.
pub(super) const CONNECT_TIMEOUT_ENV: &str = "C2K_HDFS_CONNECT_TIMEOUT";
/// Seconds a read may go without receiving any data from a datanode before failing.
pub(super) const READ_TIMEOUT_ENV: &str = "C2K_HDFS_READ_TIMEOUT";
/// A Kerberos principal to log in as with [`KEYTAB_ENV`] (otherwise the default ticket cache).
pub(super) const PRINCIPAL_ENV: &str = "C2K_HDFS_KERBEROS_PRINCIPAL";
/// A keytab for [`PRINCIPAL_ENV`].
pub(super) const KEYTAB_ENV: &str = "C2K_HDFS_KERBEROS_KEYTAB";

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Connection settings of [`super::HdfsStorage`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HdfsOptions {
    /// Bound on reaching the namenode and on each metadata call (listing, opening a file).
    pub connect_timeout: Duration,
    /// Bound on a read that receives no data at all (a dead or hung datanode).
    pub read_timeout: Duration,
    /// The HDFS user to act as. `None`: `hdfs-native` decides, as the Java client does —
    /// `$HADOOP_USER_NAME`, else the Kerberos principal, else the OS user.
    pub user: Option<String>,
    /// Kerberos principal and keytab to log in with; `None`: the default ticket cache (`kinit`).
    pub kerberos_principal: Option<String>,
    pub kerberos_keytab: Option<String>,
}

impl Default for HdfsOptions {
    fn default() -> Self {
        HdfsOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            user: None,
            kerberos_principal: None,
            kerberos_keytab: None,
        }
    }
}

impl HdfsOptions {
    /// The defaults, overridden by `C2K_HDFS_*` environment variables.
    pub fn from_env() -> Result<HdfsOptions> {
        let mut options = HdfsOptions::default();
        if let Some(timeout) = seconds_from_env(CONNECT_TIMEOUT_ENV)? {
            options.connect_timeout = timeout;
        }
        if let Some(timeout) = seconds_from_env(READ_TIMEOUT_ENV)? {
            options.read_timeout = timeout;
        }
        options.kerberos_principal = non_empty_env(PRINCIPAL_ENV);
        options.kerberos_keytab = non_empty_env(KEYTAB_ENV);
        if options.kerberos_keytab.is_some() && options.kerberos_principal.is_none() {
            bail!("{KEYTAB_ENV} is set but {PRINCIPAL_ENV} is not: a keytab needs its principal");
        }
        Ok(options)
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn seconds_from_env(name: &str) -> Result<Option<Duration>> {
    let Some(text) = non_empty_env(name) else {
        return Ok(None);
    };
    parse_seconds(&text).with_context(|| format!("{name}={text}"))
}

/// A positive number of seconds, fractions allowed (`0.5`).
fn parse_seconds(text: &str) -> Result<Option<Duration>> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("not a number of seconds"))?;
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 86_400.0 {
        bail!("must be a number of seconds between 0 and 86400");
    }
    Ok(Some(Duration::from_secs_f64(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accept_fractions_and_reject_nonsense() {
        assert_eq!(
            parse_seconds("2.5").unwrap(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            parse_seconds(" 10 ").unwrap(),
            Some(Duration::from_secs(10))
        );
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("ten").is_err());
        assert!(parse_seconds("inf").is_err());
    }
}
