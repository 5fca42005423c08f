//! One record in the sort, and its on-disk form in spill files.

use std::cmp::Ordering;
use std::io::{Read, Write};

use crate::record::FileId;

/// A keyed record. Key and datum share one allocation (`key_len` splits them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortItem {
    key_and_datum: Vec<u8>,
    key_len: u32,
    /// Source partition; `u32::MAX` when unknown (such records sort after known ones on ties).
    partition: u32,
    /// Source offset; `u64::MAX` when unknown.
    offset: u64,
    /// Position in the input (file order, then record order): makes the order total and stable.
    pub seq: u64,
    pub timestamp_ms: Option<i64>,
    pub schema_id: u32,
    pub file: FileId,
    /// Index of the record within its file.
    pub index: u64,
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
        let mut key_and_datum = Vec::with_capacity(key.len() + datum.len());
        key_and_datum.extend_from_slice(key);
        key_and_datum.extend_from_slice(datum);
        SortItem {
            key_and_datum,
            key_len: key.len() as u32,
            partition: partition.unwrap_or(u32::MAX),
            offset: offset.unwrap_or(u64::MAX),
            seq,
            timestamp_ms,
            schema_id,
            file,
            index,
        }
    }

    pub fn key(&self) -> &[u8] {
        &self.key_and_datum[..self.key_len as usize]
    }

    pub fn datum(&self) -> &[u8] {
        &self.key_and_datum[self.key_len as usize..]
    }

    pub fn partition(&self) -> Option<u32> {
        (self.partition != u32::MAX).then_some(self.partition)
    }

    /// Bytes this item holds in memory, for the sort budget.
    pub fn memory_size(&self) -> u64 {
        (std::mem::size_of::<SortItem>() + self.key_and_datum.capacity()) as u64
    }
}

impl Ord for SortItem {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(other.key())
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

/// Spill format: fixed-width little-endian header, then key and datum bytes.
impl extsort::Sortable for SortItem {
    fn encode<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(&(self.key_and_datum.len() as u32).to_le_bytes())?;
        w.write_all(&self.key_len.to_le_bytes())?;
        w.write_all(&self.partition.to_le_bytes())?;
        w.write_all(&self.offset.to_le_bytes())?;
        w.write_all(&self.seq.to_le_bytes())?;
        let (has_ts, ts) = match self.timestamp_ms {
            Some(ts) => (1u8, ts),
            None => (0u8, 0),
        };
        w.write_all(&[has_ts])?;
        w.write_all(&ts.to_le_bytes())?;
        w.write_all(&self.schema_id.to_le_bytes())?;
        w.write_all(&self.file.to_le_bytes())?;
        w.write_all(&self.index.to_le_bytes())?;
        w.write_all(&self.key_and_datum)
    }

    fn decode<R: Read>(r: &mut R) -> std::io::Result<SortItem> {
        let mut header = [0u8; 4 + 4 + 4 + 8 + 8 + 1 + 8 + 4 + 4 + 8];
        r.read_exact(&mut header)?;
        let mut at = 0;
        let mut take = |n: usize| {
            let slice = &header[at..at + n];
            at += n;
            slice
        };
        let len = u32::from_le_bytes(take(4).try_into().expect("4 bytes"));
        let key_len = u32::from_le_bytes(take(4).try_into().expect("4 bytes"));
        let partition = u32::from_le_bytes(take(4).try_into().expect("4 bytes"));
        let offset = u64::from_le_bytes(take(8).try_into().expect("8 bytes"));
        let seq = u64::from_le_bytes(take(8).try_into().expect("8 bytes"));
        let has_ts = take(1)[0] == 1;
        let ts = i64::from_le_bytes(take(8).try_into().expect("8 bytes"));
        let schema_id = u32::from_le_bytes(take(4).try_into().expect("4 bytes"));
        let file = u32::from_le_bytes(take(4).try_into().expect("4 bytes"));
        let index = u64::from_le_bytes(take(8).try_into().expect("8 bytes"));
        let mut key_and_datum = vec![0u8; len as usize];
        r.read_exact(&mut key_and_datum)?;
        Ok(SortItem {
            key_and_datum,
            key_len,
            partition,
            offset,
            seq,
            timestamp_ms: has_ts.then_some(ts),
            schema_id,
            file,
            index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use extsort::Sortable;

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
    }
}
