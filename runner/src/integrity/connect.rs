//! The reconciliation of a Kafka Connect archive (`source.type: kafka-connect`) with itself.
//!
//! Each file's name says which offsets it holds, one contiguous run (see
//! [`crate::source::connect`]), so the check is exact, offset by offset: per partition, sorted by
//! first offset, every file must start right after the one before ends. An offset no file holds
//! is a gap, an offset two files hold a duplicate, each named by its offsets and files.
//! Byte-identical files named for the same offsets are copies, read once; the same name over
//! other bytes is a conflict (the Camus check's rules, [`super::reconcile::drop_copies`]).
//!
//! Files whose offsets interleave, each in its own folder (a field or record-time partitioner;
//! [`crate::source::SharedCount`]), are one unit here: their span must join the files around
//! it, and their records are counted together as they are read ([`crate::source::shared`]).
//!
//! What it cannot prove: the offsets before each partition's first file (the connector may have
//! started at the end of the topic, or retention deleted them before it ran). The cut-off the
//! offsets step commits is each partition's last offset + 1, which the names give exactly.

use std::collections::BTreeMap;

use super::contents::Digests;
use super::findings::{Finding, Kind, PartitionRow, Report, Severity};
use super::reconcile::{drop_copies, empty_report, finding, worst, Named};
use crate::identity::relative_path;
use crate::source::SourceFile;

/// Reconciles the files of a Kafka Connect archive below `input_dir`; `digests` holds the
/// content of every file whose name collides with another's.
pub(super) fn reconcile(
    topic: &str,
    input_dir: &str,
    files: &[SourceFile],
    not_regular: &[(String, &'static str)],
    digests: &Digests,
) -> Report {
    let mut report = empty_report(topic, "kafka-connect", input_dir, files.len(), not_regular);
    let mut by_partition: BTreeMap<u32, Vec<Named<'_>>> = BTreeMap::new();
    for file in files {
        let relative = relative_path(input_dir, &file.url);
        let stray = match &file.name {
            None => format!(
                "{relative}: not a Kafka Connect file name ({topic}+<partition>+<start \
                 offset>[+<end offset>].avro|json|bin), so which offsets it holds is unknown{}",
                match crate::source::CamusFileName::parse(
                    relative.rsplit('/').next().unwrap_or(&relative),
                    Some(topic)
                ) {
                    Some(_) => " — it is named as Camus names its files: set source.type: camus",
                    None => "",
                }
            ),
            Some(name) if name.topic != topic => format!(
                "{relative} is named for topic {}, not {topic}: its records are not this topic's",
                name.topic
            ),
            Some(name) => {
                by_partition.entry(name.partition).or_default().push(Named {
                    relative,
                    url: &file.url,
                    size: file.size,
                    name,
                });
                continue;
            }
        };
        report.findings.push(
            finding(Severity::Error, Kind::Stray, stray)
                .files(vec![relative_path(input_dir, &file.url)]),
        );
    }
    for (partition, named) in &by_partition {
        let unique = drop_copies(*partition, named, digests, &mut report);
        let row = check_partition(*partition, named, unique, &mut report.findings);
        report.records += row.records;
        report.partitions.push(row);
    }
    if !by_partition.is_empty() {
        report.findings.push(finding(
            Severity::Note,
            Kind::Unreconciled,
            "the offsets before each partition's first file are not in the archive and cannot be \
             checked (the connector started there, or they were deleted before it ran)"
                .to_string(),
        ));
    }
    report.findings.sort_by_key(|f| f.severity);
    report
}

/// Walks one partition's files by first offset: each must start where the one before ended.
fn check_partition(
    partition: u32,
    named: &[Named<'_>],
    mut unique: Vec<usize>,
    findings: &mut Vec<Finding>,
) -> PartitionRow {
    unique.sort_by_key(|&i| (named[i].first(), named[i].last(), i));
    // The offset after the highest one held so far, and the file holding it.
    let mut reached: Option<(i64, usize)> = None;
    for &i in &unique {
        let file = &named[i];
        if let Some((next, before)) = reached {
            if file.first() > next {
                findings.push(gap(partition, named, before, i, next));
            } else if file.first() < next && !same_group(&named[before], file) {
                findings.push(overlap(partition, named, before, i, next));
            }
        }
        if reached.is_none_or(|(next, _)| file.last() + 1 > next) {
            reached = Some((file.last() + 1, i));
        }
    }
    // Interleaved files hold their span together: it is counted once, and said.
    let mut groups = std::collections::BTreeMap::new();
    for &i in &unique {
        if let Some(shared) = &named[i].name.shared {
            groups
                .entry(shared.first)
                .or_insert_with(|| (shared, Vec::new()))
                .1
                .push(named[i].relative.clone());
        }
    }
    for (shared, files) in groups.values() {
        findings.push(
            finding(
                Severity::Note,
                Kind::Unreconciled,
                format!(
                    "partition {partition}: offsets {} to {} are interleaved over {} files in {}                      folders (a field or record-time partitioner writes them so): each file's                      count is unknown, so their records are counted together as they are read,                      and must add up to the {} offsets",
                    shared.first,
                    shared.next - 1,
                    shared.files,
                    shared.files,
                    shared.next - shared.first
                ),
            )
            .partition(partition)
            .offsets(shared.first as i64, shared.next as i64)
            .files(files.clone()),
        );
    }
    let first = unique.iter().map(|&i| named[i].first()).min();
    let last = unique.iter().map(|&i| named[i].last()).max();
    let records = unique
        .iter()
        .filter(|&&i| named[i].name.shared.is_none())
        .map(|&i| named[i].name.count)
        .sum::<u64>()
        + groups
            .values()
            .map(|(shared, _)| shared.next - shared.first)
            .sum::<u64>();
    PartitionRow {
        partition,
        first,
        last,
        files: named.len(),
        records,
        advanced: first.zip(last).map(|(a, b)| (b + 1 - a) as u64),
        cutoff: last.map(|l| l + 1),
        status: worst(&[], findings, partition),
    }
}

/// Offsets `[next, file.first())` are in no file.
fn gap(partition: u32, named: &[Named<'_>], before: usize, after: usize, next: i64) -> Finding {
    let (before, after) = (&named[before], &named[after]);
    let missing = (after.first() - next) as u64;
    finding(
        Severity::Error,
        Kind::Gap,
        format!(
            "partition {partition}: offsets {next} to {} ({missing} records) are in no file: {} \
             ends at {} and the next file, {}, starts at {} (a file is missing from the archive)",
            after.first() - 1,
            before.relative,
            before.last(),
            after.relative,
            after.first()
        ),
    )
    .partition(partition)
    .offsets(next, after.first())
    .records(missing)
    .files(vec![before.relative.clone(), after.relative.clone()])
}

/// Offsets `[file.first(), min(next, file.last() + 1))` are in two files.
fn overlap(partition: u32, named: &[Named<'_>], before: usize, after: usize, next: i64) -> Finding {
    let (before, after) = (&named[before], &named[after]);
    let to = next.min(after.last() + 1);
    finding(
        Severity::Error,
        Kind::Duplicate,
        format!(
            "partition {partition}: offsets {} to {} ({} records) are in two files, {} (offsets \
             {} to {}) and {} (offsets {} to {}): replaying both would publish them twice{}",
            after.first(),
            to - 1,
            to - after.first(),
            before.relative,
            before.first(),
            before.last(),
            after.relative,
            after.first(),
            after.last(),
            if folder(&before.relative) != folder(&after.relative) {
". Files whose offsets interleave, each in its own folder, are what Connect's field \
                 or record-time partitioner writes, and are counted together; these cannot be \
                 (two of the overlapping files share a folder, or start or end at the same \
                 offset: records twice)"
            } else {
                ""
            }
        ),
    )
    .partition(partition)
    .offsets(after.first(), to)
    .records((to - after.first()) as u64)
    .files(vec![before.relative.clone(), after.relative.clone()])
}

/// The folder part of a relative path.
fn folder(relative: &str) -> &str {
    relative.rsplit_once('/').map_or("", |(folder, _)| folder)
}

/// Whether two files are of one group of interleaved files.
fn same_group(a: &Named<'_>, b: &Named<'_>) -> bool {
    match (&a.name.shared, &b.name.shared) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}
