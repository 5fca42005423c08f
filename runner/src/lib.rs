//! camus2kafka: replay a Kafka topic that Camus archived (on HDFS or local disk) back into Kafka,
//! sorted by a key computed by a WebAssembly plugin, then commit the original topic's cut-off
//! offsets for a consumer group.
//!
//! A replay is a plan, then stages: [`run`] builds what is decided before a record is read
//! (`replay_plan.rs`), then runs `source → key plugin → sort → format plugin → sink`
//! (`stages.rs`), then the offsets step. ARCHITECTURE.md maps the modules.
//!
//! This crate is the host and the `c2k` binary; plugin authors depend on `camus2kafka-plugin-sdk`
//! instead. Its surface is what the binary calls, one entry point per command, re-exported
//! below; every module is private. The internals the integration tests and the benchmark drive
//! directly are in [`testing`].

#![warn(unreachable_pub)]

mod bundled;
mod cleanup;
mod config;
mod fuzz;
mod hadoop;
mod identity;
mod inspect;
mod integrity;
mod kafka;
mod offsets;
mod plugin;
mod plugin_tools;
mod progress;
mod record;
mod refusal;
mod replay_plan;
mod run;
mod sample;
mod shard;
mod signals;
mod sink;
mod sort;
mod source;
mod stages;
mod storage;
mod utc;
mod validate;
mod zookeeper;

// The pipeline, and what every command shares.
pub use config::secrets::scrub;
pub use config::Pipeline;
pub use plugin::contract::VERSION_TEXT;
pub use progress::init_logging;
pub use refusal::exit_code;
pub use signals::{install as install_signal_handlers, stop_with_parent};
pub use storage::shown::printable;

// One entry point per command.
pub use inspect::inspect;
pub use integrity::{check_cutoff, verify, VerifyDepth};
pub use offsets::{commit_step, read_history, show as show_offsets, StepOptions};
pub use plugin_tools::scaffold::{new_plugin, Kind as PluginKind};
pub use plugin_tools::try_out::{try_out, TryOut};
pub use run::{run, RunOptions, ShardRun};
pub use sample::{write_sample, SampleLayout, SampleOptions};
pub use shard::complete::commit as commit_sharded;
pub use shard::map::map as map_stage;
pub use shard::reduce::reduce as reduce_stage;
pub use shard::staging::Staging;
pub use shard::{make_plan, Plan};
pub use validate::validate;

/// The allocator `c2k` runs with (declared as `#[global_allocator]` by each binary, so the
/// benchmark measures what users run). The sort holds millions of small blocks and frees them on
/// another thread, which glibc's malloc handles several times slower. Built with mimalloc's
/// `override`, it is also the `malloc` of the C libraries linked in (librdkafka's per-message
/// allocations above all).
pub use mimalloc::MiMalloc as Allocator;

/// The internals the integration tests and the benchmark drive directly: a source, the sort, a
/// sink or the plugins without the rest of a run; the Camus and Hadoop formats, to write
/// fixtures with; the storages. Not a stable API, and not used by the `c2k` binary.
pub mod testing {
    pub use crate::bundled::check_plugin_reference;
    pub use crate::config::{ByteSize, Partitioning, PluginConfig, Seconds};
    pub use crate::hadoop::sequencefile::{Compression, SequenceFileReader};
    pub use crate::inspect::value_to_json;
    pub use crate::offsets::etlkey::{EtlKey, Layout};
    pub use crate::offsets::history::{every_run, latest_run};
    pub use crate::plugin::{FormatPlugin, KeyPlugin, PluginBatch};
    pub use crate::record::{OutMessage, SourceBatch};
    pub use crate::sample::history::{write as write_sample_history, SampleCutoff};
    pub use crate::sample::page_view_schemas::PAGE_VIEW_V2;
    pub use crate::sink::kafka::config::producer_config;
    pub use crate::sink::kafka::{murmur2, partition_for, KafkaSink};
    pub use crate::sink::{Sink, SinkReport, SourceFacts};
    pub use crate::sort::{SortItem, Sorter};
    pub use crate::source::{list_archive, CamusSource, SourceEvent};
    pub use crate::storage::hdfs::{HdfsOptions, HdfsStorage};
    pub use crate::storage::local::LocalStorage;
    pub use crate::storage::{for_url, FileEntry, FileWrite, Storage};
    pub use crate::utc::now_ms;

    /// One entry point per parser of untrusted bytes, for the fuzz targets (`fuzz/`).
    pub mod fuzz {
        pub use crate::fuzz::*;
    }
}
