//! The live topic checked before the offsets are committed, against real brokers: Kafka 3.3.2
//! (retention past the cut-off made with DeleteRecords, an archive ahead of the topic, a consumer
//! of the group running, brokers found through a registration in ZooKeeper) and Kafka 0.8.2.2 in
//! ZooKeeper mode with its own ZooKeeper 3.4 (the brokers Camus users ran). Each refusal exits
//! with 6, names the partitions and numbers, and commits nothing; `c2k offsets show` prints
//! cut-off, log start, high watermark and what consumers will read after the switch.
//!
//! Not tansu: its ListOffsets answers the last record batch's base offset + 1 as the high
//! watermark (tansu-storage 0.6.0, `list_offsets`), wrong whenever a batch holds more than one
//! message.

use camus2kafka::testing::latest_run;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::Offset;

use crate::support::apache_kafka::ApacheKafka;
use crate::support::c2k::{self, C2k, Run};
use crate::support::live::{self, RunningConsumer, ZooKeeperSession};
use crate::support::{offsets, servers};

const LIMIT: Duration = Duration::from_secs(120);
const TOPIC: &str = "PAGE_VIEWS";
const NOTHING: [Offset; 3] = [Offset::Invalid, Offset::Invalid, Offset::Invalid];

/// `c2k offsets ACTION PIPELINE [ARGS...]` in `dir`.
fn offsets_cmd(dir: &Path, action: &str, pipeline: &Path, args: &[&str]) -> Run {
    let mut all = vec!["offsets", action, pipeline.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    C2k::new(&all).dir(dir).timeout(LIMIT).run()
}

/// The fields of `show`'s line for `partition`: partition, cut-off, log start, high watermark,
/// to read, node, file.
fn row(stdout: &str, partition: i32) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(partition.to_string().as_str()))
        .unwrap_or_else(|| panic!("no line for partition {partition} in:\n{stdout}"));
    line.split_whitespace().map(str::to_string).collect()
}

/// Asserts `show`'s columns for each partition: `(cut-off, log start, high watermark, to read)`.
#[track_caller]
fn assert_rows(stdout: &str, expected: &[(&str, &str, &str, &str)]) {
    for (partition, want) in expected.iter().enumerate() {
        let fields = row(stdout, partition as i32);
        assert_eq!(
            (
                fields[1].as_str(),
                fields[2].as_str(),
                fields[3].as_str(),
                fields[4].as_str()
            ),
            *want,
            "partition {partition} in:\n{stdout}"
        );
    }
}

#[track_caller]
fn assert_refused(run: &Run, needles: &[&str]) {
    assert_eq!(
        run.code,
        Some(6),
        "expected the hand-off refused:\nstdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    run.assert_failed_with(needles);
}

#[test]
fn retention_past_the_cut_off_is_refused_and_accept_loss_commits_the_log_start() {
    let Some(kafka) = ApacheKafka::start() else {
        return;
    };
    let brokers = kafka.bootstrap();
    live::create_topic(&brokers, TOPIC, 3);
    live::produce(&kafka.client_config(), TOPIC, &[150, 150, 150]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let exec = dir.path().join("execution");
    live::history(&exec, &[100, 100, 100]);
    // Retention went 30 messages past partition 0's cut-off, and exactly up to partition 1's.
    assert_eq!(
        live::delete_records(&brokers, TOPIC, &[Some(130), Some(100), None]),
        vec![(0, 130), (1, 100)]
    );
    let pipeline = offsets::pipeline(
        dir.path(),
        &exec,
        &format!("commit: kafka\nbrokers: {brokers}\ngroup: replayers"),
    );

    let refused = offsets_cmd(dir.path(), "commit", &pipeline, &[]);
    assert_refused(
        &refused,
        &[
            "PAGE_VIEWS/0: 30 messages gone: the cut-off is 100 but the log starts at 130",
            "offsets 100..129 are in neither the archive nor Kafka",
            "--accept-loss",
            "nothing committed for group replayers",
            &brokers,
        ],
    );
    assert!(
        !refused.stderr.contains("PAGE_VIEWS/1:") && !refused.stderr.contains("PAGE_VIEWS/2:"),
        "only partition 0 lost messages: {}",
        refused.stderr
    );
    assert_eq!(live::committed(&brokers, "replayers", TOPIC, 3), NOTHING);

    let shown = offsets_cmd(dir.path(), "show", &pipeline, &[]);
    shown.assert_ok();
    assert_rows(
        &shown.stdout,
        &[
            ("100", "130", "150", "20"),
            ("100", "100", "150", "50"),
            ("100", "0", "150", "50"),
        ],
    );
    assert!(
        shown
            .stdout
            .contains("refused: PAGE_VIEWS/0: 30 messages gone"),
        "{}",
        shown.stdout
    );

    let accepted = offsets_cmd(dir.path(), "commit", &pipeline, &["--accept-loss"]);
    accepted.assert_ok();
    for needle in [
        "LOSS ACCEPTED (--accept-loss): PAGE_VIEWS/0: 30 messages gone",
        "committing 130, the log start",
    ] {
        assert!(
            accepted.stderr.contains(needle),
            "stderr lacks `{needle}`: {}",
            accepted.stderr
        );
    }
    assert!(
        accepted.stdout.contains("will read 120 messages"),
        "{}",
        accepted.stdout
    );
    assert_eq!(
        live::committed(&brokers, "replayers", TOPIC, 3),
        [
            Offset::Offset(130),
            Offset::Offset(100),
            Offset::Offset(100)
        ]
    );

    // Again (an interrupted earlier attempt): those very offsets are the group's, nothing written.
    let again = offsets_cmd(dir.path(), "commit", &pipeline, &["--accept-loss"]);
    again.assert_ok();
    assert!(
        again.stdout.contains("already committed, identical"),
        "{}",
        again.stdout
    );
    // Without --accept-loss they are other offsets than the cut-offs: left alone, exit 3.
    let other = offsets_cmd(dir.path(), "commit", &pipeline, &[]);
    assert_eq!(other.code, Some(3), "{}", other.stderr);
    assert_eq!(
        live::committed(&brokers, "replayers", TOPIC, 3),
        [
            Offset::Offset(130),
            Offset::Offset(100),
            Offset::Offset(100)
        ]
    );
}

#[test]
fn an_archive_ahead_of_the_live_topic_is_refused_before_anything_is_published() {
    let Some(kafka) = ApacheKafka::start() else {
        return;
    };
    let brokers = kafka.bootstrap();
    let dir = tempfile::tempdir().expect("a temp dir");
    C2k::new(&["sample", "camus", "--records", "2000", "--partitions", "2"])
        .dir(dir.path())
        .timeout(LIMIT)
        .run()
        .assert_ok();
    let history_dir = dir.path().join("camus/execution/base/history");
    let cutoffs: Vec<i64> = latest_run(history_dir.to_str().expect("UTF-8"), TOPIC)
        .expect("the sample's history")
        .partitions
        .iter()
        .map(|p| p.offset)
        .collect();
    assert_eq!(cutoffs.len(), 2);
    // Partition 1 of the live topic stops 7 messages short of the archive's cut-off.
    live::create_topic(&brokers, TOPIC, 2);
    live::produce(&kafka.client_config(), TOPIC, &[cutoffs[0], cutoffs[1] - 7]);
    let pipeline = c2k::write_pipeline(
        dir.path(),
        "replay.yaml",
        &format!(
            "topic: {TOPIC}\n\
             source: {{dest_dir: camus/destination}}\n\
             key: {{config: {{field: header.time}}}}\n\
             sort: {{memory: 16MiB, tmp_dir: .}}\n\
             format: {{plugin: json, config: {{encoding: plain}}}}\n\
             sink: {{type: file, path: replay.jsonl}}\n\
             offsets: {{exec_dir: camus/execution, commit: kafka, brokers: '{brokers}', \
             group: replayers}}\n"
        ),
    );
    let ahead = format!(
        "PAGE_VIEWS/1: the cut-off {} is beyond the high watermark {} (7 messages ahead)",
        cutoffs[1],
        cutoffs[1] - 7
    );

    let run = C2k::new(&["run", &pipeline])
        .dir(dir.path())
        .timeout(LIMIT)
        .run();
    assert_refused(
        &run,
        &[
            &ahead,
            "another cluster, or to an earlier incarnation of the topic",
            "checked before publishing anything: nothing was sent",
        ],
    );
    assert!(!run.stderr.contains("PAGE_VIEWS/0:"), "{}", run.stderr);
    assert!(
        !dir.path().join("replay.jsonl").exists(),
        "a refused run published its replay"
    );
    assert_eq!(
        live::committed(&brokers, "replayers", TOPIC, 2),
        NOTHING[..2]
    );

    let commit = offsets_cmd(dir.path(), "commit", Path::new(&pipeline), &[]);
    assert_refused(&commit, &[&ahead]);
    assert_eq!(
        live::committed(&brokers, "replayers", TOPIC, 2),
        NOTHING[..2]
    );

    // A dry run reads the live topic too, says what it found, and does not fail on it.
    let dry = C2k::new(&["run", &pipeline, "--dry-run"])
        .dir(dir.path())
        .timeout(LIMIT)
        .run();
    dry.assert_ok();
    assert!(
        dry.stderr.contains("dry run: the commit would be refused") && dry.stderr.contains(&ahead),
        "{}",
        dry.stderr
    );
    assert_eq!(
        live::committed(&brokers, "replayers", TOPIC, 2),
        NOTHING[..2]
    );
}

#[test]
fn a_running_consumer_of_the_group_is_refused_and_a_consistent_topic_commits() {
    let Some(kafka) = ApacheKafka::start() else {
        return;
    };
    let brokers = kafka.bootstrap();
    live::create_topic(&brokers, TOPIC, 3);
    live::produce(&kafka.client_config(), TOPIC, &[120, 201, 330]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let exec = dir.path().join("execution");
    live::history(&exec, &[100, 201, 302]);
    let pipeline = offsets::pipeline(
        dir.path(),
        &exec,
        &format!("commit: kafka\nbrokers: {brokers}\ngroup: replayers"),
    );

    {
        let _consumer = RunningConsumer::start(&brokers, "replayers", TOPIC);
        let refused = offsets_cmd(dir.path(), "commit", &pipeline, &[]);
        assert_refused(
            &refused,
            &[
                "group replayers has 1 running member",
                "client live-test-consumer",
                "stop them first",
            ],
        );
        assert_eq!(live::committed(&brokers, "replayers", TOPIC, 3), NOTHING);
        let dry = offsets_cmd(dir.path(), "commit", &pipeline, &["--dry-run"]);
        dry.assert_ok();
        assert!(
            dry.stderr
                .contains("dry run: the commit would be refused: group replayers has 1"),
            "{}",
            dry.stderr
        );
    }
    live::wait_until_group_is_empty(&brokers, "replayers");

    let shown = offsets_cmd(dir.path(), "show", &pipeline, &[]);
    shown.assert_ok();
    assert_rows(
        &shown.stdout,
        &[
            ("100", "0", "120", "20"),
            ("201", "0", "201", "0"),
            ("302", "0", "330", "28"),
        ],
    );
    assert!(
        shown
            .stdout
            .contains("consumers will read 48 messages of the live topic"),
        "{}",
        shown.stdout
    );
    assert!(
        !shown.stdout.contains("refused:") && !shown.stdout.contains("warning:"),
        "{}",
        shown.stdout
    );

    let committed = offsets_cmd(dir.path(), "commit", &pipeline, &[]);
    committed.assert_ok();
    assert!(
        committed.stdout.contains("will read 48 messages"),
        "{}",
        committed.stdout
    );
    assert_eq!(
        live::committed(&brokers, "replayers", TOPIC, 3),
        [
            Offset::Offset(100),
            Offset::Offset(201),
            Offset::Offset(302)
        ]
    );
}

#[test]
fn zookeeper_consumers_registered_under_ids_are_refused_and_brokers_come_from_zookeeper() {
    let Some(kafka) = ApacheKafka::start() else {
        return;
    };
    let zk = servers::ZooKeeper::start();
    live::create_topic(&kafka.bootstrap(), TOPIC, 4);
    live::produce(&kafka.client_config(), TOPIC, &[100, 250, 302, 5]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let exec = dir.path().join("execution");
    // Camus never read partition 3.
    live::history(&exec, &[100, 201, 302]);
    let connect = format!("{}/kafka", zk.connect_string());
    let pipeline = offsets::pipeline(
        dir.path(),
        &exec,
        &format!("commit: zookeeper\nzookeeper: {connect}\ngroup: old-consumers"),
    );

    // The broker registers as Kafka 0.10.2 and later do: a named listener mapped to PLAINTEXT,
    // next to a TLS one, in an ephemeral node of its own session.
    let broker_session = ZooKeeperSession::connect(&zk.connect_string());
    broker_session.create(
        "/kafka/brokers/ids/1",
        format!(
            r#"{{"listener_security_protocol_map":{{"TLS":"SSL","REPLICATION":"PLAINTEXT"}},"endpoints":["TLS://127.0.0.1:1","REPLICATION://{}"],"jmx_port":-1,"host":null,"timestamp":"1700000000000","port":-1,"version":4}}"#,
            kafka.bootstrap()
        )
        .as_bytes(),
        true,
    );
    // A running old consumer: its ephemeral id under /consumers/<group>/ids.
    let member = "old-consumers_host1-1700000000000-6f1c2b3a";
    let consumer_session = ZooKeeperSession::connect(&zk.connect_string());
    consumer_session.create(
        &format!("/kafka/consumers/old-consumers/ids/{member}"),
        br#"{"version":1,"subscription":{"PAGE_VIEWS":1},"pattern":"static","timestamp":"1700000000000"}"#,
        true,
    );
    let offsets_path = "/kafka/consumers/old-consumers/offsets/PAGE_VIEWS";

    let refused = offsets_cmd(dir.path(), "commit", &pipeline, &[]);
    assert_refused(
        &refused,
        &[
            "group old-consumers has 1 running member",
            "/kafka/consumers/old-consumers/ids",
            member,
        ],
    );
    assert!(
        offsets::read_zookeeper_tree(&zk.connect_string(), offsets_path).is_empty(),
        "a refused commit wrote offsets"
    );

    drop(consumer_session);
    live::wait_until_no_children(&zk.connect_string(), "/kafka/consumers/old-consumers/ids");

    let shown = offsets_cmd(dir.path(), "show", &pipeline, &[]);
    shown.assert_ok();
    assert!(
        shown.stdout.contains(&format!(
            "# live topic on brokers {} (registered in ZooKeeper {connect} under \
             /kafka/brokers/ids)",
            kafka.bootstrap()
        )),
        "{}",
        shown.stdout
    );
    assert_rows(
        &shown.stdout,
        &[
            ("100", "0", "100", "0"),
            ("201", "0", "250", "49"),
            ("302", "0", "302", "0"),
            ("-", "0", "5", "-"),
        ],
    );
    assert!(
        shown.stdout.contains(
            "warning: PAGE_VIEWS/3: on the live topic (high watermark 5) but in no Camus run"
        ),
        "{}",
        shown.stdout
    );

    let committed = offsets_cmd(dir.path(), "commit", &pipeline, &[]);
    committed.assert_ok();
    assert!(
        committed
            .stderr
            .contains("warning: PAGE_VIEWS/3: on the live topic")
            && committed.stderr.contains("auto.offset.reset"),
        "{}",
        committed.stderr
    );
    assert!(
        committed.stdout.contains("will read 49 messages"),
        "{}",
        committed.stdout
    );
    assert_eq!(
        offsets::read_zookeeper_tree(&zk.connect_string(), offsets_path),
        [("0", "100"), ("1", "201"), ("2", "302")].map(|(p, o)| (p.to_string(), o.to_string()))
    );
}

#[test]
fn kafka_0_8_found_through_its_zookeeper_takes_the_hand_off_and_refuses_an_archive_ahead() {
    let Some(kafka) = ApacheKafka::start_0_8("/kafka08") else {
        return;
    };
    kafka.create_topic_0_8(TOPIC, 3);
    live::produce(&kafka.client_config(), TOPIC, &[120, 201, 330]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let exec = dir.path().join("execution");
    live::history(&exec, &[100, 201, 302]);
    // The ZooKeeper commit, brokers found under /kafka08/brokers/ids: no offsets.brokers, no
    // librdkafka settings for 0.8 in the pipeline.
    let pipeline = offsets::pipeline(
        dir.path(),
        &exec,
        &format!(
            "commit: zookeeper\nzookeeper: {}\ngroup: old-consumers",
            kafka.zookeeper()
        ),
    );

    let shown = offsets_cmd(dir.path(), "show", &pipeline, &[]);
    shown.assert_ok();
    assert!(
        shown.stdout.contains(&format!(
            "# live topic on brokers {} (registered in ZooKeeper {} under /kafka08/brokers/ids; \
             old registrations: api.version.request=false, broker.version.fallback=0.8.2.2)",
            kafka.bootstrap(),
            kafka.zookeeper()
        )),
        "{}",
        shown.stdout
    );
    assert_rows(
        &shown.stdout,
        &[
            ("100", "0", "120", "20"),
            ("201", "0", "201", "0"),
            ("302", "0", "330", "28"),
        ],
    );

    let committed = offsets_cmd(dir.path(), "commit", &pipeline, &[]);
    committed.assert_ok();
    assert!(
        committed.stdout.contains("will read 48 messages"),
        "{}",
        committed.stdout
    );
    assert_eq!(
        offsets::read_zookeeper_tree(
            &kafka.zookeeper(),
            "/consumers/old-consumers/offsets/PAGE_VIEWS"
        ),
        [("0", "100"), ("1", "201"), ("2", "302")].map(|(p, o)| (p.to_string(), o.to_string()))
    );

    // Another archive, ahead of this cluster's partition 1: refused, nothing written for its group.
    let ahead_dir = tempfile::tempdir().expect("a temp dir");
    let ahead_exec = ahead_dir.path().join("execution");
    live::history(&ahead_exec, &[100, 260, 302]);
    let ahead = offsets::pipeline(
        ahead_dir.path(),
        &ahead_exec,
        &format!(
            "commit: zookeeper\nzookeeper: {}\ngroup: ahead",
            kafka.zookeeper()
        ),
    );
    let refused = offsets_cmd(ahead_dir.path(), "commit", &ahead, &[]);
    assert_refused(
        &refused,
        &[
            "PAGE_VIEWS/1: the cut-off 260 is beyond the high watermark 201 (59 messages ahead)",
            "nothing committed for group ahead",
        ],
    );
    assert!(
        !refused.stderr.contains("PAGE_VIEWS/0:"),
        "{}",
        refused.stderr
    );
    assert!(
        offsets::read_zookeeper_tree(&kafka.zookeeper(), "/consumers/ahead/offsets/PAGE_VIEWS")
            .is_empty(),
        "a refused commit wrote offsets"
    );
}

#[test]
fn an_unreadable_live_cluster_is_refused_naming_what_was_tried_and_show_prints_the_cut_offs() {
    let zk = servers::ZooKeeper::start();
    let dir = tempfile::tempdir().expect("a temp dir");
    let exec = dir.path().join("execution");
    live::history(&exec, &[100, 201]);
    let pipeline = offsets::pipeline(
        dir.path(),
        &exec,
        &format!(
            "commit: zookeeper\nzookeeper: {}\ngroup: g\nsession_timeout: 2s",
            zk.connect_string()
        ),
    );
    let offsets_path = "/consumers/g/offsets/PAGE_VIEWS";

    // No broker is registered in that ZooKeeper.
    let unregistered = offsets_cmd(dir.path(), "commit", &pipeline, &[]);
    assert_refused(
        &unregistered,
        &[
            &format!(
                "no brokers are registered in ZooKeeper {} under /brokers/ids",
                zk.connect_string()
            ),
            "offsets.brokers",
        ],
    );
    assert!(offsets::read_zookeeper_tree(&zk.connect_string(), offsets_path).is_empty());

    // Brokers named, nobody listening: refused within the timeout.
    let nobody = format!("127.0.0.1:{}", servers::free_port());
    let started = Instant::now();
    let silent = offsets_cmd(
        dir.path(),
        "commit",
        &pipeline,
        &["--set", &format!("offsets.brokers={nobody}")],
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_refused(
        &silent,
        &[
            &format!("brokers {nobody} (offsets.brokers)"),
            "point c2k at the live cluster with offsets.brokers",
        ],
    );
    assert!(offsets::read_zookeeper_tree(&zk.connect_string(), offsets_path).is_empty());

    // `show` still prints the cut-offs, and says on stderr why the live columns are missing.
    let shown = offsets_cmd(dir.path(), "show", &pipeline, &[]);
    shown.assert_ok();
    assert_rows(
        &shown.stdout,
        &[("100", "-", "-", "-"), ("201", "-", "-", "-")],
    );
    assert!(
        shown.stderr.contains("the live columns are missing")
            && shown.stderr.contains("no brokers are registered"),
        "{}",
        shown.stderr
    );

    // offsets.live_check: warn commits anyway, saying what could not be checked.
    let warned = offsets_cmd(
        dir.path(),
        "commit",
        &pipeline,
        &["--set", "offsets.live_check=warn"],
    );
    warned.assert_ok();
    assert!(
        warned.stderr.contains("no brokers are registered")
            && warned.stderr.contains("committing anyway"),
        "{}",
        warned.stderr
    );
    assert_eq!(
        offsets::read_zookeeper_tree(&zk.connect_string(), offsets_path),
        [("0", "100"), ("1", "201")].map(|(p, o)| (p.to_string(), o.to_string()))
    );
}
