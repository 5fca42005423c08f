//! The offsets step: read where the latest Camus run stopped and commit those offsets of the
//! original topic for a consumer group (issue 4 fills this in).

use anyhow::{bail, Result};

use crate::pipeline::Pipeline;

/// `c2k offsets show`: prints the latest run's offsets table.
pub fn show(_pipeline: &Pipeline) -> Result<()> {
    bail!("the offsets step is not supported yet")
}

/// The offsets step of `c2k run`, and `c2k offsets commit`.
pub fn commit_step(pipeline: &Pipeline, _dry_run: bool) -> Result<()> {
    match pipeline.offsets.commit {
        crate::pipeline::CommitMode::None => Ok(()),
        _ => bail!("offsets.commit is not supported yet"),
    }
}

pub mod sample_history {
    //! The execution history `c2k sample` writes next to its data (issue 4 fills this in).

    use std::path::Path;

    use anyhow::Result;

    /// Where the sample's Camus run stopped for one partition.
    #[derive(Debug, Clone)]
    pub struct SampleCutoff {
        pub partition: u32,
        pub leader: i32,
        /// First offset written for the partition.
        pub first_offset: u64,
        /// Last offset written for the partition.
        pub last_offset: u64,
        /// Event time (ms) of the last record written.
        pub time_ms: i64,
    }

    /// Writes `exec_dir/base/history/<run>/offsets-m-*` consistent with the cut-offs.
    pub fn write(_exec_dir: &Path, _topic: &str, _cutoffs: &[SampleCutoff]) -> Result<()> {
        Ok(())
    }
}

/// The consumer group already has offsets for the topic: nothing was written. `c2k` exits with
/// code 3 for it.
#[derive(Debug, thiserror::Error)]
#[error("consumer group already has offsets at {location}: left untouched, nothing written")]
pub struct AlreadyCommitted {
    /// The ZooKeeper path or Kafka group/topic that already has offsets.
    pub location: String,
}
