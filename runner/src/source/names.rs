//! Which files under the topic's directory are Camus data files, and what their names tell.
//!
//! Camus (`EtlMultiOutputCommitter.getPartitionedPath` and the partitioner's `generateFileName`)
//! names a file `<topic>.<leader>.<partition>.<count>.<offset>[.<encoded partition>].avro`, where
//! `<offset>` is the offset of the partition's last `EtlKey` in the file — and Camus's Kafka reader
//! sets that key's offset to the message's offset + 1, the next offset to read. So the file's
//! last record has offset `<offset> - 1` and, when the file holds one contiguous run of offsets
//! (one file per partition per output folder per run), its first record has `<offset> - <count>`.

use super::CamusFileName;

/// Whether a path (relative to the topic directory) is a data file to read, with no hidden (`.`)
/// or Hadoop-private (`_`) component, so `.crc` checksums, `_SUCCESS` markers and `_temporary`
/// work folders are skipped: a `.avro` file, or a file Camus' text or SequenceFile writers named
/// (a Camus name with no extension or a codec's: `.gz`, `.deflate`, `.snappy`).
///
/// Files are chosen by name, not by sniffing for a magic: Camus names every file it writes, and
/// opening every stray file on HDFS to look at four bytes would cost a round trip each and could
/// pull in files that merely look like data.
pub(crate) fn is_data_file(relative_path: &str) -> bool {
    let name = relative_path.rsplit('/').next().unwrap_or(relative_path);
    is_visible(relative_path)
        && (name.ends_with(".avro") || CamusFileName::parse(name, None).is_some())
}

/// The name without the extension of Camus' writer (`.avro`, or a codec's), and whether it was
/// `.avro` (whose names may be Camus' older four-field ones).
fn stem(file_name: &str) -> (&str, bool) {
    if let Some(stem) = file_name.strip_suffix(".avro") {
        return (stem, true);
    }
    for codec in [".gz", ".deflate", ".snappy"] {
        if let Some(stem) = file_name.strip_suffix(codec) {
            return (stem, false);
        }
    }
    (file_name, false)
}

/// Whether no component of a path (relative to the topic directory) is hidden (`.`) or
/// Hadoop-private (`_`): what Camus and Hadoop leave beside the data.
pub(crate) fn is_visible(relative_path: &str) -> bool {
    let mut components = relative_path
        .split('/')
        .filter(|c| !c.is_empty())
        .peekable();
    components.peek().is_some() && components.all(|c| !c.starts_with('.') && !c.starts_with('_'))
}

impl CamusFileName {
    /// Parses a file name (no directory). `topic` is the pipeline's topic: topic names may contain
    /// dots, so when the name starts with `<topic>.` the rest is read after it; otherwise the
    /// topic is whatever precedes the last five (or, for older Camus, four) numeric fields.
    pub fn parse(file_name: &str, topic: Option<&str>) -> Option<CamusFileName> {
        let (stem, avro) = stem(file_name);
        // Without `.avro` the name is Camus' only if all five fields are numbers (its text and
        // SequenceFile writers came after the four-field names): `notes.txt` is not one.
        let strict = !avro;
        if let Some(rest) = topic.and_then(|t| stem.strip_prefix(t)?.strip_prefix('.')) {
            if let Some(name) = fields(topic?, &rest.split('.').collect::<Vec<_>>(), strict) {
                return Some(name);
            }
        }
        let parts: Vec<&str> = stem.split('.').collect();
        for numeric in if strict { &[5][..] } else { &[5, 4][..] } {
            if parts.len() > *numeric {
                let (topic_parts, rest) = parts.split_at(parts.len() - numeric);
                if let Some(name) = fields(&topic_parts.join("."), rest, strict) {
                    return Some(name);
                }
            }
        }
        None
    }

    /// The offset of the file's last record.
    pub fn last_record_offset(&self) -> u64 {
        self.last_offset
    }

    /// The offset of the file's first record, assuming the file holds a contiguous run (never
    /// for files whose offsets interleave with others').
    pub fn first_offset(&self) -> Option<u64> {
        if self.shared.is_some() {
            return None;
        }
        (self.last_offset + 1).checked_sub(self.count)
    }

    /// How many records the file must hold, when its name alone tells.
    pub fn expected_count(&self) -> Option<u64> {
        self.shared.is_none().then_some(self.count)
    }
}

/// `<leader>.<partition>.<count>.<offset>[.<encoded partition>]`.
fn fields(topic: &str, rest: &[&str], strict: bool) -> Option<CamusFileName> {
    if topic.is_empty() || !(rest.len() == 4 || rest.len() == 5) {
        return None;
    }
    if strict && (rest.len() != 5 || rest[4].parse::<i64>().is_err()) {
        return None;
    }
    let leader = rest[0];
    if leader.is_empty() || !leader.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let partition = rest[1].parse().ok()?;
    let count: u64 = rest[2].parse().ok()?;
    let next_offset: u64 = rest[3].parse().ok()?;
    if rest.len() == 5 && rest[4].is_empty() {
        return None;
    }
    Some(CamusFileName {
        topic: topic.to_string(),
        leader: leader.to_string(),
        partition,
        count,
        last_offset: next_offset.checked_sub(1)?,
        bucket_start_ms: rest.get(4).and_then(|field| field.parse().ok()),
        shared: None,
        end_from_next: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camus_names_give_partition_and_offsets() {
        let name = CamusFileName::parse(
            "PAGE_VIEWS.3.2.100.1100.1700000000000.avro",
            Some("PAGE_VIEWS"),
        )
        .unwrap();
        assert_eq!(name.topic, "PAGE_VIEWS");
        assert_eq!(name.leader, "3");
        assert_eq!(name.partition, 2);
        assert_eq!(name.count, 100);
        assert_eq!(name.last_offset, 1099);
        assert_eq!(name.first_offset(), Some(1000));
        assert_eq!(name.bucket_start_ms, Some(1_700_000_000_000));
    }

    #[test]
    fn dotted_topics_and_old_four_field_names_parse() {
        let name = CamusFileName::parse("a.b.c.1.0.5.5.avro", Some("a.b.c")).unwrap();
        assert_eq!(
            (name.topic.as_str(), name.partition, name.count),
            ("a.b.c", 0, 5)
        );
        assert_eq!(name.first_offset(), Some(0));
        let name = CamusFileName::parse("other.1_2.7.10.20.avro", None).unwrap();
        assert_eq!(
            (name.topic.as_str(), name.leader.as_str(), name.partition),
            ("other", "1_2", 7)
        );
    }

    #[test]
    fn other_names_are_not_camus_names() {
        assert_eq!(CamusFileName::parse("part-00000.avro", Some("T")), None);
        assert_eq!(CamusFileName::parse("T.x.1.2.3.avro", Some("T")), None);
        assert_eq!(CamusFileName::parse("T.1.2.3.4.txt", Some("T")), None);
        assert_eq!(CamusFileName::parse("T.1.2.3.4", Some("T")), None);
        let text = CamusFileName::parse("T.1.2.3.4.1700000000000.deflate", Some("T")).unwrap();
        assert_eq!((text.partition, text.count, text.last_offset), (2, 3, 3));
        assert_eq!(text.bucket_start_ms, Some(1_700_000_000_000));
        // An offset of 0 cannot be a next offset.
        assert_eq!(CamusFileName::parse("T.1.2.0.0.avro", Some("T")), None);
    }

    #[test]
    fn hidden_and_underscore_files_are_skipped() {
        assert!(is_data_file("hourly/2024/01/01/00/T.1.0.1.1.avro"));
        assert!(!is_data_file("hourly/2024/01/01/00/.T.1.0.1.1.avro.crc"));
        assert!(!is_data_file("hourly/_temporary/T.1.0.1.1.avro"));
        assert!(!is_data_file("_SUCCESS"));
        assert!(!is_data_file("hourly/x.json"));
        // Camus' text and SequenceFile writers: a Camus name, no extension or a codec's.
        assert!(is_data_file("hourly/2024/01/01/00/T.1.0.1.1.1704067200000"));
        assert!(is_data_file(
            "hourly/2024/01/01/00/T.1.0.1.1.1704067200000.snappy"
        ));
        assert!(is_data_file(
            "hourly/2024/01/01/00/T.1.0.1.1.1704067200000.gz"
        ));
        assert!(!is_data_file(
            "hourly/2024/01/01/00/T.1.0.1.1.1704067200000.txt"
        ));
        assert!(!is_data_file("hourly/2024/01/01/00/T.1.2.3.4.txt"));
        assert!(!is_data_file("hourly/2024/01/01/00/README"));
        assert!(!is_data_file("hourly/.T.1.0.1.1.1704067200000.gz.crc"));
    }
}
