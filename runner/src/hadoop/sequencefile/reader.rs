//! Streaming reader of SequenceFiles: header, records, record- and block-compressed data, sync
//! escapes; every error names the file and the byte offset.

use std::io::{self, Read};

use anyhow::{anyhow, bail, Context, Result};

use super::{Compression, Header, Record, SYNC_ESCAPE};
use crate::hadoop::compression::Codec;
use crate::hadoop::writable::{self, DataInput};

/// Reads a SequenceFile record by record.
pub struct SequenceFileReader<R: Read> {
    input: Counting<R>,
    name: String,
    header: Header,
    /// Records left in the current block, with the block's decoded buffers.
    block: Option<Block>,
    records: u64,
    /// The most bytes one buffer may take, stored or decompressed.
    max_buffer_bytes: u64,
}

/// The default of [`SequenceFileReader::with_max_buffer_bytes`]: Camus' offsets files hold
/// records of ~100 bytes in blocks of a few kilobytes, so this (the default of
/// `source.max_block_bytes` for data files) is only reached by a corrupt length or a
/// decompression bomb.
pub(crate) const DEFAULT_MAX_BUFFER_BYTES: u64 = 64 << 20;

struct Block {
    key_lengths: Vec<u8>,
    keys: Vec<u8>,
    value_lengths: Vec<u8>,
    values: Vec<u8>,
    left: usize,
    at: [usize; 4],
}

impl<R: Read> SequenceFileReader<R> {
    /// Reads the header. `name` (a path or URL) is used in every error.
    pub fn new(input: R, name: &str) -> Result<Self> {
        let mut input = Counting {
            inner: input,
            pos: 0,
        };
        let header = read_header(&mut input).with_context(|| {
            format!(
                "{name}: not a readable SequenceFile header (byte {})",
                input.pos
            )
        })?;
        Ok(SequenceFileReader {
            input,
            name: name.to_string(),
            header,
            block: None,
            records: 0,
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
        })
    }

    /// The same reader refusing any buffer (a record, a block's keys or values, ...) of more
    /// than `max_buffer_bytes`, stored or decompressed.
    pub fn with_max_buffer_bytes(mut self, max_buffer_bytes: u64) -> Self {
        self.max_buffer_bytes = max_buffer_bytes;
        self
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        let start = self.input.pos;
        let record = match self.header.compression {
            Compression::Block(codec) => self.next_in_block(codec),
            Compression::None => self.next_plain(None),
            Compression::Record(codec) => self.next_plain(Some(codec)),
        };
        let record = record
            .with_context(|| format!("{}: record {} (at byte {start})", self.name, self.records))?;
        if record.is_some() {
            self.records += 1;
        }
        Ok(record)
    }

    /// Reads a record length, handling a sync escape; `None` at a clean end of file.
    fn record_length(&mut self) -> Result<Option<i32>> {
        let Some(mut length) = self.input.read_i32_or_eof()? else {
            return Ok(None);
        };
        if length == SYNC_ESCAPE && self.header.sync.is_some() {
            self.check_sync()?;
            match self.input.read_i32_or_eof()? {
                Some(next) => length = next,
                None => return Ok(None),
            }
        }
        Ok(Some(length))
    }

    fn check_sync(&mut self) -> Result<()> {
        let at = self.input.pos;
        let mut seen = [0u8; 16];
        self.input
            .read_exact(&mut seen)
            .map_err(|e| anyhow!("truncated sync marker at byte {at}: {e}"))?;
        if Some(seen) != self.header.sync {
            bail!("sync marker at byte {at} does not match the header's: corrupt file");
        }
        Ok(())
    }

    fn next_plain(&mut self, codec: Option<Codec>) -> Result<Option<Record>> {
        let Some(record_len) = self.record_length()? else {
            return Ok(None);
        };
        let at = self.input.pos;
        let key_len = self.input.read_i32()?;
        if record_len < 0 || key_len < 0 || key_len > record_len {
            bail!("bad lengths at byte {at}: record {record_len}, key {key_len}");
        }
        let limit = self.max_buffer_bytes;
        check_length(record_len as u64, limit, "record", at)?;
        let key = self.input.read_vec(key_len as usize, "key")?;
        let value = self
            .input
            .read_vec((record_len - key_len) as usize, "value")?;
        let value = match codec {
            None => value,
            Some(codec) => codec
                .decompress(&value, limit)
                .with_context(|| format!("value at byte {}", at + 4 + key_len as u64))?,
        };
        Ok(Some(Record { key, value }))
    }

    fn next_in_block(&mut self, codec: Codec) -> Result<Option<Record>> {
        if self.block.as_ref().is_none_or(|b| b.left == 0) {
            self.block = None;
            let Some(block) = self.read_block(codec)? else {
                return Ok(None);
            };
            self.block = Some(block);
        }
        let Some(block) = self.block.as_mut() else {
            return Ok(None);
        };
        let key_len = next_vlen(&block.key_lengths, &mut block.at[0], "key length")?;
        let value_len = next_vlen(&block.value_lengths, &mut block.at[2], "value length")?;
        let key = slice_at(&block.keys, &mut block.at[1], key_len, "keys")?;
        let value = slice_at(&block.values, &mut block.at[3], value_len, "values")?;
        block.left -= 1;
        Ok(Some(Record { key, value }))
    }

    fn read_block(&mut self, codec: Codec) -> Result<Option<Block>> {
        if self.header.sync.is_some() {
            let at = self.input.pos;
            match self.input.read_i32_or_eof()? {
                None => return Ok(None),
                Some(SYNC_ESCAPE) => self.check_sync()?,
                Some(other) => {
                    bail!("expected a sync escape before the block at byte {at}, found {other}")
                }
            }
        }
        let at = self.input.pos;
        let count = match self.input.read_vlong_or_eof()? {
            None => return Ok(None),
            Some(n) => usize::try_from(n)
                .map_err(|_| anyhow!("negative record count {n} in the block at byte {at}"))?,
        };
        // Hadoop's writer never writes an empty block (found by the sequence_file fuzz target:
        // one was taken for a block of records and its first record's count went below zero).
        if count == 0 {
            bail!("a block of 0 records at byte {at}: Hadoop's writer writes none");
        }
        let mut buffers: [Vec<u8>; 4] = Default::default();
        let names = ["key lengths", "keys", "value lengths", "values"];
        for (buffer, name) in buffers.iter_mut().zip(names) {
            let at = self.input.pos;
            let len = self.input.read_vlong()?;
            let len = usize::try_from(len)
                .map_err(|_| anyhow!("negative {name} buffer length {len} at byte {at}"))?;
            check_length(len as u64, self.max_buffer_bytes, name, at)?;
            let compressed = self.input.read_vec(len, name)?;
            *buffer = codec
                .decompress(&compressed, self.max_buffer_bytes)
                .with_context(|| {
                    format!(
                        "block {name} buffer at byte {at} (codec {})",
                        codec.class_name()
                    )
                })?;
        }
        let [key_lengths, keys, value_lengths, values] = buffers;
        Ok(Some(Block {
            key_lengths,
            keys,
            value_lengths,
            values,
            left: count,
            at: [0; 4],
        }))
    }
}

impl<R: Read> Iterator for SequenceFileReader<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// A length the file declares, refused before anything of that size is read.
fn check_length(len: u64, limit: u64, what: &str, at: u64) -> Result<()> {
    if len > limit {
        bail!(
            "the {what} at byte {at} says it is {len} bytes, more than {}, the most c2k holds \
             of one buffer: a corrupt length",
            crate::config::ByteSize(limit)
        );
    }
    Ok(())
}

fn next_vlen(buffer: &[u8], at: &mut usize, what: &'static str) -> Result<usize> {
    let mut input = DataInput::new(&buffer[(*at).min(buffer.len())..]);
    let len = input
        .read_vlen(what)
        .map_err(|e| anyhow!("block {what} buffer: {e}"))?;
    *at += input.position();
    Ok(len)
}

fn slice_at(buffer: &[u8], at: &mut usize, len: usize, what: &str) -> Result<Vec<u8>> {
    let bytes = buffer
        .get(*at..*at + len)
        .ok_or_else(|| anyhow!("block {what} buffer is shorter than its lengths say"))?;
    *at += len;
    Ok(bytes.to_vec())
}

fn read_header<R: Read>(input: &mut Counting<R>) -> Result<Header> {
    let mut magic = [0u8; 4];
    input.read_exact(&mut magic).context("file too short")?;
    if &magic[..3] != b"SEQ" {
        bail!("no SEQ magic (starts with {:02x?})", &magic[..3]);
    }
    let version = magic[3];
    if !(1..=6).contains(&version) {
        bail!("unsupported SequenceFile version {version}");
    }
    let (key_class, value_class) = if version < 4 {
        (input.read_java_utf()?, input.read_java_utf()?)
    } else {
        (input.read_text()?, input.read_text()?)
    };
    let compressed = version > 2 && input.read_bool()?;
    let block = version >= 4 && input.read_bool()?;
    let codec_class = if compressed {
        Some(if version >= 5 {
            input.read_text()?
        } else {
            Codec::Deflate.class_name().to_string()
        })
    } else {
        None
    };
    let compression = match &codec_class {
        None => Compression::None,
        Some(class) => {
            let codec = Codec::from_class(class)?;
            if block {
                Compression::Block(codec)
            } else {
                Compression::Record(codec)
            }
        }
    };
    let mut metadata = Vec::new();
    if version >= 6 {
        let count = input.read_i32()?;
        if count < 0 {
            bail!("negative metadata count {count}");
        }
        for _ in 0..count {
            metadata.push((input.read_text()?, input.read_text()?));
        }
    }
    let sync = if version > 1 {
        let mut sync = [0u8; 16];
        input
            .read_exact(&mut sync)
            .context("truncated sync marker")?;
        Some(sync)
    } else {
        None
    };
    Ok(Header {
        version,
        key_class,
        value_class,
        compression,
        codec_class,
        metadata,
        sync,
    })
}

/// A reader that knows its byte position, for errors.
struct Counting<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> Counting<R> {
    fn read_exact_named(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        let at = self.pos;
        self.read_exact(buf)
            .map_err(|e| anyhow!("truncated {what} at byte {at}: {e}"))
    }

    fn read_i32(&mut self) -> Result<i32> {
        let mut b = [0u8; 4];
        self.read_exact_named(&mut b, "4-byte integer")?;
        Ok(i32::from_be_bytes(b))
    }

    fn read_bool(&mut self) -> Result<bool> {
        let mut b = [0u8; 1];
        self.read_exact_named(&mut b, "boolean")?;
        Ok(b[0] != 0)
    }

    /// A 4-byte integer, or `None` when the input ends exactly here.
    fn read_i32_or_eof(&mut self) -> Result<Option<i32>> {
        let mut b = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            let n = match self.read(&mut b[got..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(anyhow!("read failed at byte {}: {e}", self.pos)),
            };
            if n == 0 {
                if got == 0 {
                    return Ok(None);
                }
                bail!("truncated 4-byte integer at byte {}", self.pos);
            }
            got += n;
        }
        Ok(Some(i32::from_be_bytes(b)))
    }

    fn read_vlong(&mut self) -> Result<i64> {
        self.read_vlong_or_eof()?
            .ok_or_else(|| anyhow!("truncated variable-length integer at byte {}", self.pos))
    }

    fn read_vlong_or_eof(&mut self) -> Result<Option<i64>> {
        let mut first = [0u8; 1];
        loop {
            match self.read(&mut first) {
                Ok(0) => return Ok(None),
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(anyhow!("read failed at byte {}: {e}", self.pos)),
            }
        }
        let size = writable::vint_size(first[0] as i8);
        let mut bytes = vec![first[0]];
        bytes.resize(size, 0);
        self.read_exact_named(&mut bytes[1..], "variable-length integer")?;
        Ok(Some(
            DataInput::new(&bytes)
                .read_vlong("vint")
                .map_err(|e| anyhow!("{e}"))?,
        ))
    }

    /// `len` bytes, read without trusting `len` for the allocation.
    fn read_vec(&mut self, len: usize, what: &str) -> Result<Vec<u8>> {
        let at = self.pos;
        let mut out = Vec::with_capacity(len.min(1 << 20));
        (&mut *self).take(len as u64).read_to_end(&mut out)?;
        if out.len() != len {
            bail!(
                "truncated {what} at byte {at}: {len} bytes expected, {} left",
                out.len()
            );
        }
        Ok(out)
    }

    fn read_text(&mut self) -> Result<String> {
        let len =
            usize::try_from(self.read_vlong()?).map_err(|_| anyhow!("negative string length"))?;
        let bytes = self.read_vec(len, "string")?;
        String::from_utf8(bytes).map_err(|e| anyhow!("string is not UTF-8: {e}"))
    }

    fn read_java_utf(&mut self) -> Result<String> {
        let mut b = [0u8; 2];
        self.read_exact_named(&mut b, "string length")?;
        let bytes = self.read_vec(u16::from_be_bytes(b) as usize, "string")?;
        writable::decode_modified_utf8(&bytes).map_err(|e| anyhow!(e))
    }
}
