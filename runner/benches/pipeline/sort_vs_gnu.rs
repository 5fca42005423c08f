//! The sort phase against GNU sort with the same memory, on the same keys and payloads.
//!
//! Items are generated deterministically: an 8-byte pseudo-random key (splitmix64 of the index)
//! and a 280–320 byte printable payload cut from a fixed pool. `camus2kafka::testing::Sorter` gets
//! them as `SortItem`s and gives them back in order; GNU sort gets the same items as text lines
//! `<key as 16 hex digits>\t<payload>` (hex keeps the byte order under `LC_ALL=C`) and sorts them
//! stably on the first field with `-S <memory> --parallel=2`. Writing the input file is not timed;
//! GNU sort writes its output to /dev/null, the Sorter's output is iterated and checked.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camus2kafka::testing::{SortItem, Sorter};

use crate::child;

pub struct SortComparison {
    pub items: u64,
    pub payload_bytes: u64,
    pub ours: Duration,
    pub ours_spilled_bytes: u64,
    pub gnu: Duration,
    pub gnu_peak_rss: u64,
}

fn splitmix64(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A pool of printable bytes (no tab, no newline) that payloads are cut from.
fn pool() -> Vec<u8> {
    const ALPHABET: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:?=&";
    (0..1 << 16)
        .map(|i| ALPHABET[(splitmix64(i) % ALPHABET.len() as u64) as usize])
        .collect()
}

/// Item `i`: its key and its payload (a slice of the pool).
fn item(pool: &[u8], i: u64) -> (u64, &[u8]) {
    let r = splitmix64(i ^ 0x5555);
    let len = 280 + (r % 41) as usize;
    let start = (r >> 16) as usize % (pool.len() - len);
    (splitmix64(i), &pool[start..start + len])
}

pub fn compare(
    items: u64,
    memory: u64,
    memory_text: &str,
    scratch: &Path,
) -> Result<SortComparison> {
    let pool = pool();
    let tmp = scratch.join("sort-tmp");
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;

    let (ours, payload_bytes, spilled) = sorter(items, memory, &pool, &tmp)?;

    // GNU sort on the same items as text lines.
    let input = scratch.join("sort-input.tsv");
    {
        let file = std::fs::File::create(&input)
            .with_context(|| format!("cannot create {}", input.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        for i in 0..items {
            let (key, payload) = item(&pool, i);
            write!(w, "{key:016x}\t")?;
            w.write_all(payload)?;
            w.write_all(b"\n")?;
        }
        w.flush()
            .with_context(|| format!("cannot write {}", input.display()))?;
    }
    let mut command = Command::new("sort");
    command
        .env("LC_ALL", "C")
        .args([
            "-S",
            memory_text,
            "--parallel=2",
            "-t",
            "\t",
            "-k1,1",
            "-s",
            "-T",
        ])
        .arg(&tmp)
        .args(["-o", "/dev/null"])
        .arg(&input);
    // Both start with nothing dirty in the page cache (see `quiet_disk`).
    quiet_disk();
    let measured = child::run(command, scratch, "gnu-sort")
        .context("GNU sort (coreutils) is needed for the sort comparison")?;
    let _ = std::fs::remove_file(&input);
    if !measured.success {
        bail!("GNU sort failed: {}", child::last_line(&measured.stderr));
    }
    Ok(SortComparison {
        items,
        payload_bytes,
        ours,
        ours_spilled_bytes: spilled,
        gnu: measured.elapsed,
        gnu_peak_rss: measured.peak_rss,
    })
}

/// Flushes what earlier steps left dirty in the page cache, so that neither sort pays for the
/// write-back of the other's files (or of GNU sort's input, written just before it).
fn quiet_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// The Sorter half alone (`--only-sorter`), to profile it.
pub fn sorter_only(items: u64, memory: u64, scratch: &Path) -> Result<Duration> {
    let tmp = scratch.join("sort-tmp");
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    Ok(sorter(items, memory, &pool(), &tmp)?.0)
}

/// Pushes every item into a `Sorter`, then reads them all back in order and checks the order:
/// (time, payload bytes, spilled bytes).
fn sorter(items: u64, memory: u64, pool: &[u8], tmp: &Path) -> Result<(Duration, u64, u64)> {
    // Ours: push everything, then read everything back in order.
    quiet_disk();
    let start = Instant::now();
    let mut sorter = Sorter::new(memory, tmp)?;
    let mut payload_bytes = 0u64;
    for i in 0..items {
        let (key, payload) = item(pool, i);
        payload_bytes += payload.len() as u64;
        let partition = (i % 16) as u32;
        sorter.push(SortItem::new(
            &key.to_be_bytes(),
            payload,
            Some(partition),
            Some(i),
            i,
            None,
            0,
            0,
            i,
        ))?;
    }
    let sorted = sorter.finish()?;
    let spilled = sorted.spilled_bytes;
    let mut previous: Vec<u8> = Vec::new();
    let mut count = 0u64;
    for item in sorted.iter {
        let item = item?;
        if count > 0 && previous.as_slice() > item.key() {
            bail!("Sorter returned keys out of order at item {count}");
        }
        previous.clear();
        previous.extend_from_slice(item.key());
        count += 1;
    }
    drop(sorted.spill_dir);
    let ours = start.elapsed();
    if count != items {
        bail!("Sorter returned {count} of {items} items");
    }

    Ok((ours, payload_bytes, spilled))
}
