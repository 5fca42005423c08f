//! The reconciliation on hand-made names and runs: each kind of damage, and the interleaved
//! files real Camus writes that must not look like damage.

use std::collections::BTreeMap;

use super::contents::namesakes;
use super::findings::{Kind, Report, Severity};
use super::reconcile::reconcile;
use crate::offsets::history::RunRecord;
use crate::source::{CamusFileName, SourceFile};

const DIR: &str = "/archive/T";

/// `hour/T.1.<partition>.<count>.<next offset>.avro`.
fn file(hour: &str, partition: u32, count: u64, next: u64) -> SourceFile {
    let name = format!("T.1.{partition}.{count}.{next}.0.avro");
    SourceFile {
        url: format!("{DIR}/{hour}/{name}"),
        size: count * 10,
        name: CamusFileName::parse(&name, Some("T")),
    }
}

fn run(name: &str, started: &[(i32, i64)], stopped: &[(i32, i64)]) -> RunRecord {
    RunRecord {
        name: name.to_string(),
        started: started.iter().copied().collect(),
        stopped: stopped.iter().copied().collect(),
        errors: BTreeMap::new(),
        ..RunRecord::default()
    }
}

/// Two runs over partitions 0 and 1: run 1 reads 0..300 of p0 and 1000..1200 of p1, run 2
/// goes on to 600 and 1400. Partition 0's files interleave (late events of hour 01 went to 00).
fn consistent() -> (Vec<SourceFile>, Vec<RunRecord>) {
    let files = vec![
        // run 1, p0: 300 records in two files whose ranges overlap (interleaved offsets).
        file("00", 0, 200, 260),
        file("01", 0, 100, 300),
        // run 2, p0
        file("01", 0, 150, 450),
        file("02", 0, 150, 600),
        // p1
        file("00", 1, 200, 1200),
        file("02", 1, 200, 1400),
    ];
    let runs = vec![
        run(
            "2024-01-01-01-00-00",
            &[(0, 0), (1, 1000)],
            &[(0, 300), (1, 1200)],
        ),
        run(
            "2024-01-01-03-00-00",
            &[(0, 300), (1, 1200)],
            &[(0, 600), (1, 1400)],
        ),
    ];
    (files, runs)
}

/// Reconciles with every namesake holding the same bytes (true copies).
fn check(files: &[SourceFile], runs: Option<&[RunRecord]>) -> Report {
    check_with(files, runs, |_| Ok([0; 32]))
}

/// Reconciles with the namesakes' contents given by `content` (by URL).
fn check_with(
    files: &[SourceFile],
    runs: Option<&[RunRecord]>,
    content: impl Fn(&str) -> Result<[u8; 32], String>,
) -> Report {
    let digests = namesakes("T", files)
        .into_iter()
        .map(|f| (f.url.clone(), content(&f.url)))
        .collect();
    reconcile("T", DIR, files, &[], runs, &digests)
}

/// A copy of `file("05", 0, 150, 600)` under another leader id.
fn namesake_of_p0_newest() -> SourceFile {
    let mut copy = file("05", 0, 150, 600);
    copy.url = format!("{DIR}/05/T.7.0.150.600.0.avro");
    copy.name = CamusFileName::parse("T.7.0.150.600.0.avro", Some("T"));
    copy
}

fn errors(report: &Report, kind: Kind) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.kind == kind)
        .map(|f| f.message.clone())
        .collect()
}

#[test]
fn a_consistent_archive_with_interleaved_files_verifies_clean() {
    let (files, runs) = consistent();
    let report = check(&files, Some(&runs));
    assert!(report.is_consistent(), "{:#?}", report.findings);
    assert!(report.cutoff_beyond_data.is_empty());
    assert_eq!(report.records, 1000);
    let p0 = &report.partitions[0];
    assert_eq!(
        (p0.records, p0.advanced, p0.cutoff),
        (600, Some(600), Some(600))
    );
    assert_eq!(report.run_rows.len(), 4);
    assert!(report.run_rows.iter().all(|r| r.status == "ok"));
}

#[test]
fn a_missing_newest_file_is_a_gap_and_puts_the_cutoff_beyond_the_data() {
    let (mut files, runs) = consistent();
    files.retain(|f| !f.url.ends_with("T.1.1.200.1400.0.avro"));
    let report = check(&files, Some(&runs));
    let gaps = errors(&report, Kind::Gap);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(gaps[0].contains("partition 1") && gaps[0].contains("200 are in no data file"));
    assert!(gaps[0].contains("newest offsets"), "{}", gaps[0]);
    assert_eq!(report.cutoff_beyond_data, vec![1]);
    assert_eq!(report.partitions[1].status, "gap");
}

#[test]
fn a_missing_middle_file_is_a_gap_naming_its_offsets() {
    let (mut files, runs) = consistent();
    files.retain(|f| !f.url.ends_with("T.1.0.150.450.0.avro"));
    let report = check(&files, Some(&runs));
    let gap = &report
        .findings
        .iter()
        .find(|f| f.kind == Kind::Gap)
        .expect("a gap");
    assert_eq!(gap.records, Some(150));
    assert_eq!(gap.offsets, Some([300, 450]));
    assert!(gap.message.contains("300..450"), "{}", gap.message);
    // The run's newest file is there: the cut-off stands on data.
    assert!(report.cutoff_beyond_data.is_empty());
}

#[test]
fn an_identical_copy_is_read_once_and_reported() {
    let (mut files, runs) = consistent();
    files.push(namesake_of_p0_newest());
    let report = check(&files, Some(&runs));
    assert_eq!(report.count(Severity::Error), 0, "{:#?}", report.findings);
    assert_eq!(report.count(Severity::Warning), 1);
    assert!(!report.is_consistent());
    assert_eq!(
        report.copies_to_skip,
        vec![format!("{DIR}/05/T.7.0.150.600.0.avro")]
    );
    assert_eq!(report.partitions[0].status, "copies read once");
    assert_eq!(report.partitions[0].records, 600);
}

#[test]
fn only_files_whose_names_and_sizes_collide_are_read_to_compare() {
    let (mut files, _) = consistent();
    assert!(namesakes("T", &files).is_empty());
    files.push(namesake_of_p0_newest());
    // The same last offset with another count: a duplicate by its name, nothing to read.
    files.push(file("03", 1, 50, 1400));
    let read: Vec<&str> = namesakes("T", &files)
        .iter()
        .map(|f| f.url.as_str())
        .collect();
    assert_eq!(
        read,
        [
            format!("{DIR}/02/T.1.0.150.600.0.avro"),
            format!("{DIR}/05/T.7.0.150.600.0.avro")
        ]
    );
}

#[test]
fn the_same_name_and_size_over_other_bytes_is_a_conflict_naming_both_files() {
    let (mut files, runs) = consistent();
    files.push(namesake_of_p0_newest());
    let report = check_with(&files, Some(&runs), |url| {
        Ok(if url.contains("/05/") {
            [1; 32]
        } else {
            [0; 32]
        })
    });
    let conflicts = errors(&report, Kind::Conflict);
    assert_eq!(conflicts.len(), 1, "{:#?}", report.findings);
    assert!(
        conflicts[0].contains("02/T.1.0.150.600.0.avro (sha256 0000000000000000)")
            && conflicts[0].contains("05/T.7.0.150.600.0.avro (sha256 0101010101010101)")
            && conflicts[0].contains("contents differ"),
        "{}",
        conflicts[0]
    );
    assert!(report.copies_to_skip.is_empty(), "nothing is left out");
    assert_eq!(report.count(Severity::Warning), 0);
    assert_eq!(report.partitions[0].status, "conflict");
}

#[test]
fn a_namesake_that_cannot_be_read_is_no_copy() {
    let (mut files, runs) = consistent();
    files.push(namesake_of_p0_newest());
    let report = check_with(&files, Some(&runs), |url| {
        if url.contains("/05/") {
            Err("permission denied".into())
        } else {
            Ok([0; 32])
        }
    });
    let damaged = errors(&report, Kind::Damaged);
    assert_eq!(damaged.len(), 1, "{:#?}", report.findings);
    assert!(
        damaged[0].contains("cannot be read to tell whether it is a copy: permission denied"),
        "{}",
        damaged[0]
    );
    assert!(report.copies_to_skip.is_empty());
}

#[test]
fn a_partial_overlap_is_a_duplicate_naming_both_files() {
    let (mut files, runs) = consistent();
    // Half of p1's newest file again, under another name.
    files.push(file("03", 1, 100, 1350));
    let report = check(&files, Some(&runs));
    let duplicates = errors(&report, Kind::Duplicate);
    assert_eq!(duplicates.len(), 1, "{:#?}", report.findings);
    assert!(
        duplicates[0].contains("100 records are there twice"),
        "{}",
        duplicates[0]
    );
    let finding = report
        .findings
        .iter()
        .find(|f| f.kind == Kind::Duplicate)
        .unwrap();
    assert_eq!(
        finding.files,
        vec!["02/T.1.1.200.1400.0.avro", "03/T.1.1.100.1350.0.avro"]
    );
}

#[test]
fn same_last_offset_with_another_count_is_a_duplicate() {
    let (mut files, runs) = consistent();
    files.push(file("03", 1, 50, 1400));
    let report = check(&files, Some(&runs));
    assert!(errors(&report, Kind::Duplicate)
        .iter()
        .any(|m| m.contains("end at the same offset 1399")));
}

#[test]
fn a_file_beyond_the_cutoff_is_a_stray() {
    let (mut files, runs) = consistent();
    files.push(file("04", 1, 10, 1410));
    let report = check(&files, Some(&runs));
    let strays = errors(&report, Kind::Stray);
    assert_eq!(strays.len(), 1);
    assert!(
        strays[0].contains("beyond where the newest run"),
        "{}",
        strays[0]
    );
}

#[test]
fn recorded_decode_errors_explain_missing_offsets() {
    let (mut files, mut runs) = consistent();
    // The last two messages of run 2's p1 failed to decode: the file holds 198.
    files.retain(|f| !f.url.ends_with("T.1.1.200.1400.0.avro"));
    files.push(file("02", 1, 198, 1398));
    runs[1].errors.insert(1, vec![1398, 1399]);
    let report = check(&files, Some(&runs));
    assert_eq!(report.count(Severity::Error), 0, "{:#?}", report.findings);
    assert!(report
        .findings
        .iter()
        .any(|f| f.kind == Kind::Skipped && f.records == Some(2)));
    assert!(report.cutoff_beyond_data.is_empty());
}

#[test]
fn offsets_skipped_between_runs_are_a_gap() {
    let (files, mut runs) = consistent();
    runs[1].started.insert(1, 1250);
    let report = check(&files, Some(&runs));
    assert!(errors(&report, Kind::Gap)
        .iter()
        .any(|m| m.contains("offsets 1200..1250 were never archived")));
}

#[test]
fn unparseable_names_and_other_topics_are_strays() {
    let (mut files, runs) = consistent();
    files.push(SourceFile {
        url: format!("{DIR}/00/part-00000.avro"),
        size: 10,
        name: None,
    });
    files.push(SourceFile {
        url: format!("{DIR}/00/OTHER.1.0.5.5.0.avro"),
        size: 10,
        name: CamusFileName::parse("OTHER.1.0.5.5.0.avro", Some("T")),
    });
    let report = reconcile(
        "T",
        DIR,
        &files,
        &[(format!("{DIR}/01/T.1.0.9.9.0.avro"), "a FIFO (named pipe)")],
        Some(&runs),
        &Default::default(),
    );
    let strays = errors(&report, Kind::Stray);
    assert_eq!(strays.len(), 3, "{strays:?}");
    assert!(strays.iter().any(|m| m.contains("part-00000.avro")));
    assert!(strays.iter().any(|m| m.contains("topic OTHER")));
    assert!(strays.iter().any(|m| m.contains("a FIFO")));
}

#[test]
fn without_a_history_only_the_archive_itself_is_checked() {
    let (files, _) = consistent();
    let report = check(&files, None);
    assert!(report.is_consistent());
    assert!(report
        .findings
        .iter()
        .any(|f| f.kind == Kind::Unreconciled && f.message.contains("no Camus execution history")));
    assert!(report.partitions.iter().all(|p| p.status == "no history"));
}

#[test]
fn a_first_run_without_offsets_previous_has_its_end_checked() {
    let (mut files, mut runs) = consistent();
    runs[0].started.clear();
    let report = check(&files, Some(&runs));
    assert_eq!(report.count(Severity::Error), 0, "{:#?}", report.findings);
    assert!(report.run_rows.iter().any(|r| r.status == "start unknown"));
    files.retain(|f| !f.url.ends_with("T.1.0.100.300.0.avro"));
    let report = check(&files, Some(&runs));
    assert!(errors(&report, Kind::Gap)
        .iter()
        .any(|m| m.contains("run 2024-01-01-01-00-00") && m.contains("files end at 260")));
}
