//! Kafka Connect's HDFS and S3 sinks as an archive (`source.type: kafka-connect`).
//!
//! Both sinks name each file after the Kafka offsets it holds, zero-padded so names sort by
//! offset: the HDFS sink `<topic>+<partition>+<start>+<end>.<ext>` (both ends inclusive), the S3
//! sink `<topic>+<partition>+<start>.<ext>`. A file holds one contiguous run of its partition's
//! offsets, one record each (a compacted topic aside), and the partitioner only chooses the
//! folders (`partition=0/`, `year=2024/month=01/...`, `<field>=<value>/`), so the names alone
//! tell where every offset is. Extensions: `.avro` (AvroFormat), `.json` (JsonFormat, one value a
//! line), `.bin` (ByteArrayFormat, each value then a separator), the last two `.gz` when the S3
//! sink compresses them, `.txt` (the HDFS sink's StringFormat, one value a line). Files named
//! for offsets in another format (Parquet, ORC) are refused, never passed over.
//!
//! An S3 name has no end: a file ends where the next one of its partition starts, and the last
//! one where its records do, so the last file of each partition is counted when the archive is
//! listed. Every other file's count is checked against that inferred range as it is read, and a
//! Connect archive is always sorted whole (its files carry no time buckets), so a missing file
//! stops the run before the first message is sent.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

use super::{names, CamusFileName, Listing, SharedCount, SourceFile, SourceFormat};
use crate::config::Pipeline;
use crate::storage::Storage;

/// The extensions the sinks write, longest first (`.json.gz` before `.json`).
const EXTENSIONS: &[&str] = &[".json.gz", ".bin.gz", ".avro", ".json", ".bin", ".txt"];

/// What a Kafka Connect file name tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectName {
    pub topic: String,
    pub partition: u32,
    /// The offset of the file's first record.
    pub start: u64,
    /// The offset of its last record: in HDFS names, not in S3 ones.
    pub end: Option<u64>,
}

impl ConnectName {
    /// Parses a file name (no directory); `None` when it is not one the sinks write.
    pub(crate) fn parse(file_name: &str) -> Option<ConnectName> {
        let stem = EXTENSIONS
            .iter()
            .find_map(|ext| file_name.strip_suffix(ext))?;
        // Kafka topic names never hold a `+`: the fields are unambiguous.
        let fields: Vec<&str> = stem.split('+').collect();
        if !(fields.len() == 3 || fields.len() == 4) || fields[0].is_empty() {
            return None;
        }
        let number = |field: &str| -> Option<u64> {
            if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            field.parse().ok()
        };
        let start = number(fields[2])?;
        let end = match fields.get(3) {
            Some(field) => Some(number(field).filter(|&end| end >= start)?),
            None => None,
        };
        Some(ConnectName {
            topic: fields[0].to_string(),
            partition: u32::try_from(number(fields[1])?).ok()?,
            start,
            end,
        })
    }
}

/// Whether a path (relative to the topic directory) is one the sinks could have written: a
/// visible file with one of their extensions, whatever its name (a name that does not parse is
/// a stray the integrity check names, never a file passed over).
pub(crate) fn is_data_file(relative_path: &str) -> bool {
    let name = relative_path.rsplit('/').next().unwrap_or(relative_path);
    names::is_visible(relative_path)
        && !relative_path.split('/').any(|c| c.starts_with('+'))
        && (EXTENSIONS.iter().any(|ext| name.ends_with(ext)) || other_format(name).is_some())
}

/// The extension of a file named for offsets (`<topic>+<partition>+<start>...`) in a format c2k
/// does not read (`.parquet`, `.snappy.parquet`, `.orc`).
fn other_format(name: &str) -> Option<&str> {
    if EXTENSIONS.iter().any(|ext| name.ends_with(ext)) {
        return None;
    }
    let (head, tail) = name.rsplit_once('+')?;
    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
    let extension = &tail[digits..];
    (digits > 0 && extension.starts_with('.'))
        .then(|| ConnectName::parse(&format!("{head}+{}.avro", &tail[..digits])))
        .flatten()
        .map(|_| extension)
}

/// Whether a file is the S3 sink's keys or headers file of a data file
/// (`<topic>+<partition>+<start>.keys.avro`, `....headers.json`).
fn is_side_file(url: &str) -> bool {
    let name = url.rsplit('/').next().unwrap_or(url);
    EXTENSIONS
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .is_some_and(|stem| {
            [".keys", ".headers"].iter().any(|side| {
                stem.strip_suffix(side)
                    .is_some_and(|data| ConnectName::parse(&format!("{data}.avro")).is_some())
            })
        })
}

/// Gives each file of `topic` with a Connect name its offsets ([`CamusFileName`]: the count and
/// the last offset), counting the last file of each partition whose name has no end (S3).
/// `count` reads one file's records.
pub(crate) fn settle_names(
    listing: &mut Listing,
    topic: &str,
    count: &dyn Fn(&SourceFile) -> Result<u64>,
) -> Result<()> {
    let mut by_partition: BTreeMap<u32, Vec<(usize, ConnectName)>> = BTreeMap::new();
    for (i, file) in listing.files.iter().enumerate() {
        let file_name = file.url.rsplit('/').next().unwrap_or(&file.url);
        if let Some(name) = ConnectName::parse(file_name).filter(|n| n.topic == topic) {
            by_partition
                .entry(name.partition)
                .or_default()
                .push((i, name));
        }
    }
    for files in by_partition.values_mut() {
        files.sort_by_key(|(i, name)| (name.start, *i));
        let starts: Vec<u64> = files.iter().map(|(_, name)| name.start).collect();
        for (i, name) in files.iter() {
            let end = match name.end {
                Some(end) => end,
                // An S3 name: up to the next file's start, or as far as its records go.
                None => match starts.iter().find(|&&s| s > name.start) {
                    Some(next) => next - 1,
                    None => {
                        let file = &listing.files[*i];
                        let held = count(file).with_context(|| {
                            format!(
                                "counting the records of {}, the last file of partition {} (an \
                                 S3 sink name gives no end offset)",
                                file.url, name.partition
                            )
                        })?;
                        if held == 0 {
                            bail!(
                                "{} holds no records: the Kafka Connect sinks never write an \
                                 empty file, so it was not written by them",
                                file.url
                            );
                        }
                        name.start + held - 1
                    }
                },
            };
            listing.files[*i].name = Some(CamusFileName {
                topic: name.topic.clone(),
                leader: String::new(),
                partition: name.partition,
                count: end - name.start + 1,
                last_offset: end,
                bucket_start_ms: None,
                shared: None,
                end_from_next: name.end.is_none() && starts.iter().any(|&s| s > name.start),
            });
        }
        let hdfs: Vec<usize> = files
            .iter()
            .filter(|(_, name)| name.end.is_some())
            .map(|(i, _)| *i)
            .collect();
        share_interleaved(&mut listing.files, &hdfs);
    }
    Ok(())
}

/// Marks the groups of `candidates` (positions in `files`, one partition's files named with
/// both ends) whose offsets interleave as a field or record-time partitioner writes them: ranges
/// that overlap, each file in its own folder, no two starting or ending at the same offset (one
/// offset is one record in one file). Other overlaps stay unmarked: the integrity check refuses
/// them.
fn share_interleaved(files: &mut [SourceFile], candidates: &[usize]) {
    let range = |f: &SourceFile| {
        let name = f.name.as_ref().expect("named above");
        (name.last_offset + 1 - name.count, name.last_offset)
    };
    let mut sorted: Vec<usize> = candidates.to_vec();
    sorted.sort_by_key(|&i| (range(&files[i]), i));
    let mut group: Vec<usize> = Vec::new();
    let mut reach = 0u64;
    for i in sorted.into_iter().chain([usize::MAX]) {
        let overlaps = i != usize::MAX && !group.is_empty() && range(&files[i]).0 <= reach;
        if overlaps {
            reach = reach.max(range(&files[i]).1);
            group.push(i);
            continue;
        }
        if group.len() > 1 {
            let distinct = |values: Vec<&str>| {
                let n = values.len();
                values
                    .into_iter()
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
                    == n
            };
            let folders: Vec<&str> = group
                .iter()
                .map(|&g| files[g].url.rsplit_once('/').map_or("", |(d, _)| d))
                .collect();
            let starts: std::collections::BTreeSet<u64> =
                group.iter().map(|&g| range(&files[g]).0).collect();
            let ends: std::collections::BTreeSet<u64> =
                group.iter().map(|&g| range(&files[g]).1).collect();
            if distinct(folders) && starts.len() == group.len() && ends.len() == group.len() {
                let shared = SharedCount {
                    first: *starts.first().expect("a group"),
                    next: ends.last().expect("a group") + 1,
                    files: group.len(),
                };
                for &g in &group {
                    if let Some(name) = files[g].name.as_mut() {
                        name.shared = Some(shared.clone());
                    }
                }
            }
        }
        if i != usize::MAX {
            reach = range(&files[i]).1;
            group = vec![i];
        }
    }
}

/// How the archive's records are written, from the extensions (one format per connector:
/// `format.class`); `source.format` may say it, and a tree mixing them is refused.
pub(crate) fn format(pipeline: &Pipeline, files: &[SourceFile]) -> Result<SourceFormat> {
    use crate::source::FormatChoice;
    let avro = files.iter().find(|f| f.url.ends_with(".avro"));
    let text = files.iter().find(|f| !f.url.ends_with(".avro"));
    if let (Some(avro), Some(text)) = (avro, text) {
        bail!(
            "the archive mixes Kafka Connect formats: {} is Avro and {} is not — one connector \
             writes one format.class; replay each part with its own source.input_dir",
            avro.url,
            text.url
        );
    }
    let text_format = || SourceFormat::Text {
        delimiter: pipeline.source.text_delimiter.as_bytes().to_vec(),
    };
    Ok(match (pipeline.source.format, avro, text) {
        (FormatChoice::Avro, _, Some(file)) => bail!(
            "source.format is avro but {} is a JSON or bytes file of Kafka Connect (set \
             source.format: text or auto)",
            file.url
        ),
        (FormatChoice::Text, Some(file), _) => bail!(
            "source.format is text but {} is an Avro file (set source.format: avro or auto)",
            file.url
        ),
        (FormatChoice::SequenceFile, ..) => bail!(
            "source.format is sequencefile, but Kafka Connect's sinks never write SequenceFiles"
        ),
        (_, _, Some(_)) => text_format(),
        _ => SourceFormat::Avro,
    })
}

/// Per partition: the first offset, the offset after the last, and the file holding the last.
pub(crate) fn spans(files: &[SourceFile]) -> BTreeMap<u32, (u64, u64, String)> {
    let mut spans: BTreeMap<u32, (u64, u64, String)> = BTreeMap::new();
    for file in files {
        let Some(name) = &file.name else { continue };
        let first = name.last_offset + 1 - name.count;
        let next = name.last_offset + 1;
        let span = spans
            .entry(name.partition)
            .or_insert_with(|| (first, next, file.url.clone()));
        span.0 = span.0.min(first);
        if next > span.1 {
            span.1 = next;
            span.2 = file.url.clone();
        }
    }
    spans
}

/// The data files of a Kafka Connect archive below `dir`, sorted by URL, with their offsets,
/// and how their records are written.
pub(crate) fn list(
    pipeline: &Pipeline,
    storage: &dyn Storage,
    dir: &str,
) -> Result<(Listing, SourceFormat)> {
    let mut listing = super::list_with(storage, dir, is_data_file, |_| None)?;
    let (side, data): (Vec<SourceFile>, Vec<SourceFile>) = std::mem::take(&mut listing.files)
        .into_iter()
        .partition(|f| is_side_file(&f.url));
    listing.files = data;
    listing.side_files = side.into_iter().map(|f| f.url).collect();
    let name_of = |f: &SourceFile| f.url.rsplit('/').next().unwrap_or(&f.url).to_string();
    if let Some(file) = listing
        .files
        .iter()
        .find(|f| other_format(&name_of(f)).is_some())
    {
        bail!(
            "{} is named for Kafka offsets by a Kafka Connect sink, in a format c2k does not read \
             ({}): only AvroFormat (.avro), JsonFormat (.json), ByteArrayFormat (.bin) and \
             StringFormat (.txt) archives replay; nothing was read",
            file.url,
            other_format(&name_of(file)).unwrap_or_default()
        );
    }
    let format = format(pipeline, &listing.files)?;
    let limit = pipeline.source.max_block_bytes.0;
    settle_names(&mut listing, &pipeline.topic, &|file| {
        count_records(storage, file, &format, limit)
    })?;
    Ok((listing, format))
}

/// How many records `file` holds: its Avro blocks' counts, or its records of text.
fn count_records(
    storage: &dyn Storage,
    file: &SourceFile,
    format: &SourceFormat,
    limit: u64,
) -> Result<u64> {
    if *format != SourceFormat::Avro {
        return super::text::count_records(storage, file, format, limit);
    }
    let mut reader =
        super::container::ContainerReader::open(&file.url, storage.open(&file.url)?, limit)?;
    let mut total = 0u64;
    while let Some(count) = reader.next_block()? {
        total = total.saturating_add(count);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdfs_and_s3_names() {
        assert_eq!(
            ConnectName::parse("page_views+3+0000000100+0000000199.avro"),
            Some(ConnectName {
                topic: "page_views".into(),
                partition: 3,
                start: 100,
                end: Some(199)
            })
        );
        let s3 = ConnectName::parse("page.views+0+0000004200.json.gz").unwrap();
        assert_eq!(
            (s3.topic.as_str(), s3.start, s3.end),
            ("page.views", 4200, None)
        );
        assert!(ConnectName::parse("t+0+0000000005+0000000004.avro").is_none());
        assert!(ConnectName::parse("t+0+-1.avro").is_none());
        assert!(ConnectName::parse("t+0.avro").is_none());
        assert!(ConnectName::parse("t+0+1+2+3.avro").is_none());
        assert!(ConnectName::parse("t+0+1.parquet").is_none());
        assert!(is_data_file("year=2024/month=01/t+0+1.bin"));
        assert!(!is_data_file("+tmp/t+0+1.bin"));
        assert!(!is_data_file("_logs/t+0+1.bin"));
        assert!(is_side_file("/a/t+0+0000000005.keys.avro"));
        assert!(is_side_file("/a/t+0+0000000005.headers.json.gz"));
        assert!(!is_side_file("/a/t+0+0000000005.avro"));
        assert_eq!(
            other_format("t+0+0000000005+0000000009.snappy.parquet"),
            Some(".snappy.parquet")
        );
        assert_eq!(other_format("t+0+0000000005.orc"), Some(".orc"));
        assert_eq!(other_format("t+0+0000000005.avro"), None);
        assert_eq!(other_format("notes.parquet"), None);
        assert!(is_data_file("partition=0/t+0+0000000005.parquet"));
    }

    fn file(name: &str) -> SourceFile {
        SourceFile {
            url: format!("/a/{name}"),
            size: 1,
            name: None,
        }
    }

    #[test]
    fn s3_names_end_where_the_next_file_starts_and_the_last_is_counted() {
        let mut listing = Listing {
            files: vec![
                file("t+0+0000000000.avro"),
                file("t+0+0000000010.avro"),
                file("t+1+0000000000+0000000004.avro"),
                file("u+0+0000000000.avro"),
            ],
            ..Listing::default()
        };
        settle_names(&mut listing, "t", &|f: &SourceFile| {
            assert!(f.url.ends_with("t+0+0000000010.avro"), "{}", f.url);
            Ok(7)
        })
        .unwrap();
        let got: Vec<Option<(u32, u64, u64)>> = listing
            .files
            .iter()
            .map(|f| {
                f.name
                    .as_ref()
                    .map(|n| (n.partition, n.count, n.last_offset))
            })
            .collect();
        assert_eq!(
            got,
            vec![Some((0, 10, 9)), Some((0, 7, 16)), Some((1, 5, 4)), None]
        );
        let spans = spans(&listing.files);
        assert_eq!(spans[&0].0..spans[&0].1, 0..17);
        assert_eq!(spans[&1].0..spans[&1].1, 0..5);
    }
}
