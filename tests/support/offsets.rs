//! Helpers for the offsets tests: Camus offsets files written by Hadoop's own SequenceFile writer
//! (a small Java program in `tests/fixtures/java`, compiled against the Hadoop 2.7.3 jars), a
//! pipeline file for the offsets step, and what ZooKeeper holds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::hdfs::hadoop_jars;
use super::process::run_with_timeout;

/// One EtlKey the Java writer appends.
#[derive(Debug, Clone)]
pub struct Key {
    pub topic: &'static str,
    pub leader: &'static str,
    pub partition: i32,
    pub begin: i64,
    pub offset: i64,
}

pub fn key(
    topic: &'static str,
    leader: &'static str,
    partition: i32,
    begin: i64,
    offset: i64,
) -> Key {
    Key {
        topic,
        leader,
        partition,
        begin,
        offset,
    }
}

/// One offsets file: compression `none|record|block`, a Hadoop codec class, layout `legacy|map`.
pub struct HadoopFile<'a> {
    pub path: PathBuf,
    pub compression: &'a str,
    pub codec: &'a str,
    pub layout: &'a str,
    pub keys: Vec<Key>,
}

pub const DEFAULT_CODEC: &str = "org.apache.hadoop.io.compress.DefaultCodec";
pub const BZIP2_CODEC: &str = "org.apache.hadoop.io.compress.BZip2Codec";

/// The compiled Java writer (compiled once per test process).
fn java_classes() -> PathBuf {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES
        .get_or_init(|| {
            compile_java(
                "offsets",
                &[
                    "WriteOffsets.java",
                    "com/linkedin/camus/etl/kafka/common/EtlKey.java",
                ],
            )
        })
        .clone()
}

/// Compiles `sources` (under `tests/fixtures/java`) against the Hadoop jars into a folder of its
/// own (`c2k-<what>-java-<pid>`); its path.
pub fn compile_java(what: &str, sources: &[&str]) -> PathBuf {
    let out = std::env::temp_dir().join(format!("c2k-{what}-java-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("classes dir");
    let src = super::repo().join("tests/fixtures/java");
    let output = run_with_timeout(
        Command::new("javac")
            .args(["-nowarn", "-cp"])
            .arg(format!("{}/*", hadoop_jars().display()))
            .arg("-d")
            .arg(&out)
            .args(sources.iter().map(|s| src.join(s))),
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "javac failed (a JDK is needed: CI installs openjdk): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Writes the files with Hadoop's SequenceFile.Writer.
pub fn write_with_hadoop(files: &[HadoopFile<'_>]) {
    let classes = java_classes();
    let mut spec = String::new();
    for f in files {
        std::fs::create_dir_all(f.path.parent().expect("parent")).expect("mkdir");
        writeln!(
            spec,
            "file {} {} {} {}",
            f.path.display(),
            f.compression,
            f.codec,
            f.layout
        )
        .unwrap();
        for k in &f.keys {
            writeln!(
                spec,
                "key {} {} {} {} {} 77 1700000000000",
                k.topic,
                if k.leader.is_empty() { "-" } else { k.leader },
                k.partition,
                k.begin,
                k.offset
            )
            .unwrap();
        }
    }
    let spec_path = classes.join(format!("spec-{}", unique()));
    std::fs::write(&spec_path, spec).expect("spec");
    let mut java = Command::new("java");
    java.arg("-cp")
        .arg(format!(
            "{}:{}/*",
            classes.display(),
            hadoop_jars().display()
        ))
        .arg("WriteOffsets")
        .arg(&spec_path);
    let output = run_with_timeout(&mut java, Duration::from_secs(120));
    assert!(
        output.status.success(),
        "WriteOffsets failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A history with an older run and a newest one written by Hadoop: several compression types,
/// both EtlKey layouts, other topics mixed in. Returns the history dir; the newest run's
/// expected offsets of `PAGE_VIEWS` are [`EXPECTED`].
pub fn hadoop_history(exec_dir: &Path) -> PathBuf {
    let history = exec_dir.join("base/history");
    let old = history.join("2024-01-15-09-00-00");
    let new = history.join("2024-01-15-10-00-00");
    write_with_hadoop(&[
        HadoopFile {
            path: old.join("offsets-m-00000"),
            compression: "none",
            codec: DEFAULT_CODEC,
            layout: "map",
            keys: vec![key("PAGE_VIEWS", "1", 0, 0, 999_999)],
        },
        HadoopFile {
            path: new.join("offsets-m-00000"),
            compression: "none",
            codec: DEFAULT_CODEC,
            layout: "map",
            keys: vec![
                key("PAGE_VIEWS", "1", 0, 100, 150),
                key("CLICKS", "1", 0, 0, 7),
            ],
        },
        HadoopFile {
            path: new.join("offsets-m-00001"),
            compression: "record",
            codec: DEFAULT_CODEC,
            layout: "legacy",
            keys: vec![
                key("CLICKS", "2", 1, 0, 9),
                key("PAGE_VIEWS", "2", 1, 200, 260),
            ],
        },
        HadoopFile {
            path: new.join("offsets-m-00002"),
            compression: "block",
            codec: DEFAULT_CODEC,
            layout: "map",
            keys: vec![
                key("PAGE_VIEWS", "3", 2, 300, 333),
                key("PAGE_VIEWS", "1", 0, 100, 140),
            ],
        },
        HadoopFile {
            path: new.join("offsets-m-00003"),
            compression: "record",
            codec: BZIP2_CODEC,
            layout: "map",
            keys: vec![key("PAGE_VIEWS", "1", 3, 0, 4_000_000_000)],
        },
        HadoopFile {
            path: new.join("offsets-m-00004"),
            compression: "block",
            codec: BZIP2_CODEC,
            layout: "legacy",
            keys: vec![
                key("OTHER", "1", 4, 0, 1),
                key("PAGE_VIEWS", "2", 4, 10, 44),
            ],
        },
    ]);
    history
}

/// (partition, offset, node) the newest run of [`hadoop_history`] resumes `PAGE_VIEWS` from.
pub const EXPECTED: &[(i32, i64, &str)] = &[
    (0, 150, "1"),
    (1, 260, "2"),
    (2, 333, "3"),
    (3, 4_000_000_000, "1"),
    (4, 44, "2"),
];

/// [`pipeline`] committing to ZooKeeper at `connect` (a connect string, maybe with a chroot) for
/// `group`, with no live topic: these pipelines test how offsets are written, so the live-topic
/// check only warns (`offsets.live_check: warn`; `offsets_live` tests the check itself).
pub fn zookeeper_pipeline(dir: &Path, exec_dir: &Path, connect: &str, group: &str) -> PathBuf {
    pipeline(
        dir,
        exec_dir,
        &format!("commit: zookeeper\nzookeeper: {connect}\ngroup: {group}\nlive_check: warn"),
    )
}

/// Writes a pipeline file for the offsets step (`sink: stdout`, so no broker is needed), its
/// `offsets:` section holding `offsets_yaml` (one `key: value` a line).
///
/// When `exec_dir` holds a local history, the archive `dir/destination/PAGE_VIEWS` is written to
/// match it ([`archive_for_history`]): the offsets step refuses a cut-off the archive does not
/// hold.
pub fn pipeline(dir: &Path, exec_dir: &Path, offsets_yaml: &str) -> PathBuf {
    if exec_dir.join("base/history").is_dir() {
        archive_for_history(dir, exec_dir);
    }
    let path = dir.join("pipeline.yaml");
    let text = format!(
        "topic: PAGE_VIEWS\nsource:\n  dest_dir: {}\nsink:\n  type: stdout\noffsets:\n  exec_dir: {}\n{}",
        dir.join("destination").display(),
        exec_dir.display(),
        offsets_yaml
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    );
    std::fs::write(&path, text).expect("write pipeline");
    path
}

/// The children of `path` in ZooKeeper `connect` and their values, sorted by name (none when
/// `path` does not exist).
pub fn read_zookeeper_tree(connect: &str, path: &str) -> Vec<(String, String)> {
    read_zookeeper_tree_as(zookeeper_client::Client::connector(), connect, path)
}

/// [`read_zookeeper_tree`] through a client `connector` made (SASL credentials, ...).
pub fn read_zookeeper_tree_as(
    connector: zookeeper_client::Connector,
    connect: &str,
    path: &str,
) -> Vec<(String, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let client = tokio::time::timeout(Duration::from_secs(20), connector.connect(connect))
            .await
            .expect("connect to ZooKeeper in time")
            .expect("connect to ZooKeeper");
        let mut children = match client.list_children(path).await {
            Ok(children) => children,
            // Nothing committed (yet): no node.
            Err(zookeeper_client::Error::NoNode) => Vec::new(),
            Err(e) => panic!("list {path}: {e}"),
        };
        children.sort();
        let mut out = Vec::new();
        for child in children {
            let (data, _) = client
                .get_data(&format!("{path}/{child}"))
                .await
                .unwrap_or_else(|e| panic!("read {path}/{child}: {e}"));
            out.push((child, String::from_utf8(data).expect("a UTF-8 offset")));
        }
        out
    })
}

/// Writes (with fastavro) `dir/destination/PAGE_VIEWS`: per run and partition of the history in
/// `exec_dir`, one data file holding what the run advanced (one record ending at the run's end
/// when its start is not recorded), so that the archive is exactly what the history says.
pub fn archive_for_history(dir: &Path, exec_dir: &Path) {
    let topic_dir = dir.join("destination/PAGE_VIEWS");
    let _ = std::fs::remove_dir_all(&topic_dir);
    let history = exec_dir.join("base/history");
    let runs = camus2kafka::testing::every_run(history.to_str().expect("utf-8"), "PAGE_VIEWS")
        .expect("read the history");
    let mut partitions: Vec<i32> = runs.iter().flat_map(|r| r.partitions()).collect();
    partitions.sort_unstable();
    partitions.dedup();
    let mut spec = Vec::new();
    for p in partitions {
        let mut previous_end: Option<i64> = None;
        for (index, run) in runs.iter().enumerate() {
            let Some(end) = run.end(p) else { continue };
            let count = match run.started.get(&p).copied().or(previous_end) {
                Some(start) if end > start => end - start,
                Some(_) => 0,
                None => i64::from(end > 0),
            };
            if count > 0 {
                spec.push(serde_json::json!({
                    "path": topic_dir.join(format!(
                        "hourly/2024/01/01/{index:02}/PAGE_VIEWS.1.{p}.{count}.{end}.1704067200000.avro"
                    )),
                    "count": count,
                    "time_ms": 1_704_067_200_000i64,
                }));
            }
            previous_end = Some(previous_end.map_or(end, |before| before.max(end)));
        }
    }
    let spec_path = dir.join(format!("archive-spec-{}.json", unique()));
    std::fs::write(&spec_path, serde_json::to_vec(&spec).expect("spec")).expect("write spec");
    crate::support::camus::python("write_avro_files.py", &[spec_path.to_str().expect("utf-8")]);
}
