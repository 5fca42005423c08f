//! Every bundled output format end to end (`c2k run` into a file), interleaved in one run so that
//! their rates compare: on the main dataset (which spills) against `avro-binary` and the ceiling,
//! and on a dataset that fits `sort.memory` (no spill) against that dataset's own ceiling. Also the
//! native key extractor against the WebAssembly one, on the main format.

use std::path::Path;

use anyhow::{bail, Result};
use serde_json::{json, Map, Value};

use crate::ceiling::Ceiling;
use crate::end_to_end::{self, Layout, RunResult};
use crate::report::{mib, row, Row};

/// A bundled format as the benchmark runs it: a label and the `--set`s that select it.
pub struct Format {
    pub label: &'static str,
    pub sets: &'static [&'static str],
}

/// The bundled formats; `avro-binary` first, since the others are measured against it.
pub const FORMATS: [Format; 3] = [
    Format {
        label: "avro-binary",
        sets: &["format.plugin=avro-binary"],
    },
    Format {
        label: "json (avro encoding)",
        sets: &["format.plugin=json", "format.config={encoding: avro}"],
    },
    Format {
        label: "json (plain encoding)",
        sets: &["format.plugin=json", "format.config={encoding: plain}"],
    },
];

/// The label of a run variant, also the name of its captured output files.
fn file_label(prefix: &str, format: &Format) -> String {
    let name: String = format
        .label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{prefix}-{name}")
}

/// What one dataset's format runs gave, for the tables and the JSON.
pub struct FormatRuns {
    pub results: Vec<Result<RunResult>>,
    /// The native-key run (on the main dataset only).
    pub native: Option<Result<RunResult>>,
}

/// Runs every format (and, when `native_key`, the first format again with the compiled-in key
/// extractor), `runs` interleaved rounds, the fastest of each kept.
pub fn run_all(
    c2k: &Path,
    pipeline: &Path,
    layout: &Layout,
    prefix: &str,
    runs: u32,
    native_key: bool,
) -> FormatRuns {
    let labels: Vec<String> = FORMATS.iter().map(|f| file_label(prefix, f)).collect();
    let native_sets: Vec<&str> = FORMATS[0]
        .sets
        .iter()
        .copied()
        // A new key.plugin starts from an empty config: give it the same one again.
        .chain([
            "key.plugin=native:time-field",
            "key.config={field: header.time}",
        ])
        .collect();
    let native_label = format!("{prefix}-native-key");
    let mut variants: Vec<(&str, &[&str])> = labels
        .iter()
        .zip(&FORMATS)
        .map(|(label, format)| (label.as_str(), format.sets))
        .collect();
    if native_key {
        variants.push((native_label.as_str(), native_sets.as_slice()));
    }
    let mut results = end_to_end::best_of(c2k, pipeline, layout, &variants, runs);
    let native = native_key.then(|| results.pop().expect("one result per variant"));
    FormatRuns { results, native }
}

/// Rows and figures of the main dataset: each format's rate against the ceiling and against
/// `avro-binary`, its peak RSS, and the native key comparison.
pub fn report_main(
    runs: &FormatRuns,
    ceiling: &Ceiling,
    rss_budget: u64,
    rows: &mut Vec<Row>,
    figures: &mut Map<String, Value>,
) -> Result<()> {
    let ceiling_rate = ceiling.records as f64 / ceiling.elapsed.as_secs_f64();
    let base_rate = runs.results[0].as_ref().ok().map(rate);
    let mut per_format = Map::new();
    for (format, result) in FORMATS.iter().zip(&runs.results) {
        let name = format!("c2k run -> file, {}", format.label);
        match result {
            Ok(r) => {
                check_counts(r, ceiling.records)?;
                let rate = rate(r);
                let secs = r.measured.elapsed.as_secs_f64();
                let of_ceiling = rate / ceiling_rate;
                let (target, met, versus) = match (format.label, base_rate) {
                    ("avro-binary", _) => (">= 50% of ceiling", Some(of_ceiling >= 0.5), None),
                    (_, Some(base)) => (
                        ">= 0.70x avro-binary",
                        Some(rate / base >= 0.7),
                        Some(rate / base),
                    ),
                    (_, None) => (">= 0.70x avro-binary", None, None),
                };
                let versus_text = versus
                    .map(|v| format!(", {v:.2}x avro-binary"))
                    .unwrap_or_default();
                rows.push(row(
                    name,
                    format!(
                        "{rate:.0} rec/s ({secs:.1}s) = {:.0}% of ceiling{versus_text}",
                        100.0 * of_ceiling
                    ),
                    target,
                    met,
                ));
                rows.push(row(
                    format!("  peak RSS, {}", format.label),
                    format!(
                        "{}, {} spilled",
                        mib(r.measured.peak_rss),
                        mib(r.spilled_bytes)
                    ),
                    "<= sort.memory + 150 MiB",
                    Some(r.measured.peak_rss <= rss_budget),
                ));
                per_format.insert(
                    format.label.into(),
                    json!({
                        "seconds": secs, "records_per_s": rate, "fraction_of_ceiling": of_ceiling,
                        "over_avro_binary": versus, "peak_rss_bytes": r.measured.peak_rss,
                        "rss_budget_bytes": rss_budget, "spilled_bytes": r.spilled_bytes,
                        "output_bytes": r.output_bytes,
                    }),
                );
            }
            Err(e) => {
                rows.push(row(name, format!("n/a: {e:#}"), "-", None));
                per_format.insert(format.label.into(), json!({ "error": format!("{e:#}") }));
            }
        }
    }
    figures.insert("formats".into(), Value::Object(per_format));
    report_native_key(runs, rows, figures);
    Ok(())
}

/// The WebAssembly key extractor against the same extractor compiled into `c2k`, on the first
/// format: the cost of the sandbox.
fn report_native_key(runs: &FormatRuns, rows: &mut Vec<Row>, figures: &mut Map<String, Value>) {
    let name = "wasm key / native key (run time)";
    match (&runs.results[0], &runs.native) {
        (Ok(w), Some(Ok(n))) => {
            let ratio = w.measured.elapsed.as_secs_f64() / n.measured.elapsed.as_secs_f64();
            rows.push(row(
                name,
                format!(
                    "{ratio:.2}x ({:.1}s / {:.1}s, avro-binary)",
                    w.measured.elapsed.as_secs_f64(),
                    n.measured.elapsed.as_secs_f64()
                ),
                "<= 1.15x",
                Some(ratio <= 1.15),
            ));
            figures.insert(
                "native_key".into(),
                json!({ "seconds": n.measured.elapsed.as_secs_f64(),
                        "peak_rss_bytes": n.measured.peak_rss, "wasm_over_native": ratio }),
            );
        }
        (_, Some(Err(e))) => {
            rows.push(row(name, format!("n/a: {e:#}"), "<= 1.15x", None));
            figures.insert("native_key".into(), json!({ "error": format!("{e:#}") }));
        }
        (Err(_), _) => rows.push(row(
            name,
            "n/a: the wasm run failed".into(),
            "<= 1.15x",
            None,
        )),
        (_, None) => {}
    }
}

/// Rows and figures of the dataset that fits `sort.memory`: each format against that dataset's
/// ceiling. A run that spilled anyway is shown but not judged: the dataset did not fit.
pub fn report_fit(
    runs: &FormatRuns,
    ceiling: &Ceiling,
    rss_budget: u64,
    rows: &mut Vec<Row>,
    figures: &mut Map<String, Value>,
) -> Result<()> {
    let ceiling_rate = ceiling.records as f64 / ceiling.elapsed.as_secs_f64();
    rows.push(row(
        "no spill: ceiling",
        format!(
            "{ceiling_rate:.0} rec/s ({:.2}s, {} records)",
            ceiling.elapsed.as_secs_f64(),
            ceiling.records
        ),
        "-",
        None,
    ));
    let mut per_format = Map::new();
    for (format, result) in FORMATS.iter().zip(&runs.results) {
        let name = format!("no spill: c2k run -> file, {}", format.label);
        match result {
            Ok(r) => {
                check_counts(r, ceiling.records)?;
                let rate = rate(r);
                let of_ceiling = rate / ceiling_rate;
                let fits = r.spilled_bytes == 0;
                let spill_note = if fits {
                    String::new()
                } else {
                    format!(
                        ", spilled {}: the dataset does not fit",
                        mib(r.spilled_bytes)
                    )
                };
                rows.push(row(
                    name,
                    format!(
                        "{rate:.0} rec/s ({:.2}s) = {:.0}% of ceiling, RSS {}{spill_note}",
                        r.measured.elapsed.as_secs_f64(),
                        100.0 * of_ceiling,
                        mib(r.measured.peak_rss)
                    ),
                    ">= 50% of ceiling",
                    fits.then_some(of_ceiling >= 0.5 && r.measured.peak_rss <= rss_budget),
                ));
                per_format.insert(
                    format.label.into(),
                    json!({
                        "seconds": r.measured.elapsed.as_secs_f64(), "records_per_s": rate,
                        "fraction_of_ceiling": of_ceiling, "peak_rss_bytes": r.measured.peak_rss,
                        "spilled_bytes": r.spilled_bytes,
                    }),
                );
            }
            Err(e) => {
                rows.push(row(name, format!("n/a: {e:#}"), "-", None));
                per_format.insert(format.label.into(), json!({ "error": format!("{e:#}") }));
            }
        }
    }
    figures.insert(
        "no_spill".into(),
        json!({
            "records": ceiling.records, "ceiling_seconds": ceiling.elapsed.as_secs_f64(),
            "ceiling_records_per_s": ceiling_rate, "formats": Value::Object(per_format),
        }),
    );
    Ok(())
}

fn rate(r: &RunResult) -> f64 {
    r.records_in as f64 / r.measured.elapsed.as_secs_f64()
}

/// A run that read or wrote another count than the source holds is a bug, not a figure.
fn check_counts(r: &RunResult, records: u64) -> Result<()> {
    if r.records_in != records || r.records_out != records {
        bail!(
            "c2k run read {} and wrote {} records, the source holds {records}",
            r.records_in,
            r.records_out
        );
    }
    Ok(())
}
