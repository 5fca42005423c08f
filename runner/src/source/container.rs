//! Reading an Avro object container file as a stream, one block at a time.
//!
//! A file is a header (magic `Obj\x01`, a metadata map holding `avro.schema` and `avro.codec`, a
//! 16-byte sync marker) then blocks (record count, byte size, the records, possibly compressed,
//! then the sync marker again). Only one block is held in memory, whatever the file size, and
//! never more than `source.max_block_bytes` of it, stored or decompressed: a declared size or
//! count is checked before it is trusted, and a block that inflates past the limit is refused as
//! it inflates ([`super::codec`]). Every error names the file and says where in it things went
//! wrong.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};

use anyhow::{anyhow, bail, Context, Result};
use apache_avro::Schema;

use super::codec::{BlockCodec, InflateError};
use crate::config::ByteSize;

pub(crate) const MAGIC: [u8; 4] = *b"Obj\x01";

/// The header's metadata (the schema, the codec, a writer's own entries), all entries together:
/// a schema is kilobytes, so this is corruption, not a file to hold in memory.
const MAX_HEADER_BYTES: u64 = 64 << 20;

/// What a refused block's error says to do about it.
const TOO_LARGE_ADVICE: &str =
    "a decompression bomb or a corrupt size, or a writer whose blocks are \
    far larger than Camus' (about 64 KB); raise source.max_block_bytes if the file is genuine";

/// What a container file's header says.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// The writer schema exactly as stored in `avro.schema`.
    pub schema_json: String,
    pub schema: Schema,
    pub codec: BlockCodec,
    pub sync: [u8; 16],
}

/// An open container file, positioned before its next block.
pub(crate) struct ContainerReader {
    url: String,
    input: Box<dyn Read + Send>,
    pub header: Header,
    /// The current block, decompressed.
    block: Vec<u8>,
    /// The current block as stored; kept, like `block`, so that its room is reserved once.
    stored: Vec<u8>,
    /// Index of the current block (0-based), for error messages.
    block_index: u64,
    /// Bytes of the file consumed so far, for error messages.
    position: u64,
    /// The most bytes a block may take, stored or decompressed (`source.max_block_bytes`).
    max_block_bytes: u64,
}

impl ContainerReader {
    /// Reads the header. `input` is the file's content from its first byte; a block larger than
    /// `max_block_bytes`, stored or decompressed, is refused.
    pub(crate) fn open(
        url: &str,
        input: Box<dyn Read + Send>,
        max_block_bytes: u64,
    ) -> Result<ContainerReader> {
        let mut reader = ContainerReader {
            url: url.to_string(),
            input,
            header: Header {
                schema_json: String::new(),
                schema: Schema::Null,
                codec: BlockCodec::Null,
                sync: [0; 16],
            },
            block: Vec::new(),
            stored: Vec::new(),
            block_index: 0,
            position: 0,
            max_block_bytes,
        };
        reader.header = reader.read_header()?;
        Ok(reader)
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn read_header(&mut self) -> Result<Header> {
        let mut magic = [0u8; 4];
        self.read_exact(&mut magic, "the Avro magic")?;
        if magic != MAGIC {
            bail!(
                "{}: not an Avro object container file (starts with {:?}, expected \"Obj\\x01\")",
                self.url,
                String::from_utf8_lossy(&magic)
            );
        }
        let mut metadata = BTreeMap::new();
        let mut metadata_bytes = 0u64;
        loop {
            let mut count = self.read_long("the header's metadata map")?;
            if count == 0 {
                break;
            }
            if count < 0 {
                count = count
                    .checked_neg()
                    .ok_or_else(|| anyhow!("{}: corrupt header metadata count", self.url))?;
                self.read_long("the header's metadata block size")?;
            }
            for _ in 0..count {
                let key = self.read_bytes("a header metadata key")?;
                let value = self.read_bytes("a header metadata value")?;
                metadata_bytes += (key.len() + value.len()) as u64;
                if metadata_bytes > MAX_HEADER_BYTES {
                    bail!(
                        "{}: corrupt header: its metadata exceeds {} (byte {})",
                        self.url,
                        ByteSize(MAX_HEADER_BYTES),
                        self.position
                    );
                }
                metadata.insert(String::from_utf8_lossy(&key).into_owned(), value);
            }
        }
        let mut sync = [0u8; 16];
        self.read_exact(&mut sync, "the header's sync marker")?;

        let schema_bytes = metadata
            .get("avro.schema")
            .ok_or_else(|| anyhow!("{}: the header has no avro.schema", self.url))?;
        let schema_json = String::from_utf8(schema_bytes.clone())
            .map_err(|_| anyhow!("{}: the header's avro.schema is not UTF-8", self.url))?;
        let schema = super::schemas::parse_schema(&schema_json).with_context(|| {
            format!(
                "{}: the writer schema in the header is unparsable",
                self.url
            )
        })?;
        let codec_name = metadata
            .get("avro.codec")
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_default();
        let codec = BlockCodec::from_name(&codec_name).ok_or_else(|| {
            anyhow!(
                "{}: unknown codec `{codec_name}` (null, deflate, snappy, zstandard, bzip2 and xz are supported)",
                self.url
            )
        })?;
        Ok(Header {
            schema_json,
            schema,
            codec,
            sync,
        })
    }

    /// Reads the next block; returns its record count, or `None` at the end of the file.
    /// The decompressed records are then in [`ContainerReader::block`].
    pub(crate) fn next_block(&mut self) -> Result<Option<u64>> {
        let mut first = [0u8; 1];
        loop {
            match self.input.read(&mut first) {
                Ok(0) => return Ok(None),
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(anyhow!(
                        "{}: read failed at byte {}: {e}",
                        self.url,
                        self.position
                    ))
                }
            }
        }
        let start = self.position;
        self.position += 1;
        let index = self.block_index;
        let codec = self.header.codec.name();
        let count = self.read_long_from(first[0], "a block's record count")?;
        let size = self.read_long("a block's byte size")?;
        if count < 0 || size < 0 {
            bail!(
                "{}: corrupt block {index} at byte {start}: record count {count}, byte size {size}",
                self.url
            );
        }
        // Checked before reading: the declared size is a number the file chose.
        if size as u64 > self.max_block_bytes {
            bail!(
                "{}: block {index} at byte {start} (codec {codec}) says it is {size} bytes, more \
                 than {}: {}",
                self.url,
                ByteSize(self.max_block_bytes),
                TOO_LARGE_ADVICE
            );
        }
        // Reserved at once (within the limit): growing by doubling would leave copies behind.
        self.stored.clear();
        self.stored.reserve_exact(size as usize);
        let got = (&mut self.input)
            .take(size as u64)
            .read_to_end(&mut self.stored)
            .map_err(|e| anyhow!("{}: read failed in block {index}: {e}", self.url))?;
        self.position += got as u64;
        if got as u64 != size as u64 {
            bail!(
                "{}: truncated file: block {index} should have {size} bytes, the file ends after {got}",
                self.url
            );
        }
        let mut sync = [0u8; 16];
        self.read_exact(&mut sync, &format!("the sync marker after block {index}"))?;
        if sync != self.header.sync {
            bail!(
                "{}: sync marker mismatch after block {index} (byte {}): the file is corrupt",
                self.url,
                self.position - 16
            );
        }
        let inflated =
            self.header
                .codec
                .decompress(&mut self.stored, &mut self.block, self.max_block_bytes);
        match inflated {
            Ok(()) => {}
            Err(InflateError::TooLarge) => bail!(
                "{}: block {index} at byte {start} (codec {codec}) inflates to more than {}: {}",
                self.url,
                ByteSize(self.max_block_bytes),
                TOO_LARGE_ADVICE
            ),
            Err(InflateError::Corrupt(e)) => bail!(
                "{}: block {index} at byte {start} does not decompress with codec {codec}: {e}",
                self.url
            ),
        }
        // Every record takes at least a byte, unless the schema's records take none (then the
        // block is empty): more records than bytes is a count no writer wrote.
        if !self.block.is_empty() && count as u64 > self.block.len() as u64 {
            bail!(
                "{}: corrupt block {index} at byte {start}: {count} records in {} bytes",
                self.url,
                self.block.len()
            );
        }
        self.block_index += 1;
        Ok(Some(count as u64))
    }

    /// The records of the block last read by [`ContainerReader::next_block`].
    pub(crate) fn block(&self) -> &[u8] {
        &self.block
    }

    /// Index of the block last read.
    pub(crate) fn block_index(&self) -> u64 {
        self.block_index.saturating_sub(1)
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        self.input.read_exact(buf).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                anyhow!(
                    "{}: truncated file: it ends in {what} (byte {})",
                    self.url,
                    self.position
                )
            } else {
                anyhow!("{}: read failed at byte {}: {e}", self.url, self.position)
            }
        })?;
        self.position += buf.len() as u64;
        Ok(())
    }

    fn read_byte(&mut self, what: &str) -> Result<u8> {
        let mut byte = [0u8; 1];
        self.read_exact(&mut byte, what)?;
        Ok(byte[0])
    }

    fn read_long(&mut self, what: &str) -> Result<i64> {
        let first = self.read_byte(what)?;
        self.read_long_from(first, what)
    }

    /// A zig-zag varint whose first byte has been read already.
    fn read_long_from(&mut self, first: u8, what: &str) -> Result<i64> {
        let mut value = u64::from(first & 0x7f);
        let mut byte = first;
        let mut shift = 7;
        while byte & 0x80 != 0 {
            if shift >= 70 {
                bail!(
                    "{}: malformed varint in {what} (byte {})",
                    self.url,
                    self.position
                );
            }
            byte = self.read_byte(what)?;
            value |= u64::from(byte & 0x7f) << shift;
            shift += 7;
        }
        Ok(((value >> 1) as i64) ^ -((value & 1) as i64))
    }

    fn read_bytes(&mut self, what: &str) -> Result<Vec<u8>> {
        let len = self.read_long(what)?;
        if !(0..=(64 << 20)).contains(&len) {
            bail!("{}: corrupt header: {what} has length {len}", self.url);
        }
        let mut bytes = vec![0u8; len as usize];
        self.read_exact(&mut bytes, what)?;
        Ok(bytes)
    }
}
