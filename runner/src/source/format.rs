//! Which of Camus' record writers made an archive, and so how its files are read.
//!
//! Camus names every data file the same way (`<topic>.<leader>.<partition>.<count>.<offset>.
//! <bucket>`) and adds the writer's extension: `.avro` (`AvroRecordWriterProvider`), nothing or
//! the Hadoop codec's `.gz`, `.deflate` or `.snappy` (`StringRecordWriterProvider`: each
//! message's text then `etl.output.record.delimiter`), nothing (`SequenceFileRecordWriterProvider`:
//! a SequenceFile of `LongWritable` event time → `Text` message). `source.format` says which, or
//! `auto` tells it from the names and, for files with no extension, from the first file's magic
//! (`SEQ`). A tree that mixes them is refused: one of each kind is named.

use std::io::Read as _;

use anyhow::{bail, Result};

use super::SourceFile;
use crate::hadoop::stream::FileCodec;
use crate::storage::Storage;

/// How the records of an archive are encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFormat {
    /// Avro object container files.
    Avro,
    /// Text records, each followed by `delimiter`, possibly compressed by a Hadoop codec.
    Text { delimiter: Vec<u8> },
    /// SequenceFiles of `LongWritable` → `Text`.
    SequenceFile,
}

/// `source.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatChoice {
    Auto,
    Avro,
    Text,
    #[serde(rename = "sequencefile")]
    SequenceFile,
}

/// The "schema" the plugins are given for records that are not Avro datums (plugin contract
/// 0.1.3): a JSON string no Avro schema can be. Text records carry the message's bytes as the
/// live topic did.
pub(crate) const TEXT_ENCODING: &str = "\"c2k:text\"";

/// What a data file's name says of how it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    Avro,
    /// By Camus' text writer with this codec (`.gz`, `.deflate`, `.snappy`).
    Compressed(FileCodec),
    /// No extension: Camus' text writer uncompressed, or its SequenceFile writer.
    Bare,
}

impl Written {
    pub(crate) fn of(url: &str) -> Written {
        let name = url.rsplit('/').next().unwrap_or(url);
        if name.ends_with(".avro") {
            return Written::Avro;
        }
        match name
            .rsplit_once('.')
            .and_then(|(_, ext)| FileCodec::from_extension(ext))
        {
            Some(codec) if codec != FileCodec::None => Written::Compressed(codec),
            _ => Written::Bare,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Written::Avro => "an Avro file (.avro)",
            Written::Compressed(_) => "a compressed text file (.gz, .deflate or .snappy)",
            Written::Bare => "a file with no extension (text or SequenceFile)",
        }
    }
}

/// The SequenceFile magic: `SEQ` and a version byte.
const SEQUENCE_FILE_MAGIC: &[u8] = b"SEQ";

impl SourceFormat {
    /// The format of `files` as `choice` says or, for `auto`, as their names and the first
    /// bare file's magic tell; a tree mixing formats is an error naming a file of each.
    pub(crate) fn resolve(
        choice: FormatChoice,
        delimiter: &[u8],
        files: &[SourceFile],
        storage: &dyn Storage,
    ) -> Result<SourceFormat> {
        let text = || SourceFormat::Text {
            delimiter: delimiter.to_vec(),
        };
        let first_of = |want: fn(Written) -> bool| {
            files
                .iter()
                .find(|f| want(Written::of(&f.url)))
                .map(|f| f.url.as_str())
        };
        let avro = first_of(|w| w == Written::Avro);
        let other = first_of(|w| w != Written::Avro);
        if let (Some(avro), Some(other)) = (avro, other) {
            bail!(
                "the archive mixes record writers: {avro} is {} and {other} is {} — Camus \
                 writes one format per topic (etl.record.writer.provider.class); replay each \
                 part with its own source.input_dir",
                Written::Avro.describe(),
                Written::of(other).describe()
            );
        }
        let compressed = first_of(|w| matches!(w, Written::Compressed(_)));
        Ok(match choice {
            FormatChoice::Avro => SourceFormat::Avro,
            FormatChoice::Text => text(),
            FormatChoice::SequenceFile => {
                if let Some(url) = compressed {
                    bail!(
                        "source.format is sequencefile but {url} is {}: Camus' SequenceFile \
                         writer adds no extension (set source.format: text)",
                        Written::of(url).describe()
                    );
                }
                SourceFormat::SequenceFile
            }
            FormatChoice::Auto => match (avro, compressed, other) {
                (Some(_), _, _) | (None, None, None) => SourceFormat::Avro,
                (None, Some(_), _) => text(),
                (None, None, Some(bare)) => {
                    if starts_with(storage, bare, SEQUENCE_FILE_MAGIC)? {
                        SourceFormat::SequenceFile
                    } else {
                        text()
                    }
                }
            },
        })
    }

    /// The format of a pipeline's archive, whose data files are `files`.
    pub(crate) fn of_pipeline(
        pipeline: &crate::config::Pipeline,
        files: &[SourceFile],
        storage: &dyn Storage,
    ) -> Result<SourceFormat> {
        SourceFormat::resolve(
            pipeline.source.format,
            pipeline.source.text_delimiter.as_bytes(),
            files,
            storage,
        )
    }

    /// The "schema" announced for this format's records, when they are not Avro.
    pub(crate) fn encoding(&self) -> Option<&'static str> {
        match self {
            SourceFormat::Avro => None,
            SourceFormat::Text { .. } | SourceFormat::SequenceFile => Some(TEXT_ENCODING),
        }
    }

    /// As `c2k` names the format to users.
    pub fn describe(&self) -> &'static str {
        match self {
            SourceFormat::Avro => "avro",
            SourceFormat::Text { .. } => "text",
            SourceFormat::SequenceFile => "sequencefile",
        }
    }
}

/// Whether the file at `url` starts with `magic`.
pub(crate) fn starts_with(storage: &dyn Storage, url: &str, magic: &[u8]) -> Result<bool> {
    let mut head = vec![0u8; magic.len()];
    let mut got = 0;
    let mut input = storage.open(url)?;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {url}"))),
        }
    }
    Ok(got == head.len() && head == magic)
}

/// Whether a file read as text is in fact a SequenceFile (a tree mixing Camus' two writers of
/// bare files): its first bytes are `SEQ` and a version Hadoop writes.
pub(crate) fn looks_like_sequence_file(first: &[u8]) -> bool {
    first.len() >= 4 && first.starts_with(SEQUENCE_FILE_MAGIC) && (4..=6).contains(&first[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tell_the_writer() {
        assert_eq!(Written::of("/a/T.1.0.5.5.1700.avro"), Written::Avro);
        assert_eq!(
            Written::of("/a/T.1.0.5.5.1700.snappy"),
            Written::Compressed(FileCodec::Snappy)
        );
        assert_eq!(
            Written::of("/a/T.1.0.5.5.1700.gz"),
            Written::Compressed(FileCodec::Gzip)
        );
        assert_eq!(Written::of("/a/T.1.0.5.5.1700"), Written::Bare);
        assert!(looks_like_sequence_file(b"SEQ\x06\x00"));
        assert!(!looks_like_sequence_file(b"SEQUEL"));
    }
}
