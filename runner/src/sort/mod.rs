//! The external sort: records ordered by (key, source partition, source offset, input order) with
//! `extsort`, holding about `sort.memory` in memory and spilling the rest under `sort.tmp_dir`.
//!
//! `extsort` counts its in-memory segment in items, not bytes, so the segment size is derived from
//! the budget and the average size of the first records ([`segment_size`]). The sorter runs on a
//! thread of its own ([`feeder`]), so half the budget is the segment being sorted and half the
//! records queued for the next. Records that fit one segment never reach `extsort`: the thread
//! holds them and they are sorted in place on every core. Spill files go into a private temporary
//! directory ([`SpillDir`]) that is removed when the sort (or the run) ends, whether it succeeded
//! or not, or is stopped by a signal; one left by a killed run is removed by the next
//! ([`crate::cleanup`]).

pub(crate) mod buckets;
mod feeder;
mod item;

use std::path::Path;

use anyhow::{Context, Result};
use extsort::ExternalSorter;
use rayon::slice::ParallelSliceMut;

pub use item::SortItem;

/// How many records are buffered to measure their average size before the sort is set up.
const SAMPLE_RECORDS: usize = 4096;

/// Fraction of `sort.memory` given to the in-memory segment: the rest covers allocator slack and
/// records larger than the sampled average.
const BUDGET_FRACTION: f64 = 0.8;

/// Accepts records in any order and gives them back sorted.
pub struct Sorter {
    /// Declared (so dropped) before `spill_dir`: its thread is stopped before the files go.
    feeder: Option<feeder::Feeder>,
    budget: u64,
    spill_dir: SpillDir,
    sample: Vec<SortItem>,
    count: u64,
}

type Pushed = extsort::PushExternalSorter<SortItem, fn(&SortItem, &SortItem) -> std::cmp::Ordering>;

/// The sorted records, and what the sort cost.
pub struct Sorted {
    pub iter: Box<dyn Iterator<Item = Result<SortItem>> + Send>,
    pub count: u64,
    /// Bytes written to spill files (0 when everything fitted in memory).
    pub spilled_bytes: u64,
    pub spill_segments: usize,
    /// Keeps the spill directory until the sorted records are consumed.
    pub spill_dir: SpillDir,
}

/// The sort's private folder under `sort.tmp_dir`, `c2k-sort-<pid>-XXXXXX`: removed when dropped,
/// and registered for removal on a signal while it exists.
pub struct SpillDir {
    dir: tempfile::TempDir,
    /// Declared after `dir`: unregistered once the folder is gone.
    _cleanup: crate::cleanup::Registration,
}

impl SpillDir {
    /// Creates it under `tmp_dir` (and `tmp_dir` if needed), first removing the spill folders of
    /// runs that were killed.
    fn create(tmp_dir: &Path) -> Result<SpillDir> {
        std::fs::create_dir_all(tmp_dir)
            .with_context(|| format!("sort.tmp_dir {}: cannot create it", tmp_dir.display()))?;
        crate::cleanup::remove_stale(tmp_dir);
        let dir = tempfile::Builder::new()
            .prefix(&crate::cleanup::spill_prefix())
            .tempdir_in(tmp_dir)
            .with_context(|| {
                format!(
                    "sort.tmp_dir {}: cannot create a spill directory",
                    tmp_dir.display()
                )
            })?;
        let cleanup = crate::cleanup::register(dir.path());
        Ok(SpillDir {
            dir,
            _cleanup: cleanup,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Sorter {
    /// A sorter that holds about `budget` bytes and spills under `tmp_dir`.
    pub fn new(budget: u64, tmp_dir: &Path) -> Result<Sorter> {
        allow_one_open_file_per_segment();
        Ok(Sorter {
            budget,
            spill_dir: SpillDir::create(tmp_dir)?,
            sample: Vec::with_capacity(SAMPLE_RECORDS),
            feeder: None,
            count: 0,
        })
    }

    /// Where spill files go (a private directory under `sort.tmp_dir`).
    pub fn spill_dir(&self) -> &Path {
        self.spill_dir.path()
    }

    pub fn push(&mut self, item: SortItem) -> Result<()> {
        self.count += 1;
        match &mut self.feeder {
            Some(feeder) => feeder
                .push(item)
                .map_err(|e| spill_error(e, self.spill_dir.path())),
            None => {
                self.sample.push(item);
                if self.sample.len() >= SAMPLE_RECORDS {
                    self.start()?;
                }
                Ok(())
            }
        }
    }

    /// Sets up `extsort` with a segment size fitted to half the budget and the sampled records,
    /// on its own thread with the other half queued.
    fn start(&mut self) -> Result<()> {
        let segment = segment_size(self.budget / 2, &self.sample);
        tracing::debug!(segment, "sort segment size in records");
        let cmp: fn(&SortItem, &SortItem) -> std::cmp::Ordering = SortItem::cmp;
        let pushed = ExternalSorter::new()
            .with_segment_size(segment)
            .with_sort_dir(self.spill_dir.path().to_path_buf())
            .with_parallel_sort()
            .pushed_by(cmp);
        let mut feeder = feeder::Feeder::start(pushed, segment)
            .map_err(|e| spill_error(e, self.spill_dir.path()))?;
        for item in self.sample.drain(..) {
            feeder
                .push(item)
                .map_err(|e| spill_error(e, self.spill_dir.path()))?;
        }
        self.feeder = Some(feeder);
        Ok(())
    }

    /// Ends the input and returns the records in order.
    pub fn finish(mut self) -> Result<Sorted> {
        if self.feeder.is_none() {
            self.start()?;
        }
        let feeder = self.feeder.take().expect("started above");
        let gathered = feeder
            .finish()
            .map_err(|e| spill_error(e, self.spill_dir.path()))?;
        let (pushed, last) = match gathered {
            feeder::Gathered::InMemory(mut items) => {
                // Nothing else runs now: the whole set is sorted on every core.
                items.par_sort_unstable();
                return Ok(Sorted {
                    iter: Box::new(items.into_iter().map(Ok)),
                    count: self.count,
                    spilled_bytes: 0,
                    spill_segments: 0,
                    spill_dir: self.spill_dir,
                });
            }
            feeder::Gathered::Spilling { pushed, last } => (pushed, last),
        };
        let sorted = pushed
            .done()
            .map_err(|e| spill_error(e, self.spill_dir.path()))?;
        let spill_segments = sorted.disk_segment_count();
        let spilled_bytes = crate::cleanup::dir_size(self.spill_dir.path());
        unlink_spill_files(self.spill_dir.path());
        let iter = sorted.map(|r| r.context("sort: cannot read back a spill file"));
        let iter = with_one_more(iter, last);
        Ok(Sorted {
            iter: Box::new(iter),
            count: self.count,
            spilled_bytes,
            spill_segments,
            spill_dir: self.spill_dir,
        })
    }
}

/// The sorted records with `one` more put in its place (see [`feeder`] for why there is one).
fn with_one_more(
    sorted: impl Iterator<Item = Result<SortItem>> + Send,
    one: Option<SortItem>,
) -> impl Iterator<Item = Result<SortItem>> + Send {
    let mut one = one;
    let mut sorted = sorted.peekable();
    std::iter::from_fn(move || {
        if let Some(item) = &one {
            match sorted.peek() {
                // An error goes out where it happened.
                Some(Ok(next)) if next < item => {}
                Some(Err(_)) => {}
                _ => return one.take().map(Ok),
            }
        }
        sorted.next()
    })
}

/// Records per in-memory segment so that a segment stays within the budget.
fn segment_size(budget: u64, sample: &[SortItem]) -> usize {
    let sampled: u64 = sample.iter().map(SortItem::memory_size).sum();
    let average = if sample.is_empty() {
        512
    } else {
        (sampled / sample.len() as u64).max(1)
    };
    ((budget as f64 * BUDGET_FRACTION) as u64 / average).max(1024) as usize
}

/// A spill failure, naming the directory and, for the two limits a user can change, what to do.
fn spill_error(error: std::io::Error, dir: &Path) -> anyhow::Error {
    let hint = match error.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) => {
            " (one file per spill segment is open during the merge: raise `ulimit -n` or \
             sort.memory, which makes fewer, larger segments)"
        }
        Some(libc::ENOSPC) => {
            " (sort.tmp_dir needs about the size of the decoded input free: point it at a larger disk)"
        }
        _ => "",
    };
    anyhow::Error::new(error).context(format!(
        "sort: cannot write a spill file under {}{hint}",
        dir.display()
    ))
}

/// `extsort` merges every spill segment in one pass, holding each segment file open: a history
/// many times larger than `sort.memory` needs more files than the usual soft limit of 1,024
/// (1 TB sorted in 512 MiB is ~2,500 segments). Raise the soft limit to the hard one, as a user
/// would with `ulimit -n`; if even that is too few, the spill error says so.
fn allow_one_open_file_per_segment() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The merge holds every segment file open, so their names can go now: the space is freed when
/// the merge closes them (on the merge thread, while the output is still being written, rather
/// than in one long `unlink` at the end), and a run killed during the merge leaves only the empty
/// folder behind.
fn unlink_spill_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        // What cannot be removed now is removed with the directory at the end.
        let _ = std::fs::remove_file(entry.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &[u8], partition: u32, offset: u64, seq: u64) -> SortItem {
        SortItem::new(
            key,
            b"datum",
            Some(partition),
            Some(offset),
            seq,
            None,
            0,
            0,
            seq,
        )
    }

    #[test]
    fn ties_keep_partition_then_offset_then_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(1 << 20, dir.path()).unwrap();
        for it in [
            item(b"b", 0, 5, 0),
            item(b"a", 1, 3, 1),
            item(b"a", 0, 9, 2),
            item(b"a", 0, 2, 3),
            item(b"a", 0, 2, 4),
        ] {
            sorter.push(it).unwrap();
        }
        let sorted: Vec<u64> = sorter
            .finish()
            .unwrap()
            .iter
            .map(|r| r.unwrap().seq())
            .collect();
        assert_eq!(sorted, vec![3, 4, 2, 1, 0]);
    }

    /// `n` records with few distinct keys (many ties) in a scrambled order, sorted with `budget`:
    /// their input positions in output order, and how many segments spilled.
    fn sorted_positions(n: u64, budget: u64) -> (Vec<u64>, usize) {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(budget, dir.path()).unwrap();
        for seq in 0..n {
            let key = ((seq * 7919) % 97).to_be_bytes();
            let partition = (seq % 3) as u32;
            sorter
                .push(item(&key, partition, (seq * 31) % 11, seq))
                .unwrap();
        }
        let sorted = sorter.finish().unwrap();
        let segments = sorted.spill_segments;
        (sorted.iter.map(|r| r.unwrap().seq()).collect(), segments)
    }

    #[test]
    fn every_record_comes_out_in_order_whether_it_fits_a_segment_or_spills_at_its_edge() {
        // 64 KiB gives the smallest segment, 1,024 records; `extsort` writes its buffer out at
        // every 1,025th push, and used to lose every spilled record when the last push was one.
        for (n, spills) in [
            (1_000, false),
            (1_024, false),
            (1_025, false),
            (1_026, true),
            (2_050, true),
            (2_051, true),
            (3_075, true),
        ] {
            let (positions, segments) = sorted_positions(n, 64 << 10);
            assert_eq!(
                segments > 0,
                spills,
                "{n} records: {segments} segments spilled"
            );
            // The order the comparison defines, computed without the sorter.
            let mut expected: Vec<SortItem> = (0..n)
                .map(|seq| {
                    let key = ((seq * 7919) % 97).to_be_bytes();
                    item(&key, (seq % 3) as u32, (seq * 31) % 11, seq)
                })
                .collect();
            expected.sort();
            let expected: Vec<u64> = expected.iter().map(SortItem::seq).collect();
            assert_eq!(positions, expected, "{n} records");
        }
    }

    #[test]
    fn a_small_budget_spills_and_merges_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(64 << 10, dir.path()).unwrap();
        let n = 50_000u64;
        for seq in 0..n {
            let key = ((seq * 7919) % n).to_be_bytes();
            sorter
                .push(SortItem::new(
                    &key,
                    &[7u8; 100],
                    None,
                    None,
                    seq,
                    Some(seq as i64),
                    1,
                    2,
                    seq,
                ))
                .unwrap();
        }
        let keys: Vec<Vec<u8>> = {
            let sorted = sorter.finish().unwrap();
            assert!(
                sorted.spill_segments > 1,
                "expected spills, got {}",
                sorted.spill_segments
            );
            assert!(sorted.spilled_bytes > 0);
            assert_eq!(
                std::fs::read_dir(sorted.spill_dir.path()).unwrap().count(),
                0,
                "segment files are unlinked once the merge holds them open"
            );
            sorted.iter.map(|r| r.unwrap().key().to_vec()).collect()
        };
        assert_eq!(keys.len() as u64, n);
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "spill dir removed"
        );
    }

    #[test]
    fn a_sorter_may_hold_as_many_segment_files_as_the_hard_limit_allows() {
        let dir = tempfile::tempdir().unwrap();
        let _sorter = Sorter::new(1 << 20, dir.path()).unwrap();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        // An unlimited hard limit cannot be taken literally (the kernel caps open files anyway).
        assert!(limit.rlim_cur == limit.rlim_max || limit.rlim_max == libc::RLIM_INFINITY);
    }

    #[test]
    fn spill_errors_name_the_directory_and_the_setting_to_change() {
        let dir = Path::new("/big/tmp/c2k-sort-x");
        let too_many = format!(
            "{:#}",
            spill_error(std::io::Error::from_raw_os_error(libc::EMFILE), dir)
        );
        assert!(too_many.contains("/big/tmp/c2k-sort-x"), "{too_many}");
        assert!(too_many.contains("sort.memory"), "{too_many}");
        let full = format!(
            "{:#}",
            spill_error(std::io::Error::from_raw_os_error(libc::ENOSPC), dir)
        );
        assert!(full.contains("sort.tmp_dir"), "{full}");
    }

    #[test]
    fn a_spill_failure_on_the_sort_thread_is_reported_naming_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(64 << 10, dir.path()).unwrap();
        let spill_dir = sorter.spill_dir().to_path_buf();
        // The spill directory disappears: the sort thread cannot create its first segment file.
        std::fs::remove_dir_all(&spill_dir).unwrap();
        let mut failure = None;
        for seq in 0..50_000u64 {
            if let Err(e) = sorter.push(item(&seq.to_be_bytes(), 0, seq, seq)) {
                failure = Some(e);
                break;
            }
        }
        let error = match failure {
            Some(e) => e,
            None => sorter.finish().err().expect("the spill cannot succeed"),
        };
        let text = format!("{error:#}");
        assert!(text.contains(&spill_dir.display().to_string()), "{text}");
    }

    #[test]
    fn a_sorter_dropped_unfinished_stops_its_thread_and_removes_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(64 << 10, dir.path()).unwrap();
        for seq in 0..50_000u64 {
            sorter.push(item(&seq.to_be_bytes(), 0, seq, seq)).unwrap();
        }
        drop(sorter);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
