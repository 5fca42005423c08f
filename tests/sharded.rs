//! Sharded replays without Spark (`c2k plan`, `c2k run --plan --shard i`, `c2k offsets commit
//! --plan`), against a real broker (tansu) and a real ZooKeeper: for 1, 3 and 4 shards the replay
//! topic holds, partition by partition, exactly the messages (values, keys, headers, order) of the
//! single-machine run, and the group gets the same offsets, committed only once every partition
//! is complete; a shard rerun adds nothing; an archive changed after the plan is refused by the
//! shard and by the commit; key and single partitioning are refused by the plan, saying why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::c2k::{c2k, Run};
use crate::support::kafka::{self, Received};
use crate::support::{offsets, servers};

pub const RECORDS: u64 = 2_000;
pub const PARTITIONS: u32 = 4;
const LIMIT: Duration = Duration::from_secs(240);

/// A sample tree (`RECORDS` records over `PARTITIONS` partitions, with its Camus history) and a
/// Kafka pipeline over it that commits to ZooKeeper.
pub struct Tree {
    pub dir: tempfile::TempDir,
    pub pipeline: PathBuf,
}

impl Tree {
    pub fn new(brokers: &str, zookeeper: &str) -> Tree {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_str().expect("utf-8 temp dir").to_string();
        let records = RECORDS.to_string();
        let partitions = PARTITIONS.to_string();
        c2k(
            dir.path(),
            &[
                "sample",
                &root,
                "--records",
                &records,
                "--partitions",
                &partitions,
            ],
            LIMIT,
        )
        .assert_ok();
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp dir");
        let pipeline = dir.path().join("replay.yaml");
        std::fs::write(&pipeline, pipeline_yaml(&root, brokers, zookeeper)).expect("pipeline");
        Tree { dir, pipeline }
    }

    pub fn path(&self) -> &str {
        self.pipeline.to_str().expect("utf-8 path")
    }

    /// `c2k ARGS... --set sink.topic=TOPIC --set offsets.group=GROUP`.
    pub fn c2k(&self, args: &[&str], topic: &str, group: &str) -> Run {
        let topic = format!("sink.topic={topic}");
        let group = format!("offsets.group={group}");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--set", &topic, "--set", &group]);
        c2k(self.dir.path(), &all, LIMIT)
    }
}

/// The pipeline: `root` holds `destination/`, `execution/` and `page_view.avsc` (local paths or,
/// for the Spark tests, `hdfs://` URLs).
pub fn pipeline_yaml(root: &str, brokers: &str, zookeeper: &str) -> String {
    format!(
        "topic: PAGE_VIEWS\n\
         source:\n  dest_dir: {root}/destination\n  schema: {root}/page_view.avsc\n\
         key:\n  config: {{ field: header.time }}\n\
         sort:\n  memory: 32MiB\n  tmp_dir: /tmp\n\
         format:\n  plugin: json\n  config: {{ encoding: plain }}\n\
         sink:\n  type: kafka\n  brokers: '{brokers}'\n\
         offsets:\n  exec_dir: {root}/execution\n  commit: zookeeper\n  zookeeper: '{zookeeper}'\n\
         \x20 live_check: warn\n"
    )
}

/// One message as a consumer compares it: everything but the offset.
pub type Message = (
    Option<Vec<u8>>,
    Vec<u8>,
    Vec<(String, Vec<u8>)>,
    Option<i64>,
);

/// A replay topic's messages, by partition, in offset order.
pub type Replay = BTreeMap<i32, Vec<Message>>;

pub fn by_partition(received: &[Received]) -> Replay {
    kafka::by_partition(received)
        .into_iter()
        .map(|(p, messages)| {
            let messages = messages
                .into_iter()
                .map(|m| (m.key, m.value, m.headers, m.timestamp_ms))
                .collect();
            (p, messages)
        })
        .collect()
}

/// The topic, read back, holds exactly `reference`'s messages in each partition, in its order.
pub fn assert_same_replay(brokers: &str, topic: &str, reference: &Replay) {
    let received = kafka::read_topic(brokers, topic, RECORDS as usize, LIMIT);
    assert_eq!(
        received.len() as u64,
        RECORDS,
        "{topic}: messages in the topic"
    );
    let got = by_partition(&received);
    for (partition, messages) in reference {
        let theirs = got.get(partition).map_or(&[][..], Vec::as_slice);
        assert_eq!(
            theirs.len(),
            messages.len(),
            "{topic} partition {partition}: message count"
        );
        assert!(
            theirs == messages.as_slice(),
            "{topic} partition {partition}: the messages or their order differ from the \
             single-machine run's"
        );
    }
    assert_eq!(
        got.len(),
        reference.len(),
        "{topic}: partitions with messages"
    );
}

pub fn committed(zookeeper: &str, group: &str) -> Vec<(String, String)> {
    offsets::read_zookeeper_tree(zookeeper, &format!("/consumers/{group}/offsets/PAGE_VIEWS"))
}

/// The single-machine run into `REFERENCE`: its messages by partition and the offsets it committed.
pub fn reference(tree: &Tree, brokers: &str, zookeeper: &str) -> (Replay, Vec<(String, String)>) {
    tree.c2k(&["run", tree.path()], "REFERENCE", "reference")
        .assert_ok();
    let received = kafka::read_topic(brokers, "REFERENCE", RECORDS as usize, LIMIT);
    let offsets = committed(zookeeper, "reference");
    assert_eq!(
        offsets.len(),
        PARTITIONS as usize,
        "the reference run's offsets"
    );
    (by_partition(&received), offsets)
}

fn plan(tree: &Tree, shards: usize, topic: &str, group: &str) -> String {
    let out = tree.dir.path().join(format!("plan-{topic}.json"));
    let out = out.to_str().expect("utf-8 path").to_string();
    let shards = shards.to_string();
    tree.c2k(
        &["plan", tree.path(), "--shards", &shards, "--out", &out],
        topic,
        group,
    )
    .assert_ok();
    out
}

fn shard(tree: &Tree, plan: &str, index: usize, topic: &str, group: &str) -> Run {
    let index = index.to_string();
    tree.c2k(
        &["run", tree.path(), "--plan", plan, "--shard", &index],
        topic,
        group,
    )
}

fn commit(tree: &Tree, plan: &str, topic: &str, group: &str) -> Run {
    tree.c2k(
        &["offsets", "commit", tree.path(), "--plan", plan],
        topic,
        group,
    )
}

#[test]
fn sharded_replays_of_1_3_and_4_shards_equal_the_single_machine_run_and_commit_once() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let (reference, reference_offsets) = reference(&tree, &brokers, &zookeeper);

    for shards in [1usize, 3, 4] {
        let topic = format!("SHARDED_{shards}");
        let group = format!("sharded-{shards}");
        let plan = plan(&tree, shards, &topic, &group);
        for index in 0..shards {
            let run = shard(&tree, &plan, index, &topic, &group);
            run.assert_ok();
            assert!(
                run.stderr
                    .contains(&format!("shard {index} of {shards} is complete")),
                "{}",
                run.stderr
            );
            assert!(
                committed(&zookeeper, &group).is_empty(),
                "shard {index} of {shards} committed offsets"
            );
            if index + 1 < shards && index == 0 {
                // Not every partition is there yet: the commit refuses, naming what is missing.
                let early = commit(&tree, &plan, &topic, &group);
                assert_eq!(early.code, Some(7), "{}", early.stderr);
                assert!(
                    early.stderr.contains("is not complete")
                        && early.stderr.contains("of 500 messages (shard 1)"),
                    "{}",
                    early.stderr
                );
                assert!(committed(&zookeeper, &group).is_empty());
            }
        }
        // A shard run again (a task retried after it had finished) adds nothing.
        let again = shard(&tree, &plan, 0, &topic, &group);
        again.assert_ok();
        assert!(
            again.stderr.contains("already complete"),
            "{}",
            again.stderr
        );

        commit(&tree, &plan, &topic, &group).assert_ok();
        assert_same_replay(&brokers, &topic, &reference);
        assert_eq!(
            committed(&zookeeper, &group),
            reference_offsets,
            "{shards} shards"
        );
        // Committing again finds the same offsets there and writes nothing.
        let twice = commit(&tree, &plan, &topic, &group);
        twice.assert_ok();
        assert!(
            twice.stdout.contains("already committed"),
            "{}",
            twice.stdout
        );
    }
}

/// On a real Apache Kafka 3.3.2 with `sink.transactions: true`, three shards run at once (they
/// race to create the topic, and each has a transactional id of its own, so none fences another)
/// and the replay, read `read_committed`, equals the single-machine transactional run.
#[test]
fn concurrent_transactional_shards_on_apache_kafka_equal_the_single_machine_run() {
    let Some(broker) = crate::support::apache_kafka::ApacheKafka::start() else {
        return;
    };
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (broker.bootstrap(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let tx = ["--set", "sink.transactions=true"];
    let mut run = vec!["run", tree.path()];
    run.extend(tx);
    tree.c2k(&run, "REFERENCE", "reference").assert_ok();
    let reference = by_partition(&kafka::read_topic(
        &brokers,
        "REFERENCE",
        RECORDS as usize,
        LIMIT,
    ));
    let reference_offsets = committed(&zookeeper, "reference");

    let plan = plan(&tree, 3, "TX_SHARDED", "tx-sharded");
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|index| {
                let (tree, plan) = (&tree, &plan);
                scope.spawn(move || {
                    let index = index.to_string();
                    let mut args = vec!["run", tree.path(), "--plan", plan, "--shard", &index];
                    args.extend(tx);
                    tree.c2k(&args, "TX_SHARDED", "tx-sharded")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a shard thread"))
            .collect()
    });
    for run in &runs {
        run.assert_ok();
    }
    let mut args = vec!["offsets", "commit", tree.path(), "--plan", &plan];
    args.extend(tx);
    tree.c2k(&args, "TX_SHARDED", "tx-sharded").assert_ok();
    assert_same_replay(&brokers, "TX_SHARDED", &reference);
    assert_eq!(committed(&zookeeper, "tx-sharded"), reference_offsets);
}

/// A lost task runner (a Spark executor or Python worker killed) must not leave its shard
/// publishing on beside the task's retry: the shard stops with its parent, mid-publish, and the
/// rerun completes the replay exactly once.
#[test]
fn a_shard_stops_when_its_parent_dies_and_its_rerun_completes_it_exactly_once() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let (reference, reference_offsets) = reference(&tree, &brokers, &zookeeper);
    let plan = plan(&tree, 2, "ORPHANED", "orphaned");

    // The parent: a shell that starts shard 0 slowly, writes its pid, and waits.
    let pid_file = tree.dir.path().join("shard.pid");
    let log = tree.dir.path().join("shard.log");
    let script = format!(
        "'{c2k}' run '{pipeline}' --plan '{plan}' --shard 0 --set sink.topic=ORPHANED \
         --set offsets.group=orphaned --set sink.max_messages_per_sec=100 2>'{log}' & \
         echo $! > '{pid}'; wait",
        c2k = crate::support::c2k::c2k_path().display(),
        pipeline = tree.path(),
        log = log.display(),
        pid = pid_file.display()
    );
    let mut parent = std::process::Command::new("sh")
        .args(["-c", &script])
        .env("RUST_LOG", "camus2kafka=debug")
        .spawn()
        .expect("start the parent shell");
    let publishing = wait_until_secs(60, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("read, keyed and sorted"))
    });
    assert!(publishing, "shard 0 never started publishing");
    std::thread::sleep(Duration::from_secs(2));
    let shard_pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the shard's pid")
        .trim()
        .parse()
        .expect("a pid");
    parent.kill().expect("kill -9 the parent");
    parent.wait().expect("reap the parent");
    let stopped = wait_until_secs(20, || {
        !Path::new(&format!("/proc/{shard_pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{shard_pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    assert!(stopped, "shard 0 kept running after its parent was killed");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log.contains("interrupted") || log.contains("SIGTERM"),
        "{log}"
    );

    for index in [0, 1] {
        let run = shard(&tree, &plan, index, "ORPHANED", "orphaned");
        run.assert_ok();
        if index == 0 {
            assert!(
                run.stderr.contains("already there from an earlier attempt"),
                "{}",
                run.stderr
            );
        }
    }
    commit(&tree, &plan, "ORPHANED", "orphaned").assert_ok();
    assert_same_replay(&brokers, "ORPHANED", &reference);
    assert_eq!(committed(&zookeeper, "orphaned"), reference_offsets);
}

#[test]
fn an_archive_changed_after_the_plan_is_refused_by_the_shard_and_the_commit() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let plan = plan(&tree, 2, "CHANGED", "changed");

    let grown = first_avro(&tree.dir.path().join("destination"));
    let name = grown.file_name().unwrap().to_string_lossy().into_owned();
    let mut bytes = std::fs::read(&grown).expect("read a data file");
    bytes.extend_from_slice(b"late bytes");
    std::fs::write(&grown, bytes).expect("grow a data file");
    for index in [0, 1] {
        shard(&tree, &plan, index, "CHANGED", "changed").assert_failed_with(&[
            "the archive under",
            "changed since the plan was made",
            &name,
            "planned:",
            &format!("shard {index} sent nothing"),
        ]);
    }
    let refused = commit(&tree, &plan, "CHANGED", "changed");
    assert_eq!(refused.code, Some(5), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("nothing was committed"),
        "{}",
        refused.stderr
    );
    assert!(committed(&zookeeper, "changed").is_empty());
    // The broker was never written to: no shard created the replay topic.
    let topics = kafka_topics(&brokers);
    assert!(!topics.contains(&"CHANGED".to_string()), "{topics:?}");
}

#[test]
fn key_and_single_partitioning_are_not_sharded_and_the_plan_says_why() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let tree = Tree::new(&tansu.brokers(), &zk.connect_string());
    let out = tree.dir.path().join("plan.json");
    for mode in ["key", "single"] {
        let set = format!("sink.partitioning={mode}");
        let run = tree.c2k(
            &[
                "plan",
                tree.path(),
                "--shards",
                "2",
                "--out",
                out.to_str().unwrap(),
                "--set",
                &set,
            ],
            "NOT_SHARDED",
            "not-sharded",
        );
        run.assert_failed_with(&["needs partitioning: source", "replay them on one machine"]);
        assert!(!out.exists(), "a plan was written for partitioning: {mode}");
    }
}

/// Whether `ready` became true within `seconds`.
fn wait_until_secs(seconds: u64, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ready()
}

fn first_avro(dir: &Path) -> PathBuf {
    let mut files = crate::support::camus::avro_files(dir);
    files.sort();
    files.into_iter().next().expect("a data file")
}

fn kafka_topics(brokers: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("a metadata client");
    consumer
        .fetch_metadata(None, Duration::from_secs(30))
        .expect("metadata")
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .collect()
}
