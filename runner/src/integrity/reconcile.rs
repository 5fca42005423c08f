//! The reconciliation itself: file names against the runs of the execution history.
//!
//! What Camus leaves makes one thing exact (it names each data file by its partition, record
//! count and the offset after its last record, and each run records where every partition
//! started and stopped): per run and partition, the record counts of the files whose last offset
//! lies in the run's range `[start, end)` add up to the offsets the run advanced, less the
//! messages its `errors-m-*` files record as undecodable. And the run's last message is in one of those files (or is one
//! of those errors): Camus's `offsets-m-*` key is the key of the last message it wrote.
//!
//! What is not exact: a file's first offset. Records of one run land in the hour folder of their
//! own time, so one file's offsets interleave with another's when events arrive late. The ranges
//! `[last + 1 - count, last]` the names suggest are therefore used only to point at the files
//! and offsets concerned once the counts disagree, never to decide that they do.

use std::collections::BTreeMap;

use super::contents::Digests;
use super::findings::{Finding, Kind, PartitionRow, Report, RunRow, Severity};
use crate::identity::relative_path;
use crate::offsets::history::RunRecord;
use crate::source::{CamusFileName, SourceFile};

/// A data file with a Camus name of the topic.
pub(super) struct Named<'a> {
    pub(super) relative: String,
    pub(super) url: &'a str,
    pub(super) size: u64,
    pub(super) name: &'a CamusFileName,
}

impl Named<'_> {
    pub(super) fn last(&self) -> i64 {
        self.name.last_offset as i64
    }
    /// The first offset if the file held one contiguous range (see the module comment).
    pub(super) fn first(&self) -> i64 {
        self.last() + 1 - self.name.count as i64
    }
}

/// One run's range for one partition.
struct Span<'r> {
    run: &'r RunRecord,
    start: Option<i64>,
    end: i64,
    files: Vec<usize>,
}

/// Reconciles `files` (below `input_dir`) with `runs` (oldest first; `None`: no history known).
/// `digests` holds the content of every file whose name collides with another's
/// ([`super::contents::namesakes`]): copies are proven by their bytes.
pub(super) fn reconcile(
    topic: &str,
    input_dir: &str,
    files: &[SourceFile],
    not_regular: &[(String, &'static str)],
    runs: Option<&[RunRecord]>,
    digests: &Digests,
) -> Report {
    let mut report = empty_report(topic, "camus", input_dir, files.len(), not_regular);
    report.runs = runs.map_or_else(Vec::new, |r| r.iter().map(|r| r.name.clone()).collect());
    let mut by_partition: BTreeMap<u32, Vec<Named<'_>>> = BTreeMap::new();
    for file in files {
        let relative = relative_path(input_dir, &file.url);
        match &file.name {
            None => report.findings.push(unparseable(topic, &relative)),
            Some(name) if name.topic != topic => report.findings.push(
                finding(
                    Severity::Error,
                    Kind::Stray,
                    format!(
                        "{relative} is named for topic {}, not {topic}: its records are not this \
                         topic's",
                        name.topic
                    ),
                )
                .files(vec![relative.clone()]),
            ),
            Some(name) => by_partition.entry(name.partition).or_default().push(Named {
                relative,
                url: &file.url,
                size: file.size,
                name,
            }),
        }
    }
    let mut partitions: Vec<u32> = by_partition.keys().copied().collect();
    if let Some(runs) = runs {
        for run in runs {
            partitions.extend(run.partitions().filter_map(|p| u32::try_from(p).ok()));
        }
    } else {
        report.findings.push(finding(
            Severity::Note,
            Kind::Unreconciled,
            "no Camus execution history (offsets.exec_dir is not set): the archive was checked \
             against itself only (copies, names), not against the offsets Camus advanced"
                .to_string(),
        ));
    }
    partitions.sort_unstable();
    partitions.dedup();
    let empty = Vec::new();
    for partition in partitions {
        let named = by_partition.get(&partition).unwrap_or(&empty);
        let unique = drop_copies(partition, named, digests, &mut report);
        let row = match runs {
            Some(runs) => reconcile_partition(partition, named, &unique, runs, &mut report),
            None => unreconciled_row(partition, named, &unique),
        };
        report.records += row.records;
        report.partitions.push(row);
    }
    report.findings.sort_by_key(|f| f.severity);
    report
}

/// A report of `files` data files below `input_dir` (written by `layout`) with nothing found
/// yet but the entries that are not regular files, each an error.
pub(super) fn empty_report(
    topic: &str,
    layout: &'static str,
    input_dir: &str,
    files: usize,
    not_regular: &[(String, &'static str)],
) -> Report {
    let mut report = Report {
        topic: topic.to_string(),
        layout,
        input_dir: input_dir.to_string(),
        history_dir: None,
        runs: Vec::new(),
        files,
        records: 0,
        partitions: Vec::new(),
        run_rows: Vec::new(),
        findings: Vec::new(),
        cutoff_beyond_data: Vec::new(),
        copies_to_skip: Vec::new(),
    };
    for (url, kind) in not_regular {
        let relative = relative_path(input_dir, url);
        report.findings.push(
            finding(
                Severity::Error,
                Kind::Stray,
                format!("{relative} is {kind}: no data file can be read from it"),
            )
            .files(vec![relative]),
        );
    }
    report
}

/// Files sharing a partition and a last offset: the same offsets twice. Copies (same count and
/// size, and the same bytes) are read once and reported; the same name over other bytes is a
/// conflict; anything else is a duplicate. Returns the indexes of the files to count.
pub(super) fn drop_copies(
    partition: u32,
    named: &[Named<'_>],
    digests: &Digests,
    report: &mut Report,
) -> Vec<usize> {
    let mut by_last: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, file) in named.iter().enumerate() {
        by_last.entry(file.last()).or_default().push(i);
    }
    let mut unique = Vec::new();
    for (last, group) in by_last {
        if group.len() == 1 {
            unique.push(group[0]);
            continue;
        }
        let first = &named[group[0]];
        let same_names = group
            .iter()
            .all(|&i| named[i].name.count == first.name.count && named[i].size == first.size);
        let finding = if same_names {
            match compare(named, &group, digests) {
                Compared::Same => {
                    unique.push(group[0]);
                    report
                        .copies_to_skip
                        .extend(group[1..].iter().map(|&i| named[i].url.to_string()));
                    report.findings.push(copies(partition, named, &group, last));
                    continue;
                }
                Compared::Differ(shown) => conflict(partition, named, &group, last, &shown),
                Compared::Unreadable(i, why) => unreadable(partition, named, &group, i, &why),
            }
        } else {
            duplicate_names(partition, named, &group, last)
        };
        // Both are read: `source.integrity: warn` publishes what the archive holds.
        unique.extend(group.iter().copied());
        report.findings.push(finding);
    }
    unique
}

/// What the bytes of a group of namesakes say.
enum Compared {
    Same,
    /// Each file with the start of its SHA-256.
    Differ(Vec<String>),
    /// The group's `i`-th file could not be read, and why.
    Unreadable(usize, String),
}

fn compare(named: &[Named<'_>], group: &[usize], digests: &Digests) -> Compared {
    let mut seen = Vec::new();
    for &i in group {
        match digests.get(named[i].url) {
            Some(Ok(digest)) => seen.push((i, digest)),
            Some(Err(why)) => return Compared::Unreadable(i, why.clone()),
            None => {
                return Compared::Unreadable(i, "its content was not read to compare".to_string())
            }
        }
    }
    if seen.windows(2).all(|pair| pair[0].1 == pair[1].1) {
        return Compared::Same;
    }
    Compared::Differ(
        seen.iter()
            .map(|(i, digest)| format!("{} (sha256 {})", named[*i].relative, hex8(digest)))
            .collect(),
    )
}

/// The first 8 bytes of a digest in hex: enough to tell files apart in a message.
fn hex8(digest: &[u8; 32]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn listed(named: &[Named<'_>], group: &[usize]) -> Vec<String> {
    group.iter().map(|&i| named[i].relative.clone()).collect()
}

/// Byte-identical copies: read once, from the first.
fn copies(partition: u32, named: &[Named<'_>], group: &[usize], last: i64) -> Finding {
    let first = &named[group[0]];
    let extra = group.len() as u64 - 1;
    finding(
        Severity::Warning,
        Kind::Copy,
        format!(
            "{} identical copies of partition {partition}'s file with {} records ending at \
             offset {last} (same count, last offset and bytes: what a retried or re-moved Camus \
             run leaves): read once, from {}; {} records are not read twice",
            group.len(),
            first.name.count,
            first.relative,
            extra * first.name.count
        ),
    )
    .partition(partition)
    .offsets(first.first(), last + 1)
    .records(extra * first.name.count)
    .files(listed(named, group))
}

/// Files named for the same records, of the same size, whose bytes differ: which one holds the
/// archived records cannot be told.
fn conflict(
    partition: u32,
    named: &[Named<'_>],
    group: &[usize],
    last: i64,
    shown: &[String],
) -> Finding {
    let first = &named[group[0]];
    finding(
        Severity::Error,
        Kind::Conflict,
        format!(
            "{} files of partition {partition} are named for the same {} records ending at \
             offset {last}, with the same size ({} bytes), but their contents differ: {}. They \
             are not copies, and which holds the archived records cannot be told: keep the \
             right one and move the other out of the archive",
            group.len(),
            first.name.count,
            first.size,
            shown.join(" vs ")
        ),
    )
    .partition(partition)
    .offsets(first.first(), last + 1)
    .records(first.name.count)
    .files(listed(named, group))
}

/// A namesake that could not be read to compare: whether it is a copy cannot be told.
fn unreadable(
    partition: u32,
    named: &[Named<'_>],
    group: &[usize],
    which: usize,
    why: &str,
) -> Finding {
    let first = &named[group[0]];
    finding(
        Severity::Error,
        Kind::Damaged,
        format!(
            "{} is named for the same records as {} (partition {partition}, {} records ending at \
             offset {}), but it cannot be read to tell whether it is a copy: {why}",
            named[which].relative,
            group
                .iter()
                .filter(|&&i| i != which)
                .map(|&i| named[i].relative.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            first.name.count,
            first.last()
        ),
    )
    .partition(partition)
    .files(listed(named, group))
}

/// Files ending at the same offset with other counts or sizes: some of the same records.
fn duplicate_names(partition: u32, named: &[Named<'_>], group: &[usize], last: i64) -> Finding {
    let counts: Vec<String> = group
        .iter()
        .map(|&i| format!("{} records, {} bytes", named[i].name.count, named[i].size))
        .collect();
    finding(
        Severity::Error,
        Kind::Duplicate,
        format!(
            "{} files of partition {partition} end at the same offset {last} but differ ({}): \
             they hold some of the same records, and which ones cannot be told",
            group.len(),
            counts.join(" vs ")
        ),
    )
    .partition(partition)
    .offsets(
        group
            .iter()
            .map(|&i| named[i].first())
            .min()
            .unwrap_or(last),
        last + 1,
    )
    .files(listed(named, group))
}

fn reconcile_partition(
    partition: u32,
    named: &[Named<'_>],
    unique: &[usize],
    runs: &[RunRecord],
    report: &mut Report,
) -> PartitionRow {
    let mut spans = run_spans(partition, runs, report);
    place_files(partition, named, unique, &mut spans, report);
    let mut all_known = !spans.is_empty();
    let mut advanced_total = 0u64;
    let mut statuses = Vec::new();
    for span in &spans {
        let row = check_span(partition, span, named, report);
        match row.advanced {
            Some(a) => advanced_total += a,
            None => all_known = false,
        }
        statuses.push(row.status);
        report.run_rows.push(row);
    }
    let cutoff = cutoff_on_data(partition, named, unique, runs, report);
    let counted: Vec<&Named<'_>> = unique.iter().map(|&i| &named[i]).collect();
    let status = worst(&statuses, &report.findings, partition);
    PartitionRow {
        partition,
        first: counted.iter().map(|f| f.first()).min(),
        last: counted.iter().map(|f| f.last()).max(),
        files: named.len(),
        records: counted.iter().map(|f| f.name.count).sum(),
        advanced: all_known.then_some(advanced_total),
        cutoff,
        status,
    }
}

/// Each run's span of `partition`, oldest first, with the gaps and duplicates between runs (and
/// a run that goes backwards) reported.
fn run_spans<'r>(partition: u32, runs: &'r [RunRecord], report: &mut Report) -> Vec<Span<'r>> {
    let p = partition as i32;
    let mut spans: Vec<Span<'r>> = Vec::new();
    let mut previous_end: Option<i64> = None;
    for run in runs {
        let Some(end) = run.end(p) else {
            continue;
        };
        let recorded_start = run.started.get(&p).copied();
        if let (Some(start), Some(before)) = (recorded_start, previous_end) {
            if start > before {
                report.findings.push(
                    finding(
                        Severity::Error,
                        Kind::Gap,
                        format!(
                            "partition {partition}: run {} started at offset {start}, but the \
                             previous run stopped at {before}: offsets {before}..{start} were \
                             never archived (Camus moves to the earliest offset when Kafka's \
                             retention deleted where it was)",
                            run.name
                        ),
                    )
                    .partition(partition)
                    .run(&run.name)
                    .offsets(before, start)
                    .records((start - before) as u64),
                );
            } else if start < before {
                report.findings.push(
                    finding(
                        Severity::Error,
                        Kind::Duplicate,
                        format!(
                            "partition {partition}: run {} started at offset {start}, before the \
                             previous run's end {before}: offsets {start}..{before} were pulled \
                             twice",
                            run.name
                        ),
                    )
                    .partition(partition)
                    .run(&run.name)
                    .offsets(start, before)
                    .records((before - start) as u64),
                );
            }
        }
        let start = recorded_start.or(previous_end);
        if let Some(start) = start.filter(|&s| end < s) {
            report.findings.push(
                finding(
                    Severity::Error,
                    Kind::Duplicate,
                    format!(
                        "partition {partition}: run {} stopped at offset {end}, before where it \
                         started ({start}): the history goes backwards, and consumers resuming \
                         from it would read offsets {end}..{start} again",
                        run.name
                    ),
                )
                .partition(partition)
                .run(&run.name)
                .offsets(end, start)
                .records((start - end) as u64),
            );
        }
        spans.push(Span {
            run,
            start,
            end,
            files: Vec::new(),
        });
        previous_end = Some(previous_end.map_or(end, |before| before.max(end)));
    }

    spans
}

/// Gives each of the partition's files (`unique`: copies left out) the run whose span holds its
/// last offset; a file no run accounts for is a stray, one older than the oldest run kept is
/// noted as checked for copies only.
fn place_files(
    partition: u32,
    named: &[Named<'_>],
    unique: &[usize],
    spans: &mut [Span<'_>],
    report: &mut Report,
) {
    let mut before_history = Vec::new();
    for &i in unique {
        let last = named[i].last();
        let mut floor = i64::MIN;
        let home = spans.iter_mut().find(|span| {
            let lower = span.start.unwrap_or(floor);
            floor = floor.max(span.end);
            lower <= last && last < span.end
        });
        match home {
            Some(span) => span.files.push(i),
            None => {
                let file = &named[i];
                match (spans.first(), spans.last()) {
                    (None, _) => report.findings.push(
                        finding(
                            Severity::Error,
                            Kind::Stray,
                            format!(
                                "{}: partition {partition} is in no run of the Camus history, so \
                                 no offset would be committed for it and its records cannot be \
                                 accounted for",
                                file.relative
                            ),
                        )
                        .partition(partition)
                        .records(file.name.count)
                        .files(vec![file.relative.clone()]),
                    ),
                    (_, Some(newest)) if last >= newest.end => report.findings.push(
                        finding(
                            Severity::Error,
                            Kind::Stray,
                            format!(
                                "{}: its last offset {last} is beyond where the newest run ({}) \
                                 stopped partition {partition} ({}): no run accounts for it (a \
                                 Camus run that failed after moving its files?), and consumers \
                                 resuming the live topic at {} would read its records again",
                                file.relative, newest.run.name, newest.end, newest.end
                            ),
                        )
                        .partition(partition)
                        .run(&newest.run.name)
                        .offsets(file.first(), last + 1)
                        .records(file.name.count)
                        .files(vec![file.relative.clone()]),
                    ),
                    (Some(oldest), _) if oldest.start.is_some_and(|s| last < s) => {
                        before_history.push(i)
                    }
                    _ => report.findings.push(
                        finding(
                            Severity::Error,
                            Kind::Stray,
                            format!(
                                "{}: its last offset {last} lies in no run's range of partition \
                                 {partition}: no run accounts for it",
                                file.relative
                            ),
                        )
                        .partition(partition)
                        .offsets(file.first(), last + 1)
                        .records(file.name.count)
                        .files(vec![file.relative.clone()]),
                    ),
                }
            }
        }
    }
    if !before_history.is_empty() {
        let records: u64 = before_history.iter().map(|&i| named[i].name.count).sum();
        report.findings.push(
            finding(
                Severity::Note,
                Kind::Unreconciled,
                format!(
                    "partition {partition}: {} files ({records} records) end before the oldest \
                     run the history keeps starts ({}): Camus deleted those runs' folders, so \
                     these files were checked for copies only",
                    before_history.len(),
                    spans[0].start.unwrap_or_default()
                ),
            )
            .partition(partition)
            .records(records)
            .files(
                before_history
                    .iter()
                    .map(|&i| named[i].relative.clone())
                    .collect(),
            ),
        );
    }
}

/// The newest run's cut-off of `partition`, recorded in `report` as beyond the data when the
/// archive does not reach it.
fn cutoff_on_data(
    partition: u32,
    named: &[Named<'_>],
    unique: &[usize],
    runs: &[RunRecord],
    report: &mut Report,
) -> Option<i64> {
    let p = partition as i32;
    // The offsets step commits the newest run folder's offsets: they must stand on data. The
    // archive holds a partition up to one past its last record (or recorded error), or up to
    // where Camus first started it if it never archived anything.
    let cutoff = runs.last().and_then(|newest| newest.end(p));
    let held = unique
        .iter()
        .map(|&i| named[i].last() + 1)
        .chain(
            runs.iter()
                .filter_map(|r| r.errors.get(&p)?.last().map(|e| e + 1)),
        )
        .chain(runs.iter().find_map(|r| r.started.get(&p).copied()))
        .max();
    if let Some(cutoff) = cutoff {
        if held.is_none_or(|held| held < cutoff) {
            report.cutoff_beyond_data.push(partition);
        }
    }

    cutoff
}

/// Counts one run's files for the partition against the offsets it advanced, and checks that its
/// newest offsets are held.
fn check_span(partition: u32, span: &Span<'_>, named: &[Named<'_>], report: &mut Report) -> RunRow {
    let count = count_span(partition, span, named);
    let SpanCount {
        records,
        skipped,
        found,
        held,
        ..
    } = count;
    let advanced = span.start.map(|s| (span.end - s).max(0) as u64);
    let mut status = "ok";
    let run = &span.run.name;
    if skipped > 0 {
        report.findings.push(
            finding(
                Severity::Note,
                Kind::Skipped,
                format!(
                    "partition {partition}, run {run}: {skipped} messages Camus could not decode \
                     (their keys are in the run's errors-m-* files): they are in no data file \
                     and are not replayed"
                ),
            )
            .partition(partition)
            .run(run)
            .records(skipped),
        );
    }
    match advanced {
        None => {
            status = "start unknown";
            report.findings.push(
                finding(
                    Severity::Note,
                    Kind::Unreconciled,
                    format!(
                        "partition {partition}, run {run}: where the run started is not recorded \
                         (no offsets-previous entry: the partition's first run), so its {records} \
                         records were not counted against the offsets it advanced; its end was \
                         checked"
                    ),
                )
                .partition(partition)
                .run(run),
            );
        }
        Some(advanced) if found > advanced => {
            status = "duplicate";
            let finding = duplicate_in_run(partition, span, named, &count, advanced);
            report.findings.push(finding);
        }
        Some(advanced) if found < advanced => {
            status = "gap";
            report
                .findings
                .push(gap_in_run(partition, span, named, &count, advanced));
        }
        Some(_) => {}
    }
    // The counts may balance while the newest offsets are missing (a duplicate elsewhere in the
    // run making up for them), and a run whose start is unknown can only be checked here.
    let advanced_any = span.start.is_none_or(|s| span.end > s);
    if status != "gap" && advanced_any && held.is_none_or(|h| h < span.end) {
        status = "gap";
        report
            .findings
            .push(newest_missing(partition, span, &count));
    }
    RunRow {
        partition,
        run: run.clone(),
        start: span.start,
        end: span.end,
        files: span.files.len(),
        records,
        skipped,
        advanced,
        first: span.files.iter().map(|&i| named[i].first()).min(),
        last: span.files.iter().map(|&i| named[i].last()).max(),
        status,
    }
}

/// What a run's span of a partition holds: its recorded errors, the files' records, and where
/// the files end.
struct SpanCount {
    /// Offsets Camus recorded as undecodable within the span.
    errors: Vec<i64>,
    records: u64,
    skipped: u64,
    /// Records plus skipped: what the offsets advanced should equal.
    found: u64,
    /// The span's files, by relative path.
    listed: Vec<String>,
    /// One past the last offset the files (or errors) hold.
    held: Option<i64>,
}

fn count_span(partition: u32, span: &Span<'_>, named: &[Named<'_>]) -> SpanCount {
    let errors: Vec<i64> = span
        .run
        .errors
        .get(&(partition as i32))
        .map(|all| {
            all.iter()
                .copied()
                .filter(|&o| span.start.is_none_or(|s| o >= s) && o < span.end)
                .collect()
        })
        .unwrap_or_default();
    let records: u64 = span.files.iter().map(|&i| named[i].name.count).sum();
    let skipped = errors.len() as u64;
    let found = records + skipped;
    let listed: Vec<String> = span
        .files
        .iter()
        .map(|&i| named[i].relative.clone())
        .collect();
    let held = span
        .files
        .iter()
        .map(|&i| named[i].last() + 1)
        .chain(errors.iter().map(|e| e + 1))
        .max();
    SpanCount {
        errors,
        records,
        skipped,
        found,
        listed,
        held,
    }
}

/// A run whose files hold more records than it advanced offsets: the files whose ranges overlap.
fn duplicate_in_run(
    partition: u32,
    span: &Span<'_>,
    named: &[Named<'_>],
    count: &SpanCount,
    advanced: u64,
) -> Finding {
    let SpanCount {
        records,
        skipped,
        found,
        listed,
        ..
    } = count;
    let (records, skipped, found) = (*records, *skipped, *found);
    let run = &span.run.name;
    let suspects = overlapping(span, named);
    let files = if suspects.is_empty() {
        listed.clone()
    } else {
        suspects
    };
    finding(
        Severity::Error,
        Kind::Duplicate,
        format!(
            "partition {partition}, run {run}: the run advanced {advanced} offsets \
             ({}..{}) but its files hold {records} records{}: {} records are there \
             twice; files whose offset ranges overlap: {}",
            span.start.unwrap_or_default(),
            span.end,
            if skipped > 0 {
                format!(" (and {skipped} were recorded as undecodable)")
            } else {
                String::new()
            },
            found - advanced,
            files.join(", ")
        ),
    )
    .partition(partition)
    .run(run)
    .offsets(span.start.unwrap_or_default(), span.end)
    .records(found - advanced)
    .files(files)
}

/// A run whose files hold fewer records than it advanced offsets: the ranges no file covers.
fn gap_in_run(
    partition: u32,
    span: &Span<'_>,
    named: &[Named<'_>],
    count: &SpanCount,
    advanced: u64,
) -> Finding {
    let SpanCount {
        errors,
        records,
        skipped,
        found,
        listed,
        held,
        ..
    } = count;
    let (records, skipped, found, held) = (*records, *skipped, *found, *held);
    let run = &span.run.name;
    let start = span.start.unwrap_or_default();
    let holes = holes(span, named, errors, start);
    let missing = advanced - found;
    let at_end = held.is_none_or(|h| h < span.end);
    let shown: Vec<String> = holes
        .iter()
        .take(5)
        .map(|(a, b)| format!("{a}..{b}"))
        .collect();
    finding(
        Severity::Error,
        Kind::Gap,
        format!(
            "partition {partition}, run {run}: the run advanced {advanced} offsets \
             ({start}..{}) but its files hold {records} records{}: {missing} are in \
             no data file{}; no file's name covers offsets {}{}. A data file is \
             missing — or, if the topic is compacted or Camus skipped messages \
             without a record (too old for kafka.max.historical.days, undecodable \
             beyond max.decoder.exceptions.to.print), these offsets hold nothing: \
             Camus's own records cannot tell which",
            span.end,
            if skipped > 0 {
                format!(" and {skipped} were recorded as undecodable")
            } else {
                String::new()
            },
            if at_end {
                format!(
                    ", among them the run's newest offsets (its files end at {}, the \
                     run stopped at {})",
                    held.map_or("nothing".to_string(), |h| h.to_string()),
                    span.end
                )
            } else {
                String::new()
            },
            if shown.is_empty() {
                "(none: the files' ranges interleave)".to_string()
            } else {
                shown.join(", ")
            },
            if holes.len() > shown.len() {
                format!(" and {} more ranges", holes.len() - shown.len())
            } else {
                String::new()
            }
        ),
    )
    .partition(partition)
    .run(run)
    .offsets(
        holes.first().map_or(start, |h| h.0),
        holes.last().map_or(span.end, |h| h.1),
    )
    .records(missing)
    .files(listed.clone())
}

/// A run whose files end before it stopped: the file of its newest records is missing.
fn newest_missing(partition: u32, span: &Span<'_>, count: &SpanCount) -> Finding {
    let SpanCount { listed, held, .. } = count;
    let held = *held;
    let run = &span.run.name;
    let from = held.unwrap_or(span.start.unwrap_or(span.end));
    finding(
        Severity::Error,
        Kind::Gap,
        format!(
            "partition {partition}, run {run}: the run stopped at offset {}, but its \
             files end at {}: the file holding its newest records is missing",
            span.end,
            held.map_or("nothing".to_string(), |h| h.to_string())
        ),
    )
    .partition(partition)
    .run(run)
    .offsets(from, span.end)
    .records((span.end - from).max(0) as u64)
    .files(listed.clone())
}

/// The span's files whose name ranges overlap another's.
fn overlapping(span: &Span<'_>, named: &[Named<'_>]) -> Vec<String> {
    let mut ranges: Vec<(i64, i64, usize)> = span
        .files
        .iter()
        .map(|&i| (named[i].first(), named[i].last(), i))
        .collect();
    ranges.sort_unstable();
    let mut hit = vec![false; ranges.len()];
    let mut reach: Option<(i64, usize)> = None;
    for (k, &(first, last, _)) in ranges.iter().enumerate() {
        if let Some((end, owner)) = reach {
            if first <= end {
                hit[k] = true;
                hit[owner] = true;
            }
        }
        if reach.is_none_or(|(end, _)| last > end) {
            reach = Some((last, k));
        }
    }
    ranges
        .iter()
        .zip(hit)
        .filter(|(_, h)| *h)
        .map(|((_, _, i), _)| named[*i].relative.clone())
        .collect()
}

/// The ranges of `[start, end)` that no file name and no recorded error covers.
fn holes(span: &Span<'_>, named: &[Named<'_>], errors: &[i64], start: i64) -> Vec<(i64, i64)> {
    let mut covered: Vec<(i64, i64)> = span
        .files
        .iter()
        .map(|&i| (named[i].first(), named[i].last() + 1))
        .chain(errors.iter().map(|&e| (e, e + 1)))
        .collect();
    covered.sort_unstable();
    let mut holes = Vec::new();
    let mut at = start;
    for (from, to) in covered {
        if from > at {
            holes.push((at, from.min(span.end)));
        }
        at = at.max(to);
        if at >= span.end {
            break;
        }
    }
    if at < span.end {
        holes.push((at, span.end));
    }
    holes.retain(|(a, b)| a < b);
    holes
}

fn unreconciled_row(partition: u32, named: &[Named<'_>], unique: &[usize]) -> PartitionRow {
    let counted: Vec<&Named<'_>> = unique.iter().map(|&i| &named[i]).collect();
    PartitionRow {
        partition,
        first: counted.iter().map(|f| f.first()).min(),
        last: counted.iter().map(|f| f.last()).max(),
        files: named.len(),
        records: counted.iter().map(|f| f.name.count).sum(),
        advanced: None,
        cutoff: None,
        status: "no history",
    }
}

/// The partition's status: the worst of its runs' and of its findings'.
pub(super) fn worst(
    run_statuses: &[&'static str],
    findings: &[Finding],
    partition: u32,
) -> &'static str {
    let mine = || {
        findings
            .iter()
            .filter(move |f| f.partition == Some(partition))
    };
    for kind in [
        Kind::Gap,
        // Before duplicate: a conflict's files are both counted, so the run counts too many.
        Kind::Conflict,
        Kind::Duplicate,
        Kind::Damaged,
        Kind::Stray,
    ] {
        if mine().any(|f| f.kind == kind && f.severity == Severity::Error) {
            return kind.label();
        }
    }
    if mine().any(|f| f.kind == Kind::Copy) {
        return "copies read once";
    }
    if run_statuses.contains(&"start unknown") {
        return "start unknown";
    }
    "ok"
}

/// A data file whose name is not a Camus name of the topic: nothing says which offsets it
/// holds. `TopicGroupingPartitioner` writes `0` where the offset goes, which is such a name.
fn unparseable(topic: &str, relative: &str) -> Finding {
    let file_name = relative.rsplit('/').next().unwrap_or(relative);
    let grouping = file_name
        .strip_suffix(".avro")
        .map(|stem| stem.split('.').collect::<Vec<_>>())
        .is_some_and(|parts| parts.len() >= 5 && parts[parts.len() - 2] == "0");
    finding(
        Severity::Error,
        Kind::Stray,
        format!(
            "{relative}: not a Camus data file name ({topic}.<leader>.<partition>.<count>.<next \
             offset>[.<bucket>].avro){}",
            if grouping {
                " — its offset field is 0, as Camus's TopicGroupingPartitioner writes: such \
                 trees carry no offsets to check (source.integrity: warn replays them)"
            } else if crate::source::connect::ConnectName::parse(file_name).is_some() {
                ", but named as Kafka Connect's sinks name their files: set source.type: \
                 kafka-connect"
            } else {
                ", so its records cannot be accounted for against the history"
            }
        ),
    )
    .files(vec![relative.to_string()])
}

pub(super) fn finding(severity: Severity, kind: Kind, message: String) -> Finding {
    Finding {
        severity,
        kind,
        partition: None,
        run: None,
        offsets: None,
        records: None,
        files: Vec::new(),
        message,
    }
}

impl Finding {
    pub(super) fn partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }
    pub(super) fn run(mut self, run: &str) -> Self {
        self.run = Some(run.to_string());
        self
    }
    pub(super) fn offsets(mut self, from: i64, to: i64) -> Self {
        self.offsets = Some([from, to]);
        self
    }
    pub(super) fn records(mut self, records: u64) -> Self {
        self.records = Some(records);
        self
    }
    pub(super) fn files(mut self, files: Vec<String>) -> Self {
        self.files = files;
        self
    }
}
