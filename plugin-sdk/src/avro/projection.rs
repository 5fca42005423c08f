//! Projection reads: fields read by dotted path (`header.time`) straight from Avro binary datums.
//!
//! Each path is compiled once per registered schema into an `Access` plan (skip these fields,
//! descend into that one, pick the union branch) and applied to each record without decoding
//! anything the path does not lead through.

use std::collections::HashMap;

use apache_avro::Schema;

use c2k_avro::{CompiledSchema, Cursor, DecodeError, Kind, Logical, NodeId};

use super::datum::Datum;

/// How to reach one path's value from the start of a datum.
#[derive(Debug, Clone)]
enum Access {
    /// The path does not exist in this schema (or only through a union's `null` branch).
    Absent,
    /// Skip the record's leading fields (`fixed` bytes at once, then one node each), descend.
    Record {
        fixed: usize,
        skip: Vec<NodeId>,
        then: Box<Access>,
    },
    /// A union: read the branch index, continue with that branch's plan.
    Union(Vec<Access>),
    /// Read this node's value here.
    Leaf(NodeId),
}

/// A schema registered with a projection: parsed, compiled, and its paths' plans.
#[derive(Debug)]
pub struct Registered {
    pub schema: Schema,
    pub compiled: CompiledSchema,
    access: Vec<Access>,
    /// Per path: the schema has no such field at all (not merely a nullable one).
    not_in_schema: Vec<bool>,
    /// Records in this "schema" are text, not Avro (contract 0.1.3: the host registers
    /// [`TEXT_ENCODING`]); fields are read from them as JSON.
    text: bool,
}

/// What the host registers, instead of an Avro schema, for records that are the bytes of a
/// text message (a JSON topic archived by Camus' text or SequenceFile writer): a JSON string no
/// Avro schema can be.
pub const TEXT_ENCODING: &str = "\"c2k:text\"";

/// The fields a plugin reads, and their plans for every registered schema.
#[derive(Debug, Default)]
pub struct Projection {
    paths: Vec<String>,
    schemas: HashMap<u32, Registered>,
}

impl Projection {
    /// A projection of these dotted paths (`"time"`, `"header.time"`); `Record::get(i)` reads
    /// `paths[i]`.
    pub fn new(paths: Vec<String>) -> Self {
        Projection {
            paths,
            schemas: HashMap::new(),
        }
    }

    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// Parses, compiles and plans a schema under `id` (replacing any schema registered there).
    pub fn register(&mut self, id: u32, json: &str) -> Result<(), String> {
        if json.trim() == TEXT_ENCODING {
            let schema = Schema::Bytes;
            let compiled = CompiledSchema::compile(&schema).map_err(|e| e.to_string())?;
            let registered = Registered {
                schema,
                compiled,
                access: Vec::new(),
                not_in_schema: vec![false; self.paths.len()],
                text: true,
            };
            self.schemas.insert(id, registered);
            return Ok(());
        }
        let schema = c2k_avro::schema_text::parse_schema(json)
            .map_err(|e| format!("schema {id} does not parse: {e}"))?;
        let compiled = CompiledSchema::compile(&schema).map_err(|e| format!("schema {id}: {e}"))?;
        let steps: Vec<Vec<&str>> = self
            .paths
            .iter()
            .map(|path| path.split('.').filter(|s| !s.is_empty()).collect())
            .collect();
        let access = steps
            .iter()
            .map(|steps| plan(&compiled, compiled.root(), steps))
            .collect();
        let not_in_schema = steps
            .iter()
            .map(|steps| !exists(&compiled, compiled.root(), steps))
            .collect();
        self.schemas.insert(
            id,
            Registered {
                schema,
                compiled,
                access,
                not_in_schema,
                text: false,
            },
        );
        Ok(())
    }

    /// The schema registered under `id`.
    pub fn schema(&self, id: u32) -> Option<&Registered> {
        self.schemas.get(&id)
    }

    /// A view of one datum in schema `id`.
    pub fn record<'a>(&'a self, id: u32, datum: &'a [u8]) -> Result<Record<'a>, String> {
        let registered = self
            .schemas
            .get(&id)
            .ok_or_else(|| format!("schema id {id} was never registered"))?;
        Ok(Record {
            registered,
            paths: &self.paths,
            datum,
            schema_id: id,
        })
    }
}

/// Whether the schema has a field at `path` (through any union branch), null or not.
fn exists(schema: &CompiledSchema, node: NodeId, path: &[&str]) -> bool {
    match (&schema.node(node).kind, path) {
        (_, []) => true,
        (Kind::Union(branches), _) => branches.iter().any(|b| exists(schema, *b, path)),
        (Kind::Record { fields }, [name, rest @ ..]) => fields
            .iter()
            .find(|(f, _)| f == name)
            .is_some_and(|(_, field)| exists(schema, *field, rest)),
        _ => false,
    }
}

fn plan(schema: &CompiledSchema, node: NodeId, path: &[&str]) -> Access {
    match (&schema.node(node).kind, path) {
        (Kind::Null, _) => Access::Absent,
        (Kind::Union(branches), _) => {
            let plans: Vec<Access> = branches.iter().map(|b| plan(schema, *b, path)).collect();
            if plans.iter().all(|p| matches!(p, Access::Absent)) {
                Access::Absent
            } else {
                Access::Union(plans)
            }
        }
        (_, []) => Access::Leaf(node),
        (Kind::Record { fields }, [name, rest @ ..]) => {
            let Some(index) = fields.iter().position(|(f, _)| f == name) else {
                return Access::Absent;
            };
            let then = plan(schema, fields[index].1, rest);
            if matches!(then, Access::Absent) {
                return Access::Absent;
            }
            // Leading fixed-size fields are skipped in one step.
            let mut fixed = 0;
            let mut skip = Vec::new();
            for (_, field) in &fields[..index] {
                match schema.node(*field).fixed_size {
                    Some(size) if skip.is_empty() => fixed += size,
                    _ => skip.push(*field),
                }
            }
            Access::Record {
                fixed,
                skip,
                then: Box::new(then),
            }
        }
        _ => Access::Absent,
    }
}

/// One datum seen through a projection.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    registered: &'a Registered,
    paths: &'a [String],
    datum: &'a [u8],
    schema_id: u32,
}

impl<'a> Record<'a> {
    /// The value at the projection's path `i` (`fields()[i]`); `None` when the schema has no
    /// such field or a nullable union on the way holds `null`.
    pub fn get(&self, i: usize) -> Result<Option<Datum<'a>>, String> {
        if self.registered.text {
            if let Some(path) = self.paths.get(i) {
                return super::json_path::read(self.datum, path)
                    .map_err(|e| format!("reading field `{path}` of a text record: {e}"));
            }
        }
        let Some(access) = self.registered.access.get(i) else {
            return Err(if self.paths.is_empty() {
                format!(
                    "the plugin reads field #{i} but its fields() lists none: return the dotted \
                     paths it reads from fields() (record.get(i) reads fields()[i], \
                     record.field(path) reads a path listed there)"
                )
            } else {
                format!(
                    "the plugin reads field #{i} but its fields() lists only {} ({}): add the \
                     field to fields()",
                    self.paths.len(),
                    self.paths.join(", ")
                )
            });
        };
        let mut cursor = Cursor::new(self.datum);
        read(&self.registered.compiled, access, &mut cursor)
            .map_err(|e| format!("reading field `{}`: {e}", self.paths[i]))
    }

    /// The value at dotted `path`, which must be one of the plugin's `fields()`; `None` when the
    /// schema has no such field or it is null.
    ///
    /// Looking a field up by name costs a comparison per listed field; `get(i)` is the faster
    /// read for a plugin that reads many fields.
    pub fn field(&self, path: &str) -> Result<Option<Datum<'a>>, String> {
        match self.paths.iter().position(|p| p == path) {
            Some(i) => self.get(i),
            None if self.paths.is_empty() => Err(format!(
                "the plugin reads field `{path}` but its fields() lists none: return \
                 vec![\"{path}\".into()] (and every other field it reads) from fields()"
            )),
            None => Err(format!(
                "the plugin reads field `{path}` but its fields() lists only {}: add `{path}` \
                 to fields()",
                self.paths.join(", ")
            )),
        }
    }

    /// The value at dotted `path` (one of `fields()`), which must be there and not null: the
    /// error says which, and when the record's schema lacks the field altogether, names that
    /// schema and how to give old records the field (`source.schema`).
    pub fn require(&self, path: &str) -> Result<Datum<'a>, String> {
        match self.field(path)? {
            Some(Datum::Null) | None => {
                let i = self.paths.iter().position(|p| p == path).unwrap_or(0);
                Err(if self.not_in_schema(i) {
                    self.missing_hint(path)
                } else {
                    format!("field `{path}` is null")
                })
            }
            Some(datum) => Ok(datum),
        }
    }

    /// Whether the record's schema has no field at path `i` at all (rather than a null one).
    pub fn not_in_schema(&self, i: usize) -> bool {
        self.registered
            .not_in_schema
            .get(i)
            .copied()
            .unwrap_or(false)
    }

    /// The listed fields this record's schema does not have.
    pub fn fields_not_in_schema(&self) -> Vec<&'a str> {
        (0..self.paths.len())
            .filter(|&i| self.not_in_schema(i))
            .map(|i| self.paths[i].as_str())
            .collect()
    }

    /// The full name of the record's schema (`com.example.PageView`), or its type for a schema
    /// that is not a named type.
    pub fn schema_name(&self) -> String {
        if self.registered.text {
            return "text (not Avro)".into();
        }
        match self.registered.schema.name() {
            Some(name) => name.fullname(None),
            None => format!(
                "{:?}",
                apache_avro::schema::SchemaKind::from(&self.registered.schema)
            ),
        }
    }

    /// Why a field is missing from this record, and what to do about it.
    pub(crate) fn missing_hint(&self, path: &str) -> String {
        format!(
            "field `{path}` is not in this record's schema {} (schema id {}: the writer schema \
             of its file, unless source.schema is set); records written before the field \
             existed lack it: set source.schema to a reader schema that gives `{path}` a \
             default, or handle its absence",
            self.schema_name(),
            self.schema_id
        )
    }

    /// The dotted path of projection field `i`.
    pub fn path(&self, i: usize) -> &'a str {
        self.paths.get(i).map_or("", String::as_str)
    }

    /// The record's bytes: its Avro binary encoding or, for a text record
    /// ([`is_text`](Self::is_text)), the message's bytes as archived.
    pub fn datum(&self) -> &'a [u8] {
        self.datum
    }

    /// Whether the record is a text message (a JSON topic archived by Camus' text or
    /// SequenceFile writer) rather than an Avro datum: [`get`](Self::get) and
    /// [`field`](Self::field) then read its fields as JSON, and [`datum`](Self::datum) is the
    /// text as the live topic carried it.
    pub fn is_text(&self) -> bool {
        self.registered.text
    }

    pub fn schema_id(&self) -> u32 {
        self.schema_id
    }

    /// The record's parsed schema.
    pub fn schema(&self) -> &'a Schema {
        &self.registered.schema
    }

    /// The record's compiled schema (to walk the whole datum, as a JSON writer does).
    pub fn compiled(&self) -> &'a CompiledSchema {
        &self.registered.compiled
    }
}

fn read<'a>(
    schema: &'a CompiledSchema,
    access: &Access,
    c: &mut Cursor<'a>,
) -> Result<Option<Datum<'a>>, DecodeError> {
    let mut access = access;
    loop {
        match access {
            Access::Absent => return Ok(None),
            Access::Record { fixed, skip, then } => {
                c.skip(*fixed)?;
                for node in skip {
                    schema.skip(*node, c)?;
                }
                access = then;
            }
            Access::Union(plans) => {
                access = &plans[c.union_index(plans.len())?];
            }
            Access::Leaf(node) => return read_leaf(schema, *node, c).map(Some),
        }
    }
}

/// Reads one value of `node` at the cursor.
pub fn read_leaf<'a>(
    schema: &'a CompiledSchema,
    node: NodeId,
    c: &mut Cursor<'a>,
) -> Result<Datum<'a>, DecodeError> {
    let n = schema.node(node);
    Ok(match (&n.kind, n.logical) {
        (Kind::Null, _) => Datum::Null,
        (Kind::Boolean, _) => Datum::Boolean(c.boolean()?),
        (Kind::Int, Logical::Date) => Datum::Date(c.int()?),
        (Kind::Int, Logical::TimeMillis) => Datum::TimeMillis(c.int()?),
        (Kind::Int, _) => Datum::Int(c.int()?),
        (Kind::Long, logical) => {
            let v = c.long()?;
            match logical {
                Logical::TimeMicros => Datum::TimeMicros(v),
                Logical::TimestampMillis => Datum::TimestampMillis(v),
                Logical::TimestampMicros => Datum::TimestampMicros(v),
                Logical::TimestampNanos => Datum::TimestampNanos(v),
                Logical::LocalTimestampMillis => Datum::LocalTimestampMillis(v),
                Logical::LocalTimestampMicros => Datum::LocalTimestampMicros(v),
                Logical::LocalTimestampNanos => Datum::LocalTimestampNanos(v),
                _ => Datum::Long(v),
            }
        }
        (Kind::Float, _) => Datum::Float(c.float()?),
        (Kind::Double, _) => Datum::Double(c.double()?),
        (Kind::Bytes, Logical::Decimal) => Datum::Decimal(c.bytes()?),
        (Kind::Bytes, _) => Datum::Bytes(c.bytes()?),
        (Kind::String, Logical::Uuid) => Datum::Uuid(c.string()?),
        (Kind::String, _) => Datum::String(c.string()?),
        (Kind::Fixed { size }, Logical::Decimal) => Datum::Decimal(c.fixed(*size)?),
        (Kind::Fixed { size }, _) => Datum::Fixed(c.fixed(*size)?),
        (Kind::Enum { symbols }, _) => {
            let index = c.enum_index(symbols.len())?;
            Datum::Enum {
                index: index as u32,
                symbol: &symbols[index],
            }
        }
        (Kind::Union(branches), _) => {
            let branch = schema.branch(branches, c)?;
            return read_leaf(schema, branch, c);
        }
        (Kind::Array(_) | Kind::Map(_) | Kind::Record { .. }, _) => {
            let start = c.position();
            schema.skip(node, c)?;
            Datum::Raw(&c.buffer()[start..c.position()])
        }
    })
}
