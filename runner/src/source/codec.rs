//! Decompressing one Avro block, for every codec the Avro specification names.
//!
//! apache-avro's [`apache_avro::Codec::decompress`] does the work for null, deflate, snappy (with
//! its CRC-32 check) and zstandard. For bzip2 and xz it unwraps decoder errors (a panic on a
//! corrupt block), and it slices a snappy block assuming at least 4 bytes, so those cases are
//! handled here with the same codec crates, returning errors instead.

use std::io::Read;

use apache_avro::Codec;

/// A block codec, from the file header's `avro.codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockCodec {
    Null,
    Deflate,
    Snappy,
    Zstandard,
    Bzip2,
    Xz,
}

impl BlockCodec {
    /// The codec named by `avro.codec` (absent means null).
    pub(crate) fn from_name(name: &str) -> Option<BlockCodec> {
        Some(match name {
            "" | "null" => BlockCodec::Null,
            "deflate" => BlockCodec::Deflate,
            "snappy" => BlockCodec::Snappy,
            "zstandard" => BlockCodec::Zstandard,
            "bzip2" => BlockCodec::Bzip2,
            "xz" => BlockCodec::Xz,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            BlockCodec::Null => "null",
            BlockCodec::Deflate => "deflate",
            BlockCodec::Snappy => "snappy",
            BlockCodec::Zstandard => "zstandard",
            BlockCodec::Bzip2 => "bzip2",
            BlockCodec::Xz => "xz",
        }
    }

    /// Decompresses `block` in place (a no-op for null).
    pub(crate) fn decompress(self, block: &mut Vec<u8>) -> Result<(), String> {
        match self {
            BlockCodec::Null => Ok(()),
            BlockCodec::Deflate => avro_codec(Codec::Deflate(Default::default()), block),
            BlockCodec::Snappy => {
                if block.len() < 4 {
                    return Err(format!(
                        "snappy block of {} bytes has no room for its CRC",
                        block.len()
                    ));
                }
                avro_codec(Codec::Snappy, block)
            }
            BlockCodec::Zstandard => avro_codec(Codec::Zstandard(Default::default()), block),
            BlockCodec::Bzip2 => {
                *block = read_all(bzip2::read::BzDecoder::new(&block[..]), block.len())?;
                Ok(())
            }
            BlockCodec::Xz => {
                *block = read_all(liblzma::read::XzDecoder::new(&block[..]), block.len())?;
                Ok(())
            }
        }
    }
}

fn avro_codec(codec: Codec, block: &mut Vec<u8>) -> Result<(), String> {
    codec.decompress(block).map_err(|e| e.to_string())
}

fn read_all(mut decoder: impl Read, compressed_len: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(compressed_len.saturating_mul(4));
    decoder.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}
