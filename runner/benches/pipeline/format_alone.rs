//! The format side alone, in process, on the same decoded batches (the first records of the
//! dataset, held in memory): each bundled format plugin in its sandbox, one instance, called batch
//! by batch as `c2k run` calls it; and the `json` plugin's own writer (`plugins/json/src/writer.rs`)
//! compiled natively into this harness, record by record into one reused buffer. The difference
//! is what the sandbox and the format boundary (lowering the batch, lifting the messages) cost
//! per record. Each plugin is also called through the boundary of contract 0.1.0 (`format`, one
//! `list<message>`) beside the flat one `c2k` uses (`format-flat`): the difference is what the
//! flat boundary saves.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use c2k_plugin_sdk::avro::compiled::CompiledSchema;
use camus2kafka::testing::{CamusSource, SourceEvent};
use camus2kafka::testing::{FormatPlugin, PluginBatch};
use camus2kafka::Pipeline;

use crate::formats::FORMATS;

/// The records measured (all of them when the dataset is smaller).
const RECORDS: usize = 300_000;

/// Batches as the source gives them, with every schema they use.
pub struct Sample {
    schemas: Vec<(u32, String)>,
    batches: Vec<(Vec<u8>, Vec<u32>, Vec<u32>)>,
    pub records: usize,
    pub datum_bytes: usize,
}

pub fn sample(pipeline: &Path) -> Result<Sample> {
    let loaded = Pipeline::load(pipeline, &[])?;
    let source = CamusSource::open(&loaded).context("format alone: cannot open the source")?;
    let mut sample = Sample {
        schemas: Vec::new(),
        batches: Vec::new(),
        records: 0,
        datum_bytes: 0,
    };
    for event in source.events() {
        match event? {
            SourceEvent::Schema { id, json } => sample.schemas.push((id, json)),
            SourceEvent::Batch(batch) => {
                sample.records += batch.len();
                sample.datum_bytes += batch.data.len();
                let ids = vec![batch.schema_id; batch.len()];
                sample.batches.push((batch.data, batch.ends, ids));
                if sample.records >= RECORDS {
                    break;
                }
            }
        }
    }
    Ok(sample)
}

/// One measurement: seconds and output bytes for the sample's records.
pub struct Timing {
    pub elapsed: Duration,
    pub output_bytes: usize,
}

/// The bundled format `index` of [`FORMATS`] in its sandbox, called through the flat boundary or
/// (`list`) through `list<message>`.
pub fn sandboxed(pipeline: &Path, sample: &Sample, index: usize, list: bool) -> Result<Timing> {
    let sets: Vec<String> = FORMATS[index].sets.iter().map(|s| s.to_string()).collect();
    let loaded = Pipeline::load(pipeline, &sets)?;
    let mut plugin = match list {
        true => FormatPlugin::load_list_of_messages(&loaded.format)?,
        false => FormatPlugin::load(&loaded.format)?,
    };
    for (id, json) in &sample.schemas {
        plugin.register_schema(*id, json)?;
    }
    let start = Instant::now();
    let mut output_bytes = 0;
    for (data, ends, ids) in &sample.batches {
        let batch = PluginBatch {
            data,
            ends,
            schema_ids: ids,
        };
        let messages = plugin
            .format(&batch)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.plugin, e.message))?;
        output_bytes += messages.iter().map(|m| m.value.len()).sum::<usize>();
    }
    Ok(Timing {
        elapsed: start.elapsed(),
        output_bytes,
    })
}

/// The `json` plugin's writer, natively: `tagged_unions` is the `avro` encoding.
pub fn native_json(sample: &Sample, tagged_unions: bool) -> Result<Timing> {
    let mut plans = std::collections::HashMap::new();
    for (id, json) in &sample.schemas {
        let schema = apache_avro::Schema::parse_str(json).context("schema")?;
        let compiled = CompiledSchema::compile(&schema).context("compile")?;
        plans.insert(*id, crate::plan::Plan::compile(&compiled, tagged_unions));
    }
    let mut out = Vec::new();
    let start = Instant::now();
    let mut output_bytes = 0;
    for (data, ends, ids) in &sample.batches {
        let mut from = 0usize;
        for (end, id) in ends.iter().zip(ids) {
            let datum = &data[from..*end as usize];
            from = *end as usize;
            out.clear();
            crate::json_writer::write_datum(&plans[id], datum, &mut out)
                .map_err(|e| anyhow::anyhow!("native json: {e}"))?;
            output_bytes += out.len();
        }
    }
    Ok(Timing {
        elapsed: start.elapsed(),
        output_bytes,
    })
}

/// Rows and figures: per format, ns per record and MB/s of output in the sandbox, and for `json`
/// natively too, with the ratio.
pub fn report(
    pipeline: &Path,
    rows: &mut Vec<crate::report::Row>,
    figures: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    use crate::report::row;
    use serde_json::json;
    let sample = sample(pipeline)?;
    let per_record = |t: &Timing| t.elapsed.as_secs_f64() * 1e9 / sample.records as f64;
    let mb_s = |t: &Timing| t.output_bytes as f64 / 1e6 / t.elapsed.as_secs_f64();
    let mut per_format = serde_json::Map::new();
    for (index, format) in FORMATS.iter().enumerate() {
        let name = format!("format alone, {}", format.label);
        // The fastest of three, the two boundaries interleaved: the first call also pays for
        // warming the instance.
        let mut best: [Option<Timing>; 2] = [None, None];
        for _ in 0..3 {
            for (list, best) in [false, true].into_iter().zip(best.iter_mut()) {
                let t = sandboxed(pipeline, &sample, index, list)?;
                if best.as_ref().is_none_or(|b| t.elapsed < b.elapsed) {
                    *best = Some(t);
                }
            }
        }
        let [Some(sandbox), Some(list)] = best else {
            unreachable!("three runs of each")
        };
        let native = match format.label {
            "json (avro encoding)" => Some(native_json(&sample, true)?),
            "json (plain encoding)" => Some(native_json(&sample, false)?),
            _ => None,
        };
        let native_text = native
            .as_ref()
            .map(|n| {
                format!(
                    "; native {:.0} ns/rec ({:.0} MB/s), sandbox/native {:.2}x",
                    per_record(n),
                    mb_s(n),
                    sandbox.elapsed.as_secs_f64() / n.elapsed.as_secs_f64()
                )
            })
            .unwrap_or_default();
        rows.push(row(
            name,
            format!(
                "sandbox {:.0} ns/rec ({:.0} MB/s){native_text}",
                per_record(&sandbox),
                mb_s(&sandbox)
            ),
            "-",
            None,
        ));
        rows.push(row(
            format!("format boundary, {}", format.label),
            format!(
                "format-flat {:.0} ns/rec, list<message> (contract 0.1.0) {:.0} ns/rec",
                per_record(&sandbox),
                per_record(&list)
            ),
            "-",
            None,
        ));
        per_format.insert(
            format.label.into(),
            json!({
                "records": sample.records, "datum_bytes": sample.datum_bytes,
                "sandbox_ns_per_record": per_record(&sandbox), "sandbox_output_mb_per_s": mb_s(&sandbox),
                "list_of_messages_ns_per_record": per_record(&list),
                "native_ns_per_record": native.as_ref().map(per_record),
                "native_output_mb_per_s": native.as_ref().map(mb_s),
            }),
        );
    }
    figures.insert("format_alone".into(), serde_json::Value::Object(per_format));
    Ok(())
}
