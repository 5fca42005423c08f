//! Which shard reads which source partitions: balanced by bytes, deterministically.

use std::collections::BTreeMap;

/// Assigns each source partition (with its bytes) to one of `shards` shards: largest partition
/// first, each to the shard holding the fewest bytes so far (the lowest index on a tie), so the
/// same archive always gives the same assignment. Returns each shard's partitions, sorted.
pub(crate) fn by_bytes(partition_bytes: &BTreeMap<u32, u64>, shards: usize) -> Vec<Vec<u32>> {
    let mut order: Vec<(u32, u64)> = partition_bytes.iter().map(|(p, b)| (*p, *b)).collect();
    // Largest first; equal sizes by partition number, so the order never depends on the map.
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut loads = vec![0u64; shards];
    let mut assigned = vec![Vec::new(); shards];
    for (partition, bytes) in order {
        let lightest = (0..shards)
            .min_by_key(|&i| (loads[i], i))
            .unwrap_or_default();
        loads[lightest] += bytes;
        assigned[lightest].push(partition);
    }
    for partitions in &mut assigned {
        partitions.sort_unstable();
    }
    assigned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_spread_by_bytes_largest_first() {
        let bytes = BTreeMap::from([(0, 100), (1, 10), (2, 60), (3, 50)]);
        // 0 (100) and then 1 (10) to shard 0; 2 (60) and 3 (50) to shard 1: 110 bytes each.
        assert_eq!(by_bytes(&bytes, 2), vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(by_bytes(&bytes, 1), vec![vec![0, 1, 2, 3]]);
        // More shards than partitions: the extra shards have nothing to do.
        assert_eq!(
            by_bytes(&bytes, 5),
            vec![vec![0], vec![2], vec![3], vec![1], vec![]]
        );
    }
}
