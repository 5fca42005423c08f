//! The ceiling: read, decompress and decode every record through the Camus source exactly as
//! `c2k run` does (`CamusSource::events`, which walks every datum and resolves it to the reader
//! schema), and nothing else.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camus2kafka::pipeline::Pipeline;
use camus2kafka::source::{CamusSource, SourceEvent};

pub struct Ceiling {
    pub records: u64,
    /// Decoded datum bytes (what the pipeline carries), not the compressed file bytes.
    pub datum_bytes: u64,
    pub file_bytes: u64,
    pub files: usize,
    pub elapsed: Duration,
}

pub fn measure(pipeline_file: &Path) -> Result<Ceiling> {
    let pipeline = Pipeline::load(pipeline_file, &[])?;
    let start = Instant::now();
    let source = CamusSource::open(&pipeline).with_context(|| {
        format!(
            "ceiling: cannot open the source of {}",
            pipeline_file.display()
        )
    })?;
    let mut records = 0u64;
    let mut datum_bytes = 0u64;
    for event in source.events() {
        if let SourceEvent::Batch(batch) = event? {
            records += batch.len() as u64;
            datum_bytes += batch.data.len() as u64;
        }
    }
    Ok(Ceiling {
        records,
        datum_bytes,
        file_bytes: source.files.iter().map(|f| f.size).sum(),
        files: source.files.len(),
        elapsed: start.elapsed(),
    })
}

/// Reads every input file once so that the page cache is equally warm for every measurement.
pub fn warm_page_cache(dir: &Path) -> Result<u64> {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                total += std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .len() as u64;
            }
        }
    }
    Ok(total)
}
