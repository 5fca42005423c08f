//! Reading an object front to back as a synchronous [`Read`], in ranged requests with bounded
//! read-ahead: [`AHEAD`] ranges of [`CHUNK`] bytes are fetched while the reader decodes the one
//! before, so the network and the decoding overlap and memory stays at most
//! `(AHEAD + 1) × CHUNK` per open file, whatever its size. Each range is retried by
//! `object_store`, a body cut off mid-read included.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::ObjectStoreExt as _;
use tokio::task::JoinHandle;

use super::prefetch::First;
use super::{errors, runtime, Client};

/// Bytes a ranged request fetches.
pub(super) const CHUNK: u64 = 4 << 20;
/// Ranges fetched ahead of the reader.
pub(super) const AHEAD: usize = 2;

pub(super) struct ObjectReader {
    client: Arc<Client>,
    url: String,
    key: Path,
    size: u64,
    /// Where the next range to fetch starts.
    next: u64,
    pending: VecDeque<(u64, JoinHandle<object_store::Result<Bytes>>)>,
    current: Bytes,
}

impl ObjectReader {
    /// The reader of `key`, whose first bytes (and size) are `first`: the rest is fetched from
    /// there on.
    pub(super) fn open(
        client: Arc<Client>,
        url: String,
        key: Path,
        first: First,
    ) -> anyhow::Result<ObjectReader> {
        let mut reader = ObjectReader {
            client,
            url,
            key,
            size: first.size,
            next: first.bytes.len() as u64,
            pending: VecDeque::new(),
            current: first.bytes,
        };
        reader.fetch_ahead()?;
        Ok(reader)
    }

    fn fetch_ahead(&mut self) -> anyhow::Result<()> {
        let handle = runtime::handle()?;
        while self.pending.len() < AHEAD && self.next < self.size {
            let range = self.next..(self.next + CHUNK).min(self.size);
            self.next = range.end;
            let (store, key) = (self.client.store.clone(), self.key.clone());
            let expected = range.end - range.start;
            let task = handle.spawn(async move { store.get_range(&key, range).await });
            self.pending.push_back((expected, task));
        }
        Ok(())
    }

    /// The next range, waited for.
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let Some((expected, task)) = self.pending.pop_front() else {
            return Ok(None);
        };
        let fetched = runtime::block_on(task)
            .map_err(|e| io::Error::other(format!("{}: {e:#}", self.url)))?
            .map_err(|e| io::Error::other(format!("{}: reading failed: {e}", self.url)))?;
        let bytes = fetched.map_err(|e| {
            io::Error::other(format!(
                "{:#}",
                errors::describe(&self.client, &self.url, "reading", e)
            ))
        })?;
        if bytes.len() as u64 != expected {
            return Err(io::Error::other(format!(
                "{}: the object changed while it was read ({} bytes where a range of {expected} \
                 was asked, of the {} listed)",
                self.url,
                bytes.len(),
                self.size
            )));
        }
        self.fetch_ahead()
            .map_err(|e| io::Error::other(format!("{}: {e:#}", self.url)))?;
        Ok(Some(bytes))
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.next_chunk()? {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        for (_, task) in self.pending.drain(..) {
            task.abort();
        }
    }
}
