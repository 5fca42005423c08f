//! Avro for plugins: projection reads of single fields by dotted path without decoding whole
//! records, over the binary reader and compiled schemas of `camus2kafka-avro` (re-exported here
//! under their old paths, `avro::binary` and `avro::compiled`, so that the host and every plugin
//! walk Avro with the same code and the same limits).

pub mod datum;
mod json_path;
pub mod projection;

pub use c2k_avro::binary;
pub use c2k_avro::schema as compiled;
pub use c2k_avro::{
    Block, CompiledSchema, Cursor, DecodeError, Kind, Logical, Malformed, Node, NodeId, Shape,
    Validate, MAX_DEPTH,
};
pub use datum::Datum;
pub use projection::{read_leaf, Projection, Record, Registered, TEXT_ENCODING};

#[cfg(test)]
mod tests;
