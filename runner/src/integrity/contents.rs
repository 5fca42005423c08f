//! What the names cannot tell: whether each data file holds the records its name says. Every
//! block of every file is read (and decompressed, so a corrupt block is found too), its record
//! counts added up — records are never decoded. `c2k verify` does this unless `--names-only`;
//! `c2k run` checks the same as it reads, before anything is sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Result;

use crate::source::container::ContainerReader;
use crate::source::SourceFile;
use crate::storage::Storage;

/// A file whose content does not match its name, or cannot be read: `(url, what is wrong)`.
pub(super) type Damage = (String, String);

/// Reads every file on `workers` threads; returns the damaged ones, in file order.
pub(super) fn check_contents(
    storage: &dyn Storage,
    files: &[SourceFile],
    workers: usize,
) -> Vec<Damage> {
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, files.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let problem = match count_records(storage, file) {
                    Ok(count) => {
                        file.name
                            .as_ref()
                            .filter(|name| name.count != count)
                            .map(|name| {
                                format!(
                                "its name says {} records but it holds {count}: it is truncated \
                                 or was not written by Camus",
                                name.count
                            )
                            })
                    }
                    Err(e) => Some(format!("{e:#}")),
                };
                if let Some(problem) = problem {
                    let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
                    found.push((i, (file.url.clone(), problem)));
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort_by_key(|(i, _)| *i);
    found.into_iter().map(|(_, damage)| damage).collect()
}

fn count_records(storage: &dyn Storage, file: &SourceFile) -> Result<u64> {
    let mut reader = ContainerReader::open(&file.url, storage.open(&file.url)?)?;
    let mut total = 0u64;
    while let Some(count) = reader.next_block()? {
        total += count;
    }
    Ok(total)
}
