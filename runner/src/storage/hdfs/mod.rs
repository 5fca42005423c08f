//! HDFS through the `hdfs-native` crate: `hdfs://host:port/path`, `hdfs://nameservice/path` (HA,
//! from `$HADOOP_CONF_DIR`), `viewfs://cluster/path` (mount tables, ditto), the user from
//! `$HADOOP_USER_NAME`, Kerberos when the configuration asks for it.
//!
//! The [`Storage`] trait is synchronous while `hdfs-native` is async: every call is bridged onto
//! one shared runtime ([`runtime`]), bounded by a timeout so that an unreachable or hung cluster
//! fails with a message naming the URL instead of hanging. Files stream with read-ahead
//! ([`reader`]); clients are shared per cluster ([`clients`]), so opening many files from many
//! threads costs one namenode call each. Files are written (the staging area of the map and
//! reduce stages) through [`writer`], renamed with the namenode's atomic overwriting rename.

mod clients;
mod errors;
mod options;
mod reader;
mod url;
mod writer;

use std::future::Future;
use std::io::Read;

use anyhow::{anyhow, bail, Result};
use futures::StreamExt;
use hdfs_native::client::FileStatus;
use hdfs_native::{Client, HdfsError, WriteOptions};

pub use options::HdfsOptions;
use options::CONNECT_TIMEOUT_ENV;
pub(crate) use reader::HdfsReader;
pub(crate) use url::HdfsUrl;
pub(crate) use writer::HdfsWriter;

use super::{runtime, FileEntry, FileWrite, Storage};

/// How many directories are listed concurrently by [`Storage::list_files`] (a Camus tree has one
/// directory per hour: listing them one by one would cost a namenode round trip each).
const LISTING_CONCURRENCY: usize = 16;

/// An HDFS (or viewfs) file system. One value serves every cluster: each URL names its own.
pub struct HdfsStorage {
    options: HdfsOptions,
}

impl HdfsStorage {
    /// Checks that the cluster `url` names is reachable, with options from the environment
    /// ([`HdfsOptions::from_env`]).
    pub fn connect(url: &str) -> Result<Self> {
        let options = HdfsOptions::from_env().map_err(|e| anyhow!("{url}: {e:#}"))?;
        Self::connect_with(url, options)
    }

    /// [`HdfsStorage::connect`] with explicit options.
    pub fn connect_with(url: &str, options: HdfsOptions) -> Result<Self> {
        let storage = HdfsStorage { options };
        storage.client(url)?;
        Ok(storage)
    }

    fn client(&self, url: &str) -> Result<(Client, HdfsUrl)> {
        let parsed = HdfsUrl::parse(url)?;
        let client = clients::client_for(url, &parsed, &self.options)?;
        Ok((client, parsed))
    }

    /// Runs one namenode call from synchronous code, within the connect timeout.
    fn call<T: Send>(
        &self,
        url: &str,
        doing: &str,
        call: impl Future<Output = Result<T>> + Send,
    ) -> Result<T> {
        let limit = self.options.connect_timeout;
        match runtime::block_on(runtime::within(limit, call))? {
            Ok(result) => result,
            Err(()) => bail!(
                "cannot {doing} {url}: the namenode did not answer within {:.1}s (set {} to wait \
                 longer)",
                limit.as_secs_f64(),
                CONNECT_TIMEOUT_ENV
            ),
        }
    }

    /// The status of `path`, with a clear error if it is missing or forbidden.
    async fn status(client: &Client, url: &str, path: &str, doing: &str) -> Result<FileStatus> {
        client
            .get_file_info(path)
            .await
            .map_err(|e| failure(doing, url, &e))
    }
}

/// `cannot <doing> <url>: <what went wrong>`.
fn failure(doing: &str, url: &str, error: &HdfsError) -> anyhow::Error {
    if errors::is_not_found(error) {
        anyhow!("cannot {doing} {url}: no such file or directory")
    } else {
        anyhow!("cannot {doing} {url}: {}", errors::describe(error))
    }
}

/// The entries directly inside one directory (paged by the namenode).
async fn list_one(client: &Client, url: &str, path: &str) -> Result<Vec<FileStatus>> {
    let listing = client.list_status_iter(path, false);
    let mut entries = Vec::new();
    while let Some(entry) = listing.next().await {
        entries.push(entry.map_err(|e| failure("list", url, &e))?);
    }
    Ok(entries)
}

/// The last component of an HDFS path.
fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn url_join(base: &str, name: &str) -> String {
    format!("{}/{name}", base.trim_end_matches('/'))
}

impl Storage for HdfsStorage {
    fn list_files(&self, dir: &str) -> Result<Vec<FileEntry>> {
        let (client, parsed) = self.client(dir)?;
        let limit = self.options.connect_timeout;
        let root = self.call(
            dir,
            "list",
            Self::status(&client, dir, &parsed.path, "list"),
        )?;
        if !root.isdir {
            bail!("cannot list {dir}: not a directory");
        }
        let walk = async {
            let mut found = Vec::new();
            let mut pending = vec![(dir.trim_end_matches('/').to_string(), parsed.path.clone())];
            while !pending.is_empty() {
                let level = std::mem::take(&mut pending);
                let mut listings = futures::stream::iter(level.into_iter().map(|(url, path)| {
                    let client = &client;
                    async move {
                        let listing = runtime::within(limit, list_one(client, &url, &path)).await;
                        (url, path, listing)
                    }
                }))
                .buffer_unordered(LISTING_CONCURRENCY);
                while let Some((url, path, listing)) = listings.next().await {
                    let entries = listing.map_err(|()| {
                        anyhow!(
                            "cannot list {url}: the namenode did not answer within {:.1}s (set \
                             {CONNECT_TIMEOUT_ENV} to wait longer)",
                            limit.as_secs_f64()
                        )
                    })??;
                    for entry in entries {
                        let name = name_of(&entry.path);
                        if entry.isdir {
                            let folder = url_join(&url, name);
                            super::shown::remember(&folder);
                            pending.push((folder, url_join(&path, name)));
                        } else {
                            found.push(FileEntry {
                                url: url_join(&url, name),
                                size: entry.length as u64,
                                not_regular: None,
                            });
                        }
                    }
                }
            }
            Ok::<_, anyhow::Error>(found)
        };
        let mut found = runtime::block_on(walk)??;
        for entry in &found {
            super::shown::remember(&entry.url);
        }
        found.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(found)
    }

    fn list_dirs(&self, dir: &str) -> Result<Vec<String>> {
        let (client, parsed) = self.client(dir)?;
        let root = self.call(
            dir,
            "list",
            Self::status(&client, dir, &parsed.path, "list"),
        )?;
        if !root.isdir {
            bail!("cannot list {dir}: not a directory");
        }
        let entries = self.call(dir, "list", list_one(&client, dir, &parsed.path))?;
        let mut names: Vec<String> = entries
            .iter()
            .filter(|entry| entry.isdir)
            .map(|entry| name_of(&entry.path).to_string())
            .collect();
        for name in &names {
            super::shown::remember(&url_join(dir, name));
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, url: &str) -> Result<Box<dyn Read + Send>> {
        let (client, parsed) = self.client(url)?;
        let opening = async {
            let status = Self::status(&client, url, &parsed.path, "open").await?;
            if status.isdir {
                bail!("cannot open {url}: is a directory, not a file");
            }
            client
                .read(&parsed.path)
                .await
                .map_err(|e| failure("open", url, &e))
        };
        let file = self.call(url, "open", opening)?;
        Ok(Box::new(HdfsReader::start(
            url,
            file,
            self.options.read_timeout,
            &runtime::handle()?,
        )))
    }

    fn file_size(&self, url: &str) -> Result<Option<u64>> {
        let (client, parsed) = self.client(url)?;
        let asking = async {
            match client.get_file_info(&parsed.path).await {
                Ok(status) if status.isdir => {
                    bail!("{url} is a directory, where a file was expected")
                }
                Ok(status) => Ok(Some(status.length as u64)),
                Err(e) if errors::is_not_found(&e) => Ok(None),
                Err(e) => Err(failure("read the size of", url, &e)),
            }
        };
        self.call(url, "read the size of", asking)
    }

    fn create_dir_all(&self, dir: &str) -> Result<()> {
        let (client, parsed) = self.client(dir)?;
        let making = async {
            client
                .mkdirs(&parsed.path, 0o755, true)
                .await
                .map_err(|e| failure("create", dir, &e))
        };
        self.call(dir, "create", making)
    }

    fn create(&self, url: &str) -> Result<Box<dyn FileWrite>> {
        let (client, parsed) = self.client(url)?;
        // Not `overwrite`: a temporary name is new, and an existing file is a mistake to report.
        let options = WriteOptions::default().create_parent(false);
        let creating = async {
            let file = client
                .create(&parsed.path, options)
                .await
                .map_err(|e| failure("create", url, &e))?;
            // The writer closes and appends at each block boundary (writer.rs): it needs the
            // block size the namenode gave the file.
            let status = client
                .get_file_info(&parsed.path)
                .await
                .map_err(|e| failure("create", url, &e))?;
            Ok((file, status.blocksize))
        };
        let (file, block_size) = self.call(url, "create", creating)?;
        let block_size = block_size.filter(|&b| b > 0).ok_or_else(|| {
            anyhow!("cannot create {url}: the namenode gave the new file no block size")
        })?;
        Ok(Box::new(HdfsWriter::new(
            url,
            client,
            &parsed.path,
            file,
            block_size,
            self.options.read_timeout,
        )))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (client, source) = self.client(from)?;
        let target = HdfsUrl::parse(to)?;
        if target.cluster() != source.cluster() {
            bail!("cannot rename {from} to {to}: they are on different clusters");
        }
        let renaming = async {
            client
                .rename(&source.path, &target.path, true)
                .await
                .map_err(|e| anyhow!("cannot rename {from} to {to}: {}", errors::describe(&e)))
        };
        self.call(from, "rename", renaming)
    }

    fn delete(&self, url: &str) -> Result<()> {
        let (client, parsed) = self.client(url)?;
        let deleting = async {
            match client.delete(&parsed.path, false).await {
                Ok(_) => Ok(()),
                Err(e) if errors::is_not_found(&e) => Ok(()),
                Err(e) => Err(failure("remove", url, &e)),
            }
        };
        self.call(url, "remove", deleting)
    }
}
