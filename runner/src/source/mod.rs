//! The Camus source: every Avro object container file of one topic under the Camus destination
//! directory, read in batches, resolved to the reader schema (issue 2).

use anyhow::{bail, Result};

use crate::pipeline::Pipeline;
use crate::record::SourceBatch;

/// What a Camus file name (`<topic>.<leader>.<partition>.<count>.<last offset>...avro`) tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CamusFileName {
    pub topic: String,
    pub leader: String,
    pub partition: u32,
    pub count: u64,
    pub last_offset: u64,
}

/// One input file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub url: String,
    pub size: u64,
    /// `None` when the name is not a Camus name (the file still loads).
    pub name: Option<CamusFileName>,
}

/// What the source yields, in order: a schema is announced before the first batch that uses it.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    Schema { id: u32, json: String },
    Batch(SourceBatch),
}

/// The input files of one topic and how to read them.
pub struct CamusSource {
    pub files: Vec<SourceFile>,
}

impl CamusSource {
    /// Lists the topic's files (skipping hidden and `_`-prefixed ones) and loads the reader schema.
    pub fn open(_pipeline: &Pipeline) -> Result<Self> {
        bail!("the Camus source is not implemented yet")
    }

    /// Distinct source partitions seen in file names, sorted.
    pub fn partitions(&self) -> Vec<u32> {
        let mut partitions: Vec<u32> = self
            .files
            .iter()
            .filter_map(|f| f.name.as_ref().map(|n| n.partition))
            .collect();
        partitions.sort_unstable();
        partitions.dedup();
        partitions
    }

    /// Every record of every file, in file order then record order, as schemas and batches.
    pub fn events(&self) -> Box<dyn Iterator<Item = Result<SourceEvent>> + Send + '_> {
        Box::new(std::iter::empty())
    }
}
