//! The execution history `c2k sample` writes next to its data: two Camus runs, as Camus leaves
//! them under `<exec_dir>/base/history/<run>/`, so the demo's offsets step has something real to
//! read.
//!
//! The older run stopped at the end of the middle hour's file of each partition (a run writes
//! whole files); the newest one at the end of the data
//! (`offset` = last offset written + 1, the next one to read). Each run has one `offsets-m-*`
//! file per map task (partitions dealt round-robin over two tasks) and an `offsets-previous` with
//! the offsets it started from. Files are byte-for-byte reproducible (fixed sync markers).

use std::path::Path;

use anyhow::{Context, Result};

use crate::hadoop::compression::Codec;
use crate::hadoop::sequencefile::{Compression, SequenceFileWriter};
use crate::offsets::etlkey::{self, EtlKey, Layout};

/// Where the sample's Camus run stopped for one partition.
#[derive(Debug, Clone)]
pub struct SampleCutoff {
    pub partition: u32,
    pub leader: i32,
    /// First offset written for the partition.
    pub first_offset: u64,
    /// Last offset written for the partition.
    pub last_offset: u64,
    /// Event time (ms) of the last record written.
    pub time_ms: i64,
    /// One past the last offset of each file written for the partition, in offset order.
    pub file_ends: Vec<u64>,
}

const NULL_WRITABLE: &str = "org.apache.hadoop.io.NullWritable";

/// Writes `exec_dir/base/history/<run>/offsets-*` for two runs consistent with the cut-offs.
pub fn write(exec_dir: &Path, topic: &str, cutoffs: &[SampleCutoff]) -> Result<()> {
    let last_time = cutoffs.iter().map(|c| c.time_ms).max().unwrap_or(0);
    let history = exec_dir.join("base").join("history");
    // Camus runs start a little after the data they read ends.
    let newest = history.join(run_name(last_time + 10 * 60_000));
    let older = history.join(run_name(last_time - 3 * 3_600_000));

    let start = |c: &SampleCutoff| c.first_offset as i64;
    // A run writes whole files: the older one stopped where the file of the middle hour ends.
    let halfway = |c: &SampleCutoff| match c.file_ends.len() {
        0 | 1 => c.first_offset as i64,
        n => c.file_ends[n / 2 - 1] as i64,
    };
    let end = |c: &SampleCutoff| c.last_offset as i64 + 1;

    write_run(&older, topic, cutoffs, start, halfway, Compression::None)?;
    write_run(
        &newest,
        topic,
        cutoffs,
        halfway,
        end,
        Compression::Block(Codec::Deflate),
    )?;
    Ok(())
}

fn write_run(
    dir: &Path,
    topic: &str,
    cutoffs: &[SampleCutoff],
    from: impl Fn(&SampleCutoff) -> i64,
    to: impl Fn(&SampleCutoff) -> i64,
    compression: Compression,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = |c: &SampleCutoff, begin: i64, offset: i64| EtlKey {
        leader_id: c.leader.to_string(),
        partition: c.partition as i32,
        begin_offset: begin,
        offset,
        checksum: 0,
        topic: topic.to_string(),
        time: c.time_ms,
        server: "server".into(),
        service: "service".into(),
        layout: Layout::WithPartitionMap,
        partition_map: Some(vec![
            ("server".into(), "server".into()),
            ("service".into(), "service".into()),
        ]),
    };
    let previous: Vec<EtlKey> = cutoffs.iter().map(|c| key(c, 0, from(c))).collect();
    write_file(&dir.join("offsets-previous"), &previous, Compression::None)?;
    for task in 0..2usize {
        let keys: Vec<EtlKey> = cutoffs
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == task)
            .map(|(_, c)| key(c, from(c), to(c)))
            .collect();
        write_file(
            &dir.join(format!("offsets-m-{task:05}")),
            &keys,
            compression,
        )?;
    }
    Ok(())
}

fn write_file(path: &Path, keys: &[EtlKey], compression: Compression) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    // From the run folder and file name only, so that the same sample written elsewhere is
    // byte-identical.
    let run_and_name: Vec<String> = path
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut sync = [0u8; 16];
    for (i, b) in run_and_name.concat().bytes().enumerate() {
        sync[i % 16] = sync[i % 16].wrapping_mul(31).wrapping_add(b);
    }
    let mut writer = SequenceFileWriter::new(
        std::io::BufWriter::new(file),
        etlkey::CLASS_NAME,
        NULL_WRITABLE,
        compression,
        &[],
        sync,
    )?;
    for key in keys {
        writer.append(&key.encode(), &[])?;
    }
    writer
        .finish()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Camus's run folder name for a time: `YYYY-MM-dd-HH-mm-ss` (UTC).
pub(crate) fn run_name(time_ms: i64) -> String {
    let secs = time_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::utc::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}-{:02}-{:02}-{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::history;

    #[test]
    fn run_names_are_camus_timestamps() {
        assert_eq!(run_name(0), "1970-01-01-00-00-00");
        assert_eq!(run_name(1_705_312_800_000), "2024-01-15-10-00-00");
    }

    #[test]
    fn the_newest_run_resumes_after_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let cutoffs: Vec<SampleCutoff> = (0..3)
            .map(|p| SampleCutoff {
                partition: p,
                leader: 1,
                first_offset: 0,
                last_offset: 99 + p as u64,
                time_ms: 1_705_312_800_000,
                file_ends: vec![50, 100 + p as u64],
            })
            .collect();
        write(dir.path(), "PAGE_VIEWS", &cutoffs).unwrap();
        let history_dir = dir.path().join("base/history");
        let runs = std::fs::read_dir(&history_dir).unwrap().count();
        assert_eq!(runs, 2);
        let run = history::latest_run(history_dir.to_str().unwrap(), "PAGE_VIEWS").unwrap();
        let got: Vec<(i32, i64)> = run
            .partitions
            .iter()
            .map(|p| (p.partition, p.offset))
            .collect();
        assert_eq!(got, vec![(0, 100), (1, 101), (2, 102)]);
        assert!(run.run_dir.ends_with("2024-01-15-10-10-00"));
    }
}
