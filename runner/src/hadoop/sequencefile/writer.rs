//! Writes SequenceFiles as Hadoop's writer lays them out, for `c2k sample` and the tests (the
//! tool itself only reads them).

use std::io::Write;

use anyhow::Result;

use super::{Compression, SYNC_ESCAPE};
use crate::hadoop::writable;

/// Writes SequenceFiles (version 6) the way Hadoop's writer does: uncompressed, record- or
/// block-compressed with a stream codec (DefaultCodec or GzipCodec). Used by tests and by
/// `c2k sample`.
pub(crate) struct SequenceFileWriter<W: Write> {
    out: W,
    compression: Compression,
    sync: [u8; 16],
    written: u64,
    last_sync: u64,
    pending: Pending,
}

#[derive(Default)]
struct Pending {
    count: usize,
    key_lengths: Vec<u8>,
    keys: Vec<u8>,
    value_lengths: Vec<u8>,
    values: Vec<u8>,
}

/// Hadoop writes a sync marker at least every this many bytes of records.
const SYNC_INTERVAL: u64 = 100 * 20;
/// Hadoop's default `io.seqfile.compress.blocksize`.
const BLOCK_SIZE: usize = 1_000_000;

impl<W: Write> SequenceFileWriter<W> {
    /// Writes the header. `sync` is the file's sync marker (Hadoop draws it at random; callers
    /// that want reproducible files pass a fixed one).
    pub(crate) fn new(
        mut out: W,
        key_class: &str,
        value_class: &str,
        compression: Compression,
        metadata: &[(String, String)],
        sync: [u8; 16],
    ) -> Result<Self> {
        let mut header = b"SEQ\x06".to_vec();
        writable::write_text(&mut header, key_class);
        writable::write_text(&mut header, value_class);
        let codec = match compression {
            Compression::None => None,
            Compression::Record(c) | Compression::Block(c) => Some(c),
        };
        header.push(codec.is_some() as u8);
        header.push(matches!(compression, Compression::Block(_)) as u8);
        if let Some(codec) = codec {
            codec.compress(b"")?; // refuses codecs the writer cannot produce, before any output
            writable::write_text(&mut header, codec.class_name());
        }
        header.extend_from_slice(&(metadata.len() as i32).to_be_bytes());
        for (name, value) in metadata {
            writable::write_text(&mut header, name);
            writable::write_text(&mut header, value);
        }
        header.extend_from_slice(&sync);
        out.write_all(&header)?;
        let written = header.len() as u64;
        Ok(SequenceFileWriter {
            out,
            compression,
            sync,
            written,
            last_sync: written,
            pending: Pending::default(),
        })
    }

    /// Appends one record (serialized key and value).
    pub(crate) fn append(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        match self.compression {
            Compression::Block(_) => {
                let p = &mut self.pending;
                writable::write_vlong(&mut p.key_lengths, key.len() as i64);
                p.keys.extend_from_slice(key);
                writable::write_vlong(&mut p.value_lengths, value.len() as i64);
                p.values.extend_from_slice(value);
                p.count += 1;
                if p.keys.len() + p.values.len() >= BLOCK_SIZE {
                    self.flush_block()?;
                }
                Ok(())
            }
            Compression::None => self.append_record(key, value.to_vec()),
            Compression::Record(codec) => self.append_record(key, codec.compress(value)?),
        }
    }

    fn append_record(&mut self, key: &[u8], value: Vec<u8>) -> Result<()> {
        if self.written >= self.last_sync + SYNC_INTERVAL {
            self.write_sync()?;
        }
        let mut buf = Vec::with_capacity(8 + key.len() + value.len());
        buf.extend_from_slice(&((key.len() + value.len()) as i32).to_be_bytes());
        buf.extend_from_slice(&(key.len() as i32).to_be_bytes());
        buf.extend_from_slice(key);
        buf.extend_from_slice(&value);
        self.write(&buf)
    }

    fn write_sync(&mut self) -> Result<()> {
        let mut buf = SYNC_ESCAPE.to_be_bytes().to_vec();
        buf.extend_from_slice(&self.sync);
        self.write(&buf)?;
        self.last_sync = self.written;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn flush_block(&mut self) -> Result<()> {
        let Compression::Block(codec) = self.compression else {
            return Ok(());
        };
        if self.pending.count == 0 {
            return Ok(());
        }
        let p = std::mem::take(&mut self.pending);
        self.write_sync()?;
        let mut buf = Vec::new();
        writable::write_vlong(&mut buf, p.count as i64);
        for plain in [&p.key_lengths, &p.keys, &p.value_lengths, &p.values] {
            let compressed = codec.compress(plain)?;
            writable::write_vlong(&mut buf, compressed.len() as i64);
            buf.extend_from_slice(&compressed);
        }
        self.write(&buf)
    }

    /// Writes what is pending and returns the output.
    pub(crate) fn finish(mut self) -> Result<W> {
        self.flush_block()?;
        self.out.flush()?;
        Ok(self.out)
    }
}
