//! Avro schema resolution compiled into a byte-to-byte transcoder.
//!
//! Records written with an older schema are rewritten in the reader schema before they reach the
//! plugins. apache-avro does that per record by decoding into a `Value` tree, resolving it
//! (a `HashMap` per record, names hashed and cloned) and encoding it again: measured, a fifth of
//! all the CPU time of a replay. A [`Transcoder`] is the writer/reader pair compiled once into a
//! table of steps that read the writer's bytes and append the reader's, allocating nothing.
//!
//! It covers what schema evolution does in practice — added fields with defaults, removed fields,
//! promotions, nested records, enums, arrays, maps, unions — and gives the output apache-avro
//! gives, byte for byte (the tests check it), except that map entries keep the order they were
//! written in (apache-avro's come out of a `HashMap`, in an order that changes from run to run). Whatever it is not sure of, it declines at compile
//! time ([`Transcoder::compile`] returns why) and the source keeps apache-avro's path for that
//! pair: fields in a different order, a writer branch that more than one reader branch could
//! take, logical types that change or carry their own checks (decimal, uuid, duration).

use std::collections::HashMap;

use apache_avro::schema::{Name, RecordField, ResolvedSchema};
use apache_avro::types::Value;
use apache_avro::Schema;
use c2k_plugin_sdk::avro::binary::{write_long, Cursor, DecodeError};

/// Deeper nesting (only reachable through recursive schemas) is treated as corrupt data.
const MAX_DEPTH: u32 = 256;

/// More items than this in one array or map block is corrupt data, not a record (items of
/// `null` take no bytes, so the datum's length bounds nothing).
const MAX_BLOCK_ITEMS: u64 = 1 << 28;

type StepId = u32;

/// One writer value read and rewritten as the reader's.
#[derive(Debug)]
enum Step {
    Null,
    Boolean,
    /// `int` read as `int` or `long` (the same varint, re-encoded canonically).
    Int,
    Long,
    IntToFloat,
    IntToDouble,
    LongToFloat,
    LongToDouble,
    Float,
    Double,
    FloatToDouble,
    /// `string`, or `bytes` read as `string`: the bytes must be UTF-8.
    String,
    /// `bytes`, or `string` read as `bytes`.
    Bytes,
    Fixed(usize),
    /// Writer symbol index → reader symbol index (`None`: not in the reader and no default).
    Enum {
        map: Vec<Option<u32>>,
        writer_symbols: Vec<String>,
    },
    Array(StepId),
    Map(StepId),
    Record(Vec<FieldOp>),
    /// A writer union read as a non-union: per writer branch, its step if it resolves.
    FromUnion(Vec<Option<StepId>>),
    /// A writer union read as a union: per writer branch, the reader branch and its step.
    UnionToUnion(Vec<Option<(u32, StepId)>>),
    /// A non-union read as a union: the reader branch, then the value.
    IntoUnion {
        branch: u32,
        step: StepId,
    },
}

#[derive(Debug)]
enum FieldOp {
    /// The next writer field, rewritten.
    Read(StepId),
    /// The next writer field, which the reader does not have: read and dropped.
    Drop(StepId),
    /// A reader field the writer does not have: its default, encoded once.
    Default(Vec<u8>),
}

/// A writer schema → reader schema resolution, compiled.
#[derive(Debug)]
pub struct Transcoder {
    steps: Vec<Step>,
    root: StepId,
    /// Rewrite map entries in key order (see [`Transcoder::sorting_maps`]).
    sort_maps: bool,
}

/// A datum that cannot be rewritten: corrupt, or holding a value the reader cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {what}")]
pub struct TranscodeError {
    pub offset: usize,
    pub what: String,
}

impl From<DecodeError> for TranscodeError {
    fn from(e: DecodeError) -> Self {
        TranscodeError {
            offset: e.offset,
            what: e.what.to_string(),
        }
    }
}

impl Transcoder {
    /// Compiles the resolution of `writer` data to `reader`, or says why it is left to
    /// apache-avro.
    pub fn compile(writer: &Schema, reader: &Schema) -> Result<Transcoder, String> {
        Self::build(writer, reader, false)
    }

    /// A transcoder from `schema` to itself that writes every map's entries in key order.
    /// apache-avro's resolution returns maps as a `HashMap`, whose order changes from run to run:
    /// its output goes through this so that a replay is byte-identical twice on that path too.
    pub fn sorting_maps(schema: &Schema) -> Result<Transcoder, String> {
        Self::build(schema, schema, true)
    }

    /// `identity` (a schema to itself) maps union branches to themselves and sorts map entries.
    fn build(writer: &Schema, reader: &Schema, identity: bool) -> Result<Transcoder, String> {
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

    /// Appends `datum` (in the writer schema) to `out`, in the reader schema. On error `out` may
    /// hold part of the datum: the caller drops it.
    pub fn transcode(&self, datum: &[u8], out: &mut Vec<u8>) -> Result<(), TranscodeError> {
        let mut c = Cursor::new(datum);
        self.run(self.root, &mut c, out, 0)?;
        if c.position() != datum.len() {
            return Err(TranscodeError {
                offset: c.position(),
                what: format!("{} bytes left after the datum", datum.len() - c.position()),
            });
        }
        Ok(())
    }

    fn run(
        &self,
        id: StepId,
        c: &mut Cursor<'_>,
        out: &mut Vec<u8>,
        depth: u32,
    ) -> Result<(), TranscodeError> {
        if depth > MAX_DEPTH {
            return Err(error(c, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        match &self.steps[id as usize] {
            Step::Null => {}
            Step::Boolean => out.push(c.boolean()? as u8),
            Step::Int => write_long(out, i64::from(c.int()?)),
            Step::Long => write_long(out, c.long()?),
            Step::IntToFloat => out.extend_from_slice(&(c.int()? as f32).to_le_bytes()),
            Step::IntToDouble => out.extend_from_slice(&f64::from(c.int()?).to_le_bytes()),
            Step::LongToFloat => out.extend_from_slice(&(c.long()? as f32).to_le_bytes()),
            Step::LongToDouble => out.extend_from_slice(&(c.long()? as f64).to_le_bytes()),
            Step::Float => out.extend_from_slice(c.fixed(4)?),
            Step::Double => out.extend_from_slice(c.fixed(8)?),
            Step::FloatToDouble => out.extend_from_slice(&f64::from(c.float()?).to_le_bytes()),
            Step::String => write_bytes(out, c.string()?.as_bytes()),
            Step::Bytes => write_bytes(out, c.bytes()?),
            Step::Fixed(size) => out.extend_from_slice(c.fixed(*size)?),
            Step::Enum {
                map,
                writer_symbols,
            } => {
                let at = c.position();
                let index = c.long()?;
                let mapped = usize::try_from(index).ok().and_then(|i| map.get(i));
                match mapped {
                    Some(Some(reader_index)) => write_long(out, i64::from(*reader_index)),
                    Some(None) => {
                        return Err(TranscodeError {
                            offset: at,
                            what: format!(
                                "enum symbol {} is not in the reader schema, which has no default",
                                writer_symbols[index as usize]
                            ),
                        })
                    }
                    None => {
                        return Err(TranscodeError {
                            offset: at,
                            what: format!(
                                "enum index {index} out of range ({} symbols)",
                                map.len()
                            ),
                        })
                    }
                }
            }
            Step::Array(item) => {
                self.blocks(c, out, |c, out| self.run(*item, c, out, depth + 1))?;
            }
            Step::Map(value) => {
                // Each entry's encoded key and whole length, in the order written.
                let mut entries: Vec<(usize, usize)> = Vec::new();
                self.blocks(c, out, |c, out| {
                    let entry = out.len();
                    write_bytes(out, c.string()?.as_bytes());
                    let key = out.len() - entry;
                    self.run(*value, c, out, depth + 1)?;
                    if self.sort_maps {
                        entries.push((key, out.len() - entry));
                    }
                    Ok(())
                })?;
                if self.sort_maps && entries.len() > 1 {
                    sort_map_entries(out, &entries);
                }
            }
            Step::Record(ops) => {
                for op in ops {
                    match op {
                        FieldOp::Read(step) => self.run(*step, c, out, depth + 1)?,
                        FieldOp::Drop(step) => {
                            let mark = out.len();
                            self.run(*step, c, out, depth + 1)?;
                            out.truncate(mark);
                        }
                        FieldOp::Default(bytes) => out.extend_from_slice(bytes),
                    }
                }
            }
            Step::FromUnion(branches) => {
                let (index, branch) = union_branch(c, branches)?;
                let step = branch.ok_or_else(|| unresolvable_branch(c, index))?;
                self.run(step, c, out, depth + 1)?;
            }
            Step::UnionToUnion(branches) => {
                let (index, branch) = union_branch(c, branches)?;
                let (reader_branch, step) = branch.ok_or_else(|| unresolvable_branch(c, index))?;
                write_long(out, i64::from(reader_branch));
                self.run(step, c, out, depth + 1)?;
            }
            Step::IntoUnion { branch, step } => {
                write_long(out, i64::from(*branch));
                self.run(*step, c, out, depth + 1)?;
            }
        }
        Ok(())
    }

    /// Rewrites the blocks of an array or map as apache-avro writes them: one block with the
    /// total count (none when empty), then the 0 that ends it. Blocks that carried their byte
    /// size lose it (the size changes with the items).
    fn blocks(
        &self,
        c: &mut Cursor<'_>,
        out: &mut Vec<u8>,
        mut item: impl FnMut(&mut Cursor<'_>, &mut Vec<u8>) -> Result<(), TranscodeError>,
    ) -> Result<(), TranscodeError> {
        let start = out.len();
        let mut total = 0u64;
        let mut first_count = None;
        loop {
            let at = c.position();
            let block = c.block()?;
            if block.count == 0 {
                break;
            }
            total += block.count;
            if total > MAX_BLOCK_ITEMS {
                return Err(TranscodeError {
                    offset: at,
                    what: format!("more than {MAX_BLOCK_ITEMS} items in an array or map"),
                });
            }
            if first_count.is_none() {
                // Written now, in place; corrected below if more blocks follow.
                write_long(out, block.count as i64);
                first_count = Some(block.count);
            }
            for _ in 0..block.count {
                item(c, out)?;
            }
        }
        if let Some(first) = first_count.filter(|&first| first != total) {
            let mut old = Vec::with_capacity(10);
            write_long(&mut old, first as i64);
            let mut new = Vec::with_capacity(10);
            write_long(&mut new, total as i64);
            out.splice(start..start + old.len(), new);
        }
        out.push(0);
        Ok(())
    }
}

/// Reorders by key the entries of the map that ends `out` (one block: count, entries, 0).
/// `entries` gives each entry's key length (with its length prefix) and whole length.
fn sort_map_entries(out: &mut [u8], entries: &[(usize, usize)]) {
    let body_len: usize = entries.iter().map(|(_, len)| len).sum();
    // The map ends with the 0 that closes its block; the entries sit just before it.
    let body_start = out.len() - 1 - body_len;
    let body = out[body_start..body_start + body_len].to_vec();
    let mut slices = Vec::with_capacity(entries.len());
    let mut at = 0;
    for &(key_len, len) in entries {
        slices.push((&body[at..at + key_len], &body[at..at + len]));
        at += len;
    }
    // Encoded keys compare like the keys once their length prefixes are skipped.
    slices.sort_by(|a, b| skip_length(a.0).cmp(skip_length(b.0)));
    let mut write = body_start;
    for (_, entry) in slices {
        out[write..write + entry.len()].copy_from_slice(entry);
        write += entry.len();
    }
}

/// A length-prefixed byte string without its prefix.
fn skip_length(encoded: &[u8]) -> &[u8] {
    let prefix = encoded
        .iter()
        .position(|b| b & 0x80 == 0)
        .map_or(0, |i| i + 1);
    &encoded[prefix..]
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

fn error(c: &Cursor<'_>, what: String) -> TranscodeError {
    TranscodeError {
        offset: c.position(),
        what,
    }
}

fn union_branch<T: Copy>(c: &mut Cursor<'_>, branches: &[T]) -> Result<(i64, T), TranscodeError> {
    let at = c.position();
    let index = c.long()?;
    usize::try_from(index)
        .ok()
        .and_then(|i| branches.get(i))
        .map(|b| (index, *b))
        .ok_or_else(|| TranscodeError {
            offset: at,
            what: format!(
                "union branch {index} out of range (the union has {})",
                branches.len()
            ),
        })
}

fn unresolvable_branch(c: &Cursor<'_>, index: i64) -> TranscodeError {
    error(
        c,
        format!("union branch {index} of the writer schema has no match in the reader schema"),
    )
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

/// The binary shape of a schema, with the logical types the transcoder copies as their
/// underlying type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed,
    Enum,
    Array,
    Map,
    Union,
    Record,
}

fn shape(schema: &Schema) -> Result<Shape, String> {
    Ok(match schema {
        Schema::Null => Shape::Null,
        Schema::Boolean => Shape::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => Shape::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Shape::Long,
        Schema::Float => Shape::Float,
        Schema::Double => Shape::Double,
        Schema::Bytes => Shape::Bytes,
        Schema::String => Shape::String,
        Schema::Fixed(_) => Shape::Fixed,
        Schema::Enum(_) => Shape::Enum,
        Schema::Array(_) => Shape::Array,
        Schema::Map(_) => Shape::Map,
        Schema::Union(_) => Shape::Union,
        Schema::Record(_) => Shape::Record,
        other => return Err(format!("{other:?} is left to apache-avro")),
    })
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
            (String, String) | (Bytes, String) => Step::String,
            (Bytes, Bytes) | (String, Bytes) => Step::Bytes,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::schemas::Plan;
    use apache_avro::types::Value as V;

    fn parse(json: &str) -> Schema {
        Schema::parse_str(json).unwrap()
    }

    /// The transcoder's bytes must be apache-avro's, byte for byte — but for the order of map
    /// entries, which apache-avro takes from a `HashMap` (so it differs from run to run) and the
    /// transcoder keeps as written: then the values must be equal.
    fn assert_same_as_apache_avro(writer: &Schema, reader: &Schema, datum: &[u8]) {
        let transcoder = Transcoder::compile(writer, reader).unwrap();
        let mut ours = Vec::new();
        transcoder.transcode(datum, &mut ours).unwrap();
        let theirs = Plan::resolve(writer, reader, datum).unwrap();
        if ours != theirs {
            assert_eq!(ours.len(), theirs.len(), "datum {datum:?}");
            let decode =
                |bytes: &[u8]| apache_avro::from_avro_datum(reader, &mut &bytes[..], None).unwrap();
            assert_eq!(decode(&ours), decode(&theirs), "datum {datum:?}");
        }
    }

    const WRITER: &str = r#"{"type": "record", "name": "R", "namespace": "n", "fields": [
        {"name": "a", "type": "int"},
        {"name": "gone", "type": {"type": "array", "items": {"type": "record", "name": "G",
            "fields": [{"name": "x", "type": ["null", "string"]}]}}},
        {"name": "b", "type": ["null", "int", "string"]},
        {"name": "c", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}},
        {"name": "d", "type": {"type": "map", "values": "long"}},
        {"name": "e", "type": {"type": "array", "items": "float"}},
        {"name": "f", "type": {"type": "fixed", "name": "F", "size": 3}},
        {"name": "g", "type": "bytes"},
        {"name": "h", "type": "string"},
        {"name": "i", "type": "boolean"},
        {"name": "old_name", "type": "double"},
        {"name": "nested", "type": {"type": "record", "name": "N", "fields": [
            {"name": "p", "type": "long"}, {"name": "q", "type": "int"}]}},
        {"name": "opt", "type": "int"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tree", "type": {"type": "record", "name": "Tree", "fields": [
            {"name": "v", "type": "int"},
            {"name": "kids", "type": {"type": "array", "items": "Tree"}}]}}
    ]}"#;

    const READER: &str = r#"{"type": "record", "name": "R", "namespace": "n", "fields": [
        {"name": "a", "type": "double"},
        {"name": "b", "type": ["null", "long", "string"]},
        {"name": "c", "type": {"type": "enum", "name": "E", "symbols": ["A", "C", "Z"],
            "default": "Z"}},
        {"name": "d", "type": {"type": "map", "values": "double"}},
        {"name": "e", "type": {"type": "array", "items": "double"}},
        {"name": "f", "type": {"type": "fixed", "name": "F", "size": 3}},
        {"name": "g", "type": "string"},
        {"name": "h", "type": "bytes"},
        {"name": "i", "type": "boolean"},
        {"name": "new_name", "aliases": ["old_name"], "type": "double"},
        {"name": "nested", "type": {"type": "record", "name": "N", "fields": [
            {"name": "p", "type": "long"},
            {"name": "added", "type": {"type": "array", "items": "int"}, "default": [1, 2]}]}},
        {"name": "opt", "type": ["null", "int"]},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tree", "type": {"type": "record", "name": "Tree", "fields": [
            {"name": "v", "type": "long"},
            {"name": "kids", "type": {"type": "array", "items": "Tree"}}]}},
        {"name": "z1", "type": ["null", "string"], "default": null},
        {"name": "z2", "type": ["string", "null"], "default": "dflt"},
        {"name": "z3", "type": {"type": "record", "name": "D", "fields": [
            {"name": "k", "type": "int"}]}, "default": {"k": 7}},
        {"name": "z4", "type": {"type": "enum", "name": "E2", "symbols": ["P", "Q"]},
            "default": "Q"},
        {"name": "z5", "type": "bytes", "default": "\u00ff\u0001"},
        {"name": "z6", "type": "F", "default": "abc"},
        {"name": "z7", "type": {"type": "map", "values": "string"}, "default": {"k": "v"}}
    ]}"#;

    fn tree(v: i32, kids: Vec<V>) -> V {
        V::Record(vec![
            ("v".into(), V::Int(v)),
            ("kids".into(), V::Array(kids)),
        ])
    }

    fn writer_record(variant: i32) -> V {
        let b = match variant % 3 {
            0 => V::Union(0, Box::new(V::Null)),
            1 => V::Union(1, Box::new(V::Int(-77 * variant))),
            _ => V::Union(2, Box::new(V::String(format!("s{variant}")))),
        };
        let symbol = ["A", "B", "C"][(variant % 3) as usize];
        V::Record(vec![
            ("a".into(), V::Int(i32::MIN + variant)),
            (
                "gone".into(),
                V::Array(
                    (0..variant)
                        .map(|i| {
                            V::Record(vec![(
                                "x".into(),
                                if i % 2 == 0 {
                                    V::Union(0, Box::new(V::Null))
                                } else {
                                    V::Union(1, Box::new(V::String("x".repeat(i as usize))))
                                },
                            )])
                        })
                        .collect(),
                ),
            ),
            ("b".into(), b),
            ("c".into(), V::Enum((variant % 3) as u32, symbol.into())),
            (
                "d".into(),
                V::Map(
                    (0..variant)
                        .map(|i| (format!("k{i}"), V::Long(i64::MAX - i as i64)))
                        .collect(),
                ),
            ),
            (
                "e".into(),
                V::Array((0..variant).map(|i| V::Float(i as f32 / 3.0)).collect()),
            ),
            ("f".into(), V::Fixed(3, vec![1, 2, variant as u8])),
            ("g".into(), V::Bytes(format!("é{variant}").into_bytes())),
            ("h".into(), V::String("naïve".into())),
            ("i".into(), V::Boolean(variant % 2 == 0)),
            ("old_name".into(), V::Double(f64::from(variant) * 1.5)),
            (
                "nested".into(),
                V::Record(vec![
                    ("p".into(), V::Long(-(variant as i64))),
                    ("q".into(), V::Int(variant)),
                ]),
            ),
            ("opt".into(), V::Int(variant)),
            (
                "ts".into(),
                V::TimestampMillis(1_500_000_000_000 + variant as i64),
            ),
            (
                "tree".into(),
                tree(
                    1,
                    vec![tree(2, vec![]), tree(3, vec![tree(variant, vec![])])],
                ),
            ),
        ])
    }

    #[test]
    fn evolution_gives_apache_avros_bytes_exactly() {
        let (writer, reader) = (parse(WRITER), parse(READER));
        for variant in 0..7 {
            let datum = apache_avro::to_avro_datum(&writer, writer_record(variant)).unwrap();
            assert_same_as_apache_avro(&writer, &reader, &datum);
        }
    }

    #[test]
    fn the_sample_topics_v1_to_v2_is_transcoded() {
        use crate::sample::schemas::{PAGE_VIEW_V1, PAGE_VIEW_V2};
        let (writer, reader) = (parse(PAGE_VIEW_V1), parse(PAGE_VIEW_V2));
        let header = V::Record(vec![
            ("time".into(), V::TimestampMillis(1_600_000_000_123)),
            ("server".into(), V::String("web-1".into())),
            ("service".into(), V::String("front".into())),
        ]);
        let datum = apache_avro::to_avro_datum(
            &writer,
            V::Record(vec![
                ("header".into(), header),
                ("url".into(), V::String("/a".into())),
                (
                    "referrer".into(),
                    V::Union(1, Box::new(V::String("/b".into()))),
                ),
                ("user_id".into(), V::Long(42)),
                ("session_id".into(), V::String("s".into())),
                ("user_agent".into(), V::String("ua".into())),
                ("ip".into(), V::String("10.0.0.1".into())),
                ("duration_ms".into(), V::Int(-5)),
            ]),
        )
        .unwrap();
        let mut ours = Vec::new();
        let transcoder = Transcoder::compile(&writer, &reader).unwrap();
        transcoder.transcode(&datum, &mut ours).unwrap();
        assert_eq!(ours, Plan::resolve(&writer, &reader, &datum).unwrap());
    }

    #[test]
    fn arrays_in_several_blocks_with_byte_sizes_become_one_block() {
        let writer = parse(r#"{"type": "array", "items": "int"}"#);
        let reader = parse(r#"{"type": "array", "items": "long"}"#);
        // Block of -2 items (byte size 2): 1, -1; block of 1 item: 300; end.
        let mut datum = Vec::new();
        for v in [-2i64, 2, 1, -1, 1, 300, 0] {
            write_long(&mut datum, v);
        }
        assert_same_as_apache_avro(&writer, &reader, &datum);
        // Empty arrays: just the end marker.
        assert_same_as_apache_avro(&writer, &reader, &[0]);
    }

    #[test]
    fn pairs_it_is_not_sure_of_are_left_to_apache_avro() {
        let record = |fields: &str| {
            parse(&format!(
                r#"{{"type": "record", "name": "R", "fields": [{fields}]}}"#
            ))
        };
        let a_b = record(r#"{"name": "a", "type": "int"}, {"name": "b", "type": "int"}"#);
        let b_a = record(r#"{"name": "b", "type": "int"}, {"name": "a", "type": "int"}"#);
        assert!(Transcoder::compile(&a_b, &b_a)
            .unwrap_err()
            .contains("moved"));
        let int = record(r#"{"name": "a", "type": "int"}"#);
        let two_ways = record(r#"{"name": "a", "type": ["long", "double"]}"#);
        assert!(Transcoder::compile(&int, &two_ways)
            .unwrap_err()
            .contains("several"));
        let decimal = record(
            r#"{"name": "a", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4}}"#,
        );
        assert!(Transcoder::compile(&decimal, &decimal).is_err());
        let plain_long = record(r#"{"name": "a", "type": "long"}"#);
        let timestamp =
            record(r#"{"name": "a", "type": {"type": "long", "logicalType": "timestamp-micros"}}"#);
        assert!(Transcoder::compile(&plain_long, &timestamp).is_err());
    }

    #[test]
    fn bad_data_is_an_error_at_a_byte_never_a_panic() {
        let (writer, reader) = (parse(WRITER), parse(READER));
        let transcoder = Transcoder::compile(&writer, &reader).unwrap();
        let datum = apache_avro::to_avro_datum(&writer, writer_record(5)).unwrap();
        for cut in 0..datum.len() {
            let mut out = Vec::new();
            assert!(
                transcoder.transcode(&datum[..cut], &mut out).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = datum.clone();
        longer.push(0);
        let err = transcoder.transcode(&longer, &mut Vec::new()).unwrap_err();
        assert!(err.what.contains("left after"), "{err}");
        // Flip every byte in turn: errors or other values, never a panic.
        for at in 0..datum.len() {
            let mut bent = datum.clone();
            bent[at] ^= 0xA5;
            let _ = transcoder.transcode(&bent, &mut Vec::new());
        }
    }

    #[test]
    fn values_the_reader_cannot_take_are_named() {
        let writer = parse(r#"{"type": "enum", "name": "E", "symbols": ["A", "B"]}"#);
        let reader = parse(r#"{"type": "enum", "name": "E", "symbols": ["A"]}"#);
        let transcoder = Transcoder::compile(&writer, &reader).unwrap();
        let err = transcoder.transcode(&[2], &mut Vec::new()).unwrap_err();
        assert!(err.what.contains("enum symbol B"), "{err}");

        let writer = parse(r#"["null", "string", "boolean"]"#);
        let reader = parse(r#"["null", "string"]"#);
        let transcoder = Transcoder::compile(&writer, &reader).unwrap();
        let mut out = Vec::new();
        transcoder.transcode(&[2, 2, b'x'], &mut out).unwrap();
        assert_eq!(out, [2, 2, b'x']);
        let err = transcoder.transcode(&[4, 1], &mut Vec::new()).unwrap_err();
        assert!(err.what.contains("union branch 2"), "{err}");
    }

    fn map_datum(blocks: &[&[(&str, i64)]]) -> Vec<u8> {
        let mut datum = Vec::new();
        for block in blocks {
            write_long(&mut datum, block.len() as i64);
            for (key, value) in *block {
                write_bytes(&mut datum, key.as_bytes());
                write_long(&mut datum, *value);
            }
        }
        datum.push(0);
        datum
    }

    #[test]
    fn sorting_maps_writes_entries_in_key_order_whatever_the_order_written() {
        let schema = parse(r#"{"type": "map", "values": "long"}"#);
        let sorting = Transcoder::sorting_maps(&schema).unwrap();
        let mut out = Vec::new();
        let written = map_datum(&[&[("b", 1), ("ab", 2)], &[("a", 3), ("", 4)]]);
        sorting.transcode(&written, &mut out).unwrap();
        assert_eq!(out, map_datum(&[&[("", 4), ("a", 3), ("ab", 2), ("b", 1)]]));
    }

    #[test]
    fn the_apache_avro_path_gives_the_same_bytes_every_time() {
        use crate::source::schemas::{ReaderSchema, Registry};
        // `a` and `m` swap places: the transcoder leaves this pair to apache-avro.
        let writer = parse(
            r#"{"type": "record", "name": "R", "fields": [
                {"name": "a", "type": "int"},
                {"name": "m", "type": {"type": "map", "values": "int"}}]}"#,
        );
        let reader_json = r#"{"type": "record", "name": "R", "fields": [
            {"name": "m", "type": {"type": "map", "values": "long"}},
            {"name": "a", "type": "long"}]}"#;
        let reader = ReaderSchema::parse("reader.avsc", reader_json.as_bytes()).unwrap();
        let (_, plan) = Registry::new(Some(reader))
            .plan_for("f.avro", &writer, "{}")
            .unwrap();
        assert!(matches!(plan, Plan::Resolve { .. }));
        let mut datum = Vec::new();
        write_long(&mut datum, 7);
        let entries: Vec<(String, i64)> = (0..20).map(|i| (format!("k{i:02}"), i)).collect();
        write_long(&mut datum, entries.len() as i64);
        for (key, value) in entries.iter().rev() {
            write_bytes(&mut datum, key.as_bytes());
            write_long(&mut datum, *value);
        }
        datum.push(0);
        let mut first = Vec::new();
        plan.write(&datum, &mut first).unwrap();
        for _ in 0..20 {
            let mut again = Vec::new();
            plan.write(&datum, &mut again).unwrap();
            assert_eq!(again, first);
        }
        let sorted: Vec<(&str, i64)> = entries.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let mut expected = map_datum(&[&sorted]);
        write_long(&mut expected, 7);
        assert_eq!(first, expected, "map entries in key order, then a");
    }
}
