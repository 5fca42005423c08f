//! Helpers shared by the integration tests: running `c2k`, writing Camus trees and offsets files
//! with independent implementations, and starting real servers on loopback ports (ZooKeeper,
//! HDFS, tansu, Apache Kafka 3.3.2, 2.1.1 and 0.8.2.2, a Kerberos KDC) and making TLS certificates.

pub mod apache_kafka;
pub mod c2k;
pub mod camus;
pub mod hdfs;
pub mod kafka;
pub mod kafka_cluster;
pub mod kerberos;
pub mod live;
pub mod offsets;
pub mod plugins;
pub mod servers;
pub mod tls;
pub mod topics;

/// A server or tool a test needs is missing: on a developer's machine the test says so and
/// returns (skips); under CI (`CI=true`) it fails, so that a suite that tested nothing never
/// passes. `scripts/setup.sh` installs all of them.
pub fn missing(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {what}: scripts/setup.sh should have installed it");
    }
    eprintln!("SKIPPED: {what}");
}
