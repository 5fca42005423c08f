//! Camus' time buckets streamed in order (`sort.mode: auto | buckets`): Camus already wrote every
//! record into the bucket of its event time, and each file's name ends with that bucket's start.
//! When the key plugin's keys order records by event time first (it gives a *floor*: the
//! smallest key of a record at or after a time), the archive is read bucket by bucket, oldest
//! first, and once a bucket is read every record below the floor of the next bucket's start
//! (less `sort.bucket_slack`) is sent, in key order, while the next bucket is read. Memory holds
//! a window of buckets, not the archive; only a window larger than `sort.memory` spills.
//!
//! The proof of order is per record: every record read must have a key at least the floor the
//! records already sent were judged against. One that does not stops the run, naming it, before
//! anything out of order is sent. Ties are broken as the whole-archive sort breaks them (input
//! order is the archive's file order, whatever the reading order), so the output is the same.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use rayon::slice::ParallelSliceMut;

use super::{SortItem, Sorter};
use crate::source::SourceFile;

/// The archive's files in reading order: by bucket start, then in the archive's own order.
pub(crate) struct BucketOrder {
    /// Positions in the archive's order of the files, as they are read.
    pub(crate) reading: Vec<usize>,
    /// The bucket start of each file, by reading position (epoch milliseconds).
    starts: Vec<i64>,
}

impl BucketOrder {
    /// The reading order of `files`, or `None` when a file's name gives no bucket start (not a
    /// Camus name): then only the whole archive can be sorted.
    pub(crate) fn of(files: &[SourceFile]) -> Option<BucketOrder> {
        let mut by_bucket: Vec<(i64, usize)> = files
            .iter()
            .enumerate()
            .map(|(i, file)| Some((file.name.as_ref()?.bucket_start_ms?, i)))
            .collect::<Option<_>>()?;
        by_bucket.sort_unstable();
        Some(BucketOrder {
            reading: by_bucket.iter().map(|&(_, i)| i).collect(),
            starts: by_bucket.iter().map(|&(start, _)| start).collect(),
        })
    }

    /// The bucket start of the file read at `position`.
    pub(crate) fn start(&self, position: usize) -> Option<i64> {
        self.starts.get(position).copied()
    }

    /// How many distinct buckets the archive has.
    pub(crate) fn buckets(&self) -> usize {
        // `starts` is sorted: a bucket begins wherever the start changes.
        self.starts.windows(2).filter(|w| w[0] != w[1]).count()
            + usize::from(!self.starts.is_empty())
    }
}

/// What every record read from now on must be at least: the floor the records already sent were
/// judged against, and the time it is the floor of.
struct Promise {
    floor: Vec<u8>,
    since_ms: i64,
    /// The bucket whose reading it was made for.
    bucket_ms: i64,
}

/// The records of the buckets read so far that may not be sent yet: held in memory while they
/// fit `sort.memory`, in a spilling sort beyond it.
pub(crate) struct Window {
    budget: u64,
    tmp_dir: PathBuf,
    held: Vec<SortItem>,
    held_bytes: u64,
    /// A window larger than the budget, spilling.
    sorter: Option<Sorter>,
    promise: Option<Promise>,
    slack_ms: i64,
    /// Bytes spilled by windows larger than the budget.
    pub(crate) spilled_bytes: u64,
    /// Records sent so far.
    pub(crate) sent: u64,
}

impl Window {
    pub(crate) fn new(budget: u64, tmp_dir: &Path, slack_ms: i64) -> Window {
        Window {
            budget,
            tmp_dir: tmp_dir.to_path_buf(),
            held: Vec::new(),
            held_bytes: 0,
            sorter: None,
            promise: None,
            slack_ms,
            spilled_bytes: 0,
            sent: 0,
        }
    }

    /// Adds one record of `file`; refuses it when its key lies below what was already sent.
    pub(crate) fn push(&mut self, item: SortItem, file: &SourceFile) -> Result<()> {
        if let Some(promise) = &self.promise {
            if item.key() < promise.floor.as_slice() {
                return Err(self.out_of_order(&item, file, promise));
            }
        }
        self.hold(item)
    }

    /// Holds a record in memory, or in a spilling sort once the window outgrows the budget (only
    /// that window spills).
    fn hold(&mut self, item: SortItem) -> Result<()> {
        if let Some(sorter) = &mut self.sorter {
            return sorter.push(item);
        }
        self.held_bytes += item.memory_size();
        self.held.push(item);
        if self.held_bytes > self.budget {
            let mut sorter = Sorter::new(self.budget, &self.tmp_dir)?;
            for item in self.held.drain(..) {
                sorter.push(item)?;
            }
            self.held_bytes = 0;
            self.sorter = Some(sorter);
        }
        Ok(())
    }

    /// The bucket starting at `next_ms` is read next (`None`: nothing more is): sends, in order,
    /// every record held whose key is below `floor` (all of them at the end), keeps the rest.
    /// `floor` is the key plugin's floor of `next_ms` less the slack.
    pub(crate) fn advance(
        &mut self,
        next: Option<(i64, Vec<u8>)>,
        send: &mut dyn FnMut(SortItem) -> Result<()>,
    ) -> Result<()> {
        let floor = next.as_ref().map(|(_, floor)| floor.clone());
        let below = |item: &SortItem| floor.as_deref().is_none_or(|floor| item.key() < floor);
        match self.sorter.take() {
            None => {
                self.held.par_sort_unstable();
                let keep_from = self.held.partition_point(below);
                let kept = self.held.split_off(keep_from);
                for item in std::mem::replace(&mut self.held, kept) {
                    self.sent += 1;
                    send(item)?;
                }
                self.held_bytes = self.held.iter().map(SortItem::memory_size).sum();
            }
            Some(sorter) => {
                let sorted = sorter.finish()?;
                self.spilled_bytes += sorted.spilled_bytes;
                for item in sorted.iter {
                    let item = item?;
                    if below(&item) {
                        self.sent += 1;
                        send(item)?;
                    } else {
                        self.hold(item)?;
                    }
                }
            }
        }
        self.promise = next.map(|(bucket_ms, floor)| self.promise_for(bucket_ms, floor));
        Ok(())
    }

    fn promise_for(&self, bucket_ms: i64, floor: Vec<u8>) -> Promise {
        Promise {
            floor,
            since_ms: bucket_ms.saturating_sub(self.slack_ms),
            bucket_ms,
        }
    }

    /// Why a record below the floor stops the run, and the ways forward.
    fn out_of_order(&self, item: &SortItem, file: &SourceFile, promise: &Promise) -> anyhow::Error {
        let time = match item.timestamp_ms() {
            Some(ms) => format!("event time {}", crate::utc::text(ms)),
            None => "no event time".to_string(),
        };
        let needed = item
            .timestamp_ms()
            .map(|ms| promise.bucket_ms.saturating_sub(ms));
        anyhow::anyhow!(
            "{}: record {} ({time}) sorts before records already sent: its file is in the Camus \
             time bucket of {}, and with sort.bucket_slack {} every record read from there on was \
             promised to be at or after {}. Streaming Camus' buckets (sort.mode: {}) sent {} \
             records in order and nothing out of order; the replay is incomplete (a file sink \
             left no file). Run again with {} (and --resume, into Kafka), or with sort.mode: \
             external, which sorts the whole archive first (into Kafka, after deleting the \
             replay topic)",
            file.url,
            item.index(),
            crate::utc::text(promise.bucket_ms),
            crate::utc::span(self.slack_ms),
            crate::utc::text(promise.since_ms),
            "auto or buckets",
            self.sent,
            match needed {
                Some(ms) if ms > 0 =>
                    format!("--set sort.bucket_slack={}s or more", (ms + 999) / 1000),
                _ => "sort.mode: external (this record has no time to measure a slack by)"
                    .to_string(),
            },
        )
    }
}

/// Refuses `sort.mode: buckets` where it cannot be done, saying why.
pub(crate) fn refuse(why: &str) -> Result<()> {
    bail!("sort.mode: buckets cannot stream this replay: {why}; use sort.mode: auto or external")
}
