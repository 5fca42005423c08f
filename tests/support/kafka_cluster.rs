//! A real three-node Apache Kafka 3.3.2 cluster for the tests that need replication — a leader
//! that crashes mid-replay, `acks=all` against `min.insync.replicas=2`, a node that comes back on
//! its data — started by `tests/env/kafka-cluster.sh` on six free loopback ports (a PLAINTEXT and a
//! KRaft controller port per node) in a temp folder of its own, and stopped (its files removed)
//! when the guard is dropped. KRaft mode: every node is broker and controller, the three are the
//! controller quorum, so any one of them may die and the cluster still serves.
//!
//! Every topic is replicated to all three nodes by default (`default.replication.factor=3`,
//! `min.insync.replicas=2`, the internal topics too), topics are never created by a client's
//! metadata request (`auto.create.topics.enable=false`), a crashed node is fenced after 3 s
//! (`broker.session.timeout.ms`) and an out-of-sync replica never becomes leader. The cluster
//! holds one topic of its own, `c2k-probe`, which its start uses to see all three nodes serve.
//!
//! The dist is the one [`super::apache_kafka`] uses (`scripts/setup.sh` unpacks it). Unlike the
//! single broker there, a missing dist fails the test: the tests that need a cluster have no
//! meaning without one, and under CI a missing server must never pass as a skip.
//!
//! Each JVM has 384 MB of heap: the cluster costs about 1.2 GB and starts in about 15 s on two
//! busy cores.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::apache_kafka::{dist, Version, HOME_ENV};
use super::process::{bounded_command, output_bounded};
use super::servers::free_port;

/// How long `start` and `start-node` may take: the script itself gives up after
/// [`SCRIPT_START_SECS`] and says why (the nodes' last log lines); this outer bound only catches a
/// tool that hangs past that.
const START_TIMEOUT_SECS: u32 = 200;
const SCRIPT_START_SECS: u32 = 150;
/// How long `stop` may take (SIGTERM, SIGKILL after 10 s), and `kill-node`.
const STOP_TIMEOUT_SECS: u32 = 60;

fn script() -> PathBuf {
    super::repo().join("tests/env/kafka-cluster.sh")
}

/// Three Kafka 3.3.2 nodes on 127.0.0.1, ids 1, 2 and 3. Dropping it stops the three JVMs
/// (bounded: SIGKILL after 10 s) and removes the cluster's folder.
pub struct KafkaCluster {
    /// The PLAINTEXT ports of nodes 1, 2 and 3.
    ports: [u16; 3],
    /// Their KRaft controller ports.
    controller_ports: [u16; 3],
    dist: PathBuf,
    /// The cluster's folder (`KIT_RUN`): `cluster.id`, `extra.properties` and `node-N/` with
    /// `server.properties`, `data/`, `logs/server.log`, `kafka.pid`, `kafka.out`.
    run: tempfile::TempDir,
    /// How long the start took, the three formats and the probe topic included: the tests print
    /// it, a slow machine shows here first.
    pub started_in: Duration,
}

impl KafkaCluster {
    /// Formats and starts the three nodes, with `extra_properties` (lines of `server.properties`,
    /// e.g. `"log.retention.check.interval.ms=2000\n"`) appended to each node's settings, and
    /// returns once the cluster serves: a topic with replication factor 3 exists and all three
    /// nodes are in its ISR (about 15 s). Panics when the 3.3.2 dist is not installed, or when the
    /// cluster does not come up (with the nodes' last log lines).
    pub fn start(extra_properties: &str) -> KafkaCluster {
        let Some(dist) = dist(Version::V3_3_2) else {
            panic!(
                "Apache Kafka 3.3.2 is not installed (no kafka-3.3.2/ in ${HOME_ENV} or \
                 ~/.cache/camus2kafka/kafka), and a three-node cluster test does not skip: run \
                 scripts/setup.sh with ../shared/kafka beside the clone"
            );
        };
        let started = Instant::now();
        // A port can be taken between choosing and binding it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let mut ports = Vec::with_capacity(6);
            while ports.len() < 6 {
                let port = free_port();
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
            let mut cluster = KafkaCluster {
                ports: [ports[0], ports[1], ports[2]],
                controller_ports: [ports[3], ports[4], ports[5]],
                dist: dist.clone(),
                run: tempfile::Builder::new()
                    .prefix("c2k-kafka-cluster-")
                    .tempdir()
                    .expect("temp dir"),
                started_in: Duration::ZERO,
            };
            std::fs::write(
                cluster.run.path().join("extra.properties"),
                extra_properties,
            )
            .expect("write the extra broker properties");
            let output = cluster.script(&["start"], START_TIMEOUT_SECS);
            if output.status.success() {
                cluster.started_in = started.elapsed();
                eprintln!(
                    "Apache Kafka 3.3.2 cluster of three up on {} in {:.1?}",
                    cluster.bootstrap(),
                    cluster.started_in
                );
                return cluster;
            }
            last_error = String::from_utf8_lossy(&output.stderr).into_owned();
            // Dropping `cluster` stops whatever did start (the script already has, on failure).
        }
        panic!("the Apache Kafka 3.3.2 cluster did not start:\n{last_error}");
    }

    /// `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`: all three nodes, so that a client still
    /// bootstraps while any one of them is down.
    pub fn bootstrap(&self) -> String {
        self.ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `n` (1, 2 or 3) outright (SIGKILL), as a crashed machine would: no controlled
    /// shutdown, so its partitions keep it as leader until the controller fences it (3 s).
    pub fn kill_node(&self, n: u8) {
        let output = self.script(&["kill-node", &node(n)], STOP_TIMEOUT_SECS);
        assert!(
            output.status.success(),
            "kafka-cluster.sh kill-node {n} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts node `n` again on its data, after [`KafkaCluster::kill_node`], and returns once it
    /// has rejoined: every partition of the cluster has its full ISR again (about 6 s, more when
    /// it has much to catch up on).
    pub fn start_node(&self, n: u8) {
        let started = Instant::now();
        let output = self.script(&["start-node", &node(n)], START_TIMEOUT_SECS);
        assert!(
            output.status.success(),
            "kafka-cluster.sh start-node {n} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "Apache Kafka cluster node {n} restarted and back in sync in {:.1?}",
            started.elapsed()
        );
    }

    /// `kafka-cluster.sh ARGS...` for this cluster, under coreutils' `timeout`.
    fn script_command(&self, args: &[&str], seconds: u32) -> Command {
        let join = |ports: &[u16; 3]| {
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut command = bounded_command(seconds, "bash");
        command
            .arg(script())
            .args(args)
            .env("KAFKA_DIST", &self.dist)
            .env("KIT_RUN", self.run.path())
            .env("PORTS", join(&self.ports))
            .env("CONTROLLER_PORTS", join(&self.controller_ports))
            .env("EXTRA_PROPS_FILE", self.run.path().join("extra.properties"))
            .env("START_SECS", SCRIPT_START_SECS.to_string())
            .env("WATCH_PID", std::process::id().to_string());
        command
    }

    /// Runs `kafka-cluster.sh ARGS...`, failing the test if it outlives `seconds`.
    fn script(&self, args: &[&str], seconds: u32) -> Output {
        output_bounded(&mut self.script_command(args, seconds), seconds)
    }
}

/// `n` as the script's node argument, checked: the cluster has nodes 1, 2 and 3.
fn node(n: u8) -> String {
    assert!(
        (1..=3).contains(&n),
        "the cluster has nodes 1, 2 and 3, not {n}"
    );
    n.to_string()
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        // Bounded however the nodes behave (SIGKILL after 10 s, then `timeout`); never panics, as
        // it may run while a failed test unwinds.
        let _ = self.script_command(&["stop"], STOP_TIMEOUT_SECS).output();
        // The TempDir removes the cluster's folder after this.
    }
}
