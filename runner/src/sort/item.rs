//! One record in the sort, and its on-disk form in spill files.
//!
//! The sort moves items around and compares them far more often than it reads them, so the item is
//! laid out for that: a 64-byte struct holding what the order needs — the key's first sixteen
//! bytes as a big-endian `u128`, the tie-breakers — and one heap allocation holding the key, the
//! datum and the metadata only the output side reads (timestamp, schema id, where the record came
//! from). Keys of up to sixteen bytes (a `time-field` key is nine: a presence tag and the time)
//! are compared without reading the heap at all.

use std::cmp::Ordering;
use std::io::{Read, Write};

use crate::record::FileId;

/// Bytes of metadata stored after the datum: has-timestamp flag, timestamp, schema id, file id,
/// index in the file.
const META_LEN: usize = 1 + 8 + 4 + 4 + 8;

/// Bytes of the spill header: total length, key length, partition, offset, seq.
const SPILL_HEADER_LEN: usize = 4 + 4 + 4 + 8 + 8;

/// A keyed record: the sort order is (key, source partition, source offset, input order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortItem {
    /// The key's first sixteen bytes, big-endian, zero-padded: orders like the key's bytes
    /// except between keys that share these sixteen bytes.
    prefix: u128,
    /// Key, then datum, then [`META_LEN`] bytes of metadata.
    bytes: Box<[u8]>,
    key_len: u32,
    /// Source partition; `u32::MAX` when unknown (such records sort after known ones on ties).
    partition: u32,
    /// Source offset; `u64::MAX` when unknown.
    offset: u64,
    /// Position in the input (file order, then record order): makes the order total and stable.
    seq: u64,
}

impl SortItem {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        key: &[u8],
        datum: &[u8],
        partition: Option<u32>,
        offset: Option<u64>,
        seq: u64,
        timestamp_ms: Option<i64>,
        schema_id: u32,
        file: FileId,
        index: u64,
    ) -> SortItem {
        let mut bytes = Vec::with_capacity(key.len() + datum.len() + META_LEN);
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(datum);
        bytes.push(timestamp_ms.is_some() as u8);
        bytes.extend_from_slice(&timestamp_ms.unwrap_or(0).to_le_bytes());
        bytes.extend_from_slice(&schema_id.to_le_bytes());
        bytes.extend_from_slice(&file.to_le_bytes());
        bytes.extend_from_slice(&index.to_le_bytes());
        SortItem {
            prefix: key_prefix(key),
            bytes: bytes.into_boxed_slice(),
            key_len: key.len() as u32,
            partition: partition.unwrap_or(u32::MAX),
            offset: offset.unwrap_or(u64::MAX),
            seq,
        }
    }

    pub fn key(&self) -> &[u8] {
        &self.bytes[..self.key_len as usize]
    }

    pub fn datum(&self) -> &[u8] {
        &self.bytes[self.key_len as usize..self.bytes.len() - META_LEN]
    }

    pub fn partition(&self) -> Option<u32> {
        (self.partition != u32::MAX).then_some(self.partition)
    }

    pub fn offset(&self) -> Option<u64> {
        (self.offset != u64::MAX).then_some(self.offset)
    }

    /// Position in the input: file order, then record order.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The event time the key extractor reported, if any.
    pub fn timestamp_ms(&self) -> Option<i64> {
        let meta = self.meta();
        (meta[0] == 1).then(|| i64::from_le_bytes(array(&meta[1..9])))
    }

    pub fn schema_id(&self) -> u32 {
        u32::from_le_bytes(array(&self.meta()[9..13]))
    }

    /// The source file the record came from.
    pub fn file(&self) -> FileId {
        u32::from_le_bytes(array(&self.meta()[13..17]))
    }

    /// Index of the record within its file.
    pub fn index(&self) -> u64 {
        u64::from_le_bytes(array(&self.meta()[17..25]))
    }

    /// Bytes this item holds in memory, for the sort budget.
    pub fn memory_size(&self) -> u64 {
        (std::mem::size_of::<SortItem>() + self.bytes.len()) as u64
    }

    fn meta(&self) -> &[u8] {
        &self.bytes[self.bytes.len() - META_LEN..]
    }
}

/// Key bytes held in [`SortItem::prefix`].
const PREFIX_LEN: u32 = 16;

/// The first sixteen bytes of `key` as a big-endian number, zero-padded.
fn key_prefix(key: &[u8]) -> u128 {
    let mut prefix = [0u8; PREFIX_LEN as usize];
    let n = key.len().min(PREFIX_LEN as usize);
    prefix[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(prefix)
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().expect("slice of the array's length")
}

impl Ord for SortItem {
    fn cmp(&self, other: &Self) -> Ordering {
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| {
                if self.key_len <= PREFIX_LEN && other.key_len <= PREFIX_LEN {
                    // Equal zero-padded prefixes of short keys: the shorter key is a prefix of the
                    // longer one (the rest is zeros), so length decides, as for the byte slices.
                    self.key_len.cmp(&other.key_len)
                } else {
                    self.key().cmp(other.key())
                }
            })
            .then(self.partition.cmp(&other.partition))
            .then(self.offset.cmp(&other.offset))
            .then(self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for SortItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Spill format: a fixed little-endian header, then the item's bytes (key, datum, metadata). The
/// header goes out in one write: `extsort` hands us a small `BufWriter`, and each call costs.
impl extsort::Sortable for SortItem {
    fn encode<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        let mut header = [0u8; SPILL_HEADER_LEN];
        header[0..4].copy_from_slice(&(self.bytes.len() as u32).to_le_bytes());
        header[4..8].copy_from_slice(&self.key_len.to_le_bytes());
        header[8..12].copy_from_slice(&self.partition.to_le_bytes());
        header[12..20].copy_from_slice(&self.offset.to_le_bytes());
        header[20..28].copy_from_slice(&self.seq.to_le_bytes());
        w.write_all(&header)?;
        w.write_all(&self.bytes)
    }

    fn decode<R: Read>(r: &mut R) -> std::io::Result<SortItem> {
        let mut header = [0u8; SPILL_HEADER_LEN];
        r.read_exact(&mut header)?;
        let len = u32::from_le_bytes(array(&header[0..4])) as usize;
        let key_len = u32::from_le_bytes(array(&header[4..8]));
        if len < key_len as usize + META_LEN {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("spill item of {len} bytes is too short for a {key_len}-byte key"),
            ));
        }
        let mut bytes = vec![0u8; len].into_boxed_slice();
        r.read_exact(&mut bytes)?;
        Ok(SortItem {
            prefix: key_prefix(&bytes[..key_len as usize]),
            bytes,
            key_len,
            partition: u32::from_le_bytes(array(&header[8..12])),
            offset: u64::from_le_bytes(array(&header[12..20])),
            seq: u64::from_le_bytes(array(&header[20..28])),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use extsort::Sortable;

    fn keyed(key: &[u8], seq: u64) -> SortItem {
        SortItem::new(key, b"d", Some(0), Some(0), seq, None, 0, 0, 0)
    }

    #[test]
    fn spill_encoding_round_trips() {
        let item = SortItem::new(
            b"key",
            b"datum bytes",
            Some(3),
            None,
            42,
            Some(-5),
            7,
            9,
            11,
        );
        let mut bytes = Vec::new();
        item.encode(&mut bytes).unwrap();
        let back = SortItem::decode(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, item);
        assert_eq!(back.key(), b"key");
        assert_eq!(back.datum(), b"datum bytes");
        assert_eq!(back.partition(), Some(3));
        assert_eq!(back.seq(), 42);
        assert_eq!(back.timestamp_ms(), Some(-5));
        assert_eq!(back.schema_id(), 7);
        assert_eq!(back.file(), 9);
        assert_eq!(back.index(), 11);
    }

    #[test]
    fn a_missing_timestamp_stays_missing() {
        let item = SortItem::new(b"", b"", None, None, 0, None, 1, 2, 3);
        assert_eq!(item.timestamp_ms(), None);
        assert_eq!(item.key(), b"");
        assert_eq!(item.datum(), b"");
        assert_eq!(item.partition(), None);
    }

    #[test]
    fn keys_order_like_their_bytes_whatever_their_lengths() {
        // Short keys, keys sharing an 8-byte prefix, keys that end in zero bytes, empty keys.
        let keys: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"\0\0",
            b"a",
            b"a\0",
            b"a\0\0\0\0\0\0\0",
            b"a\0\0\0\0\0\0\0\0",
            b"a\0\0\0\0\0\0\0\x01",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghA",
            b"abcdefghB",
            b"abcdefghBB",
            b"abcdefgi",
            b"abcdefghijklmnop",
            b"abcdefghijklmnop\0",
            b"abcdefghijklmnopA",
            b"abcdefghijklmnoq",
            b"\xff",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate() {
                assert_eq!(
                    keyed(a, 0).cmp(&keyed(b, 0)),
                    a.cmp(b),
                    "keys {i} {a:?} and {j} {b:?}"
                );
            }
        }
    }

    #[test]
    fn a_truncated_spill_item_is_an_error_not_a_panic() {
        let item = keyed(b"key", 1);
        let mut bytes = Vec::new();
        item.encode(&mut bytes).unwrap();
        // A header claiming fewer bytes than the key needs.
        bytes[0..4].copy_from_slice(&2u32.to_le_bytes());
        let err = SortItem::decode(&mut bytes.as_slice()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }
}
