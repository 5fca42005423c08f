//! `c2k run` end to end into a file sink, as a child process (so its peak RSS is its own), and
//! what its closing summary line says (`c2k: N records in, M out to ..., S spilled, ...`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::child::{self, Measured};

/// Where a benchmark run reads and writes.
pub struct Layout {
    /// The `c2k sample` tree (`destination/`, `page_view.avsc`).
    pub data: PathBuf,
    /// Scratch space: pipeline files, output, spills, captured output.
    pub scratch: PathBuf,
}

/// Where the bench pipeline's messages go.
pub enum BenchSink<'a> {
    /// A length-prefixed file in the scratch folder.
    File,
    /// A Kafka broker; the topic is given per run with `--set sink.topic=...`.
    Kafka { brokers: &'a str },
}

/// The bench pipeline `name` (a file in the scratch folder): the sample topic, time-field on
/// `header.time`, the given sort memory and format, into `sink`. Written once; variants are
/// `--set` overrides.
pub fn write_pipeline(
    layout: &Layout,
    name: &str,
    memory: &str,
    format: &str,
    sink: BenchSink<'_>,
) -> Result<PathBuf> {
    let path = layout.scratch.join(name);
    let data = layout.data.display();
    let scratch = layout.scratch.display();
    let sink = match sink {
        BenchSink::File => format!(
            "sink:\n  type: file\n  path: {scratch}/replay.out\n  framing: length-prefixed\n"
        ),
        BenchSink::Kafka { brokers } => format!("sink:\n  type: kafka\n  brokers: '{brokers}'\n"),
    };
    let text = format!(
        "# Written by the benchmark (runner/benches/pipeline).\n\
         topic: PAGE_VIEWS\n\
         source:\n  dest_dir: {data}/destination\n  schema: {data}/page_view.avsc\n\
         key:\n  plugin: time-field\n  config: {{ field: header.time }}\n\
         sort:\n  memory: {memory}\n  tmp_dir: {scratch}/spill\n\
         format:\n  plugin: {format}\n\
         {sink}\
         offsets:\n  commit: none\n"
    );
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// One `c2k run`, measured.
pub struct RunResult {
    pub measured: Measured,
    pub records_in: u64,
    pub records_out: u64,
    pub spilled_bytes: u64,
    pub output_bytes: u64,
}

pub fn run(
    c2k: &Path,
    pipeline: &Path,
    layout: &Layout,
    label: &str,
    sets: &[&str],
) -> Result<RunResult> {
    let mut command = Command::new(c2k);
    command.arg("run").arg(pipeline);
    for set in sets {
        command.args(["--set", set]);
    }
    // No progress bar: stderr is a file, and drawing costs time.
    command.env("NO_COLOR", "1");
    // Every run starts from the same state: the previous run's output (gigabytes, possibly still
    // being written back) is removed and flushed out before the clock starts, not during the run
    // that replaces it.
    let output = layout.scratch.join("replay.out");
    if output.exists() {
        std::fs::remove_file(&output)
            .with_context(|| format!("cannot remove {}", output.display()))?;
    }
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    let measured = child::run(command, &layout.scratch, label)?;
    if !measured.success {
        bail!("{}", child::last_line(&measured.stderr));
    }
    let summary = measured
        .stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("c2k: ") && l.contains(" records in, "))
        .with_context(|| {
            format!(
                "{label}: no summary line (`c2k: ... records in, ...`) on stderr; last line: {}",
                child::last_line(&measured.stderr)
            )
        })?
        .to_string();
    let (records_in, records_out, spilled_bytes) = parse_summary(&summary)
        .with_context(|| format!("{label}: cannot parse the summary line `{summary}`"))?;
    let output = layout.scratch.join("replay.out");
    let output_bytes = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    Ok(RunResult {
        measured,
        records_in,
        records_out,
        spilled_bytes,
        output_bytes,
    })
}

/// `c2k: 5000000 records in, 5000000 out to file.out (1.4 GiB), 1.2 GiB spilled, 80.1s, 62422 records/s`
/// → (records in, records out, spilled bytes; the summary rounds to 0.1 of its unit).
fn parse_summary(line: &str) -> Option<(u64, u64, u64)> {
    let rest = line.strip_prefix("c2k: ")?;
    let (records_in, rest) = rest.split_once(" records in, ")?;
    let (records_out, rest) = rest.split_once(" out to ")?;
    let spilled = rest.split(", ").find(|p| p.ends_with(" spilled"))?;
    let spilled = spilled.strip_suffix(" spilled")?;
    Some((
        records_in.trim().parse().ok()?,
        records_out.trim().parse().ok()?,
        parse_human_bytes(spilled)?,
    ))
}

/// `1.5 MiB` or `12 B` → bytes.
fn parse_human_bytes(text: &str) -> Option<u64> {
    let (value, unit) = text.trim().split_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let scale = match unit {
        "B" => 1u64,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    Some((value * scale as f64) as u64)
}

/// `runs` rounds of one run per variant (label, `--set`s), interleaved so that no variant always
/// runs first; each variant's fastest run is kept, with the highest peak RSS of its runs. On a
/// shared virtual machine one run can be 30% slower than the next for reasons of its own.
pub fn best_of(
    c2k: &Path,
    pipeline: &Path,
    layout: &Layout,
    variants: &[(&str, &[&str])],
    runs: u32,
) -> Vec<Result<RunResult>> {
    let mut best: Vec<Option<Result<RunResult>>> = variants.iter().map(|_| None).collect();
    for _ in 0..runs.max(1) {
        for (slot, (label, sets)) in best.iter_mut().zip(variants) {
            if matches!(slot, Some(Err(_))) {
                continue;
            }
            let run = run(c2k, pipeline, layout, label, sets);
            *slot = Some(match (slot.take(), run) {
                (_, Err(e)) => Err(e),
                (None, Ok(r)) => Ok(r),
                (Some(Ok(kept)), Ok(r)) => {
                    let peak_rss = kept.measured.peak_rss.max(r.measured.peak_rss);
                    let mut faster = if r.measured.elapsed < kept.measured.elapsed {
                        r
                    } else {
                        kept
                    };
                    faster.measured.peak_rss = peak_rss;
                    Ok(faster)
                }
                (Some(Err(e)), _) => Err(e),
            });
        }
    }
    best.into_iter()
        .map(|slot| slot.unwrap_or_else(|| Err(anyhow::anyhow!("not run"))))
        .collect()
}
