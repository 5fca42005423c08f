//! Camus trees for the source tests: written by Python's fastavro (an implementation independent
//! of ours) and read back with fastavro, with a timeout on every child process.
//!
//! A missing `python3`, `fastavro`, `cramjam` or `zstandard` fails the test with a clear message:
//! CI installs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use super::process::run_with_timeout;

/// `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    super::repo().join("tests/fixtures")
}

/// Runs a fixture script with python3; panics with its stderr if it fails.
pub fn python(script: &str, args: &[&str]) -> Output {
    let output = run_with_timeout(
        Command::new("python3")
            .arg(fixtures_dir().join(script))
            .args(args),
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "python3 {script} failed (CI must install python3 with fastavro, cramjam and zstandard):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A fastavro-written tree in `out` (see `tests/fixtures/write_camus_tree.py`); returns the
/// expected records.
pub fn write_fastavro_tree(out: &Path, topic: &str) -> Vec<serde_json::Value> {
    python(
        "write_camus_tree.py",
        &[out.to_str().expect("utf-8 path"), topic],
    );
    std::fs::read_to_string(out.join("expected.jsonl"))
        .expect("expected.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("expected.jsonl line"))
        .collect()
}

/// Every record of the files as fastavro reads them (JSON lines, `c2k inspect`'s mapping).
pub fn fastavro_records(files: &[PathBuf]) -> Vec<serde_json::Value> {
    let args: Vec<&str> = files.iter().map(|f| f.to_str().expect("utf-8")).collect();
    let output = python("fastavro_dump.py", &args);
    String::from_utf8(output.stdout)
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("fastavro_dump line"))
        .collect()
}

/// fastavro's summary of the files: `{"records", "codecs", "schemas"}`.
pub fn fastavro_summary(files: &[PathBuf]) -> serde_json::Value {
    let mut args = vec!["--summary"];
    args.extend(files.iter().map(|f| f.to_str().expect("utf-8")));
    let output = python("fastavro_dump.py", &args);
    serde_json::from_slice(&output.stdout).expect("summary JSON")
}

/// Every `*.avro` file below `dir` (hidden and `_` folders included), sorted.
pub fn avro_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "avro") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Every file below `dir` with its bytes, by relative path.
pub fn tree_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("below dir")
                    .to_string_lossy()
                    .into_owned();
                found.push((rel, std::fs::read(&path).expect("read file")));
            }
        }
    }
    found.sort();
    found
}
