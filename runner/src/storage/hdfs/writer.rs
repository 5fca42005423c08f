//! Writing an HDFS file from a synchronous [`Write`]: each `write` hands its bytes to the
//! `hdfs-native` writer on the shared runtime and waits, bounded by the I/O timeout, so that a
//! datanode that stops answering fails the write with a message naming the file instead of
//! hanging. Callers buffer (the staging area writes 64 KiB at a time), so a call carries a
//! datanode packet's worth of data.
//!
//! At every block boundary the file is closed and opened again for append. The namenode
//! refuses a new block while the previous one is not yet reported replicated
//! (`NotReplicatedYetException`, seen on a loaded test cluster); Hadoop's own client waits and
//! asks again, but `hdfs-native` fails the write and leaves its writer unusable. Its `close`
//! does wait for the namenode to complete the file, so after a close the next block can always
//! be added. One close and one append per block (128 MiB by default) cost nothing that shows.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{anyhow, Result};
use hdfs_native::file::FileWriter;
use hdfs_native::Client;

use super::errors::describe;
use super::options::READ_TIMEOUT_ENV;
use super::runtime::{self, within};
use crate::storage::FileWrite;

/// An HDFS file open for writing, until [`FileWrite::finish`] closes it.
pub(crate) struct HdfsWriter {
    url: String,
    client: Client,
    path: String,
    file: FileWriter,
    /// The file's block size, and how much of the current block is written.
    block_size: u64,
    in_block: u64,
    timeout: Duration,
}

impl HdfsWriter {
    pub(crate) fn new(
        url: &str,
        client: Client,
        path: &str,
        file: FileWriter,
        block_size: u64,
        timeout: Duration,
    ) -> HdfsWriter {
        HdfsWriter {
            url: url.to_string(),
            client,
            path: path.to_string(),
            file,
            block_size: block_size.max(1),
            in_block: 0,
            timeout,
        }
    }

    fn timed_out(&self, doing: &str) -> String {
        format!(
            "cannot {doing} {}: no answer from the datanodes for {:.1}s (set {READ_TIMEOUT_ENV} \
             to wait longer)",
            self.url,
            self.timeout.as_secs_f64()
        )
    }

    /// Closes the file at a block boundary and opens it again for append (see the module's
    /// comment for why).
    fn next_block(&mut self) -> io::Result<()> {
        let limit = self.timeout;
        let (file, client, path) = (&mut self.file, &self.client, self.path.as_str());
        let reopened = runtime::block_on(within(limit, async {
            file.close().await?;
            client.append(path).await
        }))
        .map_err(|e| io::Error::other(format!("cannot write {}: {e:#}", self.url)))?;
        match reopened {
            Ok(Ok(file)) => {
                self.file = file;
                self.in_block = 0;
                Ok(())
            }
            Ok(Err(e)) => Err(io::Error::other(format!(
                "cannot write {} past a block boundary: {}",
                self.url,
                describe(&e)
            ))),
            Err(()) => Err(io::Error::other(self.timed_out("write"))),
        }
    }
}

impl Write for HdfsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.in_block == self.block_size {
            self.next_block()?;
        }
        let room = usize::try_from(self.block_size - self.in_block).unwrap_or(usize::MAX);
        let bytes = bytes::Bytes::copy_from_slice(&buf[..buf.len().min(room)]);
        let limit = self.timeout;
        let file = &mut self.file;
        let written = runtime::block_on(within(limit, file.write_bytes(bytes)))
            .map_err(|e| io::Error::other(format!("cannot write {}: {e:#}", self.url)))?;
        match written {
            Ok(Ok(n)) => {
                self.in_block += n as u64;
                Ok(n)
            }
            Ok(Err(e)) => Err(io::Error::other(format!(
                "cannot write {}: {}",
                self.url,
                describe(&e)
            ))),
            Err(()) => Err(io::Error::other(self.timed_out("write"))),
        }
    }

    /// Data reaches the datanodes as it is written; durability comes with [`FileWrite::finish`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FileWrite for HdfsWriter {
    fn finish(mut self: Box<Self>) -> Result<()> {
        let limit = self.timeout;
        let file = &mut self.file;
        match runtime::block_on(within(limit, file.close()))? {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow!("cannot close {}: {}", self.url, describe(&e))),
            Err(()) => Err(anyhow!(self.timed_out("close"))),
        }
    }
}
