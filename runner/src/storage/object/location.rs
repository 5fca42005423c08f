//! An object-store URL split into the store it names (`s3://bucket`) and the key under it.
//!
//! Split by hand rather than by `url::Url`, which would re-encode the key: a key listed from the
//! store must come back, joined to its store's URL and split again, as exactly that key.

use anyhow::{anyhow, bail, Result};
use object_store::path::Path;

/// The object-store URL schemes, by cloud.
pub(crate) const SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl"];

/// Which cloud's client a URL needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cloud {
    S3,
    Gcs,
    Azure,
}

impl Cloud {
    /// As users name it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Cloud::S3 => "S3",
            Cloud::Gcs => "Google Cloud Storage",
            Cloud::Azure => "Azure Blob Storage",
        }
    }

    /// What the top level of a store is called there.
    pub(super) fn container(self) -> &'static str {
        match self {
            Cloud::Azure => "container",
            Cloud::S3 | Cloud::Gcs => "bucket",
        }
    }
}

/// `s3://bucket/a/b` as the store (`s3://bucket`) and the key (`a/b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ObjectUrl {
    pub cloud: Cloud,
    /// `scheme://authority`, with no trailing slash: what one client serves.
    pub base: String,
    /// The bucket or container.
    pub bucket: String,
    /// The key (or prefix), without leading or trailing slashes; empty for the whole bucket.
    pub key: Path,
}

impl ObjectUrl {
    pub(super) fn parse(url: &str) -> Result<ObjectUrl> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| anyhow!("{url}: not a URL"))?;
        let cloud = match scheme {
            "s3" | "s3a" => Cloud::S3,
            "gs" => Cloud::Gcs,
            "az" | "azure" | "abfs" | "abfss" | "adl" => Cloud::Azure,
            other => bail!("{url}: `{other}://` is not an object store's scheme"),
        };
        let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
        // abfs[s]://container@account.dfs.core.windows.net/path names the container first.
        let bucket = authority.split('@').next().unwrap_or_default();
        if bucket.is_empty() {
            bail!("{url}: no bucket (or container) after `{scheme}://`");
        }
        let key = key.trim_matches('/');
        let key = Path::parse(key).map_err(|e| anyhow!("{url}: not a valid object key: {e}"))?;
        Ok(ObjectUrl {
            cloud,
            base: format!("{scheme}://{authority}"),
            bucket: bucket.to_string(),
            key,
        })
    }

    /// The URL of `key` in the same store.
    pub(super) fn url_of(&self, key: &Path) -> String {
        if key.as_ref().is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, key.as_ref())
        }
    }

    /// The URL this was parsed from, normalised (no trailing slash).
    pub(super) fn url(&self) -> String {
        self.url_of(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_splits_into_its_store_and_key_and_joins_back() {
        let url = ObjectUrl::parse("s3://archive/camus/dest/events/").unwrap();
        assert_eq!(url.cloud, Cloud::S3);
        assert_eq!(url.base, "s3://archive");
        assert_eq!(url.bucket, "archive");
        assert_eq!(url.key.as_ref(), "camus/dest/events");
        assert_eq!(url.url(), "s3://archive/camus/dest/events");
        let file = Path::parse("camus/dest/events/hourly/x.avro").unwrap();
        assert_eq!(
            ObjectUrl::parse(&url.url_of(&file)).unwrap().key,
            file,
            "a listed key comes back as itself"
        );
    }

    #[test]
    fn every_cloud_s_schemes_are_known_and_a_bucket_is_required() {
        let abfs = ObjectUrl::parse("abfss://lake@acct.dfs.core.windows.net/camus").unwrap();
        assert_eq!(abfs.cloud, Cloud::Azure);
        assert_eq!(abfs.bucket, "lake");
        assert_eq!(abfs.base, "abfss://lake@acct.dfs.core.windows.net");
        assert_eq!(ObjectUrl::parse("gs://b").unwrap().key.as_ref(), "");
        assert_eq!(ObjectUrl::parse("az://c/p").unwrap().cloud, Cloud::Azure);
        let error = ObjectUrl::parse("s3:///camus").unwrap_err().to_string();
        assert!(error.contains("no bucket"), "{error}");
        let error = ObjectUrl::parse("s3://b/a//c").unwrap_err().to_string();
        assert!(error.contains("not a valid object key"), "{error}");
    }
}
