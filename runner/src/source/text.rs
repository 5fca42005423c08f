//! Records that are not Avro datums: Camus' text writer (`StringRecordWriterProvider`: each
//! message's text, then `etl.output.record.delimiter`, in a file compressed by a Hadoop codec or
//! not) and its SequenceFile writer (`SequenceFileRecordWriterProvider`: `LongWritable` event
//! time → `Text` message). Either way a record is the message's bytes as the live topic carried
//! them, handed on unchanged, in batches cut as Avro files' are and counted against the name.

use std::io::{BufRead, BufReader, Read};

use anyhow::{anyhow, bail, Context, Result};

use super::format::{looks_like_sequence_file, SourceFormat, Written};
use super::SourceFile;
use crate::hadoop::sequencefile::SequenceFileReader;
use crate::hadoop::stream::FileCodec;
use crate::hadoop::writable::DataInput;
use crate::record::{FileId, SourceBatch};
use crate::storage::Storage;

/// The next record of a file, one at a time.
pub(crate) trait Records: Send {
    /// Appends the next record's bytes to `out`; false at the end of the file.
    fn next_into(&mut self, out: &mut Vec<u8>) -> Result<bool>;
}

/// Opens `file` of a text or SequenceFile archive; records are at most `limit` bytes.
pub(crate) fn open_records(
    storage: &dyn Storage,
    file: &SourceFile,
    format: &SourceFormat,
    limit: u64,
) -> Result<Box<dyn Records>> {
    let input = storage.open(&file.url)?;
    Ok(match (format, Written::of(&file.url)) {
        (SourceFormat::Text { delimiter }, written) => {
            let codec = match written {
                Written::Compressed(codec) => codec,
                _ => FileCodec::None,
            };
            Box::new(Delimited {
                input: BufReader::with_capacity(256 << 10, codec.reader(input, limit)),
                delimiter: delimiter.clone(),
                url: file.url.clone(),
                codec,
                limit,
                index: 0,
            })
        }
        (SourceFormat::SequenceFile, _) => {
            Box::new(SequenceRecords::open(input, &file.url, limit)?)
        }
        (SourceFormat::Avro, _) => {
            bail!("{}: an Avro file is not read as records of text", file.url)
        }
    })
}

/// Records each followed by a delimiter, as Camus' text writer writes them.
struct Delimited {
    input: BufReader<Box<dyn Read + Send>>,
    delimiter: Vec<u8>,
    url: String,
    codec: FileCodec,
    limit: u64,
    /// Index of the next record.
    index: u64,
}

impl Records for Delimited {
    fn next_into(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        let start = out.len();
        let last = *self
            .delimiter
            .last()
            .context("the record delimiter is empty")?;
        loop {
            let room = (self.limit + self.delimiter.len() as u64 + 1)
                .saturating_sub((out.len() - start) as u64);
            let read = (&mut self.input)
                .take(room)
                .read_until(last, out)
                .map_err(|e| {
                    let damaged = match self.codec {
                        FileCodec::None => "",
                        _ => " (the compressed stream is damaged or truncated)",
                    };
                    anyhow!(
                        "{}: reading record {} ({}): {e}{damaged}",
                        self.url,
                        self.index,
                        self.codec.describe()
                    )
                })?;
            let record = &out[start..];
            if read == 0 {
                if record.is_empty() {
                    return Ok(false);
                }
                bail!(
                    "{}: the file ends inside record {}: its last {} bytes have no delimiter \
                     after them (Camus writes one after every record), so the file was cut short",
                    self.url,
                    self.index,
                    record.len()
                );
            }
            if self.index == 0 && looks_like_sequence_file(record) {
                bail!(
                    "{}: this is a SequenceFile, but the archive is read as text (source.format): \
                     set source.format: sequencefile, or, if the tree mixes Camus' two writers, \
                     replay each part with its own source.input_dir",
                    self.url
                );
            }
            if record.ends_with(&self.delimiter) {
                out.truncate(out.len() - self.delimiter.len());
                self.index += 1;
                return Ok(true);
            }
            if record.len() as u64 > self.limit {
                bail!(
                    "{}: record {} is longer than {} (source.max_block_bytes) with no delimiter: \
                     not a text file of records, or a record delimiter other than \
                     source.text_delimiter",
                    self.url,
                    self.index,
                    crate::config::ByteSize(self.limit)
                );
            }
        }
    }
}

const LONG_WRITABLE: &str = "org.apache.hadoop.io.LongWritable";
const TEXT: &str = "org.apache.hadoop.io.Text";

/// The `Text` values of a SequenceFile of `LongWritable` → `Text`.
struct SequenceRecords {
    reader: SequenceFileReader<Box<dyn Read + Send>>,
    url: String,
    index: u64,
}

impl SequenceRecords {
    fn open(input: Box<dyn Read + Send>, url: &str, limit: u64) -> Result<SequenceRecords> {
        let reader = SequenceFileReader::new(input, url)?.with_max_buffer_bytes(limit);
        let header = reader.header();
        if header.key_class != LONG_WRITABLE || header.value_class != TEXT {
            bail!(
                "{url}: a SequenceFile of {} → {}, not of {LONG_WRITABLE} → {TEXT} as Camus' \
                 SequenceFileRecordWriterProvider writes",
                header.key_class,
                header.value_class
            );
        }
        Ok(SequenceRecords {
            reader,
            url: url.to_string(),
            index: 0,
        })
    }
}

impl Records for SequenceRecords {
    fn next_into(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        let Some(record) = self.reader.next_record()? else {
            return Ok(false);
        };
        let what = |e: String| anyhow!("{}: record {}: {e}", self.url, self.index);
        if record.key.len() != 8 {
            return Err(what(format!(
                "its key is {} bytes, not a LongWritable's 8",
                record.key.len()
            )));
        }
        let mut value = DataInput::new(&record.value);
        let length = value
            .read_vlen("Text length")
            .map_err(|e| what(e.to_string()))?;
        let text = value
            .take(length, "Text")
            .map_err(|e| what(e.to_string()))?;
        if value.remaining() != 0 {
            return Err(what(format!(
                "{} bytes follow its Text value",
                value.remaining()
            )));
        }
        out.extend_from_slice(text);
        self.index += 1;
        Ok(true)
    }
}

/// One text or SequenceFile file being read into batches: what [`super::events::OpenFile`] is
/// for an Avro file.
pub(crate) struct PlainFile {
    file: FileId,
    url: String,
    records: Box<dyn Records>,
    schema_id: u32,
    /// What the file's name tells (partition, offsets, count), when it has such a name.
    name: Option<super::CamusFileName>,
    next_index: u64,
    pub(super) done: bool,
}

/// A batch is cut early at this size, as an Avro file's is.
const MAX_BATCH_BYTES: usize = 64 << 20;

impl PlainFile {
    pub(crate) fn open(
        id: FileId,
        file: &SourceFile,
        records: Box<dyn Records>,
        schema_id: u32,
    ) -> PlainFile {
        PlainFile {
            file: id,
            url: file.url.clone(),
            records,
            schema_id,
            name: file.name.clone(),
            next_index: 0,
            done: false,
        }
    }

    /// The next batch, or `None` at the end; at the end the count is checked against the name.
    pub(crate) fn next_checked(&mut self, batch_size: usize) -> Result<Option<SourceBatch>> {
        if self.done {
            return Ok(None);
        }
        let mut batch = SourceBatch {
            file: self.file,
            first_index: self.next_index,
            partition: self.name.as_ref().map(|n| n.partition),
            first_offset: self
                .name
                .as_ref()
                .and_then(|n| n.first_offset())
                .map(|o| o + self.next_index),
            schema_id: self.schema_id,
            data: Vec::new(),
            ends: Vec::with_capacity(batch_size.min(1 << 16)),
        };
        while batch.len() < batch_size.max(1) && batch.data.len() < MAX_BATCH_BYTES {
            if !self.records.next_into(&mut batch.data)? {
                self.done = true;
                self.check_count()?;
                break;
            }
            let end = u32::try_from(batch.data.len())
                .map_err(|_| anyhow!("{}: a batch passed 4 GiB", self.url))?;
            batch.ends.push(end);
            self.next_index += 1;
        }
        Ok((!batch.is_empty()).then_some(batch))
    }

    fn check_count(&self) -> Result<()> {
        super::check_count(&self.url, self.name.as_ref(), self.next_index, true)
    }
}

/// Counts the records of a text or SequenceFile file, as `c2k verify` reads files.
pub(crate) fn count_records(
    storage: &dyn Storage,
    file: &SourceFile,
    format: &SourceFormat,
    limit: u64,
) -> Result<u64> {
    let mut records = open_records(storage, file, format, limit)?;
    let mut scratch = Vec::new();
    let mut count = 0;
    while records.next_into(&mut scratch)? {
        scratch.clear();
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::source::CamusFileName;

    fn file(dir: &std::path::Path, name: &str, bytes: &[u8]) -> SourceFile {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        SourceFile {
            url: path.display().to_string(),
            size: bytes.len() as u64,
            name: CamusFileName::parse(name, Some("T")),
        }
    }

    fn text() -> SourceFormat {
        SourceFormat::Text {
            delimiter: b"\n".to_vec(),
        }
    }

    fn read_all(file: &SourceFile, format: &SourceFormat) -> Result<Vec<Vec<u8>>> {
        let storage: Arc<dyn Storage> = Arc::new(crate::storage::local::LocalStorage);
        let records = open_records(storage.as_ref(), file, format, 1 << 20)?;
        let mut plain = PlainFile::open(0, file, records, 0);
        let mut out = Vec::new();
        while let Some(batch) = plain.next_checked(2)? {
            out.extend((0..batch.len()).map(|i| batch.datum(i).to_vec()));
        }
        Ok(out)
    }

    #[test]
    fn lines_are_records_and_the_name_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let good = file(
            dir.path(),
            "T.1.0.3.13.1700000000000",
            b"{\"a\":1}\n\n{\"b\":\"x\"}\n",
        );
        let records = read_all(&good, &text()).unwrap();
        assert_eq!(records, [&b"{\"a\":1}"[..], b"", b"{\"b\":\"x\"}"]);
        let short = file(dir.path(), "T.1.0.4.14.1700000000000", b"a\nb\nc\n");
        let error = read_all(&short, &text()).unwrap_err().to_string();
        assert!(
            error.contains("says 4 records but the file holds 3"),
            "{error}"
        );
        let cut = file(dir.path(), "T.1.0.2.12.1700000000000", b"a\nb");
        let error = read_all(&cut, &text()).unwrap_err().to_string();
        assert!(error.contains("ends inside record 1"), "{error}");
        let crlf = SourceFormat::Text {
            delimiter: b"\r\n".to_vec(),
        };
        let two = file(dir.path(), "T.1.0.2.22.1700000000000", b"a\rb\r\nc\nd\r\n");
        assert_eq!(read_all(&two, &crlf).unwrap(), [&b"a\rb"[..], b"c\nd"]);
    }

    #[test]
    fn a_sequence_file_read_as_text_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let seq = file(
            dir.path(),
            "T.1.0.1.1.1700000000000",
            b"SEQ\x06\x21org.apache\n",
        );
        let error = read_all(&seq, &text()).unwrap_err().to_string();
        assert!(error.contains("this is a SequenceFile"), "{error}");
    }
}
