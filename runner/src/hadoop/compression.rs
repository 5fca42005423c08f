//! Hadoop compression codecs, by the class name a SequenceFile header carries, for the buffers a
//! SequenceFile compresses (one value, or one of a block's four buffers).
//!
//! Stream codecs (DefaultCodec = zlib, GzipCodec, BZip2Codec, ZStandardCodec) write their format's
//! ordinary stream, possibly several concatenated. SnappyCodec and Lz4Codec go through Hadoop's
//! `BlockCompressorStream`, which frames raw blocks: a 4-byte big-endian uncompressed length, then
//! chunks of 4-byte big-endian compressed length + compressed bytes until that length is reached,
//! repeated to the end. Hadoop's ZStandardCodec uses the plain stream, but zstd data framed like
//! snappy is accepted too (told apart by the zstd frame magic).
//!
//! No buffer is inflated past the limit the reader gives: streams are
//! read through `take(limit + 1)`, and a framed block's declared length is checked before it is
//! decompressed.

use std::io::Read;

use anyhow::{anyhow, bail, Context, Result};

/// A codec a SequenceFile may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Deflate,
    Gzip,
    Bzip2,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    /// The codec for a Hadoop codec class name (full or simple name).
    pub fn from_class(class: &str) -> Result<Codec> {
        let simple = class.rsplit('.').next().unwrap_or(class);
        Ok(match simple {
            "DefaultCodec" | "DeflateCodec" => Codec::Deflate,
            "GzipCodec" => Codec::Gzip,
            "BZip2Codec" => Codec::Bzip2,
            "SnappyCodec" => Codec::Snappy,
            "Lz4Codec" => Codec::Lz4,
            "ZStandardCodec" => Codec::Zstd,
            _ => bail!(
                "unsupported compression codec {class} (supported: DefaultCodec, GzipCodec, \
                 BZip2Codec, SnappyCodec, Lz4Codec, ZStandardCodec)"
            ),
        })
    }

    /// The Hadoop class name written in headers.
    pub fn class_name(self) -> &'static str {
        match self {
            Codec::Deflate => "org.apache.hadoop.io.compress.DefaultCodec",
            Codec::Gzip => "org.apache.hadoop.io.compress.GzipCodec",
            Codec::Bzip2 => "org.apache.hadoop.io.compress.BZip2Codec",
            Codec::Snappy => "org.apache.hadoop.io.compress.SnappyCodec",
            Codec::Lz4 => "org.apache.hadoop.io.compress.Lz4Codec",
            Codec::Zstd => "org.apache.hadoop.io.compress.ZStandardCodec",
        }
    }

    /// Decompresses one whole compressed buffer, refusing output past `limit` bytes as it
    /// inflates (a few kilobytes can inflate to gigabytes). An empty input is an empty output
    /// (what an empty buffer may be written as).
    pub fn decompress(self, data: &[u8], limit: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if data.is_empty() {
            return Ok(out);
        }
        match self {
            Codec::Deflate => inflate_concatenated(data, &mut out, limit)?,
            Codec::Gzip => read_capped(flate2::read::MultiGzDecoder::new(data), &mut out, limit)
                .context("bad gzip data")?,
            Codec::Bzip2 => read_capped(bzip2::read::MultiBzDecoder::new(data), &mut out, limit)
                .context("bad bzip2 data")?,
            Codec::Snappy => unblock(data, &mut out, limit, |chunk, max| {
                let declared = snap::raw::decompress_len(chunk)
                    .map_err(|e| anyhow!("bad snappy block: {e}"))?;
                if declared > max {
                    bail!("bad snappy block: it says {declared} bytes, its framing {max} at most");
                }
                snap::raw::Decoder::new()
                    .decompress_vec(chunk)
                    .map_err(|e| anyhow!("bad snappy block: {e}"))
            })?,
            Codec::Lz4 => unblock(data, &mut out, limit, |chunk, max| {
                let mut buf = vec![0u8; max];
                let n = lz4_flex::block::decompress_into(chunk, &mut buf)
                    .map_err(|e| anyhow!("bad lz4 block: {e}"))?;
                buf.truncate(n);
                Ok(buf)
            })?,
            Codec::Zstd if data.starts_with(&ZSTD_MAGIC) => {
                let decoder = zstd::stream::read::Decoder::new(data).context("bad zstd data")?;
                read_capped(decoder, &mut out, limit).context("bad zstd data")?
            }
            Codec::Zstd => unblock(data, &mut out, limit, |chunk, max| {
                let decoder = zstd::stream::read::Decoder::new(chunk).context("bad zstd block")?;
                let mut plain = Vec::new();
                read_capped(decoder, &mut plain, max as u64).context("bad zstd block")?;
                Ok(plain)
            })?,
        }
        Ok(out)
    }

    /// Compresses one buffer as Hadoop would (only the stream codecs the writer offers).
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>> {
        use std::io::Write;
        match self {
            Codec::Deflate => {
                let mut enc =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(data)?;
                Ok(enc.finish()?)
            }
            Codec::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(data)?;
                Ok(enc.finish()?)
            }
            other => bail!("writing {} is not supported", other.class_name()),
        }
    }
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Too much output: a buffer no Camus writer made, or a decompression bomb.
fn too_large(limit: u64) -> anyhow::Error {
    anyhow!(
        "it inflates to more than {}, the most c2k holds of one buffer: a decompression bomb \
         or a corrupt length",
        crate::config::ByteSize(limit)
    )
}

/// Appends what `decoder` yields to `out`, refusing as soon as `out` would pass `limit` bytes.
fn read_capped(decoder: impl Read, out: &mut Vec<u8>, limit: u64) -> Result<()> {
    let room = limit.saturating_sub(out.len() as u64);
    decoder.take(room.saturating_add(1)).read_to_end(out)?;
    if out.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(())
}

/// zlib streams, one after another (Hadoop's decompressor stream restarts after each end).
fn inflate_concatenated(data: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let mut decoder = flate2::read::ZlibDecoder::new(rest);
        let room = limit.saturating_sub(out.len() as u64);
        (&mut decoder)
            .take(room.saturating_add(1))
            .read_to_end(out)
            .context("bad zlib data")?;
        if out.len() as u64 > limit {
            return Err(too_large(limit));
        }
        let used = decoder.total_in() as usize;
        if used == 0 || used > rest.len() {
            bail!("bad zlib data: stream made no progress");
        }
        rest = &rest[used..];
    }
    Ok(())
}

/// Undoes Hadoop's `BlockCompressorStream` framing; `chunk` decompresses one raw chunk given at
/// most how many bytes it may produce. Each block's declared length is checked against `limit`
/// before anything of it is decompressed.
fn unblock(
    data: &[u8],
    out: &mut Vec<u8>,
    limit: u64,
    chunk: impl Fn(&[u8], usize) -> Result<Vec<u8>>,
) -> Result<()> {
    let mut pos = 0usize;
    let read_len = |pos: &mut usize, what: &str| -> Result<usize> {
        let bytes = data
            .get(*pos..*pos + 4)
            .ok_or_else(|| anyhow!("truncated block framing: {what} at byte {pos}"))?;
        *pos += 4;
        let len = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        usize::try_from(len).map_err(|_| anyhow!("negative {what} {len} at byte {}", *pos - 4))
    };
    while pos < data.len() {
        let expected = read_len(&mut pos, "uncompressed block length")?;
        if (out.len() + expected) as u64 > limit {
            return Err(too_large(limit));
        }
        let mut produced = 0usize;
        while produced < expected {
            let len = read_len(&mut pos, "compressed chunk length")?;
            let compressed = data.get(pos..pos + len).ok_or_else(|| {
                anyhow!("truncated block framing: chunk of {len} bytes at byte {pos}")
            })?;
            pos += len;
            let plain = chunk(compressed, expected - produced)?;
            if plain.is_empty() {
                bail!("empty chunk in a block of {expected} bytes at byte {pos}");
            }
            produced += plain.len();
            if produced > expected {
                bail!("block decompressed to more than the {expected} bytes its header says");
            }
            out.extend_from_slice(&plain);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 1 << 20;

    fn framed(blocks: &[(&[u8], Vec<Vec<u8>>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (plain, chunks) in blocks {
            out.extend_from_slice(&(plain.len() as u32).to_be_bytes());
            for c in chunks {
                out.extend_from_slice(&(c.len() as u32).to_be_bytes());
                out.extend_from_slice(c);
            }
        }
        out
    }

    #[test]
    fn snappy_lz4_and_zstd_block_framing_are_undone() {
        let a: &[u8] = b"hello hello hello hello";
        let b: &[u8] = b"second block";
        let snappy = |d: &[u8]| snap::raw::Encoder::new().compress_vec(d).unwrap();
        let data = framed(&[
            (a, vec![snappy(a)]),
            (b, vec![snappy(&b[..6]), snappy(&b[6..])]),
        ]);
        assert_eq!(
            Codec::Snappy.decompress(&data, LIMIT).unwrap(),
            [a, b].concat()
        );

        let lz4 = |d: &[u8]| lz4_flex::block::compress(d);
        let data = framed(&[(a, vec![lz4(a)]), (b, vec![lz4(b)])]);
        assert_eq!(
            Codec::Lz4.decompress(&data, LIMIT).unwrap(),
            [a, b].concat()
        );

        let zstd_frame = |d: &[u8]| zstd::bulk::compress(d, 3).unwrap();
        let data = framed(&[(a, vec![zstd_frame(a)])]);
        assert_eq!(Codec::Zstd.decompress(&data, LIMIT).unwrap(), a);
        // And the plain stream, as Hadoop's ZStandardCodec writes it.
        assert_eq!(Codec::Zstd.decompress(&zstd_frame(a), LIMIT).unwrap(), a);
    }

    #[test]
    fn concatenated_zlib_streams_are_all_read() {
        let one = Codec::Deflate.compress(b"abc").unwrap();
        let two = Codec::Deflate.compress(b"def").unwrap();
        assert_eq!(
            Codec::Deflate
                .decompress(&[one, two].concat(), LIMIT)
                .unwrap(),
            b"abcdef"
        );
    }

    #[test]
    fn truncated_framing_is_an_error() {
        let data = framed(&[(
            &b"abcdef"[..],
            vec![snap::raw::Encoder::new().compress_vec(b"abc").unwrap()],
        )]);
        assert!(Codec::Snappy.decompress(&data, LIMIT).is_err());
        assert!(Codec::Snappy.decompress(&data[..5], LIMIT).is_err());
    }

    #[test]
    fn unknown_codec_class_is_named() {
        let err = Codec::from_class("com.example.FancyCodec").unwrap_err();
        assert!(err.to_string().contains("com.example.FancyCodec"));
    }

    #[test]
    fn no_codec_inflates_past_the_limit() {
        let big = vec![0u8; LIMIT as usize + 1];
        let exact = vec![0u8; LIMIT as usize];
        let zstd = |d: &[u8]| zstd::bulk::compress(d, 3).unwrap();
        let snappy = |d: &[u8]| snap::raw::Encoder::new().compress_vec(d).unwrap();
        let lz4 = |d: &[u8]| lz4_flex::block::compress(d);
        let bzip2 = |d: &[u8]| {
            use std::io::Write;
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), Default::default());
            e.write_all(d).unwrap();
            e.finish().unwrap()
        };
        type Compress = Box<dyn Fn(&[u8]) -> Vec<u8>>;
        let cases: Vec<(Codec, Compress)> = vec![
            (
                Codec::Deflate,
                Box::new(|d| Codec::Deflate.compress(d).unwrap()),
            ),
            (Codec::Gzip, Box::new(|d| Codec::Gzip.compress(d).unwrap())),
            (Codec::Bzip2, Box::new(bzip2)),
            (Codec::Zstd, Box::new(zstd)),
            (
                Codec::Snappy,
                Box::new(move |d| framed(&[(d, vec![snappy(d)])])),
            ),
            (Codec::Lz4, Box::new(move |d| framed(&[(d, vec![lz4(d)])]))),
        ];
        for (codec, compress) in cases {
            let name = codec.class_name();
            assert_eq!(
                codec.decompress(&compress(&exact), LIMIT).unwrap(),
                exact,
                "{name}"
            );
            let error = codec.decompress(&compress(&big), LIMIT).unwrap_err();
            assert!(
                format!("{error:#}").contains("more than 1MiB"),
                "{name}: {error:#}"
            );
        }
    }

    #[test]
    fn a_framed_block_claiming_2_gib_is_refused_before_decompressing() {
        let mut data = (i32::MAX as u32).to_be_bytes().to_vec();
        data.extend_from_slice(&4u32.to_be_bytes());
        data.extend_from_slice(&[0, 0, 0, 0]);
        for codec in [Codec::Snappy, Codec::Lz4, Codec::Zstd] {
            let error = codec.decompress(&data, LIMIT).unwrap_err();
            assert!(
                format!("{error:#}").contains("inflates to more than"),
                "{error:#}"
            );
        }
    }
}
