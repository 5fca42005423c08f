//! Decompressing one Avro block, for every codec the Avro specification names, never past a
//! limit.
//!
//! A block of a few kilobytes can inflate to gigabytes (a decompression bomb), so no codec is
//! ever asked for "everything": each decoder is read as a stream through `take(limit + 1)`, and
//! one byte more than the limit is the refusal ([`InflateError::TooLarge`]), found with at most
//! `limit + 1` bytes written, into a buffer that grows once rather than by doubling. Snappy says
//! its uncompressed length up front: that is checked before anything is allocated. The decoders'
//! own working memory is bounded too: zstd's window and xz's dictionary are capped by what a
//! block within the limit can need.
//!
//! apache-avro's [`apache_avro::Codec::decompress`] inflates without a limit (and unwraps decoder
//! errors for bzip2 and xz), so only its snappy path (the CRC-32 check), behind the length
//! check, is used.

use std::io::Read;

use apache_avro::Codec;

/// Java's Avro writer starts a new block once ~64 KB (`DataFileConstants.DEFAULT_SYNC_INTERVAL`)
/// are buffered, so a block is that plus at most one record; Camus uses that writer. 64 MiB
/// leaves room for sync intervals raised a hundredfold and for records as large as Kafka
/// brokers are ever configured to accept, while a bomb is refused after 64 MiB.
pub(crate) const DEFAULT_MAX_BLOCK_BYTES: u64 = 64 << 20;

/// zstd's own default largest window (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`): what every zstd writer
/// at its highest ordinary level stays within.
const ZSTD_DEFAULT_WINDOW_LOG: u32 = 27;

/// xz at its highest preset (`-9`) writes a 64 MiB dictionary, whatever the size of the data:
/// Java's `XZOutputStream` (Avro's xz codec) does not shrink it for a small block.
const XZ_LARGEST_PRESET_DICTIONARY: u64 = 64 << 20;

/// What xz needs besides its dictionary (its own tables; 65 MiB in all at `-9`).
const XZ_DECODER_OVERHEAD: u64 = 8 << 20;

/// The room a decompressed block starts with, whatever its stored size: a Camus block (~64 KB)
/// and most larger ones fit, so a file's buffer is reserved once.
const FIRST_RESERVE: usize = 1 << 20;

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

/// Why a block did not decompress.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It inflates (or says it inflates) to more than the limit.
    TooLarge,
    /// Its bytes are not valid data of the codec.
    Corrupt(String),
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

    /// Decompresses the block as stored (`stored`) into `out` (emptied first), if its records
    /// take at most `limit` bytes. Both buffers are the caller's, reused block after block, so
    /// their capacity is reserved once per file, not once per block; `stored` may be left empty.
    pub(crate) fn decompress(
        self,
        stored: &mut Vec<u8>,
        out: &mut Vec<u8>,
        limit: u64,
    ) -> Result<(), InflateError> {
        out.clear();
        let hint = stored.len().saturating_mul(8);
        match self {
            BlockCodec::Null if stored.len() as u64 > limit => Err(InflateError::TooLarge),
            BlockCodec::Null => {
                std::mem::swap(stored, out);
                Ok(())
            }
            BlockCodec::Deflate => read_capped(
                flate2::read::DeflateDecoder::new(&stored[..]),
                hint,
                out,
                limit,
            ),
            BlockCodec::Snappy => {
                *out = snappy(std::mem::take(stored), limit)?;
                Ok(())
            }
            BlockCodec::Zstandard => {
                let mut decoder = zstd::stream::read::Decoder::new(&stored[..]).map_err(corrupt)?;
                decoder
                    .window_log_max(zstd_window_log(limit))
                    .map_err(corrupt)?;
                read_capped(decoder, hint, out, limit)
            }
            BlockCodec::Bzip2 => {
                read_capped(bzip2::read::BzDecoder::new(&stored[..]), hint, out, limit)
            }
            BlockCodec::Xz => {
                let memory = limit.max(XZ_LARGEST_PRESET_DICTIONARY) + XZ_DECODER_OVERHEAD;
                let stream = liblzma::stream::Stream::new_stream_decoder(memory, 0)
                    .map_err(|e| InflateError::Corrupt(e.to_string()))?;
                let decoder = liblzma::read::XzDecoder::new_stream(&stored[..], stream);
                read_capped(decoder, hint, out, limit)
            }
        }
    }
}

/// An Avro snappy block: raw snappy, then the CRC-32 of the uncompressed bytes (4 bytes,
/// big-endian). The raw format starts with the uncompressed length: checked before allocating.
fn snappy(mut block: Vec<u8>, limit: u64) -> Result<Vec<u8>, InflateError> {
    let Some(data_len) = block.len().checked_sub(4) else {
        return Err(InflateError::Corrupt(format!(
            "a snappy block of {} bytes has no room for its CRC",
            block.len()
        )));
    };
    let declared = snap::raw::decompress_len(&block[..data_len]).map_err(corrupt)?;
    if declared as u64 > limit {
        return Err(InflateError::TooLarge);
    }
    Codec::Snappy.decompress(&mut block).map_err(corrupt)?;
    Ok(block)
}

/// Reads `decoder` to its end into `out`, or refuses as soon as it yields more than `limit`
/// bytes. `out` starts with room for `hint` bytes (at least [`FIRST_RESERVE`]); when that is
/// full it grows once, straight to `limit + 1`: growing by doubling would leave every smaller
/// copy behind in the allocator, resident, while reserved room costs nothing until written.
fn read_capped(
    decoder: impl Read,
    hint: usize,
    out: &mut Vec<u8>,
    limit: u64,
) -> Result<(), InflateError> {
    let cap = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let mut decoder = decoder.take(cap as u64);
    out.reserve(hint.clamp(FIRST_RESERVE, cap));
    loop {
        let room = out.capacity() - out.len();
        let got = (&mut decoder)
            .take(room as u64)
            .read_to_end(out)
            .map_err(corrupt)?;
        if got < room || out.len() >= cap {
            break;
        }
        out.reserve_exact(cap - out.len());
    }
    if out.len() as u64 > limit {
        return Err(InflateError::TooLarge);
    }
    Ok(())
}

/// The largest zstd window a block of at most `limit` bytes may use: zstd's own default, or
/// the limit's size rounded up to a power of two when that is larger (up to zstd's maximum).
fn zstd_window_log(limit: u64) -> u32 {
    let needed = u64::BITS - limit.saturating_sub(1).leading_zeros();
    needed.clamp(ZSTD_DEFAULT_WINDOW_LOG, 31)
}

fn corrupt(error: impl std::fmt::Display) -> InflateError {
    InflateError::Corrupt(error.to_string())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const LIMIT: u64 = 1 << 20;

    fn compress(codec: BlockCodec, data: &[u8]) -> Vec<u8> {
        match codec {
            BlockCodec::Null => data.to_vec(),
            BlockCodec::Deflate => {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Default::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            BlockCodec::Snappy => {
                let mut out = data.to_vec();
                Codec::Snappy.compress(&mut out).unwrap();
                out
            }
            BlockCodec::Zstandard => zstd::encode_all(data, 3).unwrap(),
            BlockCodec::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), Default::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            BlockCodec::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    const ALL: [BlockCodec; 6] = [
        BlockCodec::Null,
        BlockCodec::Deflate,
        BlockCodec::Snappy,
        BlockCodec::Zstandard,
        BlockCodec::Bzip2,
        BlockCodec::Xz,
    ];

    fn decompress(codec: BlockCodec, stored: Vec<u8>, limit: u64) -> Result<Vec<u8>, InflateError> {
        let mut stored = stored;
        let mut out = Vec::new();
        codec.decompress(&mut stored, &mut out, limit).map(|()| out)
    }

    #[test]
    fn every_codec_gives_back_a_block_of_exactly_the_limit() {
        let data = vec![7u8; LIMIT as usize];
        for codec in ALL {
            let out = decompress(codec, compress(codec, &data), LIMIT);
            assert_eq!(out.as_deref(), Ok(&data[..]), "{}", codec.name());
        }
    }

    #[test]
    fn every_codec_refuses_one_byte_more_than_the_limit() {
        let data = vec![7u8; LIMIT as usize + 1];
        for codec in ALL {
            let out = decompress(codec, compress(codec, &data), LIMIT);
            assert_eq!(out, Err(InflateError::TooLarge), "{}", codec.name());
        }
    }

    #[test]
    fn buffers_are_reused_and_grow_once_to_the_limit() {
        let limit = 8 * FIRST_RESERVE as u64;
        let mut stored = compress(BlockCodec::Deflate, &vec![1u8; 3 * FIRST_RESERVE]);
        let mut out = Vec::new();
        BlockCodec::Deflate
            .decompress(&mut stored, &mut out, limit)
            .unwrap();
        assert_eq!(out.len(), 3 * FIRST_RESERVE);
        // Past the first reserve, straight to the limit: no intermediate sizes.
        assert_eq!(out.capacity(), limit as usize + 1);
        let mut small = compress(BlockCodec::Deflate, b"small");
        BlockCodec::Deflate
            .decompress(&mut small, &mut out, limit)
            .unwrap();
        assert_eq!(
            (&out[..], out.capacity()),
            (&b"small"[..], limit as usize + 1)
        );
    }

    #[test]
    fn a_snappy_block_claiming_4_gib_is_refused_before_allocating() {
        // Raw snappy: the uncompressed length as a varint, here 2^32 - 1, then nothing.
        let mut block = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
        block.extend_from_slice(&[0, 0, 0, 0]);
        let out = decompress(BlockCodec::Snappy, block, LIMIT);
        assert_eq!(out, Err(InflateError::TooLarge));
    }

    #[test]
    fn corrupt_blocks_are_errors_not_panics() {
        for codec in ALL.into_iter().filter(|c| *c != BlockCodec::Null) {
            for block in [vec![], vec![1, 2, 3], vec![0xff; 64]] {
                let out = decompress(codec, block.clone(), LIMIT);
                assert!(
                    matches!(out, Err(InflateError::Corrupt(_))),
                    "{} on {block:?}: {out:?}",
                    codec.name()
                );
            }
        }
        let mut bad_crc = compress(BlockCodec::Snappy, b"hello");
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 1;
        assert!(matches!(
            decompress(BlockCodec::Snappy, bad_crc, LIMIT),
            Err(InflateError::Corrupt(_))
        ));
    }

    #[test]
    fn zstd_windows_follow_the_limit_above_zstds_default() {
        assert_eq!(zstd_window_log(64 << 20), 27);
        assert_eq!(zstd_window_log(256 << 20), 28);
        assert_eq!(zstd_window_log((256 << 20) + 1), 29);
        assert_eq!(zstd_window_log(u64::MAX), 31);
    }
}
