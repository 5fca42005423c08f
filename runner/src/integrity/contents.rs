//! What the names cannot tell, read from the files themselves.
//!
//! - Whether each data file holds the records its name says ([`check_contents`]): every block of
//!   every file is read (and decompressed, so a corrupt block is found too), its record counts
//!   added up, and with `--records` every record walked ([`super::records`]). `c2k verify` does
//!   this unless `--names-only`; `c2k run` checks the same as it reads, before anything is sent.
//! - Whether files named for the same records are copies ([`digest_namesakes`]): a name and a size
//!   can be equal while the bytes are not, and leaving such a "copy" out would drop its records
//!   silently. Only files whose names collide are read (once each, in full, for a SHA-256), so the
//!   gate costs nothing on an archive without copies.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::records::{read_file, Depth};
use crate::source::SourceFile;
use crate::storage::Storage;

/// A file whose content does not match its name, or cannot be read: `(url, what is wrong)`.
pub(super) type Damage = (String, String);

/// Reads every file on `workers` threads; returns the damaged ones, in file order.
pub(super) fn check_contents(
    storage: &dyn Storage,
    files: &[SourceFile],
    workers: usize,
    depth: Depth,
) -> Vec<Damage> {
    // Read in this order: a store a round trip away fetches the next files ahead.
    storage.read_ahead(&files.iter().map(|f| f.url.clone()).collect::<Vec<_>>());
    let counts = in_parallel(files, workers, |file| read_file(storage, file, &depth));
    let mut shared: BTreeMap<(u32, u64), (u64, u64, Vec<String>)> = BTreeMap::new();
    let mut damaged = Vec::new();
    for (file, count) in files.iter().zip(counts) {
        let problem = match (count, &file.name) {
            (Err(e), _) => Some(format!("{e:#}")),
            // Interleaved files: only their sum is known (below).
            (Ok(count), Some(name)) if name.shared.is_some() => {
                let group = name.shared.as_ref().expect("matched");
                let entry = shared
                    .entry((name.partition, group.first))
                    .or_insert_with(|| (group.next - group.first, 0, Vec::new()));
                entry.1 += count;
                entry.2.push(file.url.clone());
                None
            }
            (Ok(count), Some(name)) => crate::source::check_count(
                &file.url,
                Some(name),
                count,
                depth.format != crate::source::SourceFormat::Avro,
            )
            .err()
            .map(|e| format!("{e:#}")),
            _ => None,
        };
        if let Some(problem) = problem {
            damaged.push((file.url.clone(), problem));
        }
    }
    for ((partition, first), (span, held, urls)) in shared {
        if held != span {
            for url in urls {
                damaged.push((
                    url,
                    format!(
                        "partition {partition}: the files whose offsets interleave from {first} \
                         hold {held} records together, not the {span} their offsets span"
                    ),
                ));
            }
        }
    }
    damaged
}

/// A file's SHA-256, or why it could not be read, by URL.
pub(crate) type Digests = BTreeMap<String, Result<[u8; 32], String>>;

/// What makes two data files namesakes: the same partition, record count, last offset and size
/// (the leader id and the folder may differ: a retried or re-moved Camus run).
type Namesake = (u32, u64, u64, u64);

/// The files of `topic` whose names and sizes collide with another's: the only ones that could be
/// copies, so the only ones read.
pub(super) fn namesakes<'a>(topic: &str, files: &'a [SourceFile]) -> Vec<&'a SourceFile> {
    let mut by_name: BTreeMap<Namesake, Vec<&SourceFile>> = BTreeMap::new();
    for file in files {
        if let Some(name) = file.name.as_ref().filter(|name| name.topic == topic) {
            by_name
                .entry((name.partition, name.count, name.last_offset, file.size))
                .or_default()
                .push(file);
        }
    }
    by_name
        .into_values()
        .filter(|group| group.len() > 1)
        .flatten()
        .collect()
}

/// The SHA-256 of each of `files`, each read once, on `workers` threads.
pub(super) fn digest_namesakes(
    storage: &dyn Storage,
    files: &[&SourceFile],
    workers: usize,
) -> Digests {
    let digests = in_parallel(files, workers, |file| {
        sha256(storage, &file.url).map_err(|e| format!("{e:#}"))
    });
    files
        .iter()
        .map(|file| file.url.clone())
        .zip(digests)
        .collect()
}

fn sha256(storage: &dyn Storage, url: &str) -> Result<[u8; 32]> {
    let mut hash = Sha256::new();
    std::io::copy(&mut storage.open(url)?, &mut hash)
        .with_context(|| format!("cannot read {url}"))?;
    Ok(hash.finalize().into())
}

/// `work` applied to every item on `workers` threads; the results in the items' order.
pub(super) fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = work(item);
                done.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, result));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, result)| result).collect()
}
