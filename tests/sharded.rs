//! Sharded replays without Spark (`c2k plan`, `c2k run --plan --shard i`, `c2k offsets commit
//! --plan`), against a real broker (tansu) and a real ZooKeeper: for 1, 3 and 4 shards the replay
//! topic holds, partition by partition, exactly the messages (values, keys, headers, order) of the
//! single-machine run, and the group gets the same offsets, committed only once every partition
//! is complete; a shard rerun adds nothing; an archive changed after the plan is refused by the
//! shard and by the commit. `partitioning: key` and `single` go through the map and reduce
//! stages (local staging, and HDFS and S3 staging for `key`) and equal the single-machine run too;
//! killed map and reduce tasks rerun without duplicates; a reduce before every map is done
//! refuses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::c2k::{self, C2k, Run, Running};
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
        c2k::sample(dir.path(), RECORDS, PARTITIONS);
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
        C2k::new(&all).dir(self.dir.path()).timeout(LIMIT).run()
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
    assert_same_messages(brokers, topic, reference, |_| true);
}

/// The same for a replay of the other sort order: everything but its identity (the
/// `c2k-replay` header, which tells the orders apart so that a `--resume` never mixes them).
pub fn assert_same_replay_but_identity(brokers: &str, topic: &str, reference: &Replay) {
    let kept = |name: &str| name != "c2k-replay";
    let reference = without_headers(reference.clone(), kept);
    assert_same_messages(brokers, topic, &reference, kept);
}

fn without_headers(replay: Replay, kept: impl Fn(&str) -> bool) -> Replay {
    replay
        .into_iter()
        .map(|(p, messages)| {
            let messages = messages
                .into_iter()
                .map(|(key, value, mut headers, time)| {
                    headers.retain(|(name, _)| kept(name));
                    (key, value, headers, time)
                })
                .collect();
            (p, messages)
        })
        .collect()
}

fn assert_same_messages(
    brokers: &str,
    topic: &str,
    reference: &Replay,
    kept: impl Fn(&str) -> bool,
) {
    let received = kafka::read_topic(brokers, topic, RECORDS as usize, LIMIT);
    assert_eq!(
        received.len() as u64,
        RECORDS,
        "{topic}: messages in the topic"
    );
    let got = without_headers(by_partition(&received), kept);
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

/// A Kafka Connect archive (HDFS sink layout: offsets in the names, no Camus history) sharded by
/// partition: the same replay as the single-machine run, and one commit of the names' cut-offs.
#[test]
fn a_kafka_connect_archive_sharded_equals_the_single_machine_run() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_str().expect("utf-8 temp dir").to_string();
    C2k::new(&[
        "sample",
        &root,
        "--records",
        &RECORDS.to_string(),
        "--partitions",
        &PARTITIONS.to_string(),
        "--layout",
        "connect-hdfs",
    ])
    .run()
    .assert_ok();
    let pipeline = dir.path().join("replay.yaml");
    let yaml = pipeline_yaml(&root, &brokers, &zookeeper)
        .replace("source:\n", "source:\n  type: kafka-connect\n")
        .replace(&format!("  exec_dir: {root}/execution\n"), "");
    std::fs::write(&pipeline, yaml).expect("pipeline");
    let tree = Tree { dir, pipeline };
    let (reference, reference_offsets) = reference(&tree, &brokers, &zookeeper);
    // `c2k sample` starts partition p at 1000 * (p + 1), 500 records each.
    let cutoffs: Vec<(String, String)> = (0..PARTITIONS)
        .map(|p| (p.to_string(), (1000 * (p + 1) + 500).to_string()))
        .collect();
    assert_eq!(reference_offsets, cutoffs);

    let plan = plan(&tree, 2, "CONNECT_SHARDED", "connect-sharded");
    for index in 0..2 {
        shard(&tree, &plan, index, "CONNECT_SHARDED", "connect-sharded").assert_ok();
        assert!(committed(&zookeeper, "connect-sharded").is_empty());
    }
    commit(&tree, &plan, "CONNECT_SHARDED", "connect-sharded").assert_ok();
    assert_same_replay(&brokers, "CONNECT_SHARDED", &reference);
    assert_eq!(committed(&zookeeper, "connect-sharded"), cutoffs);
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
        c2k = c2k::c2k_path().display(),
        pipeline = tree.path(),
        log = log.display(),
        pid = pid_file.display()
    );
    let parent = Running::spawn(
        std::process::Command::new("sh")
            .args(["-c", &script])
            .env("RUST_LOG", "camus2kafka=debug"),
        "the parent shell",
        LIMIT,
    );
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
    parent.kill(); // kill -9
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

/// `partitioning: key` (keyed by `session_id`) and `single` need the map and reduce stages.
/// The sets of `mode`: a partitioning, then `/external` for the whole-archive sort instead of the
/// default stream of Camus' buckets.
fn mode_sets(mode: &str) -> Vec<String> {
    let (partitioning, sort) = mode.split_once('/').unwrap_or((mode, "auto"));
    [
        format!("sink.partitioning={partitioning}"),
        "format.config.key_field=session_id".into(),
        format!("sort.mode={sort}"),
    ]
    .into_iter()
    .flat_map(|set| ["--set".to_string(), set])
    .collect()
}

/// `c2k ARGS... <mode sets>` for `tree`, into `topic` and `group`.
fn staged(tree: &Tree, args: &[&str], mode: &str, topic: &str, group: &str) -> Run {
    let sets = mode_sets(mode);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(sets.iter().map(String::as_str));
    tree.c2k(&all, topic, group)
}

fn staged_plan(tree: &Tree, shards: usize, mode: &str, topic: &str, group: &str) -> String {
    let out = tree.dir.path().join(format!("plan-{topic}.json"));
    let out = out.to_str().expect("utf-8 path").to_string();
    let shards = shards.to_string();
    let args = ["plan", tree.path(), "--shards", &shards, "--out", &out];
    staged(tree, &args, mode, topic, group).assert_ok();
    out
}

fn map_shard(tree: &Tree, plan: &str, index: usize, staging: &str, mode: &str, topic: &str) -> Run {
    let index = index.to_string();
    let args = [
        "run",
        tree.path(),
        "--plan",
        plan,
        "--shard",
        &index,
        "--stage",
        "map",
        "--staging",
        staging,
    ];
    staged(tree, &args, mode, topic, topic)
}

fn reduce(tree: &Tree, plan: &str, partition: i32, staging: &str, mode: &str, topic: &str) -> Run {
    let partition = partition.to_string();
    let args = [
        "run",
        tree.path(),
        "--plan",
        plan,
        "--stage",
        "reduce",
        "--partition",
        &partition,
        "--staging",
        staging,
    ];
    staged(tree, &args, mode, topic, topic)
}

fn staged_commit(tree: &Tree, plan: &str, staging: &str, mode: &str, topic: &str) -> Run {
    let args = [
        "offsets",
        "commit",
        tree.path(),
        "--plan",
        plan,
        "--staging",
        staging,
    ];
    staged(tree, &args, mode, topic, topic)
}

/// The single-machine run of `mode` into `REF_<mode>`: its messages by partition and offsets.
fn staged_reference(
    tree: &Tree,
    brokers: &str,
    zookeeper: &str,
    mode: &str,
) -> (Replay, Vec<(String, String)>) {
    let topic = format!("REF_{mode}");
    staged(tree, &["run", tree.path()], mode, &topic, &topic).assert_ok();
    let received = kafka::read_topic(brokers, &topic, RECORDS as usize, LIMIT);
    let offsets = committed(zookeeper, &topic);
    assert_eq!(
        offsets.len(),
        PARTITIONS as usize,
        "the reference run's offsets"
    );
    (by_partition(&received), offsets)
}

fn staging_dir(tree: &Tree, name: &str) -> String {
    tree.dir
        .path()
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

/// `partitioning: key` and `single` over 1, 3 and 4 map shards and a reduce per replay
/// partition equal the single-machine run, partition by partition; a reduce before every map
/// shard is done refuses naming the missing shards; a map rerun after completion changes
/// nothing; the commit needs every partition complete and commits once.
#[test]
fn key_and_single_partitioning_shard_through_map_and_reduce_and_equal_the_single_machine_run() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    for mode in ["key", "single"] {
        let (reference, reference_offsets) = staged_reference(&tree, &brokers, &zookeeper, mode);
        if mode == "key" {
            assert!(
                reference.len() > 1,
                "keyed messages spread over partitions: {:?}",
                reference.keys()
            );
        } else {
            assert_eq!(reference.keys().copied().collect::<Vec<_>>(), vec![0]);
        }
        for shards in [1usize, 3, 4] {
            let topic = format!("STAGED_{mode}_{shards}");
            let staging = staging_dir(&tree, &format!("staging-{topic}"));
            // Three shards sort their files whole; the others stream Camus' buckets. Both
            // equal the (streamed) single-machine run.
            let external = shards == 3;
            let mode = &if external {
                format!("{mode}/external")
            } else {
                mode.to_string()
            };
            let plan = staged_plan(&tree, shards, mode, &topic, &topic);
            for index in 0..shards {
                if index == shards - 1 && shards > 1 {
                    // The last map shard has not run: a reduce refuses, naming it, and sends
                    // nothing.
                    let early = reduce(&tree, &plan, 0, &staging, mode, &topic);
                    assert_eq!(early.code, Some(7), "{}", early.stderr);
                    assert!(
                        early
                            .stderr
                            .contains(&format!("map shard(s) {index} of {shards}")),
                        "{}",
                        early.stderr
                    );
                    assert!(!kafka_topics(&brokers).contains(&topic));
                }
                let run = map_shard(&tree, &plan, index, &staging, mode, &topic);
                run.assert_ok();
                assert!(
                    run.stderr
                        .contains(&format!("map shard {index} of {shards} is complete")),
                    "{}",
                    run.stderr
                );
                assert!(
                    external || run.stderr.contains(" 0 B spilled locally"),
                    "a streamed map shard spills nothing: {}",
                    run.stderr
                );
            }
            let again = map_shard(&tree, &plan, 0, &staging, mode, &topic);
            again.assert_ok();
            assert!(
                again.stderr.contains("is already complete"),
                "{}",
                again.stderr
            );
            for partition in 0..PARTITIONS as i32 {
                reduce(&tree, &plan, partition, &staging, mode, &topic).assert_ok();
                assert!(
                    committed(&zookeeper, &topic).is_empty(),
                    "a reduce committed offsets"
                );
                if partition == 0 && mode.starts_with("key") {
                    let early = staged_commit(&tree, &plan, &staging, mode, &topic);
                    assert_eq!(early.code, Some(7), "{}", early.stderr);
                    assert!(early.stderr.contains("(reduce 1)"), "{}", early.stderr);
                }
            }
            let twice = reduce(&tree, &plan, 0, &staging, mode, &topic);
            twice.assert_ok();
            if reference.contains_key(&0) {
                assert!(
                    twice.stderr.contains("already complete"),
                    "{}",
                    twice.stderr
                );
            }
            staged_commit(&tree, &plan, &staging, mode, &topic).assert_ok();
            if external {
                assert_same_replay_but_identity(&brokers, &topic, &reference);
            } else {
                assert_same_replay(&brokers, &topic, &reference);
            }
            assert_eq!(
                committed(&zookeeper, &topic),
                reference_offsets,
                "{mode}, {shards} shards"
            );
        }
    }
}

/// A map task killed with kill -9 leaves no complete output behind; its rerun writes the same
/// runs, and a reduce killed with kill -9 mid-publish resumes: the replay holds every message
/// once, identical to the single-machine run. The commit without --staging says what it needs.
#[test]
fn a_map_and_a_reduce_killed_and_rerun_leave_no_duplicate() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let mode = "single";
    let (reference, reference_offsets) = staged_reference(&tree, &brokers, &zookeeper, mode);
    let topic = "KILLED_STAGES";
    let staging = staging_dir(&tree, "staging-killed");
    let plan = staged_plan(&tree, 2, mode, topic, topic);

    // kill -9 the map of shard 0 as soon as it has made its staging folder. A map of 1,000
    // records can finish within a few milliseconds of making it, so the folder is watched
    // closely, and an attempt that beat the kill is cleared and started again.
    let shard_dir = Path::new(&staging).join("shard-0");
    let args = [
        "run",
        tree.path(),
        "--plan",
        &plan,
        "--shard",
        "0",
        "--stage",
        "map",
        "--staging",
        &staging,
        "--set",
        "sink.topic=KILLED_STAGES",
        "--set",
        "offsets.group=KILLED_STAGES",
    ];
    let killed_before_done = (0..10).any(|_| {
        let _ = std::fs::remove_dir_all(&shard_dir);
        let map = spawn_c2k(&tree, &args, mode);
        let made = wait_until_every(Duration::from_secs(60), Duration::from_millis(1), || {
            shard_dir.exists()
        });
        map.kill(); // kill -9 map shard 0
        assert!(made, "map shard 0 never made its folder");
        !shard_dir.join("done.json").exists()
    });
    assert!(
        killed_before_done,
        "map shard 0 finished before it was killed in 10 attempts: the test proves nothing"
    );
    let early = reduce(&tree, &plan, 0, &staging, mode, topic);
    assert_eq!(early.code, Some(7), "{}", early.stderr);
    assert!(
        early.stderr.contains("map shard(s) 0, 1 of 2"),
        "{}",
        early.stderr
    );
    for index in [0, 1] {
        map_shard(&tree, &plan, index, &staging, mode, topic).assert_ok();
    }
    let leftovers: Vec<String> = std::fs::read_dir(&shard_dir)
        .expect("shard 0's folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");

    // kill -9 the reduce of partition 0 mid-publish (slowed to 200 messages a second).
    let args = [
        "run",
        tree.path(),
        "--plan",
        &plan,
        "--stage",
        "reduce",
        "--partition",
        "0",
        "--staging",
        &staging,
        "--set",
        "sink.topic=KILLED_STAGES",
        "--set",
        "offsets.group=KILLED_STAGES",
        "--set",
        "sink.max_messages_per_sec=200",
    ];
    let slow = spawn_c2k(&tree, &args, mode);
    let published = wait_until_secs(60, || {
        kafka_topics(&brokers).contains(&topic.to_string()) && messages_in(&brokers, topic) > 0
    });
    assert!(published, "reduce 0 never published");
    std::thread::sleep(Duration::from_secs(2));
    slow.kill(); // kill -9 reduce 0
    let partway = messages_in(&brokers, topic);
    assert!(
        partway > 0 && (partway as u64) < RECORDS,
        "reduce 0 was not killed mid-publish: {partway} messages"
    );
    let resumed = reduce(&tree, &plan, 0, &staging, mode, topic);
    resumed.assert_ok();
    assert!(
        resumed
            .stderr
            .contains("already there from an earlier attempt"),
        "{}",
        resumed.stderr
    );
    for partition in 1..PARTITIONS as i32 {
        reduce(&tree, &plan, partition, &staging, mode, topic).assert_ok();
    }
    let sets = mode_sets(mode);
    let mut args = vec!["offsets", "commit", tree.path(), "--plan", &plan];
    args.extend(sets.iter().map(String::as_str));
    tree.c2k(&args, topic, topic)
        .assert_failed_with(&["give the map stage's --staging area"]);
    staged_commit(&tree, &plan, &staging, mode, topic).assert_ok();
    assert_same_replay(&brokers, topic, &reference);
    assert_eq!(committed(&zookeeper, topic), reference_offsets);
}

/// The partial files (temporary names) in shard `shard`'s folder of `staging`, through c2k's own
/// storage layer (local or HDFS alike); none when the folder does not exist yet.
fn partials(staging: &str, shard: usize) -> Vec<String> {
    let storage = camus2kafka::testing::for_url(staging).expect("the staging area's storage");
    storage
        .list_files(&format!("{staging}/shard-{shard}"))
        .map(|files| {
            files
                .into_iter()
                .map(|f| f.url)
                .filter(|url| url.contains(".partial-"))
                .collect()
        })
        .unwrap_or_default()
}

/// `partitioning: key` with 3 map shards staged on a real HDFS and 4 reduces equals the
/// single-machine run partition by partition. A map killed with kill -9 while its runs are
/// partial files on HDFS leaves no complete output; its rerun removes the partial files and the
/// replay holds every message once (`assert_same_replay` reads on past the expected count).
#[test]
fn key_partitioning_staged_on_hdfs_equals_the_single_machine_run_and_survives_a_killed_map() {
    let hdfs = crate::support::hdfs::HdfsTarget::local();
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let mode = "key";
    let (reference, reference_offsets) = staged_reference(&tree, &brokers, &zookeeper, mode);
    assert!(reference.len() > 1, "keyed messages spread over partitions");

    // The whole replay through HDFS staging.
    let topic = "HDFS_STAGED_KEY";
    let staging = hdfs.url("staging-key");
    let plan = staged_plan(&tree, 3, mode, topic, topic);
    for index in 0..3 {
        map_shard(&tree, &plan, index, &staging, mode, topic).assert_ok();
        assert!(partials(&staging, index).is_empty());
    }
    let storage = camus2kafka::testing::for_url(&staging).expect("HDFS storage");
    let staged = storage.list_files(&staging).expect("list the staging area");
    assert!(
        staged
            .iter()
            .filter(|f| f.url.ends_with("/done.json"))
            .count()
            == 3
            && staged.iter().any(|f| f.url.ends_with(".c2k") && f.size > 8),
        "the map stage's runs and manifests are on HDFS: {staged:?}"
    );
    for partition in 0..PARTITIONS as i32 {
        reduce(&tree, &plan, partition, &staging, mode, topic).assert_ok();
    }
    staged_commit(&tree, &plan, &staging, mode, topic).assert_ok();
    assert_same_replay(&brokers, topic, &reference);
    assert_eq!(committed(&zookeeper, topic), reference_offsets);

    // kill -9 the map of shard 1 as soon as one of its runs exists as a partial file on HDFS.
    let topic = "HDFS_KILLED_MAP";
    let staging = hdfs.url("staging-killed");
    let plan = staged_plan(&tree, 3, mode, topic, topic);
    let args = [
        "run",
        tree.path(),
        "--plan",
        &plan,
        "--shard",
        "1",
        "--stage",
        "map",
        "--staging",
        &staging,
        "--set",
        &format!("sink.topic={topic}"),
        "--set",
        &format!("offsets.group={topic}"),
    ];
    let map = spawn_c2k(&tree, &args, mode);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while seen.is_empty() && std::time::Instant::now() < deadline {
        seen = partials(&staging, 1);
        if seen.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    map.kill(); // kill -9 map shard 1
    assert!(!seen.is_empty(), "map shard 1 never wrote a partial file");
    assert_eq!(
        storage
            .file_size(&format!("{staging}/shard-1/done.json"))
            .expect("ask HDFS"),
        None,
        "the map finished before it was killed: the test proves nothing"
    );
    let left = partials(&staging, 1);
    assert!(!left.is_empty(), "the killed map left its partial files");
    for index in 0..3 {
        map_shard(&tree, &plan, index, &staging, mode, topic).assert_ok();
    }
    let left = partials(&staging, 1);
    assert!(left.is_empty(), "partial files left on HDFS: {left:?}");
    for partition in 0..PARTITIONS as i32 {
        reduce(&tree, &plan, partition, &staging, mode, topic).assert_ok();
    }
    staged_commit(&tree, &plan, &staging, mode, topic).assert_ok();
    assert_same_replay(&brokers, topic, &reference);
    assert_eq!(committed(&zookeeper, topic), reference_offsets);
}

/// `partitioning: key` with 3 map shards staged on a real S3 server (SeaweedFS) and 4 reduces
/// equals the single-machine run partition by partition, its offsets too: the map stage's runs and
/// manifests are objects there, and no partial object is left. Then the archive itself on S3:
/// a data file grown there after the plan is refused by every shard, as on any store.
#[test]
fn key_partitioning_staged_on_s3_equals_the_single_machine_run_and_an_archive_on_s3_changed_after_its_plan_is_refused(
) {
    let Some(s3) = crate::support::s3::S3Server::start() else {
        return;
    };
    s3.create_bucket("staging");
    // Every c2k this test starts (and its own storage calls) reaches the server through AWS's
    // environment; nextest runs each test in a process of its own.
    for (key, value) in s3.env() {
        std::env::set_var(key, value);
    }
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let mode = "key";
    let (reference, reference_offsets) = staged_reference(&tree, &brokers, &zookeeper, mode);

    let topic = "S3_STAGED_KEY";
    let staging = "s3://staging/replays/area";
    let plan = staged_plan(&tree, 3, mode, topic, topic);
    for index in 0..3 {
        map_shard(&tree, &plan, index, staging, mode, topic).assert_ok();
        assert!(partials(staging, index).is_empty());
    }
    let staged = s3.list("staging", "replays/area/");
    assert_eq!(
        staged
            .iter()
            .filter(|key| key.ends_with("/done.json"))
            .count(),
        3,
        "a manifest per map shard on S3: {staged:?}"
    );
    assert!(
        staged.iter().any(|key| key.ends_with(".c2k")),
        "the map stage's runs are on S3: {staged:?}"
    );
    for partition in 0..PARTITIONS as i32 {
        reduce(&tree, &plan, partition, staging, mode, topic).assert_ok();
    }
    staged_commit(&tree, &plan, staging, mode, topic).assert_ok();
    assert_same_replay(&brokers, topic, &reference);
    assert_eq!(committed(&zookeeper, topic), reference_offsets);

    // The archive itself on S3, planned, then a data file grown there: every shard refuses.
    s3.create_bucket("archive");
    let root = tree.dir.path();
    for part in ["destination", "execution"] {
        s3.upload_dir(&root.join(part), "archive", &format!("tree/{part}"));
    }
    let schema = std::fs::read(root.join("page_view.avsc")).expect("the schema");
    s3.put("archive", "tree/page_view.avsc", &schema);
    let on_s3 = pipeline_yaml("s3://archive/tree", &brokers, &zookeeper);
    std::fs::write(&tree.pipeline, on_s3).expect("the pipeline over S3");
    let plan = self::plan(&tree, 2, "S3_CHANGED", "s3-changed");
    let grown = first_avro(&root.join("destination"));
    let key = format!(
        "tree/{}",
        grown.strip_prefix(root).expect("in the tree").display()
    );
    let mut bytes = std::fs::read(&grown).expect("read a data file");
    bytes.extend_from_slice(b"late bytes");
    s3.put("archive", &key, &bytes);
    let name = grown.file_name().unwrap().to_string_lossy().into_owned();
    for index in [0, 1] {
        shard(&tree, &plan, index, "S3_CHANGED", "s3-changed").assert_failed_with(&[
            "changed since the plan was made",
            &name,
            &format!("shard {index} sent nothing"),
        ]);
    }
}

/// The archive changed between the plan and the map stage: the map refuses and stages nothing.
#[test]
fn an_archive_changed_after_a_key_plan_is_refused_by_the_map_stage() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let plan = staged_plan(&tree, 2, "key", "CHANGED_KEY", "changed-key");
    let staging = staging_dir(&tree, "staging-changed");
    let grown = first_avro(&tree.dir.path().join("destination"));
    let name = grown.file_name().unwrap().to_string_lossy().into_owned();
    let mut bytes = std::fs::read(&grown).expect("read a data file");
    bytes.extend_from_slice(b"late bytes");
    std::fs::write(&grown, bytes).expect("grow a data file");
    let refused = map_shard(&tree, &plan, 0, &staging, "key", "CHANGED_KEY");
    assert_eq!(refused.code, Some(5), "{}", refused.stderr);
    refused.assert_failed_with(&[
        "changed since the plan was made",
        &name,
        "map shard 0 wrote nothing",
    ]);
    assert!(
        !Path::new(&staging).exists(),
        "the refused map staged something"
    );
    // A map or reduce commits nothing, so the commit's options are refused there.
    let args = [
        "run",
        tree.path(),
        "--plan",
        &plan,
        "--shard",
        "0",
        "--stage",
        "map",
        "--staging",
        &staging,
        "--dry-run",
    ];
    staged(&tree, &args, "key", "CHANGED_KEY", "changed-key")
        .assert_failed_with(&["cannot be used with '--dry-run'"]);
    // A key plan's shards are map tasks: run without --stage, a shard says how to run it.
    shard(&tree, &plan, 0, "CHANGED_KEY", "changed-key")
        .assert_failed_with(&["--stage map --staging"]);
}

/// Whether `ready` became true within `seconds`.
/// Starts `c2k args` with `mode`'s partitioning in the tree's folder, to be killed by the test.
fn spawn_c2k(tree: &Tree, args: &[&str], mode: &str) -> Running {
    let sets = mode_sets(mode);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(sets.iter().map(String::as_str));
    C2k::new(&all).dir(tree.dir.path()).timeout(LIMIT).spawn()
}

fn wait_until_secs(seconds: u64, ready: impl FnMut() -> bool) -> bool {
    wait_until_every(
        Duration::from_secs(seconds),
        Duration::from_millis(100),
        ready,
    )
}

fn wait_until_every(limit: Duration, every: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(every);
    }
    ready()
}

fn first_avro(dir: &Path) -> PathBuf {
    let mut files = crate::support::camus::avro_files(dir);
    files.sort();
    files.into_iter().next().expect("a data file")
}

/// Messages in `topic` (the sum of its partitions' high watermarks).
fn messages_in(brokers: &str, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("a metadata client");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("metadata");
    let partitions = metadata
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len() as i32);
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(30))
                .map_or(0, |(low, high)| high - low)
        })
        .sum()
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
