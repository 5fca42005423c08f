//! camus-sweeper's daily folders (`source.swept_days`).
//!
//! The sweeper (`CamusSweeperDatePartitionPlanner`, `CamusSweeperAvroKeyJob`) compacts a day of
//! Camus' hourly folders into `<dest subdir>/YYYY/MM/dd/part-r-NNNNN.avro` with a MapReduce job
//! whose reducer writes each distinct record once, and the hourly folders are deleted after it.
//! What is lost: the Camus file names (partition, count, offsets), so nothing says which offsets
//! a swept file holds, and duplicates the topic carried are gone. What can still be checked: the
//! records of all swept days together against the offsets the Camus history advanced that no
//! hourly file holds. That is the opt-in `replay` (said plainly, every time); `refuse` stops.
//! A swept day whose hourly folders are still there is refused in every mode: the same records
//! twice.

use std::collections::{BTreeMap, BTreeSet};

use super::findings::{Finding, Kind, Report, Severity};
use super::reconcile::finding;
use crate::identity::relative_path;
use crate::source::SourceFile;

/// The day (`YYYY/MM/dd`) of a swept file, from its relative path: `.../YYYY/MM/dd/part-r-N.avro`.
pub(crate) fn swept_day(relative: &str) -> Option<String> {
    let parts: Vec<&str> = relative.split('/').collect();
    let (name, folders) = parts.split_last()?;
    let stem = name.strip_suffix(".avro")?;
    let task = stem
        .strip_prefix("part-r-")
        .or_else(|| stem.strip_prefix("part-m-"))?;
    if task.is_empty() || !task.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match folders {
        [.., y, m, d] if is_date(y, m, d) => Some(format!("{y}/{m}/{d}")),
        _ => None,
    }
}

/// The day (`YYYY/MM/dd`) of a Camus file's folder (`.../YYYY/MM/dd/HH/...`), when it has one.
fn folder_day(relative: &str) -> Option<String> {
    let parts: Vec<&str> = relative.split('/').collect();
    let folders = &parts[..parts.len().saturating_sub(1)];
    folders
        .windows(3)
        .find(|w| is_date(w[0], w[1], w[2]))
        .map(|w| w.join("/"))
}

fn is_date(y: &str, m: &str, d: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    digits(y, 4) && digits(m, 2) && digits(d, 2)
}

/// The listing split into the files the Camus reconciliation checks and the swept ones (with
/// their days).
pub(super) fn split<'a>(
    input_dir: &str,
    files: &'a [SourceFile],
) -> (Vec<SourceFile>, Vec<(&'a SourceFile, String)>) {
    let mut hourly = Vec::new();
    let mut swept = Vec::new();
    for file in files {
        match swept_day(&relative_path(input_dir, &file.url)) {
            Some(day) if file.name.is_none() => swept.push((file, day)),
            _ => hourly.push(file.clone()),
        }
    }
    (hourly, swept)
}

/// A swept day whose Camus files are still in the tree: one error per day.
pub(super) fn days_twice(
    input_dir: &str,
    hourly: &[SourceFile],
    swept: &[(&SourceFile, String)],
) -> Vec<Finding> {
    let days: BTreeSet<&str> = swept.iter().map(|(_, day)| day.as_str()).collect();
    let mut both: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for file in hourly.iter().filter(|f| f.name.is_some()) {
        let relative = relative_path(input_dir, &file.url);
        if let Some(day) = folder_day(&relative).filter(|d| days.contains(d.as_str())) {
            let day = *days.get(day.as_str()).expect("contained");
            both.entry(day).or_default().1.push(relative);
        }
    }
    for (file, day) in swept {
        if let Some(entry) = both.get_mut(day.as_str()) {
            entry.0.push(relative_path(input_dir, &file.url));
        }
    }
    both.into_iter()
        .map(|(day, (swept, hourly))| {
            let files: Vec<String> = swept.iter().chain(&hourly).cloned().collect();
            finding(
                Severity::Error,
                Kind::Swept,
                format!(
                    "day {day} is both swept ({}) and in Camus' hourly files ({} files, e.g. \
                     {}): camus-sweeper's output holds their records, so replaying both would \
                     publish them twice. Keep one: the sweeper deletes the hourly folders once \
                     its day is written",
                    swept.join(", "),
                    hourly.len(),
                    hourly[0]
                ),
            )
            .files(files)
        })
        .collect()
}

/// `source.swept_days: refuse`: the swept files stop the run, saying why.
pub(super) fn refused(input_dir: &str, swept: &[(&SourceFile, String)]) -> Finding {
    let days: BTreeSet<&str> = swept.iter().map(|(_, day)| day.as_str()).collect();
    finding(
        Severity::Error,
        Kind::Swept,
        format!(
            "{} files of camus-sweeper's daily folders ({} days: {}) carry no Camus names: which \
             offsets they hold cannot be proven, and the sweeper already removed duplicate \
             records. Set source.swept_days: replay to replay them with only their record count \
             checked against the history",
            swept.len(),
            days.len(),
            shorten(&days.into_iter().collect::<Vec<_>>())
        ),
    )
    .files(
        swept
            .iter()
            .map(|(f, _)| relative_path(input_dir, &f.url))
            .collect(),
    )
}

fn shorten(days: &[&str]) -> String {
    match days {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] => format!("{first} to {last}"),
    }
}

/// `source.swept_days: replay`: the swept days' `records` against what the history says no
/// hourly file holds. The gaps inside the runs become what the swept days account for (their
/// findings are replaced by one saying how well); gaps between runs stay.
pub(super) fn account(report: &mut Report, swept: &[(&SourceFile, String)], records: u64) {
    let days: BTreeSet<&str> = swept.iter().map(|(_, day)| day.as_str()).collect();
    let days = format!(
        "the {} swept days ({}, {} files)",
        days.len(),
        shorten(&days.into_iter().collect::<Vec<_>>()),
        swept.len()
    );
    // The offsets each run advanced that its hourly files do not hold.
    let mut missing = 0u64;
    let mut unknown = false;
    for row in &mut report.run_rows {
        match row.advanced {
            Some(advanced) => {
                let short = advanced.saturating_sub(row.records + row.skipped);
                if short > 0 {
                    missing += short;
                    row.status = "in swept days";
                }
            }
            None => unknown = true,
        }
    }
    let within_runs = |f: &Finding| {
        f.kind == Kind::Gap
            && f.severity == Severity::Error
            && f.run.as_ref().is_some_and(|run| {
                report.run_rows.iter().any(|row| {
                    Some(row.partition) == f.partition
                        && &row.run == run
                        && row
                            .start
                            .is_none_or(|s| f.offsets.is_none_or(|o| o[0] >= s))
                })
            })
    };
    let kept: Vec<Finding> = report
        .findings
        .iter()
        .filter(|f| !within_runs(f))
        .cloned()
        .collect();
    report.findings = kept;
    let covered = report.history_dir.is_some() && !report.runs.is_empty();
    let (severity, kind, message) = if !covered {
        (
            Severity::Note,
            Kind::Unreconciled,
            format!(
                "{days} hold {records} records; there is no Camus history to count them \
                 against, so nothing about them is proven"
            ),
        )
    } else if records == missing && !unknown {
        (
            Severity::Note,
            Kind::Swept,
            format!(
                "{days} hold {records} records: exactly the offsets the history's runs advanced \
                 that no hourly file holds (none lost, no duplicate removed by the sweeper)"
            ),
        )
    } else if records < missing {
        (
            Severity::Warning,
            Kind::Swept,
            format!(
                "{days} hold {records} records, {} fewer than the {missing} offsets the \
                 history's runs advanced that no hourly file holds: the sweeper removed that \
                 many duplicates, or that many records are lost — which cannot be told \
                 (source.swept_days: replay accepts it)",
                missing - records
            ),
        )
    } else if unknown {
        (
            Severity::Note,
            Kind::Unreconciled,
            format!(
                "{days} hold {records} records, {} more than the {missing} offsets the runs \
                 with a known start advanced that no hourly file holds: the rest belong to runs \
                 whose start is not recorded, which cannot be counted",
                records - missing
            ),
        )
    } else {
        (
            Severity::Error,
            Kind::Duplicate,
            format!(
                "{days} hold {records} records, {} more than the {missing} offsets the \
                 history's runs advanced that no hourly file holds: records twice, or records \
                 of another topic",
                records - missing
            ),
        )
    };
    report.records += records;
    report.findings.push(finding(severity, kind, message));
    for row in &mut report.partitions {
        let gap_left = report
            .findings
            .iter()
            .any(|f| f.partition == Some(row.partition) && f.kind == Kind::Gap);
        if row.status == "gap" && !gap_left {
            row.status = "ok (swept days)";
        }
    }
    report.findings.sort_by_key(|f| f.severity);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swept_files_and_their_days() {
        assert_eq!(
            swept_day("daily/2024/03/10/part-r-00000.avro").as_deref(),
            Some("2024/03/10")
        );
        assert_eq!(
            swept_day("2024/03/10/part-m-00012.avro").as_deref(),
            Some("2024/03/10")
        );
        assert_eq!(swept_day("daily/2024/03/10/other.avro"), None);
        assert_eq!(swept_day("daily/2024/3/10/part-r-00000.avro"), None);
        assert_eq!(swept_day("part-r-00000.avro"), None);
        assert_eq!(
            folder_day("hourly/2024/03/10/05/T.1.0.5.5.0.avro").as_deref(),
            Some("2024/03/10")
        );
        assert_eq!(folder_day("T.1.0.5.5.0.avro"), None);
    }
}
