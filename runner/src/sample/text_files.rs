//! The sample's files as Camus' other record writers write them: `StringRecordWriterProvider`
//! (each record's JSON text then `\n`, uncompressed or through a Hadoop codec's stream) and
//! `SequenceFileRecordWriterProvider` (`LongWritable` event time → `Text`, block-compressed).
//! The tests check c2k against Hadoop's own writers; these are for the demo and benchmarks.

use anyhow::Result;

use crate::hadoop::compression::Codec;
use crate::hadoop::sequencefile::{Compression, SequenceFileWriter};
use crate::hadoop::writable;

/// Which of Camus' writers the sample imitates (`c2k sample --layout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SampleLayout {
    /// AvroRecordWriterProvider: `.avro` container files.
    #[default]
    Avro,
    /// StringRecordWriterProvider, uncompressed: JSON lines, no extension.
    Text,
    /// StringRecordWriterProvider with GzipCodec: `.gz`.
    TextGzip,
    /// StringRecordWriterProvider with DefaultCodec: `.deflate`.
    TextDeflate,
    /// StringRecordWriterProvider with SnappyCodec: `.snappy` (Hadoop's block framing).
    TextSnappy,
    /// SequenceFileRecordWriterProvider: LongWritable → Text, block-compressed with zlib.
    Sequencefile,
    /// AvroRecordWriterProvider, every day but the newest swept by camus-sweeper into
    /// `daily/YYYY/MM/dd/part-r-NNNNN.avro` (one part file per schema), its hourly folders gone.
    CamusSwept,
    /// Kafka Connect's HDFS sink with AvroFormat: `partition=<p>/<topic>+<p>+<start>+<end>.avro`,
    /// no Camus history.
    ConnectHdfs,
    /// Kafka Connect's S3 sink with JsonFormat: `partition=<p>/<topic>+<p>+<start>.json`.
    ConnectS3,
}

impl SampleLayout {
    /// Whether the files are Kafka Connect's (offsets in the names, no Camus history).
    pub(crate) fn is_connect(self) -> bool {
        matches!(self, SampleLayout::ConnectHdfs | SampleLayout::ConnectS3)
    }

    /// Whether the files are Avro containers.
    pub(crate) fn is_avro(self) -> bool {
        matches!(
            self,
            SampleLayout::Avro | SampleLayout::ConnectHdfs | SampleLayout::CamusSwept
        )
    }

    /// The file name's extension, with its dot.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            SampleLayout::Avro | SampleLayout::ConnectHdfs | SampleLayout::CamusSwept => ".avro",
            SampleLayout::ConnectS3 => ".json",
            SampleLayout::Text | SampleLayout::Sequencefile => "",
            SampleLayout::TextGzip => ".gz",
            SampleLayout::TextDeflate => ".deflate",
            SampleLayout::TextSnappy => ".snappy",
        }
    }
}

/// One file's bytes: `records` are `(event time ms, JSON text)`.
pub(crate) fn file_bytes(layout: SampleLayout, records: &[(i64, String)]) -> Result<Vec<u8>> {
    if layout == SampleLayout::Sequencefile {
        let mut writer = SequenceFileWriter::new(
            Vec::new(),
            "org.apache.hadoop.io.LongWritable",
            "org.apache.hadoop.io.Text",
            Compression::Block(Codec::Deflate),
            &[],
            [7; 16],
        )?;
        for (time, text) in records {
            let mut value = Vec::with_capacity(text.len() + 5);
            writable::write_text(&mut value, text);
            writer.append(&time.to_be_bytes(), &value)?;
        }
        return writer.finish();
    }
    let mut lines = Vec::new();
    for (_, text) in records {
        lines.extend_from_slice(text.as_bytes());
        lines.push(b'\n');
    }
    Ok(match layout {
        SampleLayout::TextGzip => Codec::Gzip.compress(&lines)?,
        SampleLayout::TextDeflate => Codec::Deflate.compress(&lines)?,
        SampleLayout::TextSnappy => snappy_blocks(&lines)?,
        _ => lines,
    })
}

/// Hadoop's `BlockCompressorStream` framing of raw Snappy, in SnappyCodec's 256 KiB blocks of one
/// chunk each.
fn snappy_blocks(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for block in data.chunks(256 << 10) {
        let chunk = snap::raw::Encoder::new().compress_vec(block)?;
        out.extend_from_slice(&(block.len() as u32).to_be_bytes());
        out.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
