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
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

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
pub enum Plan {
    /// The datum bytes are already right.
    PassThrough,
    /// Decode in the writer schema, resolve to the reader schema, encode again.
    Resolve {
        writer: Arc<Schema>,
        reader: Arc<Schema>,
    },
}

impl Plan {
    /// Re-encodes one datum in the reader schema (only for [`Plan::Resolve`]).
    pub fn resolve(writer: &Schema, reader: &Schema, datum: &[u8]) -> Result<Vec<u8>> {
        let mut input = datum;
        let value = apache_avro::from_avro_datum(writer, &mut input, Some(reader))?;
        Ok(apache_avro::to_avro_datum(reader, value)?)
    }
}

/// Assigns schema ids and remembers which have been announced.
pub struct Registry {
    reader: Option<ReaderSchema>,
    /// Writer canonical form → (id, plan).
    known: HashMap<String, (u32, Plan)>,
    /// Id → JSON to announce.
    json: Vec<String>,
    announced: HashSet<u32>,
}

impl Registry {
    pub fn new(reader: Option<ReaderSchema>) -> Registry {
        let json = reader.iter().map(|r| r.json.clone()).collect();
        Registry {
            reader,
            known: HashMap::new(),
            json,
            announced: HashSet::new(),
        }
    }

    /// The id and plan for a file's writer schema; `url` names the file in errors.
    pub fn plan_for(
        &mut self,
        url: &str,
        writer: &Schema,
        writer_json: &str,
    ) -> Result<(u32, Plan)> {
        let canonical = writer.canonical_form();
        if let Some(known) = self.known.get(&canonical) {
            return Ok(known.clone());
        }
        let planned = match &self.reader {
            None => {
                self.json.push(writer_json.trim().to_string());
                ((self.json.len() - 1) as u32, Plan::PassThrough)
            }
            Some(reader) if reader.canonical == canonical => (0, Plan::PassThrough),
            Some(reader) => {
                SchemaCompatibility::can_read(writer, &reader.schema).map_err(|e| {
                    anyhow!(
                        "{url}: its writer schema cannot be read with the reader schema {}: {e}",
                        reader.url
                    )
                })?;
                (
                    0,
                    Plan::Resolve {
                        writer: Arc::new(writer.clone()),
                        reader: reader.schema.clone(),
                    },
                )
            }
        };
        self.known.insert(canonical, planned.clone());
        Ok(planned)
    }

    /// The schema's JSON the first time `id` is asked for, `None` afterwards.
    pub fn announce(&mut self, id: u32) -> Option<String> {
        if self.announced.insert(id) {
            self.json.get(id as usize).cloned()
        } else {
            None
        }
    }
}

/// Parses schema text that may be damaged (it comes from a file header).
///
/// apache-avro 0.21 unwraps its own name validation in places (a malformed `name`, `type`
/// reference or alias panics instead of returning an error), so names are checked here first,
/// and as a last resort a panic inside the parser is turned into an error.
pub fn parse_schema(text: &str) -> Result<Schema> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| anyhow!("not valid JSON: {e}"))?;
    check_names(&json)?;
    let text = text.to_string();
    match std::panic::catch_unwind(move || Schema::parse_str(&text)) {
        Ok(parsed) => Ok(parsed?),
        Err(_) => Err(anyhow!("the Avro schema parser rejected it")),
    }
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
