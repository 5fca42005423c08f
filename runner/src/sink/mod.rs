//! Where messages go: Kafka (the replay topic), a file, or stdout.

pub mod file;
pub mod kafka;
mod write_behind;

use anyhow::Result;

use crate::config::{Pipeline, SinkConfig};
use crate::record::OutMessage;

/// What a sink acknowledged when it finished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// Messages acknowledged (written, or delivered to the broker with acks).
    pub delivered: u64,
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
}

/// A destination for messages, fed in sorted order, batch by batch.
pub trait Sink: Send {
    /// Accepts one batch; may return before it is acknowledged (Kafka), never drops it.
    fn send(&mut self, batch: Vec<OutMessage>) -> Result<()>;
    /// Waits until everything sent is acknowledged, or fails saying how many were.
    fn finish(self: Box<Self>) -> Result<SinkReport>;
}

/// Opens the pipeline's sink. With `dry_run`, nothing is written or sent anywhere.
pub fn open(pipeline: &Pipeline, facts: &SourceFacts, dry_run: bool) -> Result<Box<dyn Sink>> {
    if dry_run {
        return Ok(Box::new(file::DryRunSink::new(pipeline, facts)?));
    }
    match &pipeline.sink {
        SinkConfig::File(sink) => Ok(Box::new(file::FileSink::create(sink)?)),
        SinkConfig::Stdout(sink) => Ok(Box::new(file::StdoutSink::new(sink.framing))),
        SinkConfig::Kafka(_) => kafka::KafkaSink::open(pipeline, facts),
    }
}
