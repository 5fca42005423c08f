//! Splitting an `hdfs://` or `viewfs://` URL into the cluster it names and the path inside it.
//!
//! Done by hand rather than with the `url` crate on purpose: paths are passed to the namenode
//! exactly as written (no percent-decoding, no normalisation), so that the URLs the backend hands
//! back ([`super::super::FileEntry::url`]) are the ones the user wrote plus relative names.

use anyhow::{bail, Result};

/// An HDFS URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HdfsUrl {
    /// `hdfs` or `viewfs`.
    pub scheme: String,
    /// `host:port`, a nameservice / mount table name, or empty (then `fs.defaultFS` decides).
    pub authority: String,
    /// The absolute path inside the cluster, `/` at least, without a trailing `/`.
    pub path: String,
}

impl HdfsUrl {
    pub(crate) fn parse(url: &str) -> Result<HdfsUrl> {
        let Some((scheme, rest)) = url.split_once("://") else {
            bail!("{url}: not an hdfs:// or viewfs:// URL");
        };
        if scheme != "hdfs" && scheme != "viewfs" {
            bail!("{url}: not an hdfs:// or viewfs:// URL");
        }
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, "/"),
        };
        if authority.contains(['?', '#', '@']) || path.contains(['?', '#']) {
            bail!("{url}: user info, queries and fragments are not supported in HDFS URLs");
        }
        let trimmed = path.trim_end_matches('/');
        Ok(HdfsUrl {
            scheme: scheme.to_string(),
            authority: authority.to_string(),
            path: if trimmed.is_empty() {
                "/".to_string()
            } else {
                trimmed.to_string()
            },
        })
    }

    /// `scheme://authority`: what identifies one client (one namenode, nameservice or mount table).
    pub(crate) fn cluster(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The host and port when the authority names a single namenode (`host:port`).
    pub(crate) fn host_port(&self) -> Option<(&str, u16)> {
        let (host, port) = self.authority.rsplit_once(':')?;
        let port = port.parse().ok()?;
        (!host.is_empty()).then_some((host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_host_port_and_path() {
        let url = HdfsUrl::parse("hdfs://nn.example.com:8020/camus/destination/").unwrap();
        assert_eq!(url.scheme, "hdfs");
        assert_eq!(url.authority, "nn.example.com:8020");
        assert_eq!(url.path, "/camus/destination");
        assert_eq!(url.cluster(), "hdfs://nn.example.com:8020");
        assert_eq!(url.host_port(), Some(("nn.example.com", 8020)));
    }

    #[test]
    fn nameservice_has_no_port_and_root_defaults() {
        let url = HdfsUrl::parse("viewfs://cluster").unwrap();
        assert_eq!(url.path, "/");
        assert_eq!(url.host_port(), None);
        let url = HdfsUrl::parse("hdfs:///camus").unwrap();
        assert_eq!(url.authority, "");
        assert_eq!(url.path, "/camus");
    }

    #[test]
    fn rejects_other_schemes_and_queries() {
        assert!(HdfsUrl::parse("s3://bucket/x").is_err());
        assert!(HdfsUrl::parse("/local/path").is_err());
        assert!(HdfsUrl::parse("hdfs://nn:8020/x?op=OPEN").is_err());
    }
}
