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
//! Keys and values are returned as their serialized bytes; `offsets::etlkey` decodes Camus keys.
//! [`SequenceFileReader`] is what `c2k` reads; [`SequenceFileWriter`] writes the same format for
//! `c2k sample` and the tests.

mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use reader::SequenceFileReader;
pub(crate) use writer::SequenceFileWriter;

use super::compression::Codec;

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

/// A record length of -1: a sync marker follows.
const SYNC_ESCAPE: i32 = -1;
