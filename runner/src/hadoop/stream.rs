//! Whole files compressed by a Hadoop codec's output stream, read back as a stream: what Camus'
//! `StringRecordWriterProvider` writes with `mapred.output.compress=true` (`.gz` from GzipCodec,
//! `.deflate` from DefaultCodec, `.snappy` from SnappyCodec).
//!
//! A SequenceFile compresses buffers it holds whole ([`super::compression`]); a text file is one
//! stream as long as the file, so here it is inflated as it is read, a block at a time. Each
//! reader must tell a file cut short from a file that ended: a zlib stream that stops before its
//! end marker, a gzip member without its trailer, a Snappy block whose chunks stop short are all
//! errors, never a quiet end (the lines already read would look like the whole file).

use std::io::{self, BufRead, BufReader, Read};

use flate2::{Decompress, FlushDecompress, Status};

/// A codec a Camus text file can be written with, known by the file name's extension (Hadoop's
/// `getDefaultExtension`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileCodec {
    /// No extension: the records as they are.
    None,
    /// `.gz`: GzipCodec, one gzip member (or several, one after another).
    Gzip,
    /// `.deflate`: DefaultCodec, a zlib stream (Camus' choice for any codec but gzip and snappy).
    Deflate,
    /// `.snappy`: SnappyCodec, raw Snappy chunks in Hadoop's `BlockCompressorStream` framing
    /// (not the Snappy framing format of `snzip` or `snappy-java`'s stream).
    Snappy,
}

impl FileCodec {
    /// The codec an extension (without its dot) names, or `None` for an extension that is not
    /// one of them.
    pub(crate) fn from_extension(extension: &str) -> Option<FileCodec> {
        Some(match extension {
            "" => FileCodec::None,
            "gz" => FileCodec::Gzip,
            "deflate" => FileCodec::Deflate,
            "snappy" => FileCodec::Snappy,
            _ => return None,
        })
    }

    /// The codec's Hadoop class, as errors name it.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            FileCodec::None => "uncompressed",
            FileCodec::Gzip => "GzipCodec (.gz)",
            FileCodec::Deflate => "DefaultCodec (.deflate)",
            FileCodec::Snappy => "SnappyCodec (.snappy)",
        }
    }

    /// `input` decompressed as it is read. `limit` bounds one Snappy block (its declared length
    /// is checked before it is inflated); the stream codecs inflate into the caller's buffer.
    pub(crate) fn reader(self, input: Box<dyn Read + Send>, limit: u64) -> Box<dyn Read + Send> {
        match self {
            FileCodec::None => input,
            FileCodec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(input))),
            FileCodec::Deflate => Box::new(ZlibStreams::new(input)),
            FileCodec::Snappy => Box::new(SnappyBlocks::new(input, limit)),
        }
    }
}

fn truncated(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the file ends inside {what}: it is truncated"),
    )
}

fn corrupt(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// zlib streams one after another, each checked to its end marker (and Adler-32).
struct ZlibStreams<R> {
    input: BufReader<R>,
    inflate: Decompress,
    /// The current stream reached its end marker: more input starts another.
    ended: bool,
}

impl<R: Read> ZlibStreams<R> {
    fn new(input: R) -> Self {
        ZlibStreams {
            input: BufReader::with_capacity(64 << 10, input),
            inflate: Decompress::new(true),
            ended: false,
        }
    }
}

impl<R: Read> Read for ZlibStreams<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let available = self.input.fill_buf()?;
            let eof = available.is_empty();
            if self.ended {
                if eof {
                    return Ok(0);
                }
                self.inflate.reset(true);
                self.ended = false;
            }
            let (before_in, before_out) = (self.inflate.total_in(), self.inflate.total_out());
            let flush = if eof {
                FlushDecompress::Finish
            } else {
                FlushDecompress::None
            };
            let status = self
                .inflate
                .decompress(available, out, flush)
                .map_err(|e| corrupt(format!("bad zlib data: {e}")))?;
            let used = (self.inflate.total_in() - before_in) as usize;
            let made = (self.inflate.total_out() - before_out) as usize;
            self.input.consume(used);
            if status == Status::StreamEnd {
                self.ended = true;
            }
            if made > 0 {
                return Ok(made);
            }
            if eof && !self.ended {
                return Err(truncated("a zlib stream (before its end marker)"));
            }
            if used == 0 && !self.ended && !eof && status == Status::BufError {
                return Err(corrupt(
                    "bad zlib data: the stream makes no progress".into(),
                ));
            }
        }
    }
}

/// Hadoop's `BlockCompressorStream` framing with raw Snappy chunks: blocks of a 4-byte
/// big-endian uncompressed length, then chunks (4-byte big-endian compressed length, bytes)
/// until that length is made.
struct SnappyBlocks<R> {
    input: R,
    limit: u64,
    /// Inflated bytes of the current chunk not yet handed out.
    plain: Vec<u8>,
    at: usize,
    /// Bytes the current block still has to make.
    block_left: u64,
}

impl<R: Read> SnappyBlocks<R> {
    fn new(input: R, limit: u64) -> Self {
        SnappyBlocks {
            input,
            limit,
            plain: Vec::new(),
            at: 0,
            block_left: 0,
        }
    }

    /// A 4-byte big-endian length; `None` at a clean end of input when `end_allowed`.
    fn length(&mut self, what: &str, end_allowed: bool) -> io::Result<Option<u64>> {
        let mut bytes = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match self.input.read(&mut bytes[got..]) {
                Ok(0) if got == 0 && end_allowed => return Ok(None),
                Ok(0) => return Err(truncated(what)),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(u32::from_be_bytes(bytes).into()))
    }

    /// Inflates the next chunk into `plain`; false at the end of the file.
    fn next_chunk(&mut self) -> io::Result<bool> {
        while self.block_left == 0 {
            let Some(length) = self.length("a Snappy block's length", true)? else {
                return Ok(false);
            };
            if length > self.limit {
                return Err(corrupt(format!(
                    "a Snappy block says it inflates to {length} bytes, more than {} \
                     (source.max_block_bytes): a corrupt length or a decompression bomb",
                    self.limit
                )));
            }
            self.block_left = length;
        }
        let size = self
            .length("a Snappy block (a chunk's length)", false)?
            .unwrap_or(0);
        // A chunk is never much larger than what it inflates to (Snappy's worst case).
        let most = 32 + self.block_left + self.block_left / 6;
        if size > most {
            return Err(corrupt(format!(
                "a Snappy chunk of {size} bytes in a block with {} bytes left: corrupt framing",
                self.block_left
            )));
        }
        let mut chunk = vec![0u8; size as usize];
        self.input
            .read_exact(&mut chunk)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => truncated("a Snappy chunk"),
                _ => e,
            })?;
        let declared = snap::raw::decompress_len(&chunk)
            .map_err(|e| corrupt(format!("bad Snappy chunk: {e}")))?;
        if declared as u64 > self.block_left {
            return Err(corrupt(format!(
                "bad Snappy chunk: it says {declared} bytes, its block has {} left",
                self.block_left
            )));
        }
        self.plain = snap::raw::Decoder::new()
            .decompress_vec(&chunk)
            .map_err(|e| corrupt(format!("bad Snappy chunk: {e}")))?;
        self.block_left -= self.plain.len() as u64;
        self.at = 0;
        Ok(true)
    }
}

impl<R: Read> Read for SnappyBlocks<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn read(codec: FileCodec, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        codec
            .reader(Box::new(io::Cursor::new(bytes)), 1 << 20)
            .read_to_end(&mut out)?;
        Ok(out)
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Hadoop's framing: one block per `blocks` entry, each cut into chunks of `chunk` bytes.
    fn framed(blocks: &[&[u8]], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for block in blocks {
            out.extend_from_slice(&(block.len() as u32).to_be_bytes());
            for piece in block.chunks(chunk) {
                let c = snap::raw::Encoder::new().compress_vec(piece).unwrap();
                out.extend_from_slice(&(c.len() as u32).to_be_bytes());
                out.extend_from_slice(&c);
            }
        }
        out
    }

    #[test]
    fn each_codec_reads_back_and_concatenated_streams_are_all_read() {
        let text = b"{\"a\":1}\n{\"a\":2}\n".repeat(500);
        let mut two = zlib(&text);
        two.extend(zlib(b"tail\n"));
        let mut expected = text.clone();
        expected.extend_from_slice(b"tail\n");
        assert_eq!(read(FileCodec::Deflate, two).unwrap(), expected);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        assert_eq!(read(FileCodec::Gzip, gz.finish().unwrap()).unwrap(), text);
        let snappy = framed(&[&text[..3000], &text[3000..]], 1000);
        assert_eq!(read(FileCodec::Snappy, snappy).unwrap(), text);
        assert_eq!(read(FileCodec::Snappy, Vec::new()).unwrap(), b"");
    }

    #[test]
    fn a_file_cut_anywhere_is_an_error_never_a_shorter_text() {
        let text = b"line of text\n".repeat(2000);
        let whole = [
            (FileCodec::Deflate, zlib(&text)),
            (FileCodec::Snappy, framed(&[&text], 4096)),
            (FileCodec::Gzip, {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&text).unwrap();
                gz.finish().unwrap()
            }),
        ];
        for (codec, bytes) in whole {
            for cut in [1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
                let got = read(codec, bytes[..cut].to_vec());
                assert!(
                    got.is_err(),
                    "{codec:?} cut at {cut} of {}: {got:?}",
                    bytes.len()
                );
            }
        }
    }

    #[test]
    fn a_snappy_block_past_the_limit_is_refused_before_it_inflates() {
        let mut bomb = (u32::MAX).to_be_bytes().to_vec();
        bomb.extend_from_slice(&[0, 0, 0, 1, 0]);
        let error = read(FileCodec::Snappy, bomb).unwrap_err().to_string();
        assert!(error.contains("source.max_block_bytes"), "{error}");
    }
}
