//! camus2kafka: replay a Kafka topic that Camus archived (on HDFS or local disk) back into Kafka,
//! sorted by a key computed by a WebAssembly plugin, then commit the original topic's cut-off
//! offsets for a consumer group.
//!
//! The data path, one module per stage, reads top to bottom in [`run`]:
//! `source → plugin (key) → sort → plugin (format) → sink → offsets`.
//! Records cross every boundary in batches ([`record`]).
//!
//! This crate is the host and the `c2k` binary; plugin authors depend on `camus2kafka-plugin-sdk`
//! instead.

pub mod bundled;
pub mod cleanup;
pub mod config;
pub mod hadoop;
pub mod identity;
pub mod inspect;
pub mod integrity;
pub mod kafka;
pub mod offsets;
pub mod plugin;
pub mod plugin_tools;
pub mod progress;
pub mod record;
pub mod refusal;
pub mod replay_plan;
pub mod run;
pub mod sample;
pub mod shard;
pub mod signals;
pub mod sink;
pub mod sort;
pub mod source;
pub mod stages;
pub mod storage;
pub mod utc;
pub mod zookeeper;

/// The allocator `c2k` runs with (declared as `#[global_allocator]` by each binary, so the
/// benchmark measures what users run). The sort holds millions of small blocks and frees them on
/// another thread, which glibc's malloc handles several times slower. Built with mimalloc's
/// `override`, it is also the `malloc` of the C libraries linked in (librdkafka's per-message
/// allocations above all).
pub use mimalloc::MiMalloc as Allocator;
