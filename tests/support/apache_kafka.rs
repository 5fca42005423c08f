//! A real Apache Kafka 3.3.2 broker for the tests (KRaft: one JVM that is broker and controller),
//! started by `tests/env/kafka-kit.sh` on two free loopback ports in a temp folder of its own, and
//! stopped (its files removed) when the guard is dropped.
//!
//! The broker comes from the compiled dist `scripts/setup.sh` unpacks from
//! `../shared/kafka/kafka-3.3.2-built.tgz` into `${C2K_KAFKA_HOME:-~/.cache/camus2kafka/kafka}`.
//! Where that folder is missing, [`ApacheKafka::start`] says so and returns `None`: the test
//! skips (the dist is not downloadable, only carried beside the clone).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::servers::free_port;

/// The environment variable naming the folder that holds `kafka-3.3.2/`.
pub const HOME_ENV: &str = "C2K_KAFKA_HOME";

/// How long starting (or restarting) the broker may take, and stopping it.
const START_TIMEOUT_SECS: u32 = 120;
const STOP_TIMEOUT_SECS: u32 = 60;

fn kit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/kafka-kit.sh")
}

/// The unpacked Kafka 3.3.2 dist, if it is installed.
pub fn dist() -> Option<PathBuf> {
    let home = std::env::var_os(HOME_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/camus2kafka/kafka")
        });
    let dist = home.join("kafka-3.3.2");
    dist.join("libs").is_dir().then_some(dist)
}

/// One Kafka 3.3.2 broker on 127.0.0.1. Dropping it stops the JVM and removes its folder.
pub struct ApacheKafka {
    pub port: u16,
    dist: PathBuf,
    controller_port: u16,
    /// The broker's folder (`KIT_RUN`): `server.properties`, `data/`, `logs/`, `kafka.pid`.
    run: tempfile::TempDir,
    /// How long [`ApacheKafka::start`] took, KRaft format included.
    pub started_in: Duration,
}

impl ApacheKafka {
    /// Formats and starts a broker (about 5 s), or `None`, saying why, when Kafka 3.3.2 is not
    /// installed (`scripts/setup.sh` installs it).
    pub fn start() -> Option<ApacheKafka> {
        let Some(dist) = dist() else {
            eprintln!(
                "SKIPPED: Apache Kafka 3.3.2 is not installed (no kafka-3.3.2/ in ${HOME_ENV} or \
                 ~/.cache/camus2kafka/kafka): run scripts/setup.sh with ../shared/kafka beside the \
                 clone"
            );
            return None;
        };
        let started = Instant::now();
        // A port can be taken between choosing and binding it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let mut kafka = ApacheKafka {
                port: free_port(),
                controller_port: free_port(),
                dist: dist.clone(),
                run: tempfile::Builder::new()
                    .prefix("c2k-kafka-")
                    .tempdir()
                    .expect("temp dir"),
                started_in: Duration::ZERO,
            };
            if kafka.port == kafka.controller_port {
                continue;
            }
            let output = kafka.kit("start", START_TIMEOUT_SECS);
            if output.status.success() {
                kafka.started_in = started.elapsed();
                eprintln!(
                    "Apache Kafka 3.3.2 up on {} in {:.1?}",
                    kafka.bootstrap(),
                    kafka.started_in
                );
                return Some(kafka);
            }
            last_error = String::from_utf8_lossy(&output.stderr).into_owned();
            // Dropping `kafka` stops whatever did start.
        }
        panic!("Apache Kafka 3.3.2 did not start:\n{last_error}");
    }

    /// `127.0.0.1:PORT`
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker outright (SIGKILL), as a crashed machine would.
    pub fn kill_broker(&self) {
        let output = self.kit("kill-broker", STOP_TIMEOUT_SECS);
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
        let output = self.kit("start-broker", START_TIMEOUT_SECS);
        assert!(
            output.status.success(),
            "kafka-kit.sh start-broker failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("Apache Kafka 3.3.2 restarted in {:.1?}", started.elapsed());
    }

    /// Runs `kafka-kit.sh COMMAND` for this broker under coreutils' `timeout`.
    fn kit(&self, command: &str, seconds: u32) -> Output {
        let output = Command::new("timeout")
            .arg("--kill-after=5")
            .arg(seconds.to_string())
            .arg("bash")
            .arg(kit())
            .arg(command)
            .env("KAFKA_DIST", &self.dist)
            .env("KIT_RUN", self.run.path())
            .env("KAFKA_PORT", self.port.to_string())
            .env("CONTROLLER_PORT", self.controller_port.to_string())
            .env("WATCH_PID", std::process::id().to_string())
            .output()
            .unwrap_or_else(|e| panic!("cannot run kafka-kit.sh {command}: {e}"));
        assert!(
            output.status.code() != Some(124),
            "kafka-kit.sh {command}: still running after {seconds}s, killed"
        );
        output
    }
}

impl Drop for ApacheKafka {
    fn drop(&mut self) {
        let _ = Command::new("timeout")
            .arg("--kill-after=5")
            .arg(STOP_TIMEOUT_SECS.to_string())
            .arg("bash")
            .arg(kit())
            .arg("stop")
            .env("KAFKA_DIST", &self.dist)
            .env("KIT_RUN", self.run.path())
            .env("KAFKA_PORT", self.port.to_string())
            .status();
        // The TempDir removes the broker's folder after this.
    }
}
