//! The latest Camus run: which offset each partition of the topic resumes from.
//!
//! Camus moves each run's execution folder to `<exec_dir>/base/history/<timestamp>` (named
//! `YYYY-MM-dd-HH-mm-ss`, so name order is time order). A run folder holds `offsets-m-NNNNN` (one
//! per map task: the last key each task wrote per partition) and `offsets-previous` (the offsets
//! the run started from, for partitions it found nothing new in). The next Camus run reads every
//! `offsets*` file of that folder and, per partition, resumes at the largest `EtlKey.offset` —
//! already "next offset to read" (see [`super::etlkey`]). This module does exactly that.
//!
//! Files are read through [`crate::storage`], so local paths, HDFS and object stores all work.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

use super::etlkey;
use crate::config::join_url;
use crate::hadoop::sequencefile::SequenceFileReader;
use crate::storage::{self, Storage};

/// Where one partition resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOffset {
    pub partition: i32,
    /// The next offset to consume.
    pub offset: i64,
    /// The leader (node) id Camus recorded, possibly empty.
    pub node: String,
    /// The offsets file the offset came from.
    pub file: String,
}

/// The offsets of one topic in one run.
#[derive(Debug, Clone)]
pub struct RunOffsets {
    /// The run folder (path or URL).
    pub run_dir: String,
    /// One entry per partition, by partition.
    pub partitions: Vec<PartitionOffset>,
    /// Read from a Kafka Connect archive's file names (`run_dir` is the archive).
    pub from_names: bool,
}

/// The newest run folder under `history_dir` and the topic's offsets in it.
pub fn latest_run(history_dir: &str, topic: &str) -> Result<RunOffsets> {
    let storage = storage::for_url(history_dir)?;
    let run = newest_run_dir(storage.as_ref(), history_dir)?;
    read_run(storage.as_ref(), &run, topic)
}

/// The newest of the timestamp-named folders in `history_dir`.
pub(crate) fn newest_run_dir(storage: &dyn Storage, history_dir: &str) -> Result<String> {
    let dirs = storage
        .list_dirs(history_dir)
        .with_context(|| format!("cannot list the Camus history folder {history_dir}"))?;
    let newest = dirs
        .iter()
        .filter(|name| looks_like_run(name))
        .max()
        .with_context(|| {
            format!(
                "no Camus run folder (named like 2024-01-15-10-00-00) in {history_dir}{}",
                if dirs.is_empty() {
                    String::new()
                } else {
                    format!(" (found: {})", dirs.join(", "))
                }
            )
        })?;
    Ok(join_url(history_dir, newest))
}

/// Camus names run folders by their start time; anything else (a `_temporary`, a stray folder)
/// is not a run.
fn looks_like_run(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_digit() || c == '-')
}

/// Whether a file in a run folder is one Camus reads offsets from.
fn is_offsets_file(name: &str) -> bool {
    name.starts_with("offsets-m-") || name == "offsets-previous"
}

/// Reads every offsets file of `run_dir` and keeps `topic`'s largest offset per partition.
pub(crate) fn read_run(storage: &dyn Storage, run_dir: &str, topic: &str) -> Result<RunOffsets> {
    let prefix = format!("{}/", run_dir.trim_end_matches('/'));
    let files: Vec<String> = storage
        .list_files(run_dir)
        .with_context(|| format!("cannot list the Camus run folder {run_dir}"))?
        .into_iter()
        .filter_map(|entry| {
            let name = entry.url.strip_prefix(&prefix)?;
            (!name.contains('/') && is_offsets_file(name)).then_some(entry.url)
        })
        .collect();
    if files.is_empty() {
        bail!(
            "the Camus run folder {run_dir} has no offsets files (offsets-m-* or offsets-previous)"
        );
    }
    let mut best: BTreeMap<i32, PartitionOffset> = BTreeMap::new();
    let mut other_topics = BTreeMap::<String, usize>::new();
    for file in &files {
        let input = storage.open(file)?;
        let mut reader = SequenceFileReader::new(input, file)?;
        let key_class = reader.header().key_class.clone();
        let mut index = 0u64;
        while let Some(record) = reader.next_record()? {
            let key = etlkey::decode_named(&record.key, file, index)
                .with_context(|| format!("(the file's key class is {key_class})"))?;
            index += 1;
            if key.topic != topic {
                *other_topics.entry(key.topic).or_default() += 1;
                continue;
            }
            let candidate = PartitionOffset {
                partition: key.partition,
                offset: key.offset,
                node: key.leader_id,
                file: file.clone(),
            };
            match best.get(&key.partition) {
                Some(current) if current.offset >= candidate.offset => {}
                _ => {
                    best.insert(key.partition, candidate);
                }
            }
        }
    }
    if best.is_empty() {
        let found = if other_topics.is_empty() {
            "no keys at all".to_string()
        } else {
            format!(
                "only {}",
                other_topics.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        bail!(
            "the Camus run folder {run_dir} has no offsets for topic {topic} \
             ({} offsets files read, {found})",
            files.len()
        );
    }
    Ok(RunOffsets {
        run_dir: run_dir.to_string(),
        partitions: best.into_values().collect(),
        from_names: false,
    })
}

/// The Camus execution history of one topic, read once per command: every run folder, oldest
/// first. The integrity check reconciles the archive with all of them; the offsets step commits
/// the newest one's resume points ([`History::cutoff`]).
#[derive(Debug, Clone)]
pub struct History {
    /// The history folder (path or URL).
    pub dir: String,
    /// Every run folder, oldest first.
    pub runs: Vec<RunRecord>,
    /// The folder's other entries (not named like runs), for the error that finds no run.
    others: Vec<String>,
    /// Made from a Kafka Connect archive's file names: its one run is `dir` itself.
    from_names: bool,
}

impl History {
    /// Reads every run folder of `history_dir` for `topic`.
    pub fn read(history_dir: &str, topic: &str) -> Result<History> {
        let storage = storage::for_url(history_dir)?;
        let (names, others): (Vec<String>, Vec<String>) = storage
            .list_dirs(history_dir)
            .with_context(|| format!("cannot list the Camus history folder {history_dir}"))?
            .into_iter()
            .partition(|name| looks_like_run(name));
        let mut runs = Vec::with_capacity(names.len());
        for name in names {
            let dir = join_url(history_dir, &name);
            runs.push(read_run_record(storage.as_ref(), &dir, name, topic)?);
        }
        runs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(History {
            dir: history_dir.to_string(),
            runs,
            others,
            from_names: false,
        })
    }

    /// The one "run" a Kafka Connect archive's file names make (`spans`: per partition, the
    /// first offset, the offset after the last and the file holding the last): it started each
    /// partition at its first file and stopped after its last, where the consumers resume.
    pub(crate) fn of_connect_names(
        input_dir: &str,
        spans: &BTreeMap<u32, (u64, u64, String)>,
    ) -> History {
        let mut run = RunRecord {
            name: "kafka-connect file names".to_string(),
            offsets_files: spans.len(),
            ..RunRecord::default()
        };
        for (&partition, (first, next, file)) in spans {
            // Kafka partitions are i32 and offsets i64: names that overflow them parse to none.
            let (Ok(partition), Ok(first), Ok(next)) = (
                i32::try_from(partition),
                i64::try_from(*first),
                i64::try_from(*next),
            ) else {
                continue;
            };
            run.started.insert(partition, first);
            run.stopped.insert(partition, next);
            run.resume.insert(
                partition,
                PartitionOffset {
                    partition,
                    offset: next,
                    node: String::new(),
                    file: file.clone(),
                },
            );
        }
        History {
            dir: input_dir.to_string(),
            runs: vec![run],
            others: Vec::new(),
            from_names: true,
        }
    }

    /// Where the newest run left each partition of the topic: what the next Camus run resumes
    /// from, and so the cut-off the offsets step commits. Fails as [`latest_run`] does.
    pub fn cutoff(&self, topic: &str) -> Result<RunOffsets> {
        let Some(newest) = self.runs.last() else {
            let mut found = self.others.clone();
            found.sort();
            bail!(
                "no Camus run folder (named like 2024-01-15-10-00-00) in {}{}",
                self.dir,
                if found.is_empty() {
                    String::new()
                } else {
                    format!(" (found: {})", found.join(", "))
                }
            );
        };
        let run_dir = match self.from_names {
            true => self.dir.clone(),
            false => join_url(&self.dir, &newest.name),
        };
        if newest.offsets_files == 0 {
            bail!(
                "the Camus run folder {run_dir} has no offsets files (offsets-m-* or \
                 offsets-previous)"
            );
        }
        if newest.resume.is_empty() {
            let found = if newest.other_topics.is_empty() {
                "no keys at all".to_string()
            } else {
                format!(
                    "only {}",
                    newest
                        .other_topics
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            bail!(
                "the Camus run folder {run_dir} has no offsets for topic {topic} ({} offsets \
                 files read, {found})",
                newest.offsets_files
            );
        }
        Ok(RunOffsets {
            run_dir,
            partitions: newest.resume.values().cloned().collect(),
            from_names: self.from_names,
        })
    }
}

/// What one run folder says about one topic, file by file: where each partition started, where
/// it stopped, and which messages Camus recorded as not decodable. [`read_run`] gives the resume
/// point (what Camus itself uses); this keeps the parts apart, for the reconciliation of the
/// archive with the history ([`crate::integrity`]).
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    /// The folder's name (its start time, `YYYY-MM-dd-HH-mm-ss`).
    pub name: String,
    /// `offsets-previous`: the offset each partition started from (next to read). A partition
    /// new in this run (or every partition, in the first run) has none.
    pub started: BTreeMap<i32, i64>,
    /// `offsets-m-*`: the largest offset per partition, one past the last message read.
    pub stopped: BTreeMap<i32, i64>,
    /// `errors-m-*`: per partition, the offsets of messages Camus read but could not decode
    /// (it writes their key there instead of a record).
    pub errors: BTreeMap<i32, Vec<i64>>,
    /// Per partition, the largest offset of any offsets file, with the file and leader it came
    /// from (the first file listed, among equals): where Camus resumes.
    pub resume: BTreeMap<i32, PartitionOffset>,
    /// How many offsets files (`offsets-m-*`, `offsets-previous`) the folder holds.
    pub offsets_files: usize,
    /// The other topics the offsets files mention.
    pub other_topics: std::collections::BTreeSet<String>,
}

impl RunRecord {
    /// Where the run left a partition: Camus resumes from the largest offset in any of the
    /// folder's offsets files.
    pub fn end(&self, partition: i32) -> Option<i64> {
        match (self.started.get(&partition), self.stopped.get(&partition)) {
            (Some(a), Some(b)) => Some(*a.max(b)),
            (a, b) => a.or(b).copied(),
        }
    }

    /// Every partition the run mentions.
    pub fn partitions(&self) -> impl Iterator<Item = i32> + '_ {
        let mut all: Vec<i32> = self
            .started
            .keys()
            .chain(self.stopped.keys())
            .copied()
            .collect();
        all.sort_unstable();
        all.dedup();
        all.into_iter()
    }
}

/// Every run folder of `history_dir`, oldest first, with `topic`'s offsets in each. Folders
/// that do not mention the topic are kept (empty): they are runs all the same.
pub fn every_run(history_dir: &str, topic: &str) -> Result<Vec<RunRecord>> {
    Ok(History::read(history_dir, topic)?.runs)
}

fn read_run_record(
    storage: &dyn Storage,
    run_dir: &str,
    name: String,
    topic: &str,
) -> Result<RunRecord> {
    let prefix = format!("{}/", run_dir.trim_end_matches('/'));
    let mut record = RunRecord {
        name,
        ..RunRecord::default()
    };
    let entries = storage
        .list_files(run_dir)
        .with_context(|| format!("cannot list the Camus run folder {run_dir}"))?;
    for entry in entries {
        let Some(file_name) = entry.url.strip_prefix(&prefix) else {
            continue;
        };
        let part = if file_name.contains('/') {
            continue;
        } else if file_name == "offsets-previous" {
            Part::Started
        } else if file_name.starts_with("offsets-m-") {
            Part::Stopped
        } else if file_name.starts_with("errors-m-") {
            Part::Errors
        } else {
            continue;
        };
        if let Some(kind) = entry.not_regular {
            bail!("{} is {kind}, not a Camus offsets file", entry.url);
        }
        if !matches!(part, Part::Errors) {
            record.offsets_files += 1;
        }
        // An empty errors file is what a task with no errors leaves behind.
        if entry.size == 0 {
            continue;
        }
        let mut reader = SequenceFileReader::new(storage.open(&entry.url)?, &entry.url)?;
        let mut index = 0u64;
        while let Some(raw) = reader.next_record()? {
            let key = etlkey::decode_named(&raw.key, &entry.url, index)?;
            index += 1;
            if key.topic != topic {
                if !matches!(part, Part::Errors) {
                    record.other_topics.insert(key.topic);
                }
                continue;
            }
            if !matches!(part, Part::Errors) {
                let larger = record
                    .resume
                    .get(&key.partition)
                    .is_none_or(|current| key.offset > current.offset);
                if larger {
                    record.resume.insert(
                        key.partition,
                        PartitionOffset {
                            partition: key.partition,
                            offset: key.offset,
                            node: key.leader_id.clone(),
                            file: entry.url.clone(),
                        },
                    );
                }
            }
            match part {
                Part::Started => keep_largest(&mut record.started, key.partition, key.offset),
                Part::Stopped => keep_largest(&mut record.stopped, key.partition, key.offset),
                // The key of a message that failed is that message's own key: its offset is one
                // past the message, as for every Camus key.
                Part::Errors => record
                    .errors
                    .entry(key.partition)
                    .or_default()
                    .push(key.offset - 1),
            }
        }
    }
    for offsets in record.errors.values_mut() {
        offsets.sort_unstable();
        offsets.dedup();
    }
    Ok(record)
}

enum Part {
    Started,
    Stopped,
    Errors,
}

fn keep_largest(map: &mut BTreeMap<i32, i64>, partition: i32, offset: i64) {
    let slot = map.entry(partition).or_insert(offset);
    *slot = (*slot).max(offset);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hadoop::sequencefile::{Compression, SequenceFileWriter};
    use crate::offsets::etlkey::{EtlKey, Layout};

    fn key(topic: &str, partition: i32, offset: i64) -> Vec<u8> {
        EtlKey {
            leader_id: "1".into(),
            partition,
            begin_offset: 0,
            offset,
            checksum: 0,
            topic: topic.into(),
            time: 0,
            server: String::new(),
            service: String::new(),
            layout: Layout::Legacy,
            partition_map: None,
        }
        .encode()
    }

    fn write(path: &std::path::Path, keys: &[Vec<u8>]) {
        let file = std::fs::File::create(path).unwrap();
        let mut w = SequenceFileWriter::new(
            file,
            etlkey::CLASS_NAME,
            "org.apache.hadoop.io.NullWritable",
            Compression::None,
            &[],
            [7; 16],
        )
        .unwrap();
        for k in keys {
            w.append(k, &[]).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn newest_run_and_largest_offset_per_partition() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("2024-01-01-00-00-00");
        let new = dir.path().join("2024-01-02-00-00-00");
        for d in [&old, &new, &dir.path().join("_temporary")] {
            std::fs::create_dir_all(d).unwrap();
        }
        write(&old.join("offsets-m-00000"), &[key("T", 0, 999)]);
        write(
            &new.join("offsets-m-00000"),
            &[key("T", 0, 10), key("X", 0, 5)],
        );
        write(
            &new.join("offsets-m-00001"),
            &[key("T", 0, 12), key("T", 1, 3)],
        );
        write(
            &new.join("offsets-previous"),
            &[key("T", 2, 40), key("T", 1, 1)],
        );
        write(&new.join("requests.previous"), &[key("T", 3, 1)]);
        let history = dir.path().to_str().unwrap();
        let run = latest_run(history, "T").unwrap();
        assert!(run.run_dir.ends_with("2024-01-02-00-00-00"));
        let got: Vec<(i32, i64)> = run
            .partitions
            .iter()
            .map(|p| (p.partition, p.offset))
            .collect();
        assert_eq!(got, vec![(0, 12), (1, 3), (2, 40)]);
        assert!(run.partitions[0].file.ends_with("offsets-m-00001"));

        // The history read once for a whole command gives the same cut-off.
        let once = History::read(history, "T").unwrap();
        assert_eq!(once.runs.len(), 2);
        let cutoff = once.cutoff("T").unwrap();
        assert_eq!(cutoff.run_dir, run.run_dir);
        assert_eq!(cutoff.partitions, run.partitions);
        let err = History::read(history, "MISSING")
            .unwrap()
            .cutoff("MISSING")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2024-01-02-00-00-00")
                && err.contains("MISSING")
                && err.contains("only T, X"),
            "{err}"
        );

        let err = latest_run(history, "MISSING").unwrap_err().to_string();
        assert!(
            err.contains("2024-01-02-00-00-00") && err.contains("MISSING"),
            "{err}"
        );
    }

    #[test]
    fn no_run_folder_is_an_error_naming_the_history_folder() {
        let dir = tempfile::tempdir().unwrap();
        let err = latest_run(dir.path().to_str().unwrap(), "T")
            .unwrap_err()
            .to_string();
        assert!(err.contains(dir.path().to_str().unwrap()), "{err}");
        std::fs::create_dir(dir.path().join("_temporary")).unwrap();
        let err = History::read(dir.path().to_str().unwrap(), "T")
            .unwrap()
            .cutoff("T")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(dir.path().to_str().unwrap()) && err.contains("found: _temporary"),
            "{err}"
        );
    }
}
