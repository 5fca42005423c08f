//! Helpers shared by the integration tests: running `c2k` and other programs (always with a
//! timeout), writing Camus trees and offsets files with independent implementations, and starting
//! real servers on loopback ports (ZooKeeper, HDFS, tansu, Apache Kafka 3.3.2, 2.1.1 and 0.8.2.2, a
//! Kerberos KDC, an S3 server: SeaweedFS, Azure Blob Storage: Azurite) and making TLS certificates.

use std::io::Write as _;
use std::path::{Path, PathBuf};

pub mod apache_kafka;
pub mod archived;
pub mod azurite;
pub mod c2k;
pub mod camus;
pub mod hdfs;
pub mod kafka;
pub mod kafka_cluster;
pub mod kerberos;
pub mod live;
pub mod offsets;
pub mod plugins;
pub mod process;
pub mod s3;
pub mod servers;
pub mod tls;
pub mod topics;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runner/ sits in the repository")
        .to_path_buf()
}

/// The environment variable naming the file where skipped tests are listed (`scripts/test.sh`
/// sets it, empties the file first and prints it at the end of the run).
pub const SKIPPED_FILE_ENV: &str = "C2K_SKIPPED_FILE";

/// A server or tool a test needs is missing: on a developer's machine the test says so and
/// returns (skips); under CI (`CI=true`) it fails, so that a suite that tested nothing never
/// passes. `scripts/setup.sh` installs all of them.
///
/// A skipped test passes, and nextest hides a passing test's output: so the skip is also written,
/// with the test's name, to the file named by `C2K_SKIPPED_FILE` (by default
/// `<target dir>/c2k-skipped.txt`), which `scripts/test.sh` prints in the run's summary.
pub fn missing(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {what}: scripts/setup.sh should have installed it");
    }
    eprintln!("SKIPPED: {what}");
    let file = std::env::var_os(SKIPPED_FILE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("../c2k-skipped.txt"));
    let line = format!("{}: {what}\n", test_name());
    // One short append per line, so that tests in parallel processes do not mix their lines.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot list the skip in {}: {e}", file.display());
    }
}

/// The running test's name: libtest runs each test on a thread named after it.
fn test_name() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        _ => std::env::var("NEXTEST_TEST_NAME").unwrap_or_else(|_| "a test".to_string()),
    }
}

/// Every file below `dir` (through symbolic links), as paths relative to it, sorted: what the
/// object-store servers' `upload_dir` upload.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let entries = std::fs::read_dir(dir.join(&relative))
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(&relative).display()));
        for entry in entries {
            let entry = entry.expect("a directory entry");
            let path = relative.join(entry.file_name());
            // Through symbolic links, as a copy would.
            if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
