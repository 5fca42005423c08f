//! A real Apache Kafka broker for the tests, started by `tests/env/kafka-kit.sh` on two free
//! loopback ports in a temp folder of its own, and stopped (its files removed) when the guard is
//! dropped: 3.3.2 in KRaft mode (one JVM that is broker and controller, [`ApacheKafka::start`]),
//! 0.8.2.2, the Kafka Camus fed, with the ZooKeeper of its own dist
//! ([`ApacheKafka::start_0_8`]), or 3.3.2 and 2.1.1 (ZooKeeper mode) with more listeners beside
//! the PLAINTEXT one — TLS, SASL ([`ApacheKafka::start_secured`]).
//!
//! The brokers come from the compiled dists `scripts/setup.sh` unpacks from
//! `../shared/kafka/kafka-<version>-built.tgz` into `${C2K_KAFKA_HOME:-~/.cache/camus2kafka/kafka}`.
//! Where a dist is missing, the start functions say so and return `None`: the test skips (the
//! dists are not downloadable, only carried beside the clone).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::process::{bounded_command, output_bounded};
use super::servers::{free_port, wait_until};

/// The environment variable naming the folder that holds `kafka-3.3.2/` and `kafka-0.8.2.2/`.
pub const HOME_ENV: &str = "C2K_KAFKA_HOME";

/// The Kafka versions the kit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// KRaft, the default real broker.
    V3_3_2,
    /// ZooKeeper mode (its dist carries ZooKeeper 3.8): SCRAM users live in ZooKeeper.
    V2_1_1,
    /// ZooKeeper mode, no ApiVersions, no groups protocol: the brokers Camus users ran.
    V0_8_2_2,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::V3_3_2 => "3.3.2",
            Version::V2_1_1 => "2.1.1",
            Version::V0_8_2_2 => "0.8.2.2",
        }
    }
}

/// How long starting (or restarting) the broker may take, and stopping it.
const START_TIMEOUT_SECS: u32 = 120;
const STOP_TIMEOUT_SECS: u32 = 60;

fn kit() -> PathBuf {
    super::repo().join("tests/env/kafka-kit.sh")
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
    /// The extra listeners.
    extra: Vec<Listener>,
    /// Broker properties appended to its `server.properties`, and JVM options.
    extra_properties: String,
    jvm_opts: String,
}

/// An extra listener of a broker, on 127.0.0.1.
#[derive(Debug, Clone)]
struct Listener {
    name: String,
    protocol: String,
    /// The host it is advertised as.
    host: String,
    port: u16,
}

/// More listeners for a broker, and what they need ([`ApacheKafka::start_secured`]).
#[derive(Debug, Clone, Default)]
pub struct Secured {
    /// `(listener name, security protocol, host advertised)`, e.g. `("SSL", "SSL", "127.0.0.1")`;
    /// each gets a free port, bound on 127.0.0.1.
    pub listeners: Vec<(&'static str, &'static str, &'static str)>,
    /// Appended to `server.properties` (keystores, `sasl.enabled.mechanisms`, ...).
    pub properties: String,
    /// More JVM options of the broker (a JAAS file, `java.security.krb5.conf`).
    pub jvm_opts: String,
}

impl ApacheKafka {
    /// Formats and starts a Kafka 3.3.2 broker (about 5 s), or `None`, saying why, when it is not
    /// installed (`scripts/setup.sh` installs it).
    pub fn start() -> Option<ApacheKafka> {
        ApacheKafka::start_version(Version::V3_3_2, "")
    }

    /// Starts 3.3.2 (KRaft) or 2.1.1 (with its ZooKeeper) with `properties` appended to its
    /// `server.properties` (e.g. `log.retention.check.interval.ms=1000`); `None`, saying why, when
    /// that version is not installed.
    pub fn start_with_properties(version: Version, properties: &str) -> Option<ApacheKafka> {
        assert!(
            matches!(version, Version::V3_3_2 | Version::V2_1_1),
            "extra properties: 3.3.2 or 2.1.1"
        );
        let secured = Secured {
            properties: properties.to_string(),
            ..Secured::default()
        };
        ApacheKafka::start_with(version, "", &secured)
    }

    /// Starts a ZooKeeper 3.4.6 and a Kafka 0.8.2.2 broker registered in it under `chroot`
    /// (`/kafka08`, or empty for none): about 3 s. `None`, saying why, when 0.8.2.2 is not
    /// installed.
    pub fn start_0_8(chroot: &str) -> Option<ApacheKafka> {
        ApacheKafka::start_version(Version::V0_8_2_2, chroot)
    }

    /// Starts a Kafka 2.1.1 broker in ZooKeeper mode (with the ZooKeeper 3.8 of its dist): about
    /// 4 s. `None`, saying why, when 2.1.1 is not installed.
    pub fn start_2_1() -> Option<ApacheKafka> {
        ApacheKafka::start_version(Version::V2_1_1, "")
    }

    /// Starts 3.3.2 (KRaft) or 2.1.1 (with its ZooKeeper) with the listeners of `secured` beside
    /// the PLAINTEXT one; `None`, saying why, when that version is not installed.
    pub fn start_secured(version: Version, secured: &Secured) -> Option<ApacheKafka> {
        assert!(
            matches!(version, Version::V3_3_2 | Version::V2_1_1),
            "extra listeners: 3.3.2 or 2.1.1"
        );
        ApacheKafka::start_with(version, "", secured)
    }

    fn start_version(version: Version, chroot: &str) -> Option<ApacheKafka> {
        ApacheKafka::start_with(version, chroot, &Secured::default())
    }

    fn start_with(version: Version, chroot: &str, secured: &Secured) -> Option<ApacheKafka> {
        let name = version.name();
        let Some(dist) = dist(version) else {
            super::missing(&format!(
                "Apache Kafka {name} is not installed (no kafka-{name}/ in ${HOME_ENV} or \
                 ~/.cache/camus2kafka/kafka): run scripts/setup.sh with ../shared/kafka beside \
                 the clone"
            ));
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
                extra: secured
                    .listeners
                    .iter()
                    .map(|(name, protocol, host)| Listener {
                        name: name.to_string(),
                        protocol: protocol.to_string(),
                        host: host.to_string(),
                        port: free_port(),
                    })
                    .collect(),
                extra_properties: secured.properties.clone(),
                jvm_opts: secured.jvm_opts.clone(),
            };
            let mut ports: Vec<u16> = kafka.extra.iter().map(|l| l.port).collect();
            ports.extend([kafka.port, kafka.second_port]);
            ports.sort_unstable();
            ports.dedup();
            if ports.len() != kafka.extra.len() + 2 {
                continue;
            }
            std::fs::write(
                kafka.run.path().join("extra.properties"),
                &kafka.extra_properties,
            )
            .expect("write the extra broker properties");
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

    /// 0.8.2.2, 2.1.1: its ZooKeeper's connect string, with the broker's chroot.
    pub fn zookeeper(&self) -> String {
        assert_ne!(
            self.version,
            Version::V3_3_2,
            "3.3.2 runs without ZooKeeper"
        );
        format!("127.0.0.1:{}{}", self.second_port, self.chroot)
    }

    /// `host:port` of the extra listener `name`, as advertised.
    pub fn listener(&self, name: &str) -> String {
        let listener = self
            .extra
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("no listener {name}"));
        format!("{}:{}", listener.host, listener.port)
    }

    /// 2.1.1: gives `user` SCRAM-SHA-256 and SCRAM-SHA-512 credentials (in ZooKeeper, where
    /// the broker reads them as they change).
    pub fn scram_user(&self, user: &str, password: &str) {
        let output = self.kit(&["scram-user", user, password], START_TIMEOUT_SECS);
        assert!(
            output.status.success(),
            "kafka-kit.sh scram-user {user} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
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
        // TopicCommand only writes ZooKeeper; the broker learns of the topic a moment later.
        self.wait_for_topic_0_8(topic, partitions);
    }

    /// Waits until the broker's metadata shows `topic` with `partitions` partitions, each led.
    fn wait_for_topic_0_8(&self, topic: &str, partitions: u32) {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let consumer: BaseConsumer = self
            .client_config()
            .set("group.id", "c2k-test-topic-wait")
            .create()
            .expect("a metadata client");
        let what =
            format!("the broker's metadata of topic {topic} with {partitions} led partitions");
        wait_until(
            &what,
            Duration::from_secs(u64::from(START_TIMEOUT_SECS)),
            || {
                consumer
                    .fetch_metadata(Some(topic), Duration::from_secs(5))
                    .ok()
                    .and_then(|m| {
                        m.topics().first().map(|t| {
                            t.error().is_none()
                                && t.partitions().len() == partitions as usize
                                && t.partitions().iter().all(|p| p.leader() >= 0)
                        })
                    })
                    .unwrap_or(false)
            },
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

    /// Runs one of the dist's own tools, as its `bin/kafka-run-class.sh CLASS ARGS...` would (the
    /// broker's class path, the tools' log4j settings), killed after `seconds`.
    pub fn run_tool(&self, class: &str, args: &[&str], seconds: u32) -> Output {
        let class_path = std::fs::read_to_string(self.run.path().join("cp"))
            .expect("the broker's class path (kafka-kit.sh start writes it)");
        output_bounded(
            bounded_command(seconds, "java")
                .arg("-Xmx256m")
                .arg("-XX:-UsePerfData")
                .arg("-cp")
                .arg(class_path.trim())
                .arg(format!(
                    "-Dlog4j.configuration=file:{}",
                    self.dist.join("config/tools-log4j.properties").display()
                ))
                .arg(class)
                .args(args),
            seconds,
        )
    }

    /// `kafka-kit.sh ARGS...` for this broker, under coreutils' `timeout`.
    fn kit_command(&self, args: &[&str], seconds: u32) -> Command {
        let mut command = bounded_command(seconds, "bash");
        command
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
        if !self.extra.is_empty() {
            let join = |part: fn(&Listener) -> String| {
                self.extra.iter().map(part).collect::<Vec<_>>().join(",")
            };
            command
                .env(
                    "EXTRA_LISTENERS",
                    join(|l| format!("{}://127.0.0.1:{}", l.name, l.port)),
                )
                .env(
                    "EXTRA_ADVERTISED",
                    join(|l| format!("{}://{}:{}", l.name, l.host, l.port)),
                )
                .env(
                    "EXTRA_PROTOCOL_MAP",
                    join(|l| format!("{}:{}", l.name, l.protocol)),
                )
                .env("BROKER_JVM_OPTS", &self.jvm_opts);
        }
        if !self.extra.is_empty() || !self.extra_properties.is_empty() {
            command.env("EXTRA_PROPS_FILE", self.run.path().join("extra.properties"));
        }
        command
    }

    /// Runs `kafka-kit.sh ARGS...` for this broker, failing the test if it outlives `seconds`.
    fn kit(&self, args: &[&str], seconds: u32) -> Output {
        output_bounded(&mut self.kit_command(args, seconds), seconds)
    }
}

impl Drop for ApacheKafka {
    fn drop(&mut self) {
        let _ = self.kit_command(&["stop"], STOP_TIMEOUT_SECS).status();
        // The TempDir removes the broker's folder after this.
    }
}
