//! The integration tests of camus2kafka, against real Avro files, a real ZooKeeper, a real HDFS
//! and a real Kafka-protocol broker: one test binary (ripgrep's layout), one module per area, so
//! that wasmtime, rdkafka and hdfs-native are linked once rather than once per area.
//!
//! A test's name starts with its area: `cargo nextest run -E 'test(/^offsets_zookeeper::/)'`
//! (or `cargo test --test integration offsets_zookeeper::`) runs one area.
//!
//! nextest runs each test in a process of its own, `cargo test` runs them as threads of one
//! process: the helpers in `support` keep no per-process state a test could trip over.

mod support;

mod buckets;
mod camus_swept;
mod camus_text;
mod connect_sinks;
mod exactly_once;
mod hdfs_kerberos;
mod hdfs_replay;
mod hdfs_storage;
mod hostile_input;
mod integrity;
mod kafka_apache;
mod kafka_cluster;
mod kafka_faults;
mod kafka_replay;
mod kafka_secure;
mod kafka_sink;
mod kafka_topic;
mod kafka_versions;
mod object_stores;
mod object_stores_azure;
mod offsets_hadoop_files;
mod offsets_hdfs;
mod offsets_kafka;
mod offsets_kafka_tools;
mod offsets_live;
mod offsets_zookeeper;
mod offsets_zookeeper_sasl;
mod pipeline_errors;
mod plugin_scaffold;
mod plugins;
mod replay;
mod run_failures;
mod s3_server;
mod sharded;
mod signals;
mod source;
mod spark;
