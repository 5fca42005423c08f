//! The units of data that cross the stage boundaries of the data path.

/// Index of an input file in the run's list of files ([`crate::source::CamusSource`]`::files`);
/// records carry it instead of the path so that errors can name the file cheaply.
pub(crate) type FileId = u32;

/// Many consecutive records of one source file, in one writer (or reader) schema.
///
/// Record `i` is `data[ends[i-1]..ends[i]]` (with `ends[-1]` = 0): the Avro binary encoding of one
/// datum in the schema registered as `schema_id`.
#[derive(Debug, Clone, Default)]
pub struct SourceBatch {
    pub file: FileId,
    /// Index within its file of the batch's first record.
    pub first_index: u64,
    /// The Kafka partition the file came from (from the Camus file name), when known.
    pub partition: Option<u32>,
    /// The Kafka offset of the batch's first record, when the file name tells it.
    pub first_offset: Option<u64>,
    pub schema_id: u32,
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
}

impl SourceBatch {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes of record `i` of this batch.
    pub fn datum(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// Appends one record's bytes.
    pub fn push(&mut self, datum: &[u8]) {
        self.data.extend_from_slice(datum);
        self.ends.push(self.data.len() as u32);
    }

    /// Appends the datum `write` appends to the batch's bytes; on error the batch is unchanged.
    pub fn push_with<E>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mark = self.data.len();
        match write(&mut self.data) {
            Ok(()) => {
                self.ends.push(self.data.len() as u32);
                Ok(())
            }
            Err(e) => {
                self.data.truncate(mark);
                Err(e)
            }
        }
    }
}

/// A message ready for a sink, produced by the output-format plugin.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutMessage {
    pub key: Option<Vec<u8>>,
    /// Shares the buffer of the batch it was formatted in: the host splits a plugin's answer
    /// without copying each value out of it.
    pub value: bytes::Bytes,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Milliseconds since the Unix epoch, if any.
    pub timestamp_ms: Option<i64>,
    /// The Kafka partition of the original record, when known (used by `partitioning: source`).
    pub source_partition: Option<u32>,
    /// The archived record this message was made from (the provenance headers).
    pub origin: Option<Origin>,
}

/// Where a record was archived: its file and its index in that file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: FileId,
    pub index: u64,
}
