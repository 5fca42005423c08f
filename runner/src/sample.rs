//! `c2k sample DIR`: a realistic Camus tree for demos and tests (issue 2, history in issue 4).

use std::path::Path;

use anyhow::{bail, Result};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub records: u64,
    pub partitions: u32,
    pub hours: u32,
    pub topic: String,
    pub seed: u64,
}

pub fn write_sample(_dir: &Path, _options: &SampleOptions) -> Result<()> {
    bail!("sample is not implemented yet")
}
