//! Compiling a writer/reader schema pair into a [`Transcoder`]'s steps, or saying why the pair
//! is left to apache-avro. It works on `apache_avro::Schema`, not on compiled nodes, because
//! resolution needs what only the schema holds: field aliases, defaults, enum defaults.

use std::collections::HashMap;

use apache_avro::schema::{Name, RecordField, ResolvedSchema};
use apache_avro::types::Value;
use apache_avro::Schema;
use c2k_avro::{Logical, Shape};

use super::{FieldOp, Step, StepId, Transcoder};

/// `identity` (a schema to itself) maps union branches to themselves and sorts map entries.
pub(super) fn build(
    writer: &Schema,
    reader: &Schema,
    identity: bool,
) -> Result<Transcoder, String> {
    let writer_names = ResolvedSchema::try_from(writer).map_err(|e| e.to_string())?;
    let reader_names = ResolvedSchema::try_from(reader).map_err(|e| e.to_string())?;
    let mut compiler = Compiler {
        steps: Vec::new(),
        named: HashMap::new(),
        reader_root: reader,
    };
    let pair = Pair {
        writer: writer_names.get_names(),
        reader: reader_names.get_names(),
        identity,
    };
    let root = compiler.compile(writer, reader, &pair)?;
    Ok(Transcoder {
        steps: compiler.steps,
        root,
        sort_maps: identity,
    })
}

/// The named types each side's references point to; `identity` compiles a writer schema against
/// itself (to read and drop a field), where union branches map to themselves.
struct Pair<'a> {
    writer: &'a HashMap<Name, &'a Schema>,
    reader: &'a HashMap<Name, &'a Schema>,
    identity: bool,
}

struct Compiler<'s> {
    steps: Vec<Step>,
    /// Named pairs compiled or being compiled (recursive types): (writer, reader, identity).
    named: HashMap<(String, String, bool), StepId>,
    /// For encoding defaults, whose types may refer to names defined anywhere in it.
    reader_root: &'s Schema,
}

/// The binary shape of a schema, for the logical types the transcoder copies as their
/// underlying type; the others (decimal, uuid, duration) carry checks of their own and are left
/// to apache-avro.
fn shape(schema: &Schema) -> Result<Shape, String> {
    match Shape::of(schema) {
        Some((_, Logical::Decimal | Logical::Uuid | Logical::Duration)) | None => {
            Err(format!("{schema:?} is left to apache-avro"))
        }
        Some((shape, _)) => Ok(shape),
    }
}

/// The unqualified name of a named type.
fn short_name(schema: &Schema) -> Option<&str> {
    match schema {
        Schema::Record(r) => Some(&r.name.name),
        Schema::Enum(e) => Some(&e.name.name),
        Schema::Fixed(f) => Some(&f.name.name),
        _ => None,
    }
}

fn full_name(schema: &Schema) -> String {
    match schema {
        Schema::Record(r) => r.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Fixed(f) => f.name.fullname(None),
        _ => String::new(),
    }
}

/// Follows a named reference.
fn deref<'a>(
    schema: &'a Schema,
    names: &'a HashMap<Name, &'a Schema>,
) -> Result<&'a Schema, String> {
    match schema {
        Schema::Ref { name } => names
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown named type {}", name.fullname(None))),
        other => Ok(other),
    }
}

/// Whether a writer value of `w` can be read as `r` at all (the first level only): what decides
/// which branch of a reader union a writer value goes to.
fn readable_as(w: &Schema, r: &Schema) -> Result<bool, String> {
    use Shape::*;
    let (ws, rs) = (shape(w)?, shape(r)?);
    Ok(match (ws, rs) {
        (Fixed, Fixed) | (Enum, Enum) | (Record, Record) => short_name(w) == short_name(r),
        (Int, Long | Float | Double) | (Long, Float | Double) | (Float, Double) => true,
        (String, Bytes) | (Bytes, String) => true,
        (a, b) => a == b,
    })
}

impl Compiler<'_> {
    fn push(&mut self, step: Step) -> StepId {
        self.steps.push(step);
        (self.steps.len() - 1) as StepId
    }

    fn compile(&mut self, w: &Schema, r: &Schema, pair: &Pair<'_>) -> Result<StepId, String> {
        let w = deref(w, pair.writer)?;
        let r = deref(r, pair.reader)?;
        use Shape::*;
        let (ws, rs) = (shape(w)?, shape(r)?);
        // A logical type that appears, disappears or changes is apache-avro's to judge.
        if ws != Union && rs != Union && std::mem::discriminant(w) != std::mem::discriminant(r) {
            let promoted = matches!(
                (w, r),
                (Schema::Int, Schema::Long | Schema::Float | Schema::Double)
                    | (Schema::Long, Schema::Float | Schema::Double)
                    | (Schema::Float, Schema::Double)
                    | (Schema::String, Schema::Bytes)
                    | (Schema::Bytes, Schema::String)
            );
            if !promoted {
                return Err(format!("{w:?} read as {r:?} is left to apache-avro"));
            }
        }
        let step = match (ws, rs) {
            (Union, Union) => return self.union_to_union(w, r, pair),
            (Union, _) => {
                let Schema::Union(union) = w else {
                    unreachable!()
                };
                let mut branches = Vec::new();
                for branch in union.variants() {
                    let b = deref(branch, pair.writer)?;
                    branches.push(if readable_as(b, r)? {
                        Some(self.compile(b, r, pair)?)
                    } else {
                        None
                    });
                }
                Step::FromUnion(branches)
            }
            (_, Union) => {
                let Schema::Union(union) = r else {
                    unreachable!()
                };
                let branch = self.only_branch(w, union.variants(), pair)?;
                let reader_branch = &union.variants()[branch as usize];
                let step = self.compile(w, reader_branch, pair)?;
                Step::IntoUnion { branch, step }
            }
            (Record, Record) | (Enum, Enum) | (Fixed, Fixed) => return self.named(w, r, pair),
            (Array, Array) => {
                let (Schema::Array(wa), Schema::Array(ra)) = (w, r) else {
                    unreachable!()
                };
                let item = self.compile(&wa.items, &ra.items, pair)?;
                Step::Array(item)
            }
            (Map, Map) => {
                let (Schema::Map(wm), Schema::Map(rm)) = (w, r) else {
                    unreachable!()
                };
                let value = self.compile(&wm.types, &rm.types, pair)?;
                Step::Map(value)
            }
            (Null, Null) => Step::Null,
            (Boolean, Boolean) => Step::Boolean,
            (Int, Int) | (Int, Long) => Step::Int,
            (Long, Long) => Step::Long,
            (Int, Float) => Step::IntToFloat,
            (Int, Double) => Step::IntToDouble,
            (Long, Float) => Step::LongToFloat,
            (Long, Double) => Step::LongToDouble,
            (Float, Float) => Step::Float,
            (Double, Double) => Step::Double,
            (Float, Double) => Step::FloatToDouble,
            // A writer's string is UTF-8 whatever the reader reads it as (apache-avro refuses
            // it otherwise); both are written as a length and the bytes.
            (String, String) | (Bytes, String) | (String, Bytes) => Step::String,
            (Bytes, Bytes) => Step::Bytes,
            (ws, rs) => return Err(format!("{ws:?} cannot be read as {rs:?}")),
        };
        Ok(self.push(step))
    }

    fn union_to_union(
        &mut self,
        w: &Schema,
        r: &Schema,
        pair: &Pair<'_>,
    ) -> Result<StepId, String> {
        let (Schema::Union(wu), Schema::Union(ru)) = (w, r) else {
            unreachable!()
        };
        let mut branches = Vec::new();
        for (i, branch) in wu.variants().iter().enumerate() {
            let b = deref(branch, pair.writer)?;
            let target = if pair.identity {
                Some(i as u32)
            } else {
                match self.candidates(b, ru.variants(), pair)?.as_slice() {
                    [] => None,
                    [only] => Some(*only),
                    _ => return Err(format!("{b:?} could go to several branches of {r:?}")),
                }
            };
            branches.push(match target {
                Some(t) => Some((t, self.compile(b, &ru.variants()[t as usize], pair)?)),
                None => None,
            });
        }
        Ok(self.push(Step::UnionToUnion(branches)))
    }

    /// The reader branches a writer value of `w` could go to.
    fn candidates(
        &self,
        w: &Schema,
        branches: &[Schema],
        pair: &Pair<'_>,
    ) -> Result<Vec<u32>, String> {
        let mut found = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            if readable_as(w, deref(branch, pair.reader)?)? {
                found.push(i as u32);
            }
        }
        Ok(found)
    }

    fn only_branch(&self, w: &Schema, branches: &[Schema], pair: &Pair<'_>) -> Result<u32, String> {
        match self.candidates(w, branches, pair)?.as_slice() {
            [only] => Ok(*only),
            [] => Err(format!("{w:?} matches no branch of the reader union")),
            _ => Err(format!(
                "{w:?} could go to several branches of the reader union"
            )),
        }
    }

    /// Records, enums and fixed, which must have the same (unqualified) name; compiled once per
    /// pair, so recursive types refer back to themselves.
    fn named(&mut self, w: &Schema, r: &Schema, pair: &Pair<'_>) -> Result<StepId, String> {
        if short_name(w) != short_name(r) {
            return Err(format!(
                "named type {} read as {}",
                full_name(w),
                full_name(r)
            ));
        }
        let key = (full_name(w), full_name(r), pair.identity);
        if let Some(id) = self.named.get(&key) {
            return Ok(*id);
        }
        // Reserved before the fields are compiled: a recursive field refers back to this id.
        let id = self.push(Step::Null);
        self.named.insert(key, id);
        let step = match (w, r) {
            (Schema::Record(wr), Schema::Record(rr)) => {
                Step::Record(self.fields(&wr.fields, &rr.fields, pair)?)
            }
            (Schema::Enum(we), Schema::Enum(re)) => {
                let default = re
                    .default
                    .as_ref()
                    .and_then(|d| re.symbols.iter().position(|s| s == d));
                Step::Enum {
                    map: we
                        .symbols
                        .iter()
                        .map(|s| {
                            re.symbols
                                .iter()
                                .position(|r| r == s)
                                .or(default)
                                .map(|i| i as u32)
                        })
                        .collect(),
                    writer_symbols: we.symbols.clone(),
                }
            }
            (Schema::Fixed(wf), Schema::Fixed(rf)) if wf.size == rf.size => Step::Fixed(wf.size),
            _ => return Err(format!("{} changed size or kind", full_name(w))),
        };
        self.steps[id as usize] = step;
        Ok(id)
    }

    /// Reader fields in order: each read from the writer field of its name (or of one of its
    /// aliases), or its default; writer fields the reader lacks are read and dropped. Fields
    /// that changed order are left to apache-avro.
    fn fields(
        &mut self,
        writer: &[RecordField],
        reader: &[RecordField],
        pair: &Pair<'_>,
    ) -> Result<Vec<FieldOp>, String> {
        let mut ops = Vec::new();
        let mut next = 0;
        let identity = Pair {
            writer: pair.writer,
            reader: pair.writer,
            identity: true,
        };
        for field in reader {
            let found = writer
                .iter()
                .position(|w| w.name == field.name)
                .or_else(|| {
                    writer.iter().position(|w| {
                        field
                            .aliases
                            .as_ref()
                            .is_some_and(|aliases| aliases.contains(&w.name))
                    })
                });
            match found {
                Some(at) if at < next => {
                    return Err(format!("field {} moved", field.name));
                }
                Some(at) => {
                    for dropped in &writer[next..at] {
                        ops.push(FieldOp::Drop(self.compile(
                            &dropped.schema,
                            &dropped.schema,
                            &identity,
                        )?));
                    }
                    ops.push(FieldOp::Read(self.compile(
                        &writer[at].schema,
                        &field.schema,
                        pair,
                    )?));
                    next = at + 1;
                }
                None => ops.push(FieldOp::Default(self.default_bytes(field)?)),
            }
        }
        for dropped in &writer[next..] {
            ops.push(FieldOp::Drop(self.compile(
                &dropped.schema,
                &dropped.schema,
                &identity,
            )?));
        }
        Ok(ops)
    }

    /// A reader field's default, encoded as apache-avro encodes it when it resolves a record
    /// that lacks the field (a union's default is its first branch's).
    fn default_bytes(&self, field: &RecordField) -> Result<Vec<u8>, String> {
        let json = field
            .default
            .as_ref()
            .ok_or_else(|| format!("field {} has no default", field.name))?;
        let root = vec![self.reader_root];
        let value = match &field.schema {
            Schema::Union(union) => match union.variants().first() {
                Some(Schema::Null) => Value::Union(0, Box::new(Value::Null)),
                Some(first) => Value::Union(
                    0,
                    Box::new(
                        Value::from(json.clone())
                            .resolve_schemata(first, root.clone())
                            .map_err(|e| format!("default of {}: {e}", field.name))?,
                    ),
                ),
                None => return Err(format!("field {} is an empty union", field.name)),
            },
            _ => Value::from(json.clone()),
        };
        let value = value
            .resolve_schemata(&field.schema, root.clone())
            .map_err(|e| format!("default of {}: {e}", field.name))?;
        apache_avro::to_avro_datum_schemata(&field.schema, root, value)
            .map_err(|e| format!("default of {}: {e}", field.name))
    }
}
