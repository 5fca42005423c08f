//! How much memory this machine (or the control group c2k runs in) has: `sort.memory` may not
//! be more, or the sort is killed by the kernel before it ever spills.

/// The smaller of the physical memory (`MemTotal` in `/proc/meminfo`) and the cgroup's limit,
/// in bytes; `None` where neither can be read (not Linux).
pub(crate) fn memory_bytes() -> Option<u64> {
    let physical = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text));
    // cgroup v2, then v1; "max" (v2) or a huge number (v1) means no limit.
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| std::fs::read_to_string(path).ok())
    .and_then(|text| text.trim().parse::<u64>().ok())
    .filter(|&limit| limit < 1 << 60);
    match (physical, cgroup) {
        (Some(p), Some(c)) => Some(p.min(c)),
        (p, c) => p.or(c),
    }
}

/// `MemTotal:       16318480 kB` → bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line.split_whitespace().skip(1);
    let number: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => number.checked_mul(1024),
        None => Some(number),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_bytes() {
        let meminfo = "MemTotal:       16318480 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total(meminfo), Some(16318480 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn this_machine_has_some_memory() {
        // Linux is where c2k runs and is tested.
        let bytes = memory_bytes().expect("/proc/meminfo");
        assert!(bytes > 64 << 20, "{bytes}");
    }
}
