//! The report as people read it: a table per partition and run, then every finding.

use std::io::Write;

use anyhow::Result;

use super::findings::{Report, Severity};

/// Prints the whole report: what was read, the table, the findings and the verdict; a path
/// named with a newline or another control character is printed escaped
/// ([`crate::storage::shown`]).
pub(crate) fn print(report: &Report, out: &mut dyn Write) -> Result<()> {
    let mut text = Vec::new();
    print_raw(report, &mut text)?;
    let text = String::from_utf8_lossy(&text);
    out.write_all(crate::storage::shown::printable(&text).as_bytes())?;
    Ok(())
}

fn print_raw(report: &Report, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "archive: {} ({} data files, {} records)",
        report.input_dir, report.files, report.records
    )?;
    match (&report.history_dir, report.runs.last()) {
        _ if report.layout == "kafka-connect" => writeln!(
            out,
            "offsets: from the file names (Kafka Connect: each file holds its name's offsets, \
             one contiguous run)"
        )?,
        (Some(dir), Some(newest)) => writeln!(
            out,
            "history: {dir} ({} runs, newest {newest})",
            report.runs.len()
        )?,
        (Some(dir), None) => writeln!(out, "history: {dir} (no run folder)")?,
        (None, _) => writeln!(out, "history: none (offsets.exec_dir is not set)")?,
    }
    print_table(report, out)?;
    print_findings(report, out)?;
    writeln!(out, "{}", verdict(report))?;
    Ok(())
}

/// The one-line verdict.
pub(crate) fn verdict(report: &Report) -> String {
    let (errors, warnings, notes) = (
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Note),
    );
    if report.is_consistent() && report.layout == "kafka-connect" {
        format!(
            "consistent: every offset from each partition's first file to its last is in the \
             archive once ({notes} notes)"
        )
    } else if report.is_consistent() {
        format!("consistent: every offset the runs advanced is in the archive once ({notes} notes)")
    } else if !report.refused() {
        format!(
            "consistent with {warnings} warnings: c2k run compensates for them as they say \
             ({notes} notes)"
        )
    } else {
        format!("NOT consistent: {errors} errors, {warnings} warnings, {notes} notes")
    }
}

fn print_table(report: &Report, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{:>9}  {:<19}  {:>12}  {:>12}  {:>5}  {:>10}  {:>10}  {:>7}  status",
        "partition", "run", "first", "last", "files", "records", "advanced", "skipped"
    )?;
    for partition in &report.partitions {
        for row in report
            .run_rows
            .iter()
            .filter(|r| r.partition == partition.partition)
        {
            writeln!(
                out,
                "{:>9}  {:<19}  {:>12}  {:>12}  {:>5}  {:>10}  {:>10}  {:>7}  {}",
                row.partition,
                row.run,
                opt(row.first),
                opt(row.last),
                row.files,
                row.records,
                opt(row.advanced),
                row.skipped,
                row.status
            )?;
        }
        writeln!(
            out,
            "{:>9}  {:<19}  {:>12}  {:>12}  {:>5}  {:>10}  {:>10}  {:>7}  {}{}",
            partition.partition,
            "(all)",
            opt(partition.first),
            opt(partition.last),
            partition.files,
            partition.records,
            opt(partition.advanced),
            "",
            partition.status,
            partition
                .cutoff
                .map_or(String::new(), |c| format!(" (cut-off {c})"))
        )?;
    }
    Ok(())
}

fn print_findings(report: &Report, out: &mut dyn Write) -> Result<()> {
    if report.findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "findings:")?;
    for finding in &report.findings {
        let severity = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        writeln!(
            out,
            "  {severity:<7} {:<12} {}",
            finding.kind.label(),
            finding.message
        )?;
        // A long list is cut: the JSON report has every file.
        const SHOWN: usize = 8;
        for file in finding.files.iter().take(SHOWN) {
            writeln!(out, "{:22}{file}", "")?;
        }
        if finding.files.len() > SHOWN {
            writeln!(
                out,
                "{:22}… and {} more files (--format json lists all)",
                "",
                finding.files.len() - SHOWN
            )?;
        }
    }
    Ok(())
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or("-".to_string(), |v| v.to_string())
}
