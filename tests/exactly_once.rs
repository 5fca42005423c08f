//! Every archived record reaches the replay topic exactly once, however the run is interrupted:
//! `c2k run` is killed with `kill -9` at five moments (before the first message, in the first
//! batch, half-way, in the last batch, during the offsets step), then `c2k run --resume` finishes
//! the job. The topic, read back by an independent consumer, must hold each record once, each
//! partition in the same order as an uninterrupted run, `c2k-seq` contiguous, and the group's
//! offsets committed once, after the last message. Reruns without `--resume`, topics with foreign
//! messages and a changed archive are refused with exit code 4.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

use crate::support::c2k::{self, C2k, Running};
use crate::support::kafka::{self, Received};
use crate::support::live;
use crate::support::{offsets, servers};

const RECORDS: u64 = 20_000;
const PARTITIONS: u32 = 4;
/// Slow enough that a publish lasts ~10 s, so each kill lands where it is meant to even on a
/// loaded machine.
const SLOW: &str = "sink.max_messages_per_sec=2000";
const FAST: &str = "sink.max_messages_per_sec=100000000";
const LIMIT: Duration = Duration::from_secs(180);
const GROUP_PATH: &str = "/consumers/{group}/offsets/PAGE_VIEWS";

/// A sample tree (20,000 records, 4 partitions, with its Camus history) and its pipeline.
struct Setup {
    dir: tempfile::TempDir,
    pipeline: PathBuf,
}

fn setup(brokers: &str, zookeeper: &str) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    c2k::sample(dir.path(), RECORDS, PARTITIONS);
    let yaml = format!(
        "topic: PAGE_VIEWS\n\
         source:\n  dest_dir: {d}/destination\n  schema: {d}/page_view.avsc\n\
         key:\n  config: {{ field: header.time }}\n\
         sort:\n  memory: 64MiB\n  tmp_dir: {d}/tmp\n\
         format:\n  plugin: json\n  config: {{ encoding: plain }}\n\
         sink:\n  type: kafka\n  brokers: '{brokers}'\n\
         offsets:\n  exec_dir: {d}/execution\n  commit: zookeeper\n  zookeeper: '{zookeeper}'\n\
         \x20 live_check: warn\n",
        d = dir.path().display()
    );
    let pipeline = dir.path().join("replay.yaml");
    std::fs::write(&pipeline, yaml).expect("write the pipeline");
    Setup { dir, pipeline }
}

/// `c2k run PIPELINE --set sink.topic=T --set offsets.group=G [extra]`, started in the
/// background.
fn run_command(setup: &Setup, topic: &str, group: &str, extra: &[&str]) -> C2k {
    let topic_set = format!("sink.topic={topic}");
    let group_set = format!("offsets.group={group}");
    let mut args = vec![
        "run",
        setup.pipeline.to_str().expect("utf-8 path"),
        "--set",
        &topic_set,
        "--set",
        &group_set,
    ];
    for e in extra {
        if e.starts_with("--") {
            args.push(e);
        } else {
            args.extend(["--set", e]);
        }
    }
    C2k::new(&args).timeout(LIMIT)
}

fn spawn_run(setup: &Setup, topic: &str, group: &str, extra: &[&str]) -> Running {
    run_command(setup, topic, group, extra).spawn()
}

/// Waits for the child (bounded) and returns its exit code and what it printed.
fn finish(child: Running) -> (Option<i32>, String) {
    let run = child.wait();
    (run.code, run.stdout_and_stderr())
}

fn run(setup: &Setup, topic: &str, group: &str, extra: &[&str]) -> (Option<i32>, String) {
    finish(spawn_run(setup, topic, group, extra))
}

/// Counts the messages of a topic by reading them (not by asking for end offsets, which some
/// brokers report late), from its first partition assignment on.
struct Watch {
    consumer: BaseConsumer,
    topic: String,
    assigned: bool,
    seen: i64,
}

impl Watch {
    fn new(brokers: &str, topic: &str) -> Watch {
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "exactly-once-watcher")
            .set("enable.auto.commit", "false")
            .create()
            .expect("a watching consumer");
        Watch {
            consumer,
            topic: topic.to_owned(),
            assigned: false,
            seen: 0,
        }
    }

    /// Messages read from the topic so far.
    fn count(&mut self) -> i64 {
        if !self.assigned {
            let partitions = self
                .consumer
                .fetch_metadata(Some(&self.topic), Duration::from_secs(2))
                .map_or(0, |m| {
                    m.topics().first().map_or(0, |t| t.partitions().len())
                });
            if partitions == 0 {
                return 0;
            }
            let mut assignment = rdkafka::TopicPartitionList::new();
            for p in 0..partitions as i32 {
                assignment
                    .add_partition_offset(&self.topic, p, rdkafka::Offset::Beginning)
                    .expect("a partition");
            }
            self.consumer.assign(&assignment).expect("assign");
            self.assigned = true;
        }
        while let Some(result) = self.consumer.poll(Duration::from_millis(5)) {
            if result.is_ok() {
                self.seen += 1;
            }
        }
        self.seen
    }

    /// The count after reading for a second (for "nothing was published").
    fn settled_count(&mut self) -> i64 {
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            self.count();
            std::thread::sleep(Duration::from_millis(50));
        }
        self.count()
    }
}

/// Where in the run the kill lands.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// Reading and sorting: nothing published yet.
    BeforeTheFirstAck,
    /// The first messages are in the topic.
    InTheFirstBatch,
    HalfWay,
    /// All but the last thousand are in.
    InTheLastBatch,
    /// Every message is in; the offsets step is running (or just done).
    DuringTheOffsetsStep,
}

/// Runs `c2k run` slowly and kills it with SIGKILL at `moment`; returns how many messages the
/// topic held at the kill.
fn kill_at(setup: &Setup, brokers: &str, topic: &str, group: &str, moment: Moment) -> i64 {
    if let Moment::DuringTheOffsetsStep = moment {
        return kill_in_the_offsets_step(setup, topic, group);
    }
    let mut watch = Watch::new(brokers, topic);
    let mut child = spawn_run(setup, topic, group, &[SLOW]);
    let started = Instant::now();
    let wanted = |count: i64| match moment {
        Moment::BeforeTheFirstAck => started.elapsed() > Duration::from_millis(300),
        Moment::InTheFirstBatch => count > 0,
        Moment::HalfWay => count >= RECORDS as i64 / 2,
        Moment::InTheLastBatch | Moment::DuringTheOffsetsStep => count >= RECORDS as i64 - 1_000,
    };
    loop {
        let count = if matches!(moment, Moment::BeforeTheFirstAck) {
            0
        } else {
            watch.count()
        };
        if wanted(count) {
            child.kill(); // SIGKILL
            return count;
        }
        if child.has_exited() {
            let run = child.wait();
            panic!(
                "c2k run ended ({}) before {moment:?}: {}",
                run.status,
                run.stdout_and_stderr()
            );
        }
        assert!(started.elapsed() < LIMIT, "{moment:?} never came");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Kills `c2k run` the moment it logs that every message is acknowledged, i.e. as the offsets
/// step starts (connecting to ZooKeeper, committing).
fn kill_in_the_offsets_step(setup: &Setup, topic: &str, group: &str) -> i64 {
    let mut child = run_command(setup, topic, group, &[FAST])
        .env("RUST_LOG", "camus2kafka::run=debug")
        .spawn();
    child.wait_until("the end of the publish", |c| {
        c.stderr_so_far().contains("merged, formatted and written")
    });
    child.kill(); // SIGKILL
    RECORDS as i64
}

fn header(message: &Received, name: &str) -> String {
    kafka::header(message, name).unwrap_or_else(|| panic!("message without {name}"))
}

/// Each partition's values in order.
fn values_by_partition(received: &[Received]) -> BTreeMap<i32, Vec<Vec<u8>>> {
    kafka::by_partition(received)
        .into_iter()
        .map(|(p, messages)| (p, messages.into_iter().map(|m| m.value).collect()))
        .collect()
}

/// The topic holds every record once, in the uninterrupted run's order, with contiguous
/// sequence numbers and one replay identity.
fn assert_exactly_once(received: &[Received], reference: &BTreeMap<i32, Vec<Vec<u8>>>, what: &str) {
    assert_eq!(
        received.len() as u64,
        RECORDS,
        "{what}: messages in the topic"
    );
    let origins: BTreeSet<(String, String)> = received
        .iter()
        .map(|m| (header(m, "c2k-source-file"), header(m, "c2k-source-index")))
        .collect();
    assert_eq!(
        origins.len() as u64,
        RECORDS,
        "{what}: a record published twice"
    );
    let identities: BTreeSet<String> = received.iter().map(|m| header(m, "c2k-replay")).collect();
    assert_eq!(identities.len(), 1, "{what}: one replay identity");
    for (partition, messages) in kafka::by_partition(received) {
        let seqs: Vec<u64> = messages
            .iter()
            .map(|m| header(m, "c2k-seq").parse().expect("a number"))
            .collect();
        assert!(
            seqs.iter().enumerate().all(|(i, s)| *s == i as u64),
            "{what}: partition {partition}: c2k-seq not contiguous from 0"
        );
    }
    assert!(
        &values_by_partition(received) == reference,
        "{what}: a partition's order differs from the uninterrupted run's"
    );
}

fn committed_offsets(zookeeper: &str, group: &str) -> Vec<(String, String)> {
    offsets::read_zookeeper_tree(zookeeper, &GROUP_PATH.replace("{group}", group))
}

#[test]
fn a_replay_killed_at_any_moment_and_resumed_holds_every_record_exactly_once() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let brokers = tansu.brokers();
    let setup = setup(&brokers, &zk.connect_string());

    // The uninterrupted run: the order and the offsets every interrupted one must end with.
    let (code, output) = run(&setup, "REFERENCE", "reference", &[FAST]);
    assert_eq!(code, Some(0), "{output}");
    let reference_messages = kafka::read_topic(&brokers, "REFERENCE", RECORDS as usize, LIMIT);
    let reference = values_by_partition(&reference_messages);
    let expected_offsets = committed_offsets(&zk.connect_string(), "reference");
    assert_eq!(expected_offsets.len(), PARTITIONS as usize, "{output}");

    let moments = [
        Moment::BeforeTheFirstAck,
        Moment::InTheFirstBatch,
        Moment::HalfWay,
        Moment::InTheLastBatch,
        Moment::DuringTheOffsetsStep,
    ];
    let mut report = Vec::new();
    for (i, moment) in moments.into_iter().enumerate() {
        let topic = format!("KILLED_{i}");
        let group = format!("killed-{i}");
        let at_kill = kill_at(&setup, &brokers, &topic, &group, moment);
        let committed_at_kill = committed_offsets(&zk.connect_string(), &group);
        if !matches!(moment, Moment::DuringTheOffsetsStep) {
            assert!(
                committed_at_kill.is_empty(),
                "{moment:?}: offsets committed before the replay was complete"
            );
        }

        // A dry run says what a rerun would do; a plain rerun never publishes over what is there.
        if at_kill > 0 {
            let (code, output) = run(&setup, &topic, &group, &[FAST, "--dry-run"]);
            assert_eq!(code, Some(0), "{moment:?}: --dry-run: {output}");
            assert!(
                output.contains("messages of this same replay: a run would be refused")
                    && output.contains("with --resume it would skip them"),
                "{moment:?}: --dry-run: {output}"
            );
            let (code, output) = run(&setup, &topic, &group, &[FAST]);
            assert_eq!(
                code,
                Some(4),
                "{moment:?}: a rerun without --resume: {output}"
            );
            assert!(
                output.contains("already holds") && output.contains("--resume"),
                "{moment:?}: {output}"
            );
        }

        let (code, output) = run(&setup, &topic, &group, &[FAST, "--resume"]);
        assert_eq!(code, Some(0), "{moment:?}: c2k run --resume: {output}");
        let received = kafka::read_topic(&brokers, &topic, RECORDS as usize, LIMIT);
        assert_exactly_once(&received, &reference, &format!("{moment:?}"));
        assert_eq!(
            committed_offsets(&zk.connect_string(), &group),
            expected_offsets,
            "{moment:?}: the group's offsets"
        );
        report.push(format!(
            "{moment:?}: {at_kill} in the topic at the kill, {} after --resume, {} distinct records",
            received.len(),
            received
                .iter()
                .map(|m| (header(m, "c2k-source-file"), header(m, "c2k-source-index")))
                .collect::<BTreeSet<_>>()
                .len()
        ));
    }
    eprintln!(
        "exactly once, {RECORDS} records expected:\n  {}",
        report.join("\n  ")
    );
}

#[test]
fn topics_c2k_cannot_account_for_are_refused_even_with_resume() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let brokers = tansu.brokers();
    let setup = setup(&brokers, &zk.connect_string());

    // A topic someone else wrote to.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("a producer");
    live::create_topic(&brokers, "FOREIGN", PARTITIONS as i32);
    producer
        .send(
            BaseRecord::<(), str>::to("FOREIGN")
                .payload("hello")
                .partition(2),
        )
        .expect("queue a foreign message");
    producer.flush(Duration::from_secs(10)).expect("flush");
    for extra in [&[FAST][..], &[FAST, "--resume"][..]] {
        let (code, output) = run(&setup, "FOREIGN", "foreign", extra);
        assert_eq!(code, Some(4), "{extra:?}: {output}");
        assert!(
            output.contains("partition 2: messages without c2k headers"),
            "{extra:?}: {output}"
        );
    }
    assert!(committed_offsets(&zk.connect_string(), "foreign").is_empty());

    // A complete replay, then the archive changes (Camus wrote one more file).
    let (code, output) = run(&setup, "CHANGED", "changed", &[FAST]);
    assert_eq!(code, Some(0), "{output}");
    add_a_file(setup.dir.path());
    // The added file is a stray to the integrity check (tests/integrity.rs); `warn` lets the run
    // reach the replay topic's guard, which is what is tested here.
    let warn = "source.integrity=warn";
    for extra in [&[FAST, warn][..], &[FAST, warn, "--resume"][..]] {
        let (code, output) = run(&setup, "CHANGED", "changed-again", extra);
        assert_eq!(code, Some(4), "{extra:?}: {output}");
        assert!(
            output.contains("messages of another replay")
                && output.contains("archive or the pipeline differs"),
            "{extra:?}: {output}"
        );
    }
    let received = kafka::read_topic(&brokers, "CHANGED", RECORDS as usize, LIMIT);
    assert_eq!(
        received.len() as u64,
        RECORDS,
        "nothing was added to the topic"
    );
}

/// A Kafka Connect S3 sink's archive of JSON lines (`c2k sample --layout connect-s3`: no Camus
/// history, offsets in the names, text records) killed half-way with `kill -9` and resumed: each
/// record once, in the uninterrupted run's order, and the group at each partition's last offset
/// + 1 from the names.
#[test]
fn a_kafka_connect_text_archive_killed_half_way_resumes_exactly_once() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let brokers = tansu.brokers();
    let dir = tempfile::tempdir().expect("temp dir");
    C2k::new(&[
        "sample",
        dir.path().to_str().expect("utf-8"),
        "--records",
        &RECORDS.to_string(),
        "--partitions",
        &PARTITIONS.to_string(),
        "--layout",
        "connect-s3",
    ])
    .run()
    .assert_ok();
    let yaml = format!(
        "topic: PAGE_VIEWS
\
         source:\n  type: kafka-connect\n  dest_dir: {d}/destination\n\
         key:\n  config: {{ field: header.time }}\n\
         sort:\n  memory: 64MiB\n  tmp_dir: {d}/tmp\n\
         format:\n  plugin: json\n\
         sink:\n  type: kafka\n  brokers: '{brokers}'\n\
         offsets:\n  commit: zookeeper\n  zookeeper: '{zookeeper}'\n  live_check: warn\n",
        d = dir.path().display(),
        zookeeper = zk.connect_string()
    );
    std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
    let pipeline = dir.path().join("replay.yaml");
    std::fs::write(&pipeline, yaml).expect("write the pipeline");
    let setup = Setup { dir, pipeline };

    let (code, output) = run(&setup, "CONNECT_REFERENCE", "connect-reference", &[FAST]);
    assert_eq!(code, Some(0), "{output}");
    let reference = values_by_partition(&kafka::read_topic(
        &brokers,
        "CONNECT_REFERENCE",
        RECORDS as usize,
        LIMIT,
    ));
    // `c2k sample` starts partition p at offset 1000 * (p + 1), 5,000 records each.
    let cutoffs: Vec<(String, String)> = (0..PARTITIONS)
        .map(|p| (p.to_string(), (1000 * (p + 1) + 5000).to_string()))
        .collect();
    assert_eq!(
        committed_offsets(&zk.connect_string(), "connect-reference"),
        cutoffs
    );

    let at_kill = kill_at(
        &setup,
        &brokers,
        "CONNECT_KILLED",
        "connect-killed",
        Moment::HalfWay,
    );
    assert!(committed_offsets(&zk.connect_string(), "connect-killed").is_empty());
    let (code, output) = run(&setup, "CONNECT_KILLED", "connect-killed", &[FAST]);
    assert_eq!(code, Some(4), "a rerun without --resume: {output}");
    let (code, output) = run(
        &setup,
        "CONNECT_KILLED",
        "connect-killed",
        &[FAST, "--resume"],
    );
    assert_eq!(code, Some(0), "c2k run --resume: {output}");
    let received = kafka::read_topic(&brokers, "CONNECT_KILLED", RECORDS as usize, LIMIT);
    assert_exactly_once(&received, &reference, "kafka-connect, killed half-way");
    assert_eq!(
        committed_offsets(&zk.connect_string(), "connect-killed"),
        cutoffs
    );
    eprintln!(
        "kafka-connect: {at_kill} in the topic at the kill, {} after --resume",
        received.len()
    );
}

/// A replay found complete by `--resume` goes straight to the offsets step.
#[test]
fn resuming_a_complete_replay_only_commits_the_offsets() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let brokers = tansu.brokers();
    let setup = setup(&brokers, &zk.connect_string());
    let (code, output) = run(&setup, "COMPLETE", "first", &[FAST, "offsets.commit=none"]);
    assert_eq!(code, Some(0), "{output}");
    let (code, output) = run(&setup, "COMPLETE", "second", &[FAST, "--resume"]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("already complete"), "{output}");
    assert_eq!(
        committed_offsets(&zk.connect_string(), "second").len(),
        PARTITIONS as usize,
        "{output}"
    );
    let received = kafka::read_topic(&brokers, "COMPLETE", RECORDS as usize, LIMIT);
    assert_eq!(received.len() as u64, RECORDS);
}

/// Copies the first data file of the tree under a new Camus name, as if a later Camus run had
/// written it (one more file in the archive).
fn add_a_file(root: &Path) {
    let files = crate::support::camus::avro_files(&root.join("destination"));
    let first = files.first().expect("a data file");
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    // <topic>.<leader>.<partition>.<count>.<next offset>.<hour ms>.avro
    let mut parts: Vec<String> = name.split('.').map(str::to_owned).collect();
    let next: u64 = parts[4].parse().expect("a Camus file name");
    parts[4] = (next + 1_000_000).to_string();
    std::fs::copy(first, first.with_file_name(parts.join("."))).expect("copy a data file");
}

/// What the offsets step needs is checked before the first message: an unreachable ZooKeeper or a
/// history without runs fails the run with the topic untouched, not after the whole publish.
#[test]
fn an_offsets_step_that_cannot_be_made_is_found_before_anything_is_sent() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let brokers = tansu.brokers();
    let setup = setup(&brokers, &zk.connect_string());
    let nobody = format!("offsets.zookeeper=127.0.0.1:{}", servers::free_port());
    let (code, output) = run(
        &setup,
        "NO_ZOOKEEPER",
        "g",
        &[FAST, &nobody, "offsets.session_timeout=2s"],
    );
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("checked before publishing anything") && output.contains("ZooKeeper"),
        "{output}"
    );
    assert_eq!(
        Watch::new(&brokers, "NO_ZOOKEEPER").settled_count(),
        0,
        "nothing was published"
    );

    let empty_history = setup.dir.path().join("empty-history");
    std::fs::create_dir_all(&empty_history).expect("an empty history folder");
    let history = format!("offsets.history_dir={}", empty_history.display());
    let (code, output) = run(&setup, "NO_RUNS", "g", &[FAST, &history]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("checked before publishing anything") && output.contains("no Camus run"),
        "{output}"
    );
    assert_eq!(
        Watch::new(&brokers, "NO_RUNS").settled_count(),
        0,
        "nothing was published"
    );
}

/// ZooKeeper goes away while the replay is published: the run fails saying the replay is complete
/// and which command finishes the job; `c2k run --resume` then only commits.
#[test]
fn an_offsets_step_failing_after_a_complete_replay_says_how_to_finish() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let brokers = tansu.brokers();
    let setup = setup(&brokers, &zk.connect_string());
    let mut watch = Watch::new(&brokers, "ZK_GONE");
    let child = spawn_run(
        &setup,
        "ZK_GONE",
        "g",
        &[SLOW, "offsets.session_timeout=2s"],
    );
    let started = Instant::now();
    while watch.count() == 0 {
        assert!(started.elapsed() < LIMIT, "the publish never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(zk);
    let (code, output) = finish(child);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("the replay is complete (20000 messages in ZK_GONE)")
            && output.contains("c2k offsets commit")
            && output.contains("--resume"),
        "{output}"
    );

    let zk = servers::ZooKeeper::start();
    let elsewhere = format!("offsets.zookeeper={}", zk.connect_string());
    let (code, output) = run(&setup, "ZK_GONE", "g", &[FAST, "--resume", &elsewhere]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("already complete"), "{output}");
    assert_eq!(
        committed_offsets(&zk.connect_string(), "g").len(),
        PARTITIONS as usize
    );
    let received = kafka::read_topic(&brokers, "ZK_GONE", RECORDS as usize, LIMIT);
    assert_eq!(received.len() as u64, RECORDS, "nothing published twice");
}

/// A tree nobody here wrote (fastavro: six codecs, two writer schemas, litter, a file without a
/// Camus name), killed mid-publish and resumed: the provenance headers name exactly the records
/// fastavro wrote, each once.
#[test]
fn an_independently_written_tree_killed_mid_publish_resumes_exactly_once() {
    let tansu = servers::Tansu::start();
    let brokers = tansu.brokers();
    let dir = tempfile::tempdir().expect("temp dir");
    let expected = crate::support::camus::write_fastavro_tree(dir.path(), "PAGE_VIEWS");
    let yaml = format!(
        "topic: PAGE_VIEWS\n\
         source:\n  dest_dir: {d}/destination\n  schema: {d}/reader.avsc\n\
         key:\n  config: {{ field: header.time }}\n\
         sort:\n  tmp_dir: {d}\n\
         format:\n  plugin: json\n\
         sink:\n  type: kafka\n  brokers: '{brokers}'\n",
        d = dir.path().display()
    );
    let pipeline = dir.path().join("replay.yaml");
    std::fs::write(&pipeline, yaml).expect("write the pipeline");
    let setup = Setup { dir, pipeline };

    let mut watch = Watch::new(&brokers, "INDEPENDENT");
    let mut child = spawn_run(
        &setup,
        "INDEPENDENT",
        "unused",
        // The tree's one non-Camus name is the integrity check's subject (tests/integrity.rs).
        &["sink.max_messages_per_sec=30", "source.integrity=warn"],
    );
    let started = Instant::now();
    let at_kill = loop {
        let count = watch.count();
        if count >= expected.len() as i64 / 3 {
            child.kill(); // SIGKILL, mid-publish
            break count;
        }
        child.assert_running("before the kill");
        assert!(
            started.elapsed() < LIMIT,
            "the publish never got a third of the way"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let (code, output) = run(
        &setup,
        "INDEPENDENT",
        "unused",
        &[FAST, "--resume", "source.integrity=warn"],
    );
    assert_eq!(code, Some(0), "{output}");

    let received = kafka::read_topic(&brokers, "INDEPENDENT", expected.len(), LIMIT);
    let found: Vec<(String, u64)> = received
        .iter()
        .map(|m| {
            let index = header(m, "c2k-source-index").parse().expect("an index");
            (header(m, "c2k-source-file"), index)
        })
        .collect();
    let distinct: BTreeSet<&(String, u64)> = found.iter().collect();
    let wanted: BTreeSet<(String, u64)> = expected
        .iter()
        .map(|r| {
            (
                r["file"].as_str().expect("file").to_owned(),
                r["index"].as_u64().expect("index"),
            )
        })
        .collect();
    eprintln!(
        "independent tree: {} records expected, {at_kill} in the topic at the kill, {} found, {} duplicates",
        wanted.len(),
        found.len(),
        found.len() - distinct.len()
    );
    assert_eq!(found.len(), wanted.len(), "messages in the topic");
    assert_eq!(distinct.len(), found.len(), "a record published twice");
    assert!(
        distinct.into_iter().cloned().collect::<BTreeSet<_>>() == wanted,
        "the records in the topic are not the ones fastavro wrote"
    );
}

/// SIGTERM while the replay is being published: c2k stops cleanly (exit 143), says how to continue,
/// commits no offsets and leaves no spill folder; `--resume` then completes it exactly once.
#[test]
fn sigterm_during_the_publish_stops_cleanly_and_resume_finishes_exactly_once() {
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let brokers = tansu.brokers();
    let setup = setup(&brokers, &zk.connect_string());
    let mut watch = Watch::new(&brokers, "TERMINATED");
    let child = spawn_run(&setup, "TERMINATED", "g", &[SLOW]);
    let started = Instant::now();
    while watch.count() < RECORDS as i64 / 4 {
        assert!(
            started.elapsed() < LIMIT,
            "the publish never got a quarter of the way"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.signal(libc::SIGTERM);
    let (code, output) = finish(child);
    assert_eq!(code, Some(143), "{output}");
    assert!(
        output.contains("SIGTERM") && output.contains("--resume"),
        "{output}"
    );
    assert!(
        committed_offsets(&zk.connect_string(), "g").is_empty(),
        "{output}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(setup.dir.path().join("tmp"))
        .expect("tmp dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");

    let (code, output) = run(&setup, "TERMINATED", "g", &[FAST, "--resume"]);
    assert_eq!(code, Some(0), "{output}");
    let received = kafka::read_topic(&brokers, "TERMINATED", RECORDS as usize, LIMIT);
    let origins: BTreeSet<(String, String)> = received
        .iter()
        .map(|m| (header(m, "c2k-source-file"), header(m, "c2k-source-index")))
        .collect();
    assert_eq!(received.len() as u64, RECORDS);
    assert_eq!(origins.len() as u64, RECORDS, "a record published twice");
    assert_eq!(
        committed_offsets(&zk.connect_string(), "g").len(),
        PARTITIONS as usize
    );
}
