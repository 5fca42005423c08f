//! Avro for plugins: the binary reader, schemas compiled into node tables, and projection reads
//! of single fields by dotted path without decoding whole records.

pub mod binary;
pub mod compiled;
pub mod datum;
pub mod projection;

pub use binary::{Cursor, DecodeError};
pub use compiled::{CompiledSchema, Kind, Logical, Node, NodeId};
pub use datum::Datum;
pub use projection::{read_leaf, Projection, Record, Registered};

#[cfg(test)]
mod tests;
