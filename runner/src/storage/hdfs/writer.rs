//! Writing an HDFS file from a synchronous [`Write`]: each `write` hands its bytes to the
//! `hdfs-native` writer on the shared runtime and waits, bounded by the I/O timeout, so that a
//! datanode that stops answering fails the write with a message naming the file instead of
//! hanging. Callers buffer (the staging area writes 64 KiB at a time), so a call carries a
//! datanode packet's worth of data.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{anyhow, Result};
use hdfs_native::file::FileWriter;

use super::errors::describe;
use super::options::READ_TIMEOUT_ENV;
use super::runtime::{self, within};
use crate::storage::FileWrite;

/// An HDFS file open for writing, until [`FileWrite::finish`] closes it.
pub struct HdfsWriter {
    url: String,
    file: FileWriter,
    timeout: Duration,
}

impl HdfsWriter {
    pub fn new(url: &str, file: FileWriter, timeout: Duration) -> HdfsWriter {
        HdfsWriter {
            url: url.to_string(),
            file,
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
}

impl Write for HdfsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let bytes = bytes::Bytes::copy_from_slice(buf);
        let limit = self.timeout;
        let file = &mut self.file;
        let written = runtime::block_on(within(limit, file.write_bytes(bytes)))
            .map_err(|e| io::Error::other(format!("cannot write {}: {e:#}", self.url)))?;
        match written {
            Ok(Ok(n)) => Ok(n),
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
