//! Is the archive complete, and does it hold each record once? The data files' names (partition,
//! count, last offset) reconciled with every run of the Camus execution history, partition by
//! partition and run by run ([`reconcile`]): duplicates, gaps and stray files, each with the
//! files concerned. Files whose names collide are compared by content ([`contents`]): a copy
//! is proven by its bytes, never by its size.
//!
//! `c2k verify` prints the report ([`verify`]); `c2k run` is gated by it before anything is sent
//! ([`gate`]): a duplicate, a conflict, a gap or a stray stops the run (`source.integrity: fail`)
//! or is reported (`warn`), byte-identical copies are read once in every mode, and the offsets
//! step never commits a cut-off beyond what the archive holds.

mod connect;
mod contents;
pub(crate) mod findings;
mod reconcile;
mod records;
pub(crate) mod report;
mod swept;

use anyhow::{Context, Result};

use crate::config::{Integrity, Pipeline, SourceType, SweptDays};
use crate::offsets::history::History;
use crate::source::{self, Listing, SourceFile};
use crate::storage;
pub(crate) use findings::{Finding, Kind, Report, Severity};

pub(crate) use crate::refusal::Inconsistent;

/// Reconciles the archive's `listing` with the pipeline's Camus `history` (read once by the
/// command), if it names one. The files whose names collide are read, to tell copies from
/// conflicts; no other file is.
pub(crate) fn check(
    pipeline: &Pipeline,
    history: Option<&History>,
    listing: &Listing,
) -> Result<Report> {
    let input_dir = pipeline.input_dir();
    let namesakes = contents::namesakes(&pipeline.topic, &listing.files);
    let digests = if namesakes.is_empty() {
        contents::Digests::new()
    } else {
        let storage = storage::for_url(&input_dir)?;
        let workers = crate::source::parallel::default_workers();
        contents::digest_namesakes(storage.as_ref(), &namesakes, workers)
    };
    if pipeline.source.kind == SourceType::KafkaConnect {
        let mut report = connect::reconcile(
            &pipeline.topic,
            &input_dir,
            &listing.files,
            &listing.not_regular,
            &digests,
        );
        if let Some(said) = listing.side_files_said() {
            report.findings.push(Finding {
                severity: Severity::Warning,
                kind: Kind::Stray,
                partition: None,
                run: None,
                offsets: None,
                records: None,
                files: listing
                    .side_files
                    .iter()
                    .map(|url| crate::identity::relative_path(&input_dir, url))
                    .collect(),
                message: said,
            });
            report.findings.sort_by_key(|f| f.severity);
        }
        return Ok(report);
    }
    let (hourly, swept) = swept::split(&input_dir, &listing.files);
    let mut report = reconcile::reconcile(
        &pipeline.topic,
        &input_dir,
        &hourly,
        &listing.not_regular,
        history.map(|h| h.runs.as_slice()),
        &digests,
    );
    report.history_dir = history.map(|h| h.dir.clone());
    if !swept.is_empty() {
        report.files = listing.files.len();
        report
            .findings
            .extend(swept::days_twice(&input_dir, &hourly, &swept));
        match pipeline.source.swept_days {
            SweptDays::Refuse => report.findings.push(swept::refused(&input_dir, &swept)),
            SweptDays::Replay => {
                let records = count_swept(pipeline, &input_dir, &swept)?;
                swept::account(&mut report, &swept, records);
            }
        }
        report.findings.sort_by_key(|f| f.severity);
    }
    Ok(report)
}

/// The records of the swept files (their Avro blocks' counts, read in parallel); a file that
/// cannot be read is an error naming it.
fn count_swept(
    pipeline: &Pipeline,
    input_dir: &str,
    swept: &[(&SourceFile, String)],
) -> Result<u64> {
    let storage = storage::for_url(input_dir)?;
    let depth = records::Depth {
        format: source::SourceFormat::Avro,
        max_block_bytes: pipeline.source.max_block_bytes.0,
        records: false,
    };
    let counts = contents::in_parallel(
        swept,
        crate::source::parallel::default_workers(),
        |(f, _)| {
            records::read_file(storage.as_ref(), f, &depth)
                .with_context(|| format!("counting the records of the swept file {}", f.url))
        },
    );
    counts.into_iter().sum()
}

/// The archive of the pipeline, as listed (non-regular entries included, as findings).
pub(crate) fn list(pipeline: &Pipeline) -> Result<Listing> {
    Ok(source::list_pipeline(pipeline)?.0)
}

/// What `c2k verify` reads of the data files, beyond their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyDepth {
    /// Nothing: names against the history only (`--names-only`).
    NamesOnly,
    /// Every block, decompressed, its record count added up (the default).
    Blocks,
    /// Every record too, walked against its file's writer schema as `c2k run` does
    /// (`--records`).
    Records,
}

/// `c2k verify`: prints the report (text, or JSON with `json`); an archive `c2k run` would
/// refuse (an error finding, or a cut-off beyond the data) is an [`Inconsistent`] error after
/// the report is printed, warnings alone are not. The data files are read as `depth` says.
pub fn verify(pipeline: &Pipeline, json: bool, depth: VerifyDepth) -> Result<()> {
    let (history, (listing, format)) = match pipeline.source.kind {
        // The history is the names: one listing gives both.
        SourceType::KafkaConnect => {
            let listed = source::list_pipeline(pipeline)?;
            let history = crate::offsets::history_of_names(pipeline, &listed.0.files);
            (history, listed)
        }
        // A history that cannot be read is the first thing to say.
        SourceType::Camus => (
            crate::offsets::read_history(pipeline)?,
            source::list_pipeline(pipeline)?,
        ),
    };
    let mut report = check(pipeline, history.as_ref(), &listing)?;
    if depth != VerifyDepth::NamesOnly {
        let input_dir = pipeline.input_dir();
        let storage = storage::for_url(&input_dir)?;
        let workers = crate::source::parallel::default_workers();
        let reading = records::Depth {
            format,
            max_block_bytes: pipeline.source.max_block_bytes.0,
            records: depth == VerifyDepth::Records,
        };
        let damaged = contents::check_contents(storage.as_ref(), &listing.files, workers, reading);
        for (url, problem) in damaged {
            let relative = crate::identity::relative_path(&input_dir, &url);
            report.findings.push(Finding {
                severity: Severity::Error,
                kind: Kind::Damaged,
                partition: listing
                    .files
                    .iter()
                    .find(|f| f.url == url)
                    .and_then(|f| f.name.as_ref().map(|n| n.partition)),
                run: None,
                offsets: None,
                records: None,
                files: vec![relative.clone()],
                message: if problem.contains(&url) {
                    problem
                } else {
                    format!("{relative}: {problem}")
                },
            });
        }
        report.findings.sort_by_key(|f| f.severity);
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln(&mut out)?;
    } else {
        report::print(&report, &mut out)?;
    }
    // The gate's rule: what stops `c2k run` fails verify, warnings alone do not.
    if !report.refused() {
        Ok(())
    } else {
        Err(Inconsistent(format!(
            "the archive {} is {}",
            report.input_dir,
            report::verdict(&report)
        ))
        .into())
    }
}

fn writeln(out: &mut dyn std::io::Write) -> Result<()> {
    out.write_all(b"\n")?;
    Ok(())
}

/// What the gate of `c2k run` decided, beyond letting it go on.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    /// The URLs of identical copies, to leave out of the source (read once).
    pub copies: Vec<String>,
    /// Why the offsets step must not commit (`warn` mode with a cut-off beyond the data).
    pub commit_refused: Option<String>,
}

/// Checks the source's `files` before anything is read (only files whose names collide are
/// read, to compare them): stops on errors with `source.integrity: fail`, reports them with
/// `warn`; in every mode, names the byte-identical copies to leave out ([`Gate::copies`]).
pub(crate) fn gate(
    pipeline: &Pipeline,
    history: Option<&History>,
    files: &[SourceFile],
) -> Result<Gate> {
    let listing = Listing {
        files: files.to_vec(),
        ..Listing::default()
    };
    let report = check(pipeline, history, &listing)?;
    let beyond = cutoff_beyond(&report);
    if report.refused() {
        let mut table = Vec::new();
        report::print(&report, &mut table)?;
        eprint!("{}", String::from_utf8_lossy(&table));
        // Swept days refused (or a day both swept and hourly) are never published: warn is
        // for what the archive holds once, and these would be unproven or twice.
        let swept = report
            .findings
            .iter()
            .any(|f| f.kind == Kind::Swept && f.severity == Severity::Error);
        if pipeline.source.integrity == Integrity::Fail || swept {
            return Err(Inconsistent(format!(
                "the archive is not consistent with {} ({}; the table above says where): \
                 nothing was sent. {}{}",
                match pipeline.source.kind {
                    SourceType::Camus => "the Camus history",
                    SourceType::KafkaConnect => "its file names' offsets",
                },
                report::verdict(&report),
                match swept {
                    true =>
                        "camus-sweeper's daily folders are refused whatever \
                             source.integrity says (see the swept findings)",
                    false =>
                        "Fix the archive, or set source.integrity: warn to publish it as \
                              it is (offsets are never committed past the data)",
                },
                match &beyond {
                    Some(why) => format!("; and {why}"),
                    None => String::new(),
                }
            ))
            .into());
        }
        eprintln!(
            "c2k: warning: publishing anyway (source.integrity: warn): {}",
            report::verdict(&report)
        );
    }
    for finding in report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
    {
        eprintln!(
            "c2k: warning: {}",
            crate::storage::shown::printable(&finding.message)
        );
    }
    Ok(Gate {
        copies: report.copies_to_skip,
        commit_refused: beyond,
    })
}

/// Why the cut-off cannot be committed, if it lies beyond the archive for some partition.
pub(crate) fn cutoff_beyond(report: &Report) -> Option<String> {
    if report.cutoff_beyond_data.is_empty() {
        return None;
    }
    let partitions: Vec<String> = report
        .partitions
        .iter()
        .filter(|p| report.cutoff_beyond_data.contains(&p.partition))
        .map(|p| {
            format!(
                "{}/{} (cut-off {}, archive ends at {})",
                report.topic,
                p.partition,
                p.cutoff.map_or("-".to_string(), |c| c.to_string()),
                p.last
                    .map_or("nothing".to_string(), |l| (l + 1).to_string())
            )
        })
        .collect();
    Some(format!(
        "the newest Camus run's offsets are ahead of the archive for {}: committing them would \
         skip records that are in neither the replay nor the live topic's unread part",
        partitions.join(", ")
    ))
}

/// For `c2k offsets commit`: refuses a cut-off beyond what the archive holds.
pub fn check_cutoff(pipeline: &Pipeline, history: Option<&History>) -> Result<()> {
    if pipeline.source.kind == SourceType::KafkaConnect {
        // The cut-off is made from the archive's own names: it ends where the data does.
        return Ok(());
    }
    let report = check(pipeline, history, &list(pipeline)?)?;
    match cutoff_beyond(&report) {
        None => Ok(()),
        Some(why) => Err(Inconsistent(format!(
            "{why}; nothing was committed (`c2k verify` shows the archive against the history)"
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests;
