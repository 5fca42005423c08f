//! Where Camus trees live: one trait over local disk, HDFS and object stores, so the source and
//! the offsets step never care which. Paths are given as text: a local path, a `file://`,
//! `hdfs://` or `viewfs://` URL, or an object store's (`s3://`, `gs://`, `az://`, `abfs[s]://`).
//!
//! The write half (create, rename, delete, make directories) serves the staging area of the map
//! and reduce stages: a file is written under a temporary name, made durable by
//! [`FileWrite::finish`], and renamed into place. Local disk and HDFS rename atomically; an
//! object store's object appears whole when its upload completes, and a rename is a copy (whole
//! too) and a delete ([`object`]).

pub(crate) mod hdfs;
pub(crate) mod local;
pub(crate) mod object;
mod runtime;
pub(crate) mod shown;

use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::{bail, Result};

pub(crate) use object::{configure, is_object_store_option, ObjectSettings};

/// A file found by [`Storage::list_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Full path or URL of the file, in the same form as the directory that was listed.
    pub url: String,
    pub size: u64,
    /// `None` for a regular file; otherwise what the entry is instead ("a FIFO", "a socket", …).
    /// Listed rather than skipped, so a FIFO where a data file should be is reported, never
    /// silently passed over.
    pub not_regular: Option<&'static str>,
}

/// A file being written by [`Storage::create`]. Dropped without [`FileWrite::finish`], it is left
/// incomplete (as a killed process leaves it): whoever wrote it under a temporary name removes it.
pub trait FileWrite: Write + Send {
    /// Flushes, makes durable (fsync; on HDFS, closes the last block on its datanodes) and closes
    /// the file.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A file system holding Camus trees.
pub trait Storage: Send + Sync {
    /// Every entry below `dir` that is not a directory, recursively, sorted by URL. A missing
    /// `dir` is an error naming it.
    fn list_files(&self, dir: &str) -> Result<Vec<FileEntry>>;
    /// The names (not URLs) of the directories directly inside `dir`, sorted.
    fn list_dirs(&self, dir: &str) -> Result<Vec<String>>;
    /// Opens a file as a stream, read in chunks: never held whole in memory.
    fn open(&self, url: &str) -> Result<Box<dyn Read + Send>>;
    /// Says which files will be opened next, in order, so that a store a round trip away can
    /// fetch their first bytes ahead (object stores); nothing for local disk and HDFS.
    fn read_ahead(&self, _urls: &[String]) {}
    /// Reads a small file (a schema, an offsets file) whole.
    fn read_all(&self, url: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(url)?
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot read {url}: {e}"))?;
        Ok(bytes)
    }
    /// The size of the file at `url`, `None` when there is none.
    fn file_size(&self, url: &str) -> Result<Option<u64>>;
    /// Creates `dir` and its missing parents (nothing when it exists).
    fn create_dir_all(&self, dir: &str) -> Result<()>;
    /// Creates a new file (its parent must exist); an existing file of that name is an error.
    fn create(&self, url: &str) -> Result<Box<dyn FileWrite>>;
    /// Renames `from` to `to` (same file system) in one atomic step, replacing `to` if it exists.
    fn rename(&self, from: &str, to: &str) -> Result<()>;
    /// Removes the file at `url`; a missing one is no error.
    fn delete(&self, url: &str) -> Result<()>;
}

/// The storage backend for a path or URL.
pub fn for_url(url: &str) -> Result<Arc<dyn Storage>> {
    shown::remember(url);
    match url.split_once("://").map(|(scheme, _)| scheme) {
        None | Some("file") => Ok(Arc::new(local::LocalStorage)),
        Some("hdfs") | Some("viewfs") => Ok(Arc::new(hdfs::HdfsStorage::connect(url)?)),
        Some(scheme) if object::SCHEMES.contains(&scheme) => object::connect(url),
        Some(other) => bail!(
            "{url}: unsupported scheme `{other}://` (use a path, file://, hdfs://, viewfs://, \
             s3://, gs://, az:// or abfs[s]://)"
        ),
    }
}
