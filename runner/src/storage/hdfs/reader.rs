//! Streaming an HDFS file into a synchronous [`Read`], with read-ahead.
//!
//! A background task on the HDFS runtime pulls the file block after block (datanode packets of
//! ~64 KiB) and hands the chunks over a channel; the reading thread never waits for the network
//! while chunks are queued. At most [`READ_AHEAD_CHUNKS`] chunks are in flight (a semaphore
//! bounds them, a permit travels with each chunk), so memory stays bounded whatever the file size.
//! The consumer side is a plain blocking channel, so `read` works from any thread, inside a tokio
//! runtime or not.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use futures::StreamExt;
use hdfs_native::file::FileReader;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::errors::describe;

/// How many chunks (datanode packets, ~64 KiB each) may be read ahead of the consumer.
pub(super) const READ_AHEAD_CHUNKS: usize = 16;

/// A chunk of file data, holding its read-ahead permit until consumed.
type Chunk = Result<(Vec<u8>, OwnedSemaphorePermit), hdfs_native::HdfsError>;

/// An open HDFS file being read front to back.
pub(crate) struct HdfsReader {
    url: String,
    length: u64,
    position: u64,
    current: Vec<u8>,
    offset_in_current: usize,
    _permit: Option<OwnedSemaphorePermit>,
    chunks: Receiver<Chunk>,
    read_timeout: Duration,
    task: JoinHandle<()>,
}

impl HdfsReader {
    /// Starts reading `file` (already opened on the namenode) in the background.
    pub(crate) fn start(
        url: &str,
        file: FileReader,
        read_timeout: Duration,
        runtime: &tokio::runtime::Handle,
    ) -> HdfsReader {
        let length = file.file_length() as u64;
        let (sender, chunks) = crossbeam_channel::unbounded();
        let credits = Arc::new(Semaphore::new(READ_AHEAD_CHUNKS));
        let task = runtime.spawn(async move {
            let mut stream = file.read_range_stream(0, file.file_length()).boxed();
            loop {
                let Ok(permit) = Arc::clone(&credits).acquire_owned().await else {
                    return;
                };
                let chunk = match stream.next().await {
                    None => return,
                    Some(Ok(bytes)) => Ok((bytes.to_vec(), permit)),
                    Some(Err(e)) => Err(e),
                };
                let failed = chunk.is_err();
                if sender.send(chunk).is_err() || failed {
                    return;
                }
            }
        });
        HdfsReader {
            url: url.to_string(),
            length,
            position: 0,
            current: Vec::new(),
            offset_in_current: 0,
            _permit: None,
            chunks,
            read_timeout,
            task,
        }
    }

    fn error(&self, what: String) -> io::Error {
        io::Error::other(format!(
            "{}: read failed at byte {} of {}: {what}",
            self.url, self.position, self.length
        ))
    }

    /// Waits for the next chunk; `Ok(false)` at the end of the file.
    fn next_chunk(&mut self) -> io::Result<bool> {
        match self.chunks.recv_timeout(self.read_timeout) {
            Ok(Ok((bytes, permit))) => {
                self.current = bytes;
                self.offset_in_current = 0;
                self._permit = Some(permit);
                Ok(true)
            }
            Ok(Err(e)) => Err(self.error(describe(&e))),
            Err(RecvTimeoutError::Timeout) => Err(self.error(format!(
                "no data from any datanode for {:.1}s (set {} to wait longer)",
                self.read_timeout.as_secs_f64(),
                super::options::READ_TIMEOUT_ENV
            ))),
            Err(RecvTimeoutError::Disconnected) if self.position < self.length => {
                Err(self.error("the datanodes sent less data than the file holds".to_string()))
            }
            Err(RecvTimeoutError::Disconnected) => Ok(false),
        }
    }
}

impl Read for HdfsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.offset_in_current == self.current.len() {
            if self.position >= self.length || !self.next_chunk()? {
                return Ok(0);
            }
        }
        let available = &self.current[self.offset_in_current..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.offset_in_current += n;
        self.position += n as u64;
        if self.offset_in_current == self.current.len() {
            // Give the chunk's memory and its read-ahead credit back before the next wait.
            self.current = Vec::new();
            self.offset_in_current = 0;
            self._permit = None;
        }
        Ok(n)
    }
}

impl Drop for HdfsReader {
    fn drop(&mut self) {
        // A reader dropped early (an error elsewhere, a skipped file) stops its download.
        self.task.abort();
    }
}
