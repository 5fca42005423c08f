//! How the batch size changes `c2k run`'s speed (`--batch-sweep`): the end-to-end run repeated
//! with `source.batch_size`, `key.batch_size` and `format.batch_size` all set to each size in
//! turn. The defaults in `pipeline/keys.rs` were chosen from this sweep (bench/README.md).

use std::path::Path;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::end_to_end::{self, Layout};

/// The sizes tried, smallest first.
pub const SIZES: [u64; 5] = [100, 300, 1_000, 3_000, 10_000];

pub struct Point {
    pub batch_size: u64,
    pub seconds: f64,
    pub records_per_s: f64,
    pub peak_rss: u64,
}

pub fn sweep(c2k: &Path, pipeline: &Path, layout: &Layout) -> Result<Vec<Point>> {
    let mut points = Vec::new();
    for size in SIZES {
        eprintln!("bench: batch size {size}...");
        let sets: Vec<String> = ["source", "key", "format"]
            .iter()
            .map(|stage| format!("{stage}.batch_size={size}"))
            .collect();
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let run = end_to_end::run(c2k, pipeline, layout, &format!("batch-{size}"), &sets)?;
        if run.records_out != run.records_in {
            bail!(
                "batch size {size}: {} records in, {} out",
                run.records_in,
                run.records_out
            );
        }
        let seconds = run.measured.elapsed.as_secs_f64();
        points.push(Point {
            batch_size: size,
            seconds,
            records_per_s: run.records_in as f64 / seconds,
            peak_rss: run.measured.peak_rss,
        });
    }
    Ok(points)
}

pub fn print(points: &[Point]) {
    println!(
        "\n{:>10}  {:>8}  {:>12}  {:>10}",
        "batch", "seconds", "records/s", "peak RSS"
    );
    for p in points {
        println!(
            "{:>10}  {:>8.1}  {:>12.0}  {:>10}",
            p.batch_size,
            p.seconds,
            p.records_per_s,
            crate::report::mib(p.peak_rss)
        );
    }
}

pub fn to_json(points: &[Point]) -> Value {
    Value::Array(
        points
            .iter()
            .map(|p| {
                json!({ "batch_size": p.batch_size, "seconds": p.seconds,
                        "records_per_s": p.records_per_s, "peak_rss_bytes": p.peak_rss })
            })
            .collect(),
    )
}
