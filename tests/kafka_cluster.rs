//! The replay on the cluster users run: three Apache Kafka 3.3.2 brokers (KRaft,
//! `support::kafka_cluster`) with `default.replication.factor=3` and `min.insync.replicas=2`.
//! A replay gets the cluster's replication factor, loses nothing to a partition leader killed
//! with `kill -9` mid-way (the idempotent producer retries on the new leader), and is read back
//! only after the brokers' retention checks have run; a broker stopped so that fewer than
//! `min.insync.replicas` remain fails the run with the delivered count and the brokers' cause,
//! and `--resume` completes it once the broker is back.

use std::time::{Duration, Instant};

use crate::kafka_apache::{assert_exactly_once_in_key_order, sample};
use crate::support::c2k::{kafka_pipeline, C2k};
use crate::support::kafka;
use crate::support::kafka_cluster::KafkaCluster;
use crate::support::topics;

const RECORDS: u64 = 20_000;
const TOPIC: &str = "PAGE_VIEWS_REPLAY";
const RUN_TIMEOUT: Duration = Duration::from_secs(240);
const READ_TIMEOUT: Duration = Duration::from_secs(90);

#[test]
fn kafka_cluster_a_replay_gets_three_replicas_survives_retention_and_a_killed_leader() {
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), RECORDS);
    let cluster = KafkaCluster::start("log.retention.check.interval.ms=1000\n");
    eprintln!("three brokers up in {:.1?}", cluster.started_in);
    let brokers = cluster.bootstrap();
    topics::old_stamped_topic(&brokers, "CONTROL", -1, 100);
    let pipeline = kafka_pipeline(dir.path(), &brokers);

    // ~13 s of publishing, so that the kill lands mid-way.
    let mut child = C2k::new(&["run", &pipeline, "--set", "sink.max_messages_per_sec=1500"])
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .spawn();
    let deadline = Instant::now() + RUN_TIMEOUT;
    topics::watch_held(&brokers, TOPIC, |held| {
        child.assert_running("before the kill");
        assert!(Instant::now() < deadline, "no messages published");
        held < 3_000
    });
    let at = topics::held(&brokers, TOPIC);
    // The leader as the brokers' metadata says (the dist's own tool takes a JVM's start).
    let leader = topics::partitions_of(&brokers, TOPIC)[0].leader as u8;
    cluster.kill_node(leader);
    assert!(
        (at as u64) < RECORDS,
        "the kill lands mid-replay ({at} of {RECORDS} published)"
    );
    eprintln!("killed broker {leader} (leader of partition 0) at {at} messages");
    std::thread::sleep(Duration::from_secs(3));
    cluster.start_node(leader);
    let replay = child.wait();
    let said = &replay.stderr;
    assert!(
        replay.status.success(),
        "the idempotent producer retries on the new leader: the run completes\n{said}"
    );

    let partitions = topics::partitions_of(&brokers, TOPIC);
    assert!(
        partitions.iter().all(|p| p.replicas.len() == 3),
        "the cluster's replication factor: {partitions:?}"
    );
    let waited = topics::wait_for_retention(&brokers, "CONTROL", Duration::from_secs(120));
    eprintln!("the retention check deleted CONTROL {waited:?} after the replay");
    std::thread::sleep(Duration::from_secs(2));
    let replayed = kafka::read_topic(&brokers, TOPIC, RECORDS as usize, READ_TIMEOUT);
    assert_exactly_once_in_key_order(&replayed, RECORDS);
    let marks = topics::marks(&brokers, TOPIC);
    assert!(
        marks.iter().all(|(low, _)| *low == 0),
        "nothing deleted: {marks:?}"
    );
}

#[test]
fn kafka_cluster_too_few_in_sync_replicas_fail_with_the_count_and_the_cause_then_resume_completes()
{
    let dir = tempfile::tempdir().expect("temp dir");
    sample(dir.path(), RECORDS);
    let cluster = KafkaCluster::start("");
    let brokers = cluster.bootstrap();
    // Two replicas per partition and min.insync.replicas=2 (the cluster's): one broker down
    // leaves some partitions one in-sync replica short.
    topics::create(&brokers, "TWO_REPLICAS", 4, 2, &[("retention.ms", "-1")]);
    let partitions = topics::partitions_of(&brokers, "TWO_REPLICAS");
    let victim = partitions[0].replicas[0];
    cluster.kill_node(victim as u8);
    crate::support::servers::wait_until(
        "the dead broker out of every in-sync replica set",
        Duration::from_secs(60),
        || {
            topics::metadata_of(&brokers, "TWO_REPLICAS")
                .is_some_and(|ps| ps.iter().all(|p| !p.isr.contains(&victim) && p.leader >= 0))
        },
    );
    let pipeline = kafka_pipeline(dir.path(), &brokers);
    let sets = [
        "sink.topic=TWO_REPLICAS",
        "sink.delivery_timeout=30s",
        "sink.producer.message.timeout.ms=10000",
    ];
    let mut args = vec!["run", pipeline.as_str()];
    for set in &sets {
        args.extend(["--set", set]);
    }
    let failed = C2k::new(&args).dir(dir.path()).timeout(RUN_TIMEOUT).run();
    failed.assert_failed_with(&[
        "messages delivered",
        "fewer than min.insync.replicas=2",
        "bring the stopped brokers back",
        "`c2k run --resume`",
    ]);
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    let delivered = topics::held(&brokers, "TWO_REPLICAS");
    assert!(
        (delivered as u64) < RECORDS,
        "the partitions without the dead broker took messages, the others none: {delivered}"
    );
    eprintln!(
        "with broker {victim} down: {delivered} of {RECORDS} delivered, then:\n{}",
        failed.stderr
    );

    cluster.start_node(victim as u8);
    crate::support::servers::wait_until(
        "every replica back in sync",
        Duration::from_secs(60),
        || {
            topics::metadata_of(&brokers, "TWO_REPLICAS")
                .is_some_and(|ps| ps.iter().all(|p| p.isr.len() == 2))
        },
    );
    args.insert(1, "--resume");
    C2k::new(&args)
        .dir(dir.path())
        .timeout(RUN_TIMEOUT)
        .run()
        .assert_ok();
    let replayed = kafka::read_topic(&brokers, "TWO_REPLICAS", RECORDS as usize, READ_TIMEOUT);
    assert_exactly_once_in_key_order(&replayed, RECORDS);
}
