//! A real Apache Kafka broker for the tests, started by `tests/env/kafka-kit.sh` on two free
//! loopback ports in a temp folder of its own, and stopped (its files removed) when the guard is
//! dropped: 3.3.2 in KRaft mode (one JVM that is broker and controller, [`ApacheKafka::start`]),
//! or 0.8.2.2, the Kafka Camus fed, with the ZooKeeper of its own dist
//! ([`ApacheKafka::start_0_8`]).
//!
//! The brokers come from the compiled dists `scripts/setup.sh` unpacks from
//! `../shared/kafka/kafka-<version>-built.tgz` into `${C2K_KAFKA_HOME:-~/.cache/camus2kafka/kafka}`.
//! Where a dist is missing, the start functions say so and return `None`: the test skips (the
//! dists are not downloadable, only carried beside the clone).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::servers::free_port;

/// The environment variable naming the folder that holds `kafka-3.3.2/` and `kafka-0.8.2.2/`.
pub const HOME_ENV: &str = "C2K_KAFKA_HOME";

/// The Kafka versions the kit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// KRaft, the default real broker.
    V3_3_2,
    /// ZooKeeper mode, no ApiVersions, no groups protocol: the brokers Camus users ran.
    V0_8_2_2,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::V3_3_2 => "3.3.2",
            Version::V0_8_2_2 => "0.8.2.2",
        }
    }
}

/// How long starting (or restarting) the broker may take, and stopping it.
const START_TIMEOUT_SECS: u32 = 120;
const STOP_TIMEOUT_SECS: u32 = 60;

fn kit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/kafka-kit.sh")
}

/// The unpacked dist of `version`, if it is installed.
pub fn dist(version: Version) -> Option<PathBuf> {
    let home = std::env::var_os(HOME_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/camus2kafka/kafka")
        });
    let dist = home.join(format!("kafka-{}", version.name()));
    dist.join("libs").is_dir().then_some(dist)
}

/// One Kafka broker on 127.0.0.1. Dropping it stops the JVM (and its ZooKeeper) and removes its
/// folder.
pub struct ApacheKafka {
    pub port: u16,
    pub version: Version,
    dist: PathBuf,
    /// 3.3.2: the KRaft controller's port; 0.8.2.2: its ZooKeeper's.
    second_port: u16,
    /// 0.8.2.2: the chroot the broker registers under (empty for none).
    chroot: String,
    /// The broker's folder (`KIT_RUN`): `server.properties`, `data/`, `logs/`, `kafka.pid` (and
    /// the ZooKeeper's files for 0.8.2.2).
    run: tempfile::TempDir,
    /// How long the start took, KRaft format or ZooKeeper included.
    pub started_in: Duration,
}

impl ApacheKafka {
    /// Formats and starts a Kafka 3.3.2 broker (about 5 s), or `None`, saying why, when it is not
    /// installed (`scripts/setup.sh` installs it).
    pub fn start() -> Option<ApacheKafka> {
        ApacheKafka::start_version(Version::V3_3_2, "")
    }

    /// Starts a ZooKeeper 3.4.6 and a Kafka 0.8.2.2 broker registered in it under `chroot`
    /// (`/kafka08`, or empty for none): about 3 s. `None`, saying why, when 0.8.2.2 is not
    /// installed.
    pub fn start_0_8(chroot: &str) -> Option<ApacheKafka> {
        ApacheKafka::start_version(Version::V0_8_2_2, chroot)
    }

    fn start_version(version: Version, chroot: &str) -> Option<ApacheKafka> {
        let name = version.name();
        let Some(dist) = dist(version) else {
            eprintln!(
                "SKIPPED: Apache Kafka {name} is not installed (no kafka-{name}/ in ${HOME_ENV} \
                 or ~/.cache/camus2kafka/kafka): run scripts/setup.sh with ../shared/kafka beside \
                 the clone"
            );
            return None;
        };
        let started = Instant::now();
        // A port can be taken between choosing and binding it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let mut kafka = ApacheKafka {
                port: free_port(),
                version,
                second_port: free_port(),
                chroot: chroot.to_string(),
                dist: dist.clone(),
                run: tempfile::Builder::new()
                    .prefix("c2k-kafka-")
                    .tempdir()
                    .expect("temp dir"),
                started_in: Duration::ZERO,
            };
            if kafka.port == kafka.second_port {
                continue;
            }
            let output = kafka.kit(&["start"], START_TIMEOUT_SECS);
            if output.status.success() {
                kafka.started_in = started.elapsed();
                eprintln!(
                    "Apache Kafka {name} up on {} in {:.1?}",
                    kafka.bootstrap(),
                    kafka.started_in
                );
                return Some(kafka);
            }
            last_error = String::from_utf8_lossy(&output.stderr).into_owned();
            // Dropping `kafka` stops whatever did start.
        }
        panic!("Apache Kafka {name} did not start:\n{last_error}");
    }

    /// 0.8.2.2: its ZooKeeper's connect string, with the broker's chroot.
    pub fn zookeeper(&self) -> String {
        assert_eq!(
            self.version,
            Version::V0_8_2_2,
            "3.3.2 runs without ZooKeeper"
        );
        format!("127.0.0.1:{}{}", self.second_port, self.chroot)
    }

    /// 0.8.2.2: creates a topic through ZooKeeper (0.8 has no CreateTopics).
    pub fn create_topic_0_8(&self, topic: &str, partitions: u32) {
        let output = self.kit(
            &["topic", topic, &partitions.to_string()],
            START_TIMEOUT_SECS,
        );
        assert!(
            output.status.success(),
            "kafka-kit.sh topic {topic} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// librdkafka settings for a client of this broker: 0.8 answers no ApiVersions request.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", self.bootstrap());
        if self.version == Version::V0_8_2_2 {
            config
                .set("api.version.request", "false")
                .set("broker.version.fallback", "0.8.2.2");
        }
        config
    }

    /// `127.0.0.1:PORT`
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker outright (SIGKILL), as a crashed machine would.
    pub fn kill_broker(&self) {
        let output = self.kit(&["kill-broker"], STOP_TIMEOUT_SECS);
        assert!(
            output.status.success(),
            "kafka-kit.sh kill-broker failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the broker again on its data, after [`ApacheKafka::kill_broker`] (a few seconds:
    /// the controller waits for the dead incarnation's session to expire).
    pub fn start_broker(&self) {
        let started = Instant::now();
        let output = self.kit(&["start-broker"], START_TIMEOUT_SECS);
        assert!(
            output.status.success(),
            "kafka-kit.sh start-broker failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "Apache Kafka {} restarted in {:.1?}",
            self.version.name(),
            started.elapsed()
        );
    }

    /// `kafka-kit.sh ARGS...` for this broker, under coreutils' `timeout`.
    fn kit_command(&self, args: &[&str], seconds: u32) -> Command {
        let mut command = Command::new("timeout");
        command
            .arg("--kill-after=5")
            .arg(seconds.to_string())
            .arg("bash")
            .arg(kit())
            .args(args)
            .env("KAFKA_VERSION", self.version.name())
            .env("KAFKA_DIST", &self.dist)
            .env("KIT_RUN", self.run.path())
            .env("KAFKA_PORT", self.port.to_string())
            .env("CONTROLLER_PORT", self.second_port.to_string())
            .env("ZK_PORT", self.second_port.to_string())
            .env("ZK_CHROOT", &self.chroot)
            .env("WATCH_PID", std::process::id().to_string());
        command
    }

    /// Runs `kafka-kit.sh ARGS...` for this broker, failing the test if it outlives `seconds`.
    fn kit(&self, args: &[&str], seconds: u32) -> Output {
        let output = self
            .kit_command(args, seconds)
            .output()
            .unwrap_or_else(|e| panic!("cannot run kafka-kit.sh {args:?}: {e}"));
        assert!(
            output.status.code() != Some(124),
            "kafka-kit.sh {args:?}: still running after {seconds}s, killed"
        );
        output
    }
}

impl Drop for ApacheKafka {
    fn drop(&mut self) {
        let _ = self.kit_command(&["stop"], STOP_TIMEOUT_SECS).status();
        // The TempDir removes the broker's folder after this.
    }
}
