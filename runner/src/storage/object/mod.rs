//! Object stores (S3 and S3-compatible stores, Google Cloud Storage, Azure Blob / ADLS Gen2)
//! through Apache Arrow's `object_store` crate: `s3://bucket/prefix`, `gs://bucket/prefix`,
//! `az://container/prefix`, `abfs[s]://container@account.dfs.core.windows.net/prefix`.
//!
//! Each cloud's client is built from the environment as its own tools read it (`AWS_*`,
//! `GOOGLE_*`, `AZURE_*`, with `AWS_ENDPOINT_URL` for S3-compatible stores), then the pipeline's
//! `storage.*` keys ([`ObjectSettings`]); [`credentials`] adds the AWS profile files and names
//! the provider in errors. One client per store (`scheme://bucket`) per process, checked with one
//! listing when first built, so wrong credentials or a missing bucket fail before anything is
//! read ([`connect`]). Requests are retried by `object_store` (throttling, 5xx, timeouts, refused
//! or reset connections, a body cut off mid-read) for up to `storage.retry_timeout`.
//!
//! Object stores have no folders: a folder exists when an object is below it. A folder made by
//! [`Storage::create_dir_all`] (the staging area) holds an empty marker object, [`MARKER`], which
//! listings leave out. A rename is a copy and a delete: the copy appears whole or not at all, as
//! an upload does, so a reader never sees a partial file under its final name.

mod client;
mod credentials;
mod errors;
mod listing;
mod location;
mod prefetch;
mod reader;
mod writer;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Result;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use super::{runtime, FileEntry, FileWrite, Storage};
use location::ObjectUrl;
pub(crate) use location::SCHEMES;

/// The empty object that makes a folder exist ([`Storage::create_dir_all`]).
pub(crate) const MARKER: &str = ".c2k-folder";

/// The pipeline's `storage.*` keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ObjectSettings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    pub profile: Option<String>,
    /// object_store configuration keys, passed to the URL's cloud's builder.
    pub options: BTreeMap<String, String>,
    pub retry_timeout: Duration,
}

impl Default for ObjectSettings {
    fn default() -> Self {
        ObjectSettings {
            endpoint: None,
            region: None,
            path_style: None,
            profile: None,
            options: BTreeMap::new(),
            retry_timeout: Duration::from_secs(60),
        }
    }
}

fn settings() -> &'static Mutex<ObjectSettings> {
    static SETTINGS: OnceLock<Mutex<ObjectSettings>> = OnceLock::new();
    SETTINGS.get_or_init(|| Mutex::new(ObjectSettings::default()))
}

/// The clients built so far, by store (`s3://bucket`).
fn clients() -> &'static Mutex<BTreeMap<String, Arc<Client>>> {
    static CLIENTS: OnceLock<Mutex<BTreeMap<String, Arc<Client>>>> = OnceLock::new();
    CLIENTS.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// The value behind `mutex`, even if a thread panicked holding it (what it guards stays whole:
/// settings, a map of clients or fetches).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets how object stores are reached (the loaded pipeline's `storage.*`); the clients built
/// before are dropped when the settings change.
pub(crate) fn configure(new: ObjectSettings) {
    let mut current = lock(settings());
    if *current != new {
        *current = new;
        lock(clients()).clear();
    }
}

/// Whether `name` is a configuration key of one of the clouds' clients (`storage.options`).
pub(crate) fn is_object_store_option(name: &str) -> bool {
    name.parse::<object_store::aws::AmazonS3ConfigKey>().is_ok()
        || name.parse::<object_store::gcp::GoogleConfigKey>().is_ok()
        || name.parse::<object_store::azure::AzureConfigKey>().is_ok()
}

/// One store's client, and what its errors say about it.
pub(super) struct Client {
    store: Arc<dyn ObjectStore>,
    /// The URL it was first built for.
    url: ObjectUrl,
    /// The provider of its credentials, in words ([`credentials`]).
    credentials: String,
    /// Where it sends requests, in words.
    endpoint: String,
    retry_timeout: Duration,
    /// The first bytes of the files about to be read ([`prefetch`]).
    prefetch: prefetch::Prefetch,
}

/// The storage for an object-store URL: its store's client, built and checked on first use.
pub(crate) fn connect(url: &str) -> Result<Arc<dyn Storage>> {
    let parsed = ObjectUrl::parse(url)?;
    let existing = lock(clients()).get(&parsed.base).cloned();
    let client = match existing {
        Some(client) => client,
        None => {
            let settings = lock(settings()).clone();
            let client = Arc::new(client::build(&parsed, &settings)?);
            client.check(&parsed)?;
            lock(clients()).insert(parsed.base.clone(), client.clone());
            client
        }
    };
    Ok(Arc::new(ObjectStorage { client }))
}

/// A store (bucket or container), as [`Storage`].
struct ObjectStorage {
    client: Arc<Client>,
}

impl ObjectStorage {
    /// `url` split, checked to be in this storage's store.
    fn key(&self, url: &str) -> Result<Path> {
        let parsed = ObjectUrl::parse(url)?;
        anyhow::ensure!(
            parsed.base == self.client.url.base,
            "{url} is not in {} (a URL of another store given to its client)",
            self.client.url.base
        );
        Ok(parsed.key)
    }

    fn call<T: Send>(
        &self,
        url: &str,
        operation: &str,
        call: impl std::future::Future<Output = object_store::Result<T>> + Send,
    ) -> Result<T> {
        runtime::block_on(call)?.map_err(|e| errors::describe(&self.client, url, operation, e))
    }
}

impl Storage for ObjectStorage {
    fn list_files(&self, dir: &str) -> Result<Vec<FileEntry>> {
        let prefix = self.key(dir)?;
        let (mut files, marked) = listing::list_files(&self.client, dir, &prefix)?;
        if files.is_empty() && !marked {
            anyhow::bail!(
                "{dir}: no such folder (no object below it in {} `{}`)",
                self.client.url.cloud.container(),
                self.client.url.bucket
            );
        }
        files.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(files)
    }

    fn list_dirs(&self, dir: &str) -> Result<Vec<String>> {
        let prefix = self.key(dir)?;
        let (dirs, anything) = listing::list_dirs(&self.client, dir, &prefix)?;
        if !anything {
            anyhow::bail!(
                "{dir}: no such folder (no object below it in {} `{}`)",
                self.client.url.cloud.container(),
                self.client.url.bucket
            );
        }
        Ok(dirs)
    }

    fn open(&self, url: &str) -> Result<Box<dyn Read + Send>> {
        let key = self.key(url)?;
        // One request for a small file: its first bytes carry its size (no HEAD first).
        let first = match self.client.prefetch.take(url) {
            Some(fetch) => runtime::block_on(fetch)?
                .map_err(|e| anyhow::anyhow!("{url}: reading ahead failed: {e}"))?,
            None => runtime::block_on(prefetch::first(self.client.store.as_ref(), &key))?,
        }
        .map_err(|e| errors::describe(&self.client, url, "reading", e))?;
        Ok(Box::new(reader::ObjectReader::open(
            self.client.clone(),
            url.to_string(),
            key,
            first,
        )?))
    }

    fn read_ahead(&self, urls: &[String]) {
        let files = urls
            .iter()
            .filter_map(|url| {
                let key = self.key(url).ok()?;
                Some((url.clone(), key))
            })
            .collect();
        self.client.prefetch.start(self.client.store.clone(), files);
    }

    fn file_size(&self, url: &str) -> Result<Option<u64>> {
        let key = self.key(url)?;
        match runtime::block_on(self.client.store.head(&key))? {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(errors::describe(&self.client, url, "reading its size", e)),
        }
    }

    fn create_dir_all(&self, dir: &str) -> Result<()> {
        let marker = self.key(dir)?.clone().join(MARKER);
        let url = self.client.url.url_of(&marker);
        self.call(
            &url,
            "creating the folder's marker",
            self.client.store.put(&marker, PutPayload::new()),
        )?;
        Ok(())
    }

    fn create(&self, url: &str) -> Result<Box<dyn FileWrite>> {
        let key = self.key(url)?;
        if self.file_size(url)?.is_some() {
            anyhow::bail!("{url}: already exists");
        }
        Ok(Box::new(writer::ObjectWriter::new(
            self.client.clone(),
            url.to_string(),
            key,
        )))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (source, target) = (self.key(from)?, self.key(to)?);
        self.call(
            to,
            &format!("copying {from} here (a rename)"),
            self.client.store.copy(&source, &target),
        )?;
        self.delete(from)
    }

    fn delete(&self, url: &str) -> Result<()> {
        let key = self.key(url)?;
        match runtime::block_on(self.client.store.delete(&key))? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(errors::describe(&self.client, url, "deleting", e)),
        }
    }
}

impl Client {
    /// One listing of the URL's prefix: wrong credentials or a missing bucket fail here, naming
    /// them, before anything is read.
    fn check(&self, url: &ObjectUrl) -> Result<()> {
        let shown = url.url();
        runtime::block_on(self.store.list_with_delimiter(Some(&url.key)))?
            .map(|_| ())
            .map_err(|e| errors::describe(self, &shown, "listing", e))
    }
}
