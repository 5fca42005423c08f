//! Hadoop SequenceFiles, read as a stream: the format Camus writes its offsets in.
//!
//! Layout (Hadoop's `SequenceFile`): `SEQ` + a version byte; the key and value class names
//! (`Text` strings from version 4 on, `UTF8` before); from version 3 a "compressed" flag, from 4 a
//! "block compressed" flag; from 5 the codec class name when compressed (DefaultCodec before);
//! from 6 the metadata (a 4-byte count of `Text` name/value pairs); from 2 a 16-byte sync marker.
//! Then either records — 4-byte record length, 4-byte key length, key, value (the value alone is
//! compressed in record-compressed files) — or, block-compressed, blocks: a vint record count and
//! four vint-length compressed buffers (key lengths as vints, keys, value lengths, values). A
//! record length of -1 is a sync escape: the sync marker follows (every block is preceded by one).
//!
//! Keys and values are returned as their serialized bytes; [`super::etlkey`] decodes Camus keys.

use std::io::{self, Read, Write};

use anyhow::{anyhow, bail, Context, Result};

use super::codec::Codec;
use super::writable::{self, DataInput};

/// How the records of a file are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// Each value compressed on its own.
    Record(Codec),
    /// Records grouped in blocks of four compressed buffers.
    Block(Codec),
}

/// A SequenceFile header.
#[derive(Debug, Clone)]
pub struct Header {
    pub version: u8,
    pub key_class: String,
    pub value_class: String,
    pub compression: Compression,
    /// The codec class name as written (when compressed).
    pub codec_class: Option<String>,
    pub metadata: Vec<(String, String)>,
    pub sync: Option<[u8; 16]>,
}

/// One record: the key's and the (decompressed) value's serialized bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// Reads a SequenceFile record by record.
pub struct SequenceFileReader<R: Read> {
    input: Counting<R>,
    name: String,
    header: Header,
    /// Records left in the current block, with the block's decoded buffers.
    block: Option<Block>,
    records: u64,
}

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
        })
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
        let key = self.input.read_vec(key_len as usize, "key")?;
        let value = self
            .input
            .read_vec((record_len - key_len) as usize, "value")?;
        let value = match codec {
            None => value,
            Some(codec) => codec
                .decompress(&value)
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
        let mut buffers: [Vec<u8>; 4] = Default::default();
        let names = ["key lengths", "keys", "value lengths", "values"];
        for (buffer, name) in buffers.iter_mut().zip(names) {
            let at = self.input.pos;
            let len = self.input.read_vlong()?;
            let len = usize::try_from(len)
                .map_err(|_| anyhow!("negative {name} buffer length {len} at byte {at}"))?;
            let compressed = self.input.read_vec(len, name)?;
            *buffer = codec
                .decompress(&compressed)
                .with_context(|| format!("block {name} buffer at byte {at}"))?;
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

const SYNC_ESCAPE: i32 = -1;

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

/// Writes SequenceFiles (version 6) the way Hadoop's writer does: uncompressed, record- or
/// block-compressed with a stream codec (DefaultCodec or GzipCodec). Used by tests and by
/// `c2k sample`.
pub struct SequenceFileWriter<W: Write> {
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
    pub fn new(
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
    pub fn append(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
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
    pub fn finish(mut self) -> Result<W> {
        self.flush_block()?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYNC: [u8; 16] = *b"0123456789abcdef";

    /// The header bytes, assembled by hand from the format description above.
    fn header(codec: Option<&str>, block: bool) -> Vec<u8> {
        let mut h = b"SEQ\x06".to_vec();
        for class in ["org.apache.hadoop.io.Text", "org.apache.hadoop.io.Text"] {
            h.push(class.len() as u8);
            h.extend_from_slice(class.as_bytes());
        }
        h.push(codec.is_some() as u8);
        h.push(block as u8);
        if let Some(c) = codec {
            h.push(c.len() as u8);
            h.extend_from_slice(c.as_bytes());
        }
        h.extend_from_slice(&[0, 0, 0, 1]); // one metadata entry
        h.extend_from_slice(&[4]);
        h.extend_from_slice(b"name");
        h.extend_from_slice(&[5]);
        h.extend_from_slice(b"value");
        h.extend_from_slice(&SYNC);
        h
    }

    /// A `Text` Writable's bytes.
    fn text(s: &str) -> Vec<u8> {
        let mut v = vec![s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn plain_record(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut r = ((key.len() + value.len()) as u32).to_be_bytes().to_vec();
        r.extend_from_slice(&(key.len() as u32).to_be_bytes());
        r.extend_from_slice(key);
        r.extend_from_slice(value);
        r
    }

    fn read_all(bytes: &[u8]) -> Result<(Header, Vec<Record>)> {
        let mut reader = SequenceFileReader::new(bytes, "test.seq")?;
        let records = (&mut reader).collect::<Result<Vec<_>>>()?;
        Ok((reader.header().clone(), records))
    }

    fn expected() -> Vec<Record> {
        vec![
            Record {
                key: text("k1"),
                value: text("v1"),
            },
            Record {
                key: text("k2"),
                value: text("value two"),
            },
        ]
    }

    #[test]
    fn uncompressed_file_with_a_sync_escape_between_records() {
        let mut file = header(None, false);
        file.extend(plain_record(&text("k1"), &text("v1")));
        file.extend_from_slice(&(-1i32).to_be_bytes());
        file.extend_from_slice(&SYNC);
        file.extend(plain_record(&text("k2"), &text("value two")));
        let (h, records) = read_all(&file).unwrap();
        assert_eq!(h.version, 6);
        assert_eq!(h.key_class, "org.apache.hadoop.io.Text");
        assert_eq!(h.compression, Compression::None);
        assert_eq!(h.metadata, vec![("name".into(), "value".into())]);
        assert_eq!(records, expected());
    }

    fn record_compressed(codec: Codec, compress: impl Fn(&[u8]) -> Vec<u8>) {
        let mut file = header(Some(codec.class_name()), false);
        for r in expected() {
            file.extend(plain_record(&r.key, &compress(&r.value)));
        }
        let (h, records) = read_all(&file).unwrap();
        assert_eq!(h.compression, Compression::Record(codec));
        assert_eq!(records, expected(), "{codec:?}");
    }

    fn zlib(d: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    fn gzip(d: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    fn bzip2(d: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    /// Hadoop's BlockCompressorStream framing around one raw chunk.
    fn framed(d: &[u8], raw: Vec<u8>) -> Vec<u8> {
        if d.is_empty() {
            return Vec::new();
        }
        let mut out = (d.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        out.extend(raw);
        out
    }

    fn snappy(d: &[u8]) -> Vec<u8> {
        framed(d, snap::raw::Encoder::new().compress_vec(d).unwrap())
    }

    fn lz4(d: &[u8]) -> Vec<u8> {
        framed(d, lz4_flex::block::compress(d))
    }

    fn zstd_stream(d: &[u8]) -> Vec<u8> {
        zstd::stream::encode_all(d, 3).unwrap()
    }

    type Compressor = fn(&[u8]) -> Vec<u8>;

    fn all_codecs() -> Vec<(Codec, Compressor)> {
        vec![
            (Codec::Deflate, zlib as Compressor),
            (Codec::Gzip, gzip),
            (Codec::Bzip2, bzip2),
            (Codec::Snappy, snappy),
            (Codec::Lz4, lz4),
            (Codec::Zstd, zstd_stream),
        ]
    }

    #[test]
    fn record_compressed_files_for_every_codec() {
        for (codec, compress) in all_codecs() {
            record_compressed(codec, compress);
        }
    }

    fn block(records: &[Record], compress: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
        let mut b = (-1i32).to_be_bytes().to_vec();
        b.extend_from_slice(&SYNC);
        b.push(records.len() as u8);
        let key_lengths: Vec<u8> = records.iter().map(|r| r.key.len() as u8).collect();
        let keys: Vec<u8> = records.iter().flat_map(|r| r.key.clone()).collect();
        let value_lengths: Vec<u8> = records.iter().map(|r| r.value.len() as u8).collect();
        let values: Vec<u8> = records.iter().flat_map(|r| r.value.clone()).collect();
        for buffer in [key_lengths, keys, value_lengths, values] {
            let c = compress(&buffer);
            let mut len = Vec::new();
            writable::write_vlong(&mut len, c.len() as i64);
            b.extend(len);
            b.extend(c);
        }
        b
    }

    #[test]
    fn block_compressed_files_for_every_codec_with_two_blocks() {
        let all = expected();
        for (codec, compress) in all_codecs() {
            let mut file = header(Some(codec.class_name()), true);
            file.extend(block(&all[..1], compress));
            file.extend(block(&all[1..], compress));
            let (h, records) = read_all(&file).unwrap();
            assert_eq!(h.compression, Compression::Block(codec));
            assert_eq!(records, all, "{codec:?}");
        }
    }

    #[test]
    fn block_with_empty_values_as_null_writable_values_are() {
        let records = vec![
            Record {
                key: text("k"),
                value: vec![]
            };
            3
        ];
        for (codec, compress) in all_codecs() {
            let mut file = header(Some(codec.class_name()), true);
            file.extend(block(&records, compress));
            assert_eq!(read_all(&file).unwrap().1, records, "{codec:?}");
        }
    }

    #[test]
    fn version_4_header_without_codec_name_or_metadata() {
        let mut file = b"SEQ\x04".to_vec();
        file.extend(text("K"));
        file.extend(text("V"));
        file.extend_from_slice(&[1, 0]); // compressed, not block compressed -> DefaultCodec
        file.extend_from_slice(&SYNC);
        file.extend(plain_record(b"key", &zlib(b"val")));
        let (h, records) = read_all(&file).unwrap();
        assert_eq!(h.compression, Compression::Record(Codec::Deflate));
        assert_eq!(records[0].value, b"val");
    }

    #[test]
    fn corrupt_files_are_errors_naming_the_file_and_position() {
        let mut file = header(None, false);
        file.extend(plain_record(b"key", b"value"));
        let err = read_all(&file[..file.len() - 2]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("test.seq") && msg.contains("record 0"),
            "{msg}"
        );

        let mut bad_sync = header(None, false);
        bad_sync.extend_from_slice(&(-1i32).to_be_bytes());
        bad_sync.extend_from_slice(&[0u8; 16]);
        let msg = format!("{:#}", read_all(&bad_sync).unwrap_err());
        assert!(msg.contains("sync marker"), "{msg}");

        let msg = format!("{:#}", read_all(b"PAR1....").unwrap_err());
        assert!(msg.contains("test.seq") && msg.contains("SEQ"), "{msg}");
    }

    #[test]
    fn writer_output_reads_back_for_each_mode() {
        for compression in [
            Compression::None,
            Compression::Record(Codec::Deflate),
            Compression::Block(Codec::Deflate),
            Compression::Block(Codec::Gzip),
        ] {
            let mut w =
                SequenceFileWriter::new(Vec::new(), "K", "V", compression, &[], SYNC).unwrap();
            let records: Vec<Record> = (0..500)
                .map(|i| Record {
                    key: format!("key-{i}").into_bytes(),
                    value: vec![b'x'; i % 17],
                })
                .collect();
            for r in &records {
                w.append(&r.key, &r.value).unwrap();
            }
            let bytes = w.finish().unwrap();
            let (h, back) = read_all(&bytes).unwrap();
            assert_eq!(h.compression, compression);
            assert_eq!(back, records, "{compression:?}");
        }
    }
}
