//! `c2k plugin test`: a key or format plugin run over real records, without a pipeline, a sort or a
//! broker, its output printed as JSON lines — the key (hex), timestamp and record of a key
//! plugin; the key, headers, timestamp and value of a format plugin (as `sink.framing: envelope`
//! writes them). Errors are the run's: the plugin, the file and the record.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};

use crate::config::{ByteSize, PluginConfig, Seconds};
use crate::plugin::{FormatPlugin, KeyPlugin, PluginBatch};
use crate::sink::envelope::message_json;
use crate::source::schemas::ReaderSchema;
use crate::source::{CamusFileName, CamusSource, SourceEvent, SourceFile};
use crate::storage;

/// What `c2k plugin test` was asked.
pub struct TryOut<'a> {
    /// A bundled name or a `.wasm` path.
    pub plugin: &'a str,
    /// An Avro file or a folder of them (a path, or a `file://`, `hdfs://` or object-store URL).
    pub input: &'a str,
    /// The plugin's config as JSON; `{}` when not given.
    pub config: Option<&'a str>,
    /// At most this many records.
    pub limit: Option<u64>,
    /// A reader schema every record is resolved to, as `source.schema` does.
    pub schema: Option<&'a str>,
}

enum Loaded {
    Key(KeyPlugin),
    Format(Box<FormatPlugin>),
}

/// Runs the plugin over the input and writes one JSON line per record to `out`.
pub fn try_out(request: &TryOut<'_>, out: &mut dyn Write) -> Result<()> {
    let config: Json = match request.config {
        Some(text) => {
            serde_json::from_str(text).with_context(|| format!("--config is not JSON: {text}"))?
        }
        None => json!({}),
    };
    let config = PluginConfig {
        plugin: request.plugin.to_string(),
        config,
        max_memory: ByteSize(256 << 20),
        call_timeout: Seconds(30.0),
        batch_size: 1000,
        instances: 1,
    };
    let mut plugin = load_either(&config)?;
    let source = open(request)?;
    let mut schemas: HashMap<u32, apache_avro::Schema> = HashMap::new();
    let mut written = 0u64;
    let limit = request.limit.unwrap_or(u64::MAX);
    for event in source.events_with_workers(1) {
        match event? {
            SourceEvent::Schema { id, json } => {
                schemas.insert(id, crate::source::schemas::parse_schema(&json)?);
                match &mut plugin {
                    Loaded::Key(p) => p.register_schema(id, &json)?,
                    Loaded::Format(p) => p.register_schema(id, &json)?,
                }
            }
            SourceEvent::Batch(batch) => {
                let take = (limit - written).min(batch.len() as u64) as usize;
                let schema_ids = vec![batch.schema_id; batch.len()];
                let plugin_batch = PluginBatch {
                    data: &batch.data,
                    ends: &batch.ends,
                    schema_ids: &schema_ids,
                };
                let file = &source.files[batch.file as usize].url;
                let name_record = |e: crate::plugin::PluginError| match e.index {
                    Some(i) => anyhow::anyhow!(
                        "{e} (record {} of {file})",
                        batch.first_index + u64::from(i)
                    ),
                    None => anyhow::anyhow!("{e} (in a batch of records of {file})"),
                };
                let lines: Vec<Json> = match &mut plugin {
                    Loaded::Key(p) => {
                        let keys = p.extract_keys(&plugin_batch).map_err(name_record)?;
                        let schema = &schemas[&batch.schema_id];
                        let mut start = 0usize;
                        (0..take)
                            .map(|i| {
                                let end = keys.ends[i] as usize;
                                let key = &keys.data[start..end];
                                start = end;
                                let record =
                                    apache_avro::from_avro_datum(schema, &mut batch.datum(i), None)
                                        .map(crate::inspect::value_to_json)
                                        .unwrap_or(Json::Null);
                                json!({
                                    "file": file,
                                    "index": batch.first_index + i as u64,
                                    "key_hex": hex(key),
                                    "timestamp_ms": keys.timestamps_ms.get(i).copied().flatten(),
                                    "record": record,
                                })
                            })
                            .collect()
                    }
                    Loaded::Format(p) => p
                        .format(&plugin_batch)
                        .map_err(name_record)?
                        .into_iter()
                        .take(take)
                        .enumerate()
                        .map(|(i, m)| {
                            // The same JSON as `sink.framing: envelope`, with where it came from.
                            let mut line = message_json(
                                m.key.as_deref(),
                                &m.value,
                                &m.headers,
                                m.timestamp_ms,
                            );
                            line.insert("file".into(), json!(file));
                            line.insert("index".into(), json!(batch.first_index + i as u64));
                            Json::Object(line)
                        })
                        .collect(),
                };
                for line in lines {
                    serde_json::to_writer(&mut *out, &line)?;
                    out.write_all(b"\n")?;
                }
                written += take as u64;
                if written >= limit {
                    break;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// The plugin as whichever role it has.
fn load_either(config: &PluginConfig) -> Result<Loaded> {
    let as_key = match KeyPlugin::load(config) {
        Ok(plugin) => return Ok(Loaded::Key(plugin)),
        Err(e) => e,
    };
    match FormatPlugin::load(config) {
        Ok(plugin) => Ok(Loaded::Format(Box::new(plugin))),
        // A key extractor that failed for a reason of its own (its config): that reason.
        Err(e) if format!("{e:#}").contains("it is a key-extractor") => Err(as_key),
        Err(e) => Err(e),
    }
}

fn open(request: &TryOut<'_>) -> Result<CamusSource> {
    let storage = storage::for_url(request.input)?;
    let files: Vec<SourceFile> = if request.input.ends_with(".avro") {
        let name = request.input.rsplit('/').next().unwrap_or(request.input);
        vec![SourceFile {
            url: request.input.to_string(),
            size: 0,
            name: CamusFileName::parse(name, None),
        }]
    } else {
        let listing = crate::source::list_archive(storage.as_ref(), request.input, None)?;
        listing.refuse_not_regular()?;
        listing.files
    };
    if files.is_empty() {
        bail!("no Avro files (*.avro) in {}", request.input);
    }
    let reader = match request.schema {
        Some(url) => Some(ReaderSchema::parse(
            url,
            &storage::for_url(url)?.read_all(url)?,
        )?),
        None => None,
    };
    Ok(CamusSource::from_files(files, storage, reader, 1000))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
