//! Reading ahead across files: the first bytes of the next files, fetched while the current
//! ones are decoded.
//!
//! A Camus tree is thousands of small files, each one round trip away: read one after another by
//! the source's few decoding threads, a replay from a store 30 ms away would wait 30 ms a file.
//! Told the reading order ([`crate::storage::Storage::read_ahead`]), the store fetches the first
//! [`FIRST_BYTES`] of up to [`FILES_AHEAD`] files ahead; [`Prefetch::take`] hands a file's
//! fetch to its reader when it is opened. Memory: at most `FILES_AHEAD × FIRST_BYTES`. A file
//! opened far out of order drops the fetches of the files well before it, so none is held
//! forever.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::{lock, runtime};

/// Files fetched ahead of the reader.
pub(super) const FILES_AHEAD: usize = 16;
/// The bytes of a file fetched ahead: all of a Camus file of the default size, the start of a
/// larger one.
pub(super) const FIRST_BYTES: u64 = 1 << 20;

/// A file's first bytes, and its size (the store's, not the listing's).
pub(super) struct First {
    pub bytes: Bytes,
    pub size: u64,
}

/// One fetch in flight or done, with the permit that bounds them.
struct Ahead {
    index: usize,
    fetch: JoinHandle<object_store::Result<First>>,
    _permit: OwnedSemaphorePermit,
}

#[derive(Default)]
pub(super) struct Prefetch {
    /// By URL.
    ahead: Arc<Mutex<BTreeMap<String, Ahead>>>,
    /// The task walking the reading order, replaced by the next [`Prefetch::start`].
    walker: Mutex<Option<JoinHandle<()>>>,
}

impl Prefetch {
    /// Starts fetching `files` (URL and key, in reading order) ahead of their readers.
    pub(super) fn start(&self, store: Arc<dyn ObjectStore>, files: Vec<(String, Path)>) {
        let Ok(handle) = runtime::handle() else {
            return;
        };
        let ahead = self.ahead.clone();
        lock(&ahead).clear();
        let permits = Arc::new(Semaphore::new(FILES_AHEAD));
        let walker = handle.spawn(async move {
            for (index, (url, key)) in files.into_iter().enumerate() {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let store = store.clone();
                let fetch = tokio::spawn(async move { first(store.as_ref(), &key).await });
                let entry = Ahead {
                    index,
                    fetch,
                    _permit: permit,
                };
                lock(&ahead).insert(url, entry);
            }
        });
        if let Some(previous) = lock(&self.walker).replace(walker) {
            previous.abort();
        }
    }

    /// The fetch of `url`'s first bytes, if it was read ahead. The fetches of files far behind
    /// it in the reading order are dropped (they were skipped); those just behind are kept, as
    /// several threads taking files in order open them a little out of order.
    pub(super) fn take(&self, url: &str) -> Option<JoinHandle<object_store::Result<First>>> {
        let mut ahead = lock(&self.ahead);
        let taken = ahead.remove(url)?;
        ahead.retain(|_, other| {
            let keep = other.index + FILES_AHEAD / 2 > taken.index;
            if !keep {
                other.fetch.abort();
            }
            keep
        });
        Some(taken.fetch)
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        if let Some(walker) = lock(&self.walker).take() {
            walker.abort();
        }
        for (_, ahead) in std::mem::take(&mut *lock(&self.ahead)) {
            ahead.fetch.abort();
        }
    }
}

/// The first [`FIRST_BYTES`] of `key` and its size, in one request (a range past a small
/// object's end gets the whole object).
pub(super) async fn first(store: &dyn ObjectStore, key: &Path) -> object_store::Result<First> {
    let options = GetOptions {
        range: Some(GetRange::Bounded(0..FIRST_BYTES)),
        ..GetOptions::default()
    };
    match store.get_opts(key, options).await {
        Ok(got) => {
            let size = got.meta.size;
            Ok(First {
                bytes: got.bytes().await?,
                size,
            })
        }
        // An empty object has no byte 0 to range over (416): ask for it whole.
        Err(object_store::Error::Generic { source, .. })
            if source.to_string().contains("416")
                || source.to_string().contains("InvalidRange") =>
        {
            let got = store.get_opts(key, GetOptions::default()).await?;
            let size = got.meta.size;
            Ok(First {
                bytes: got.bytes().await?,
                size,
            })
        }
        Err(e) => Err(e),
    }
}
