//! `c2k verify` and the integrity gate of `c2k run`, on a Camus tree nobody in this project's code
//! wrote: data files by fastavro (`tests/fixtures/write_camus_runs.py`: three runs, late events
//! interleaving a run's files), offsets files by Hadoop's own SequenceFile writer, commits to a
//! real ZooKeeper. Each kind of damage gives its exit code, message and table, and nothing is
//! published or committed where it must not be.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::c2k::{C2k, Run};
use crate::support::camus::python;
use crate::support::offsets::{self, key, HadoopFile, DEFAULT_CODEC};
use crate::support::servers::ZooKeeper;

const LIMIT: Duration = Duration::from_secs(120);
const TOPIC: &str = "PAGE_VIEWS";

/// A tree written by the fixtures, and what they say it holds.
struct Tree {
    dir: tempfile::TempDir,
    records: u64,
    cutoffs: BTreeMap<i32, i64>,
    files: Vec<String>,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        python(
            "write_camus_runs.py",
            &[dir.path().to_str().unwrap(), TOPIC],
        );
        let expected: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("expected.json")).unwrap())
                .unwrap();
        let history: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("history.json")).unwrap())
                .unwrap();
        let mut hadoop_files = Vec::new();
        for run in history["runs"].as_array().unwrap() {
            let folder = dir
                .path()
                .join("execution/base/history")
                .join(run["name"].as_str().unwrap());
            let previous = pairs(&run["previous"]);
            if !previous.is_empty() {
                hadoop_files.push(offsets_file(folder.join("offsets-previous"), &previous));
            }
            for (task, ends) in run["tasks"].as_array().unwrap().iter().enumerate() {
                hadoop_files.push(offsets_file(
                    folder.join(format!("offsets-m-{task:05}")),
                    &pairs(ends),
                ));
            }
        }
        offsets::write_with_hadoop(&hadoop_files);
        Tree {
            records: expected["records"].as_u64().unwrap(),
            cutoffs: expected["cutoffs"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(p, o)| (p.parse().unwrap(), o.as_i64().unwrap()))
                .collect(),
            files: expected["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
                .collect(),
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn topic_dir(&self) -> PathBuf {
        self.path().join("destination").join(TOPIC)
    }

    /// The data file of `partition` whose name ends at `next` (the offset after its last record).
    fn file_ending_at(&self, partition: i32, next: i64) -> String {
        self.files
            .iter()
            .find(|f| f.contains(&format!(".{partition}.")) && f.contains(&format!(".{next}.")))
            .unwrap_or_else(|| panic!("no file of partition {partition} ends at {next}"))
            .clone()
    }

    /// A file of `partition` that is neither the newest nor the oldest run's.
    fn middle_file(&self, partition: i32) -> (String, u64) {
        let mut of_partition: Vec<(i64, u64, &String)> = self
            .files
            .iter()
            .filter_map(|f| {
                let name = f.rsplit('/').next()?;
                let fields: Vec<&str> = name.split('.').collect();
                if fields[2] != partition.to_string() {
                    return None;
                }
                Some((fields[4].parse().ok()?, fields[3].parse().ok()?, f))
            })
            .collect();
        of_partition.sort();
        let (_, count, file) = of_partition[of_partition.len() / 2];
        (file.clone(), count)
    }

    /// Writes the pipeline: json lines into `out.jsonl`, offsets to `zk` (none without one).
    fn pipeline(&self, zk: Option<&ZooKeeper>) -> String {
        let sink = format!("  type: file\n  path: {}\n", self.out().display());
        self.pipeline_with(zk, &sink)
    }

    /// The pipeline with a `sink:` section of its own.
    fn pipeline_with(&self, zk: Option<&ZooKeeper>, sink: &str) -> String {
        let commit = match zk {
            Some(zk) => format!(
                // No live topic here: the hand-off checks against one are tests/offsets_live.rs's.
                "  commit: zookeeper\n  zookeeper: {}\n  group: replayers\n  live_check: warn\n",
                zk.connect_string()
            ),
            None => "  commit: none\n".to_string(),
        };
        let path = self.path().join("pipeline.yaml");
        std::fs::write(
            &path,
            format!(
                "topic: {TOPIC}\nsource:\n  dest_dir: {}\nkey:\n  config: {{field: header.time}}\n\
                 format:\n  plugin: json\nsink:\n{sink}offsets:\n  exec_dir: {}\n{commit}",
                self.path().join("destination").display(),
                self.path().join("execution").display(),
            ),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    }

    fn out(&self) -> PathBuf {
        self.path().join("out.jsonl")
    }

    fn published(&self) -> Option<usize> {
        std::fs::read_to_string(self.out())
            .ok()
            .map(|text| text.lines().count())
    }

    fn c2k(&self, args: &[&str]) -> Run {
        C2k::new(args).dir(self.path()).timeout(LIMIT).run()
    }
}

fn pairs(value: &Value) -> Vec<(i32, i64)> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| (pair[0].as_i64().unwrap() as i32, pair[1].as_i64().unwrap()))
        .collect()
}

fn offsets_file(path: PathBuf, offsets: &[(i32, i64)]) -> HadoopFile<'static> {
    HadoopFile {
        path,
        compression: "none",
        codec: DEFAULT_CODEC,
        layout: "map",
        keys: offsets
            .iter()
            .map(|&(p, o)| key(TOPIC, "1", p, o - 1, o))
            .collect(),
    }
}

fn committed(zk: &ZooKeeper) -> Vec<(String, String)> {
    offsets::read_zookeeper_tree(
        &zk.connect_string(),
        &format!("/consumers/replayers/offsets/{TOPIC}"),
    )
}

fn assert_exit(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(
        run.code,
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    for needle in needles {
        assert!(all.contains(needle), "output lacks `{needle}`:\n{all}");
    }
    assert!(!all.contains("panicked"), "{all}");
}

#[test]
fn a_consistent_tree_verifies_clean_replays_every_record_and_commits_the_cutoff() {
    let tree = Tree::new();
    let zk = ZooKeeper::start();
    let pipeline = tree.pipeline(Some(&zk));

    let verify = tree.c2k(&["verify", &pipeline]);
    assert_exit(&verify, 0, &["consistent", "(all)", "start unknown"]);
    let json = tree.c2k(&["verify", &pipeline, "--format", "json"]);
    assert_exit(&json, 0, &[]);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["records"].as_u64(), Some(tree.records));
    for partition in report["partitions"].as_array().unwrap() {
        let p = partition["partition"].as_i64().unwrap() as i32;
        assert_eq!(partition["cutoff"].as_i64(), Some(tree.cutoffs[&p]));
        // The first run's start is not recorded by Camus (an empty offsets-previous).
        assert_eq!(partition["status"], "start unknown", "{partition}");
    }
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["severity"] == "note"));

    tree.c2k(&["run", &pipeline]).assert_ok();
    assert_eq!(tree.published(), Some(tree.records as usize));
    let want: Vec<(String, String)> = tree
        .cutoffs
        .iter()
        .map(|(p, o)| (p.to_string(), o.to_string()))
        .collect();
    assert_eq!(committed(&zk), want);
}

#[test]
fn a_missing_file_of_the_newest_run_stops_the_run_before_anything_is_sent() {
    let tree = Tree::new();
    let zk = ZooKeeper::start();
    let pipeline = tree.pipeline(Some(&zk));
    let newest = tree.file_ending_at(1, tree.cutoffs[&1]);
    std::fs::remove_file(tree.topic_dir().join(&newest)).unwrap();

    let verify = tree.c2k(&["verify", &pipeline]);
    assert_exit(
        &verify,
        5,
        &[
            "error   gap",
            "partition 1, run 2024-03-10-13-05-00",
            "newest",
            "NOT consistent",
        ],
    );
    let run = tree.c2k(&["run", &pipeline]);
    assert_exit(
        &run,
        5,
        &["nothing was sent", "ahead of the archive", "PAGE_VIEWS/1"],
    );
    assert_eq!(tree.published(), None);
    assert!(committed(&zk).is_empty());

    // warn publishes what there is, but never commits a cut-off past it; and says where it
    // wrote: into the file, not a topic.
    let warned = tree.c2k(&["run", &pipeline, "--set", "source.integrity=warn"]);
    let into_the_file = format!("messages in file {})", tree.out().display());
    assert_exit(
        &warned,
        5,
        &[
            "publishing anyway",
            "no offsets were committed",
            &into_the_file,
        ],
    );
    assert!(!warned.stderr.contains("_REPLAY"), "{}", warned.stderr);
    assert!(tree.published().is_some_and(|n| n < tree.records as usize));
    assert!(committed(&zk).is_empty());

    // Nor does the offsets step alone.
    let commit = tree.c2k(&["offsets", "commit", &pipeline]);
    assert_exit(
        &commit,
        5,
        &["ahead of the archive", "nothing was committed"],
    );
    assert!(committed(&zk).is_empty());
}

#[test]
fn a_missing_file_of_a_middle_run_is_a_gap_naming_its_offsets() {
    let tree = Tree::new();
    let pipeline = tree.pipeline(None);
    let (middle, count) = tree.middle_file(2);
    std::fs::remove_file(tree.topic_dir().join(&middle)).unwrap();

    let verify = tree.c2k(&["verify", &pipeline]);
    assert_exit(
        &verify,
        5,
        &[
            "error   gap",
            "partition 2",
            &format!("{count} are in no data file"),
        ],
    );
    assert_exit(&tree.c2k(&["run", &pipeline]), 5, &["nothing was sent"]);
    assert_eq!(tree.published(), None);
    let warned = tree.c2k(&["run", &pipeline, "--set", "source.integrity=warn"]);
    assert_exit(&warned, 0, &["publishing anyway"]);
    assert_eq!(tree.published(), Some((tree.records - count) as usize));
}

#[test]
fn identical_copies_under_another_leader_or_in_another_folder_are_read_once() {
    let tree = Tree::new();
    let pipeline = tree.pipeline(None);
    let (file, count) = tree.middle_file(0);
    let source = tree.topic_dir().join(&file);
    // Another leader id (a re-moved run), and the same name in another hour folder.
    let name = file.rsplit('/').next().unwrap();
    let other_leader = source.with_file_name(name.replacen(".1.0.", ".7.0.", 1));
    let other_folder = tree.topic_dir().join("hourly/2024/03/10/23").join(name);
    std::fs::create_dir_all(other_folder.parent().unwrap()).unwrap();
    std::fs::copy(&source, &other_leader).unwrap();
    std::fs::copy(&source, &other_folder).unwrap();

    // A warning alone is what `c2k run` compensates for: verify passes, saying it.
    let verify = tree.c2k(&["verify", &pipeline]);
    assert_exit(
        &verify,
        0,
        &[
            "warning copy",
            "3 identical copies",
            "same count, last offset and bytes",
            "read once",
            "consistent with 1 warnings",
        ],
    );
    let run = tree.c2k(&["run", &pipeline]);
    assert_exit(&run, 0, &["2 identical copies of data files read once"]);
    assert_eq!(tree.published(), Some(tree.records as usize));
    let _ = count;
}

#[test]
fn a_namesake_of_the_same_size_with_other_records_is_a_conflict_naming_both_files() {
    let tree = Tree::new();
    let pipeline = tree.pipeline(None);
    let (file, _) = tree.middle_file(0);
    let original = tree.topic_dir().join(&file);
    // The same partition, count and last offset under another leader id, in another folder, of
    // the same size: one record differs.
    let name = file.rsplit('/').next().unwrap();
    let other_name = name.replacen(".1.0.", ".7.0.", 1);
    let other = tree
        .topic_dir()
        .join("hourly/2024/03/10/23")
        .join(&other_name);
    python(
        "write_namesake.py",
        &[original.to_str().unwrap(), other.to_str().unwrap()],
    );
    assert_eq!(
        std::fs::metadata(&original).unwrap().len(),
        std::fs::metadata(&other).unwrap().len()
    );
    assert_ne!(
        std::fs::read(&original).unwrap(),
        std::fs::read(&other).unwrap()
    );

    let verify = tree.c2k(&["verify", &pipeline, "--names-only"]);
    assert_exit(
        &verify,
        5,
        &["error   conflict", "contents differ", name, &other_name],
    );
    let run = tree.c2k(&["run", &pipeline]);
    assert_exit(
        &run,
        5,
        &["contents differ", "nothing was sent", name, &other_name],
    );
    assert_eq!(tree.published(), None);
}

#[test]
fn a_partial_overlap_is_a_duplicate_naming_both_files() {
    let tree = Tree::new();
    let pipeline = tree.pipeline(None);
    let extras = tree.path().join("extras/partial");
    let partial = crate::support::camus::avro_files(&extras).pop().unwrap();
    let relative = partial.strip_prefix(&extras).unwrap().to_path_buf();
    std::fs::rename(&partial, tree.topic_dir().join(&relative)).unwrap();

    let verify = tree.c2k(&["verify", &pipeline]);
    let name = relative.file_name().unwrap().to_str().unwrap();
    assert_exit(
        &verify,
        5,
        &[
            "error   duplicate",
            "partition 1",
            "records are there twice",
            name,
        ],
    );
    assert_exit(&tree.c2k(&["run", &pipeline]), 5, &["nothing was sent"]);
    assert_eq!(tree.published(), None);
}

#[test]
fn a_fifo_where_a_data_file_was_is_an_error_in_every_mode() {
    let tree = Tree::new();
    let pipeline = tree.pipeline(None);
    let (file, _) = tree.middle_file(1);
    let path = tree.topic_dir().join(&file);
    std::fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());

    assert_exit(
        &tree.c2k(&["verify", &pipeline]),
        5,
        &["error   stray", "FIFO", "error   gap"],
    );
    for mode in ["fail", "warn"] {
        let run = tree.c2k(&[
            "run",
            &pipeline,
            "--set",
            &format!("source.integrity={mode}"),
        ]);
        assert_exit(&run, 5, &["is a FIFO (named pipe)", &file]);
        assert_eq!(tree.published(), None);
    }
}

#[test]
fn a_history_ahead_of_the_data_commits_nothing() {
    let tree = Tree::new();
    let zk = ZooKeeper::start();
    let pipeline = tree.pipeline(Some(&zk));
    // A newer run that says it read 50 more offsets of partition 0 — whose files are not here.
    let run = tree
        .path()
        .join("execution/base/history/2024-03-10-14-05-00");
    let previous: Vec<(i32, i64)> = tree.cutoffs.iter().map(|(&p, &o)| (p, o)).collect();
    let mut ahead = previous.clone();
    ahead[0].1 += 50;
    offsets::write_with_hadoop(&[
        offsets_file(run.join("offsets-previous"), &previous),
        offsets_file(run.join("offsets-m-00000"), &ahead),
    ]);

    let verify = tree.c2k(&["verify", &pipeline]);
    assert_exit(
        &verify,
        5,
        &[
            "partition 0, run 2024-03-10-14-05-00",
            "among them the run's newest offsets",
        ],
    );
    assert_exit(
        &tree.c2k(&["run", &pipeline]),
        5,
        &["nothing was sent", "PAGE_VIEWS/0"],
    );
    assert_eq!(tree.published(), None);
    assert_exit(
        &tree.c2k(&["offsets", "commit", &pipeline]),
        5,
        &["ahead of the archive"],
    );
    assert!(committed(&zk).is_empty());
}

#[test]
fn files_no_run_accounts_for_are_strays() {
    let tree = Tree::new();
    let pipeline = tree.pipeline(None);
    let (file, _) = tree.middle_file(2);
    let source = tree.topic_dir().join(&file);
    let manual = tree.topic_dir().join("manual/part-00000.avro");
    std::fs::create_dir_all(manual.parent().unwrap()).unwrap();
    std::fs::copy(&source, &manual).unwrap();
    // A file past the cut-off: written by a run that never reached the history.
    let cutoff = tree.cutoffs[&2];
    let beyond = tree.topic_dir().join(format!(
        "hourly/2024/03/10/13/{TOPIC}.3.2.1.{}.1710072000000.avro",
        cutoff + 1
    ));
    std::fs::create_dir_all(beyond.parent().unwrap()).unwrap();
    std::fs::copy(
        tree.topic_dir().join(tree.file_ending_at(2, cutoff)),
        &beyond,
    )
    .unwrap();

    let verify = tree.c2k(&["verify", &pipeline]);
    assert_exit(
        &verify,
        5,
        &[
            "manual/part-00000.avro: not a Camus data file name",
            "beyond where the newest run",
        ],
    );
    assert_exit(&tree.c2k(&["run", &pipeline]), 5, &["nothing was sent"]);
}

#[test]
fn a_truncated_data_file_is_found_by_verify_and_stops_the_run_before_anything_is_sent() {
    let tree = Tree::new();
    let pipeline = tree.pipeline(None);
    let (file, _) = tree.middle_file(0);
    let path = tree.topic_dir().join(&file);
    let length = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(length - 40)
        .unwrap();

    assert_exit(
        &tree.c2k(&["verify", &pipeline]),
        5,
        &["error   damaged", &file],
    );
    // The names alone are consistent: --names-only does not read the files.
    assert_exit(
        &tree.c2k(&["verify", &pipeline, "--names-only"]),
        0,
        &["consistent"],
    );
    let run = tree.c2k(&["run", &pipeline]);
    assert_exit(&run, 1, &[&file]);
    assert_eq!(tree.published(), None);
}

/// The topics a cluster has.
fn topics(brokers: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(None, Duration::from_secs(20))
        .unwrap();
    metadata
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .collect()
}

/// A missing newest file on a real broker: nothing is published (the replay topic is not even
/// created); with `warn`, exactly the records the archive still holds are.
fn a_damaged_archive_publishes_nothing_on(brokers: &str) {
    let tree = Tree::new();
    let sink = format!("  type: kafka\n  brokers: '{brokers}'\n  topic: DAMAGED\n");
    let pipeline = tree.pipeline_with(None, &sink);
    let newest = tree.file_ending_at(2, tree.cutoffs[&2]);
    let missing: u64 = newest
        .rsplit('/')
        .next()
        .unwrap()
        .split('.')
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    std::fs::remove_file(tree.topic_dir().join(&newest)).unwrap();

    assert_exit(
        &tree.c2k(&["run", &pipeline]),
        5,
        &["nothing was sent", "partition 2"],
    );
    assert!(!topics(brokers).contains(&"DAMAGED".to_string()));

    let warned = tree.c2k(&["run", &pipeline, "--set", "source.integrity=warn"]);
    assert_exit(&warned, 0, &["publishing anyway"]);
    let want = (tree.records - missing) as usize;
    let got = crate::support::kafka::read_topic(brokers, "DAMAGED", want, Duration::from_secs(60));
    assert_eq!(got.len(), want);
}

#[test]
fn on_tansu_a_damaged_archive_publishes_nothing() {
    let tansu = crate::support::servers::Tansu::start();
    a_damaged_archive_publishes_nothing_on(&tansu.brokers());
}

#[test]
fn on_apache_kafka_a_damaged_archive_publishes_nothing() {
    let Some(kafka) = crate::support::apache_kafka::ApacheKafka::start() else {
        return;
    };
    a_damaged_archive_publishes_nothing_on(&kafka.bootstrap());
}
