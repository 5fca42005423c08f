//! What the layout tests (`camus_text`, `connect_sinks`) share: the messages they archive, the
//! order a replay of them must have, the envelope lines `c2k run` writes, and the Java writers
//! (Hadoop's and Avro's classes) they run, one JVM per spec file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;

use super::hdfs::hadoop_jars;
use super::process::run_with_timeout;

/// One archived message.
#[derive(Debug, Clone)]
pub struct Message {
    pub partition: u32,
    pub offset: u64,
    pub time: i64,
    pub text: String,
}

/// What a replay of `files` sorted by `header.time` must be: every message once, by (time,
/// partition, offset) — the order of time-field's keys, ties broken by the archive's order — as
/// (text, timestamp).
pub fn by_time(files: &[Vec<Message>]) -> Vec<(String, i64)> {
    let mut all: Vec<&Message> = files.iter().flatten().collect();
    all.sort_by_key(|m| (m.time, m.partition, m.offset));
    all.iter().map(|m| (m.text.clone(), m.time)).collect()
}

/// The envelope lines `c2k run` wrote to `path` (`framing: envelope`), as (value, timestamp).
pub fn envelope_lines(path: &Path) -> Vec<(String, i64)> {
    let out = std::fs::read_to_string(path).expect("output");
    out.lines()
        .map(|line| {
            let message: Json = serde_json::from_str(line).expect("an envelope line");
            (
                message["value"].as_str().expect("a text value").to_string(),
                message["timestamp_ms"].as_i64().expect("a timestamp"),
            )
        })
        .collect()
}

/// Whether there is no JDK (said through [`super::missing`], a failure under `CI=true`).
pub fn skip_without_javac(to: &str) -> bool {
    let java = Command::new("javac").arg("-version").output();
    if java.is_ok_and(|o| o.status.success()) {
        return false;
    }
    super::missing(&format!("javac (a JDK), to run {to}"));
    true
}

/// Runs `class` (compiled into `classes`, with the Hadoop jars) over `spec` (its tab-separated
/// lines, one file each); its standard output.
pub fn run_java_spec(classes: &Path, class: &str, spec: &str) -> String {
    let spec_path = classes.join(format!("spec-{}-{}", std::process::id(), spec.len()));
    std::fs::write(&spec_path, spec).expect("spec");
    let output = run_with_timeout(
        Command::new("java")
            .arg("-cp")
            .arg(format!(
                "{}:{}/*",
                classes.display(),
                hadoop_jars().display()
            ))
            .args([class, "spec"])
            .arg(&spec_path),
        Duration::from_secs(180),
    );
    assert!(
        output.status.success(),
        "{class} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}
