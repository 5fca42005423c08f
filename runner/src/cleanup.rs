//! What a run keeps on disk only while it runs — the sort's spill folder, the file sink's partial
//! file — and their removal when the run cannot remove them itself.
//!
//! - A signal: each such path is [`register`]ed while it exists, and [`remove_registered`] (called
//!   by [`crate::signals`]) removes whatever is registered at that moment.
//! - A `kill -9`: nothing runs, so both names carry the owner's pid (`c2k-sort-<pid>-XXXXXX`,
//!   `.<name>.c2k-<pid>-XXXXXX.c2k-partial`) and the next run's [`remove_stale`] removes those whose
//!   owner is no longer a running `c2k`.
//!
//! It must not remove anything that does not match those two patterns, nor what a live `c2k` owns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The prefix of the sort's spill folders.
const SPILL_PREFIX: &str = "c2k-sort-";
/// The suffix of the file sink's partial files.
const PARTIAL_SUFFIX: &str = ".c2k-partial";
/// What precedes the owner's pid in a partial file's name.
const PARTIAL_OWNER: &str = ".c2k-";
/// Appended to a spill folder moved aside to be removed; the name still parses as the owner's.
const ASIDE_SUFFIX: &str = "-removing";

/// The prefix of a spill folder made by this process: `c2k-sort-<pid>-` (tempfile adds 6 letters).
pub(crate) fn spill_prefix() -> String {
    format!("{SPILL_PREFIX}{}-", std::process::id())
}

/// The prefix and suffix of a partial file for `file_name` made by this process:
/// `.<file_name>.c2k-<pid>-` and `.c2k-partial`.
pub(crate) fn partial_affixes(file_name: &str) -> (String, &'static str) {
    (
        format!(".{file_name}{PARTIAL_OWNER}{}-", std::process::id()),
        PARTIAL_SUFFIX,
    )
}

/// What a left-behind entry is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leftover {
    SpillFolder { owner: u32 },
    PartialFile { owner: u32 },
}

/// The kind and owner of a name made by [`spill_prefix`] or [`partial_affixes`]; `None` for any
/// other name.
pub(crate) fn parse(name: &str) -> Option<Leftover> {
    if let Some(rest) = name.strip_prefix(SPILL_PREFIX) {
        return owner(rest).map(|owner| Leftover::SpillFolder { owner });
    }
    let stem = name.strip_suffix(PARTIAL_SUFFIX)?;
    if !stem.starts_with('.') {
        return None;
    }
    let at = stem.rfind(PARTIAL_OWNER)?;
    owner(&stem[at + PARTIAL_OWNER.len()..]).map(|owner| Leftover::PartialFile { owner })
}

/// The pid in `<pid>-<random>`.
fn owner(pid_and_random: &str) -> Option<u32> {
    let (pid, random) = pid_and_random.split_once('-')?;
    if pid.is_empty() || random.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether `pid` is this process or a running `c2k` (`/proc/<pid>/comm`). A pid reused by another
/// program counts as gone. Without `/proc`, nobody can tell: every owner counts as running.
pub(crate) fn owner_is_running(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if pid == std::process::id() || !proc.join("self").exists() {
        return true;
    }
    std::fs::read_to_string(proc.join(pid.to_string()).join("comm"))
        .is_ok_and(|comm| comm.trim_end() == "c2k")
}

/// Removes the spill folders and partial files directly in `dir` whose owner is no longer running
/// (left by a run killed with `kill -9`), logging each. Failures are warnings: a leftover must not
/// stop a new run.
pub(crate) fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(leftover) = entry.file_name().to_str().and_then(parse) else {
            continue;
        };
        let (owner, wanted_dir) = match leftover {
            Leftover::SpillFolder { owner } => (owner, true),
            Leftover::PartialFile { owner } => (owner, false),
        };
        let path = entry.path();
        // `symlink_metadata`: a link named like a leftover is not one, and is never followed.
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let kind_matches = if wanted_dir {
            metadata.is_dir()
        } else {
            metadata.is_file()
        };
        if !kind_matches || owner_is_running(owner) {
            continue;
        }
        let bytes = size(&path, &metadata);
        let removed = if wanted_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Ok(()) => tracing::info!(
                path = %path.display(),
                bytes,
                owner,
                "removed what a killed c2k run left behind"
            ),
            Err(error) => tracing::warn!(
                path = %path.display(),
                owner,
                %error,
                "cannot remove what a killed c2k run left behind"
            ),
        }
    }
}

/// A file's size, or the total size of the files directly in a folder (spill folders are flat).
fn size(path: &Path, metadata: &std::fs::Metadata) -> u64 {
    if metadata.is_dir() {
        dir_size(path)
    } else {
        metadata.len()
    }
}

/// The total size of the files directly in `dir` (0 when it cannot be read).
pub(crate) fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Paths to remove if a signal stops the run, by registration number.
static REGISTERED: Mutex<BTreeMap<u64, PathBuf>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

fn registered() -> MutexGuard<'static, BTreeMap<u64, PathBuf>> {
    // A map of paths cannot be left half-updated in a way that matters.
    REGISTERED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps a path registered for removal on a signal; dropping it unregisters the path.
#[derive(Debug)]
pub(crate) struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        registered().remove(&self.0);
    }
}

/// Registers `path` (a folder or a file) for removal if a signal stops the run.
pub(crate) fn register(path: &Path) -> Registration {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    registered().insert(id, path.to_path_buf());
    Registration(id)
}

/// Removes every registered path and returns those removed. The registry stays locked until the
/// process exits, so nothing registers behind it; call it only on the way out.
pub(crate) fn remove_registered() -> Vec<PathBuf> {
    let paths = registered();
    let mut removed = Vec::new();
    for path in paths.values() {
        let result = match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => remove_folder_being_written(path),
            Ok(_) => std::fs::remove_file(path),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => removed.push(path.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("c2k: cannot remove {}: {e}", path.display()),
        }
    }
    std::mem::forget(paths);
    removed
}

/// Removes a folder another thread of this run may still be writing into: a signal stops the
/// run while the sort keeps spilling, a segment every few milliseconds when `sort.memory` is
/// small, and a plain `remove_dir_all` then loses the race (a file created after it listed the
/// folder makes the final `rmdir` fail, and the folder stays). So the folder is first moved
/// aside ([`ASIDE_SUFFIX`] appended, still a leftover of this process by its name): files can no
/// longer be created under its name. One whose creation was already under way may still land in
/// it, so the removal is tried again a few times.
fn remove_folder_being_written(path: &Path) -> std::io::Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(ASIDE_SUFFIX);
    let aside = PathBuf::from(aside);
    let target = match std::fs::rename(path, &aside) {
        Ok(()) => aside.as_path(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(e),
        // Cannot move it (a read-only parent, say): removed where it is, racing as before.
        Err(_) => path,
    };
    let mut tries = 0;
    loop {
        match std::fs::remove_dir_all(target) {
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            // The message names the folder where it now is.
            Err(e) if target != path => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("moved to {} to be removed: {e}", target.display()),
                ))
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_made_here_carry_this_process_as_their_owner() {
        let me = std::process::id();
        let spill = format!("{}AbC123", spill_prefix());
        assert_eq!(parse(&spill), Some(Leftover::SpillFolder { owner: me }));
        let (prefix, suffix) = partial_affixes("out.jsonl");
        let partial = format!("{prefix}x9Y8z7{suffix}");
        assert_eq!(parse(&partial), Some(Leftover::PartialFile { owner: me }));
    }

    #[test]
    fn a_partial_file_of_a_name_with_dots_and_dashes_still_names_its_owner() {
        assert_eq!(
            parse(".replay.c2k-7-a.jsonl.c2k-4242-Zz09aB.c2k-partial"),
            Some(Leftover::PartialFile { owner: 4242 })
        );
    }

    #[test]
    fn other_names_are_not_leftovers() {
        for name in [
            "c2k-sort-",
            "c2k-sort-123",
            "c2k-sort-123-",
            "c2k-sort--abc",
            "c2k-sort-12a-abc",
            "c2k-sortx-123-abc",
            // Made before names carried the owner: nobody can tell whose it is.
            "c2k-sort-AbC123",
            ".out.jsonl.AbC123.c2k-partial",
            "out.jsonl.c2k-123-abc.c2k-partial",
            ".out.jsonl.c2k-123-abc.c2k-partial.bak",
            ".out.jsonl.c2k-123-abc",
            "out.jsonl",
        ] {
            assert_eq!(parse(name), None, "{name}");
        }
    }

    #[test]
    fn this_process_counts_as_running_and_a_pid_of_another_program_as_gone() {
        assert!(owner_is_running(std::process::id()));
        // pid 1 is init (or the container's entry point), never `c2k`.
        assert!(!owner_is_running(1));
        assert!(!owner_is_running(u32::MAX));
    }

    #[test]
    fn stale_leftovers_go_and_everything_else_stays() {
        let dir = tempfile::tempdir().unwrap();
        let gone = u32::MAX;
        let me = std::process::id();
        let stale_spill = dir.path().join(format!("c2k-sort-{gone}-abcdef"));
        std::fs::create_dir(&stale_spill).unwrap();
        std::fs::write(stale_spill.join("segment"), b"spilled").unwrap();
        let stale_partial = dir
            .path()
            .join(format!(".out.jsonl.c2k-{gone}-abcdef.c2k-partial"));
        std::fs::write(&stale_partial, b"half").unwrap();
        let kept = [
            format!("c2k-sort-{me}-abcdef"),
            format!(".out.jsonl.c2k-{me}-abcdef.c2k-partial"),
            "c2k-sort-abcdef".to_string(),
            "out.jsonl".to_string(),
            // The right name but the wrong kind: a file where a spill folder would be.
            format!("c2k-sort-{gone}-file"),
        ];
        for name in &kept[..2] {
            if name.starts_with("c2k-sort-") {
                std::fs::create_dir(dir.path().join(name)).unwrap();
            } else {
                std::fs::write(dir.path().join(name), b"live").unwrap();
            }
        }
        for name in &kept[2..] {
            std::fs::write(dir.path().join(name), b"not ours").unwrap();
        }
        remove_stale(dir.path());
        assert!(!stale_spill.exists());
        assert!(!stale_partial.exists());
        for name in &kept {
            assert!(dir.path().join(name).exists(), "{name} was removed");
        }
    }

    #[test]
    fn a_folder_is_removed_while_another_thread_keeps_creating_files_in_it() {
        for round in 0..20 {
            let parent = tempfile::tempdir().unwrap();
            let dir = parent.path().join(format!("{}abcdef", spill_prefix()));
            std::fs::create_dir(&dir).unwrap();
            let writing = dir.clone();
            let writer = std::thread::spawn(move || {
                // Files as fast as it can, like a sort spilling, until the folder is gone.
                for i in 0u64.. {
                    if let Err(e) = std::fs::write(writing.join(i.to_string()), b"segment") {
                        return (i, e.kind());
                    }
                }
                unreachable!("the loop ends with an error")
            });
            while std::fs::read_dir(&dir).unwrap().count() < 200 {
                std::thread::yield_now();
            }
            remove_folder_being_written(&dir).unwrap();
            let (written, stopped_by) = writer.join().unwrap();
            assert_eq!(stopped_by, std::io::ErrorKind::NotFound, "round {round}");
            assert!(written >= 200);
            let left: Vec<_> = std::fs::read_dir(parent.path())
                .unwrap()
                .flatten()
                .collect();
            assert!(left.is_empty(), "round {round}: left behind {left:?}");
        }
    }

    #[test]
    fn the_folder_moved_aside_is_still_a_leftover_of_its_owner() {
        let name = format!("{}abcdef{ASIDE_SUFFIX}", spill_prefix());
        assert_eq!(
            parse(&name),
            Some(Leftover::SpillFolder {
                owner: std::process::id()
            })
        );
    }

    #[test]
    fn a_registration_dropped_is_no_longer_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept");
        std::fs::write(&path, b"x").unwrap();
        drop(register(&path));
        assert!(!registered().values().any(|p| p == &path));
        assert!(path.exists());
    }
}
