//! Helpers shared by the integration tests: running `c2k`, writing Camus trees and offsets files
//! with independent implementations, and starting real servers on loopback ports (ZooKeeper,
//! HDFS, tansu, Apache Kafka 3.3.2, 2.1.1 and 0.8.2.2, a Kerberos KDC) and making TLS certificates.

pub mod apache_kafka;
pub mod c2k;
pub mod camus;
pub mod hdfs;
pub mod kafka;
pub mod kerberos;
pub mod live;
pub mod offsets;
pub mod plugins;
pub mod servers;
pub mod tls;
