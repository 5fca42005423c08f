//! The ceiling: read, decompress and decode every record through the Camus source exactly as
//! `c2k run` does (`CamusSource::events`, which walks every datum and resolves it to the reader
//! schema), and nothing else.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camus2kafka::testing::{CamusSource, SourceEvent};
use camus2kafka::Pipeline;

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

/// The fastest of `runs` measurements, as for the runs it is compared with.
pub fn fastest_of(pipeline_file: &Path, runs: u32) -> Result<Ceiling> {
    let mut fastest = measure(pipeline_file)?;
    for _ in 1..runs {
        let again = measure(pipeline_file)?;
        if again.elapsed < fastest.elapsed {
            fastest = again;
        }
    }
    Ok(fastest)
}

/// Reads every input file once so that the page cache is equally warm for every measurement.
pub fn warm_page_cache(dir: &Path) -> Result<u64> {
    let mut total = 0u64;
    for path in files_under(dir)? {
        total += std::fs::read(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len() as u64;
    }
    Ok(total)
}

/// Every file below `dir`, at any depth.
fn files_under(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// A reference, not a target: the same files decoded the usual way, into apache-avro `Value`s
/// resolved to the reader schema (`apache_avro::Reader::with_schema`), on two threads (files
/// split between them). `c2k` never builds values; this shows what "decoding" costs otherwise.
pub fn value_decode(destination: &Path, reader_schema: &Path) -> Result<(u64, Duration)> {
    let schema_text = std::fs::read_to_string(reader_schema)
        .with_context(|| format!("cannot read {}", reader_schema.display()))?;
    let schema = apache_avro::Schema::parse_str(&schema_text)
        .with_context(|| format!("cannot parse {}", reader_schema.display()))?;
    let files: Vec<_> = files_under(destination)?
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "avro"))
        .collect();
    let start = Instant::now();
    let counts: Vec<Result<u64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|worker| {
                let (files, schema) = (&files, &schema);
                scope.spawn(move || -> Result<u64> {
                    let mut records = 0u64;
                    for path in files.iter().skip(worker).step_by(2) {
                        let file = std::fs::File::open(path)
                            .with_context(|| format!("cannot open {}", path.display()))?;
                        let reader =
                            apache_avro::Reader::with_schema(schema, std::io::BufReader::new(file))
                                .with_context(|| format!("cannot read {}", path.display()))?;
                        for value in reader {
                            value.with_context(|| format!("cannot decode {}", path.display()))?;
                            records += 1;
                        }
                    }
                    Ok(records)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a decoding thread panicked")))
            })
            .collect()
    });
    let mut records = 0;
    for count in counts {
        records += count?;
    }
    Ok((records, start.elapsed()))
}
