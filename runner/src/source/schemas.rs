//! Schema ids and resolution: which id a file's records carry, and whether they pass through as
//! bytes or must be resolved from the writer schema to the reader schema.
//!
//! With a reader schema (`source.schema`), every record is announced in it under one id; a file
//! whose writer schema has the reader's Parsing Canonical Form encodes records identically, so its
//! bytes pass through untouched; any other writer schema is checked once for compatibility (the
//! error names the field) and its records are resolved with apache-avro (defaults, promotions,
//! aliases, unions: Avro's rules). Without a reader schema, each distinct writer schema (by
//! canonical form) gets its own id and records always pass through.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context, Result};
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::types::Value;
use apache_avro::Schema;
use c2k_avro::schema_text;

use super::schema_depth;
use super::transcode::Transcoder;
use super::SourceEvent;
use crate::record::SourceBatch;

/// The reader schema, parsed once.
#[derive(Debug, Clone)]
pub struct ReaderSchema {
    pub url: String,
    pub json: String,
    pub schema: Arc<Schema>,
    canonical: String,
}

impl ReaderSchema {
    pub fn parse(url: &str, bytes: &[u8]) -> Result<ReaderSchema> {
        let json = String::from_utf8(bytes.to_vec())
            .map_err(|_| anyhow!("reader schema {url} is not UTF-8"))?;
        let schema =
            parse_schema(&json).with_context(|| format!("reader schema {url} is unparsable"))?;
        Ok(ReaderSchema {
            url: url.to_string(),
            json: json.trim().to_string(),
            canonical: schema.canonical_form(),
            schema: Arc::new(schema),
        })
    }
}

/// How one writer schema's datums become batch records.
#[derive(Clone)]
pub(crate) enum Plan {
    /// The datum bytes are already right.
    PassThrough,
    /// Rewritten in the reader schema by the compiled resolution, byte to byte.
    Transcode(Arc<Transcoder>),
    /// Decode in the writer schema, resolve to the reader schema, encode again: for the schema
    /// pairs the [`Transcoder`] leaves to apache-avro.
    Resolve {
        writer: Arc<Schema>,
        reader: Arc<Schema>,
        /// Rewrites apache-avro's output with map entries in key order (its maps are `HashMap`s,
        /// in an order that changes from run to run).
        sorting_maps: Option<Arc<Transcoder>>,
    },
}

impl Plan {
    /// The plan for reading `writer` data as `reader`, once they are known to be compatible.
    fn resolving(writer: &Schema, reader: &Arc<Schema>) -> Plan {
        match Transcoder::compile(writer, reader) {
            Ok(transcoder) => Plan::Transcode(Arc::new(transcoder)),
            Err(why) => {
                tracing::debug!("schema resolution through apache-avro: {why}");
                Plan::Resolve {
                    writer: Arc::new(writer.clone()),
                    reader: reader.clone(),
                    sorting_maps: Transcoder::sorting_maps(reader).ok().map(Arc::new),
                }
            }
        }
    }

    /// Appends one datum, in the reader schema, to `out`.
    pub(crate) fn write(&self, datum: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match self {
            Plan::PassThrough => out.extend_from_slice(datum),
            Plan::Transcode(transcoder) => transcoder.transcode(datum, out)?,
            Plan::Resolve {
                writer,
                reader,
                sorting_maps,
            } => {
                let resolved = Self::resolve(writer, reader, datum)?;
                match sorting_maps {
                    Some(sorting) => sorting.transcode(&resolved, out)?,
                    None => out.extend_from_slice(&resolved),
                }
            }
        }
        Ok(())
    }

    /// Re-encodes one datum in the reader schema with apache-avro.
    pub(crate) fn resolve(writer: &Schema, reader: &Schema, datum: &[u8]) -> Result<Vec<u8>> {
        let mut input = datum;
        let value = apache_avro::from_avro_datum(writer, &mut input, None)?;
        let value = rename_aliased_fields(value, reader).resolve(reader)?;
        Ok(apache_avro::to_avro_datum(reader, value)?)
    }
}

/// apache-avro's resolution matches record fields by name only; Avro also matches a writer field
/// to the reader field that lists its name among its `aliases`. This renames such fields to the
/// reader's name first (in records, nested records, arrays and maps; not through unions or named
/// references, where the value is left as it is).
fn rename_aliased_fields(value: Value, reader: &Schema) -> Value {
    match (value, reader) {
        (Value::Record(fields), Schema::Record(record)) => Value::Record(
            fields
                .into_iter()
                .map(|(name, v)| {
                    let field = record.fields.iter().find(|f| f.name == name).or_else(|| {
                        record
                            .fields
                            .iter()
                            .find(|f| f.aliases.as_ref().is_some_and(|a| a.contains(&name)))
                    });
                    match field {
                        Some(field) => {
                            (field.name.clone(), rename_aliased_fields(v, &field.schema))
                        }
                        None => (name, v),
                    }
                })
                .collect(),
        ),
        (Value::Array(items), Schema::Array(array)) => Value::Array(
            items
                .into_iter()
                .map(|v| rename_aliased_fields(v, &array.items))
                .collect(),
        ),
        (Value::Map(entries), Schema::Map(map)) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k, rename_aliased_fields(v, &map.types)))
                .collect(),
        ),
        (value, _) => value,
    }
}

/// Decides how each writer schema's datums are read. A plan depends only on the writer and reader
/// schemas, never on the order files are read in, so the parallel source's workers share one
/// planner; compatibility is checked once per distinct writer schema.
pub(crate) struct Planner {
    reader: Option<ReaderSchema>,
    /// Writer canonical form → plan.
    plans: Mutex<HashMap<String, Plan>>,
}

impl Planner {
    pub(crate) fn new(reader: Option<ReaderSchema>) -> Planner {
        Planner {
            reader,
            plans: Mutex::new(HashMap::new()),
        }
    }

    /// The plan for a writer schema whose canonical form is `canonical`; `url` names the file
    /// in errors.
    pub(crate) fn plan(&self, url: &str, writer: &Schema, canonical: &str) -> Result<Plan> {
        if let Some(plan) = self.lock().get(canonical) {
            return Ok(plan.clone());
        }
        let plan = match &self.reader {
            None => Plan::PassThrough,
            Some(reader) if reader.canonical == canonical => Plan::PassThrough,
            Some(reader) => {
                SchemaCompatibility::can_read(writer, &reader.schema).map_err(|e| {
                    anyhow!(
                        "{url}: its writer schema cannot be read with the reader schema {}: {e}",
                        reader.url
                    )
                })?;
                Plan::resolving(writer, &reader.schema)
            }
        };
        self.lock().insert(canonical.to_string(), plan.clone());
        Ok(plan)
    }

    /// The cache holds only finished plans, so a poisoned lock still guards a consistent map.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Plan>> {
        self.plans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Assigns schema ids, in the order writer schemas are first met, and remembers which have been
/// announced. Ids depend on file order, so only the in-order side of the source holds one.
pub(crate) struct Registry {
    planner: Planner,
    has_reader: bool,
    /// Writer canonical form → id (without a reader schema).
    ids: HashMap<String, u32>,
    /// Id → JSON to announce.
    json: Vec<String>,
    announced: HashSet<u32>,
}

impl Registry {
    pub(crate) fn new(reader: Option<ReaderSchema>) -> Registry {
        let json = reader.iter().map(|r| r.json.clone()).collect();
        Registry {
            has_reader: reader.is_some(),
            planner: Planner::new(reader),
            ids: HashMap::new(),
            json,
            announced: HashSet::new(),
        }
    }

    /// The id and plan for a file's writer schema; `url` names the file in errors.
    pub(crate) fn plan_for(
        &mut self,
        url: &str,
        writer: &Schema,
        writer_json: &str,
    ) -> Result<(u32, Plan)> {
        let canonical = writer.canonical_form();
        let plan = self.planner.plan(url, writer, &canonical)?;
        Ok((self.id_for(&canonical, writer_json), plan))
    }

    /// The id of a writer schema given its canonical form: with a reader schema always 0 (records
    /// are announced in the reader schema), otherwise one id per distinct writer schema, handed
    /// out in the order they are first asked for.
    pub(crate) fn id_for(&mut self, canonical: &str, writer_json: &str) -> u32 {
        if self.has_reader {
            return 0;
        }
        if let Some(id) = self.ids.get(canonical) {
            return *id;
        }
        self.json.push(writer_json.trim().to_string());
        let id = (self.json.len() - 1) as u32;
        self.ids.insert(canonical.to_string(), id);
        id
    }

    /// The schema's JSON the first time `id` is asked for, `None` afterwards.
    pub(crate) fn announce(&mut self, id: u32) -> Option<String> {
        if self.announced.insert(id) {
            self.json.get(id as usize).cloned()
        } else {
            None
        }
    }

    /// The event that hands `batch` on: the batch itself or, the first time its schema is met,
    /// the schema, with the batch left in `pending` for the next event.
    pub(crate) fn hand_on(
        &mut self,
        batch: SourceBatch,
        pending: &mut Option<SourceBatch>,
    ) -> SourceEvent {
        match self.announce(batch.schema_id) {
            Some(json) => {
                let id = batch.schema_id;
                *pending = Some(batch);
                SourceEvent::Schema { id, json }
            }
            None => SourceEvent::Batch(batch),
        }
    }
}

/// Parses schema text that may be damaged (it comes from a file header).
///
/// The nesting allowed is Avro's as c2k reads it, not serde_json's ([`schema_text`]): the text's
/// JSON nesting is bounded first, then parsed on a stack sized for it ([`schema_depth`]), and a
/// schema deeper than [`c2k_avro::MAX_DEPTH`] is refused saying how deep it is.
///
/// apache-avro 0.21 unwraps its own name validation in places (a malformed `name`, `type`
/// reference or alias panics instead of returning an error), so names are checked here first,
/// and as a last resort a panic inside the parser is turned into an error.
pub(crate) fn parse_schema(text: &str) -> Result<Schema> {
    schema_text::check_json_nesting(text)?;
    schema_depth::on_large_stack(|| {
        let json = schema_text::parse_json(text)?;
        check_names(&json)?;
        schema_text::check_avro_depth(&json)?;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Schema::parse(&json))) {
            Ok(parsed) => Ok(parsed?),
            Err(_) => Err(anyhow!("the Avro schema parser rejected it")),
        }
    })
}

const PRIMITIVES: &[&str] = &[
    "null", "boolean", "int", "long", "float", "double", "bytes", "string", "record", "error",
    "enum", "fixed", "array", "map",
];

/// Every `name`, `namespace`, alias and named-type reference must be a (dotted) Avro identifier.
fn check_names(json: &serde_json::Value) -> Result<()> {
    use serde_json::Value as Json;
    match json {
        Json::String(reference) => check_type_name(reference),
        Json::Array(items) => items.iter().try_for_each(check_names),
        Json::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("name", Json::String(name)) => check_dotted(name, "name")?,
                    ("namespace", Json::String(ns)) if !ns.is_empty() => {
                        check_dotted(ns, "namespace")?
                    }
                    ("aliases", Json::Array(aliases)) => {
                        for alias in aliases {
                            match alias {
                                Json::String(a) => check_dotted(a, "alias")?,
                                _ => anyhow::bail!("an alias is not a string"),
                            }
                        }
                    }
                    ("type" | "items" | "values", v) => check_names(v)?,
                    ("fields", Json::Array(fields)) => fields.iter().try_for_each(check_names)?,
                    _ => {}
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_type_name(name: &str) -> Result<()> {
    if PRIMITIVES.contains(&name) {
        Ok(())
    } else {
        check_dotted(name, "type name")
    }
}

fn check_dotted(name: &str, what: &str) -> Result<()> {
    let valid = name.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if valid {
        Ok(())
    } else {
        Err(anyhow!("invalid {what} `{name}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITER: &str = r#"{"type":"record","name":"R","fields":[
        {"name":"dur","type":"int"},
        {"name":"tag","type":"string"},
        {"name":"gone","type":"double"}]}"#;
    const READER: &str = r#"{"type":"record","name":"R","fields":[
        {"name":"duration","type":"long","aliases":["dur"]},
        {"name":"tag","type":["null","string"]},
        {"name":"added","type":"string","default":"x"}]}"#;

    #[test]
    fn resolution_follows_avro_rules_aliases_promotions_unions_defaults() {
        let writer = parse_schema(WRITER).unwrap();
        let reader = ReaderSchema::parse("reader.avsc", READER.as_bytes()).unwrap();
        let mut registry = Registry::new(Some(reader.clone()));
        let (id, plan) = registry.plan_for("f.avro", &writer, WRITER).unwrap();
        assert_eq!(id, 0);
        assert!(
            matches!(plan, Plan::Transcode(_)),
            "compiled, not left to apache-avro"
        );
        let datum = apache_avro::to_avro_datum(
            &writer,
            Value::Record(vec![
                ("dur".into(), Value::Int(42)),
                ("tag".into(), Value::String("t".into())),
                ("gone".into(), Value::Double(1.0)),
            ]),
        )
        .unwrap();
        let mut resolved = Vec::new();
        plan.write(&datum, &mut resolved).unwrap();
        assert_eq!(
            resolved,
            Plan::resolve(&writer, &reader.schema, &datum).unwrap(),
            "the transcoder and apache-avro agree"
        );
        let value = apache_avro::from_avro_datum(&reader.schema, &mut &resolved[..], None).unwrap();
        assert_eq!(
            value,
            Value::Record(vec![
                ("duration".into(), Value::Long(42)),
                (
                    "tag".into(),
                    Value::Union(1, Box::new(Value::String("t".into())))
                ),
                ("added".into(), Value::String("x".into())),
            ])
        );
    }

    #[test]
    fn the_reader_schema_itself_passes_through_and_is_announced_once() {
        let reader = ReaderSchema::parse("reader.avsc", READER.as_bytes()).unwrap();
        let mut registry = Registry::new(Some(reader.clone()));
        let (id, plan) = registry.plan_for("f.avro", &reader.schema, READER).unwrap();
        assert_eq!(id, 0);
        assert!(matches!(plan, Plan::PassThrough));
        assert!(registry.announce(0).is_some());
        assert!(registry.announce(0).is_none());
    }

    #[test]
    fn damaged_schema_text_is_an_error_not_a_panic() {
        for text in [
            r#"{"type":"record","name":"a b","fields":[]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"x","type":"no such"}]}"#,
            r#"{"type":"record","name":"R","aliases":["1x"],"fields":[]}"#,
            r#"{"type":"recor"#,
        ] {
            assert!(parse_schema(text).is_err(), "{text}");
        }
    }
}
