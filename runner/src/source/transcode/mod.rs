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
//! written in (apache-avro's come out of a `HashMap`, in an order that changes from run to run).
//! Whatever it is not sure of, it declines at compile time ([`Transcoder::compile`] returns why)
//! and the source keeps apache-avro's path for that pair: fields in a different order, a writer
//! branch that more than one reader branch could take, logical types that change or carry their
//! own checks (decimal, uuid, duration).
//!
//! - `compile`: the steps, from a writer and a reader `apache_avro::Schema` (defaults and aliases
//!   live only there); the binary shape of each schema is `camus2kafka-avro`'s, as for the walker;
//! - `runtime`: the steps run over one datum's bytes, with `camus2kafka-avro`'s reader and its
//!   depth limit.
//!
//! It does not find where datums end in a block (the source's walker does) nor decide which pair
//! goes through it (`source::schemas`).

mod compile;
mod runtime;
#[cfg(test)]
mod tests;

use apache_avro::Schema;
use c2k_avro::{Cursor, DecodeError};

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
    /// `string`, read as `string` or `bytes`, or `bytes` read as `string`: the bytes must be
    /// UTF-8.
    String,
    /// `bytes` read as `bytes`.
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
pub(crate) struct Transcoder {
    steps: Vec<Step>,
    root: StepId,
    /// Rewrite map entries in key order (see [`Transcoder::sorting_maps`]).
    sort_maps: bool,
}

/// A datum that cannot be rewritten: corrupt, or holding a value the reader cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {what}")]
pub(crate) struct TranscodeError {
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
    pub(crate) fn compile(writer: &Schema, reader: &Schema) -> Result<Transcoder, String> {
        compile::build(writer, reader, false)
    }

    /// A transcoder from `schema` to itself that writes every map's entries in key order.
    /// apache-avro's resolution returns maps as a `HashMap`, whose order changes from run to run:
    /// its output goes through this so that a replay is byte-identical twice on that path too.
    pub(crate) fn sorting_maps(schema: &Schema) -> Result<Transcoder, String> {
        compile::build(schema, schema, true)
    }

    /// Appends `datum` (in the writer schema) to `out`, in the reader schema. On error `out` may
    /// hold part of the datum: the caller drops it.
    pub(crate) fn transcode(&self, datum: &[u8], out: &mut Vec<u8>) -> Result<(), TranscodeError> {
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
}
