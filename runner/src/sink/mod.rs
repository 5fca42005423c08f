//! Where messages go: Kafka (the replay topic), a file, or stdout.

pub(crate) mod envelope;
pub(crate) mod file;
pub(crate) mod kafka;
mod write_behind;

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;

use crate::config::{Pipeline, SinkConfig};
use crate::identity::ContentDigest;
use crate::record::OutMessage;

/// What a sink acknowledged when it finished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// Messages accounted for: acknowledged (written, or delivered to the broker with acks), plus
    /// those a resumed replay found already in the topic.
    pub delivered: u64,
    /// Of `delivered`, the messages that were already in the topic (`--resume`).
    pub already_present: u64,
    /// Value and key bytes acknowledged.
    pub bytes: u64,
    /// Where they went, for the summary (`file out.jsonl`, `kafka PAGE_VIEWS_REPLAY@localhost:9092`).
    pub destination: String,
}

/// Facts about the source a sink may need to prepare (e.g. to create the replay topic).
#[derive(Debug, Clone, Default)]
pub struct SourceFacts {
    /// Distinct Kafka partitions seen in the Camus file names (sorted).
    pub partitions: Vec<u32>,
    /// The input files relative to the input directory, by [`crate::record::FileId`] (the
    /// `c2k-source-file` header).
    pub files: Vec<String>,
    /// What decides the replay's content and order ([`crate::identity`]).
    pub content: ContentDigest,
    /// How many records the source holds, when every file has a Camus name (which counts them).
    pub records: Option<u64>,
    /// The replay partitions this run writes, when it is one shard of a sharded replay
    /// ([`crate::shard`]); `None`: all of them. What other partitions hold is no concern of its.
    pub only_partitions: Option<Vec<i32>>,
    /// The start of the oldest Camus time bucket among the files (epoch milliseconds, from their
    /// names): about the oldest event time the replay carries, which the replay topic's retention
    /// is checked against before anything is sent ([`kafka::topic`]). `None` when no file name
    /// tells it.
    pub oldest_bucket_ms: Option<i64>,
}

impl SourceFacts {
    /// The oldest bucket start among `files` (see [`SourceFacts::oldest_bucket_ms`]).
    pub fn oldest_bucket<'a>(
        files: impl IntoIterator<Item = &'a crate::source::SourceFile>,
    ) -> Option<i64> {
        files
            .into_iter()
            .filter_map(|file| file.name.as_ref()?.bucket_start_ms)
            .min()
    }
}

/// A destination for messages, fed in sorted order, batch by batch.
pub trait Sink: Send {
    /// Accepts one batch; may return before it is acknowledged (Kafka), never drops it.
    fn send(&mut self, batch: Vec<OutMessage>) -> Result<()>;
    /// Waits until everything sent is acknowledged, or fails saying how many were.
    fn finish(self: Box<Self>) -> Result<SinkReport>;
    /// Messages of this replay the destination already held when it was opened (`--resume`).
    fn already_present(&self) -> u64 {
        0
    }
}

/// Messages acknowledged (Kafka) or written (file, stdout) by this process so far, for the message
/// a signal prints ([`crate::signals`]); [`SinkReport`] is the exact account.
static DELIVERED: AtomicU64 = AtomicU64::new(0);

/// Adds `messages` to what this process has delivered so far.
pub(crate) fn count_delivered(messages: u64) {
    DELIVERED.fetch_add(messages, Ordering::Relaxed);
}

/// What this process has delivered so far.
pub(crate) fn delivered_so_far() -> u64 {
    DELIVERED.load(Ordering::Relaxed)
}

/// How a sink is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// Nothing is written or sent anywhere (`--dry-run`).
    DryRun,
    /// A replay into a destination that holds none of it yet (a non-empty replay topic is
    /// refused).
    Fresh,
    /// A replay that may continue an earlier attempt's (`--resume`, and every shard).
    Resume,
}

/// Opens the pipeline's sink.
pub(crate) fn open(
    pipeline: &Pipeline,
    facts: &SourceFacts,
    opening: Opening,
) -> Result<Box<dyn Sink>> {
    if opening == Opening::DryRun {
        return Ok(Box::new(file::DryRunSink::new(pipeline, facts)?));
    }
    match &pipeline.sink {
        SinkConfig::File(sink) => Ok(Box::new(file::FileSink::create(sink)?)),
        SinkConfig::Stdout(sink) => Ok(Box::new(file::StdoutSink::new(sink.framing))),
        SinkConfig::Kafka(_) => Ok(Box::new(kafka::KafkaSink::connect_resuming(
            pipeline,
            facts,
            opening == Opening::Resume,
        )?)),
    }
}
