//! # camus2kafka Avro core
//!
//! The one walker of Avro binary data that the host (`camus2kafka`) and the plugin SDK
//! (`camus2kafka-plugin-sdk`, compiled into WebAssembly guests) share:
//! - [`binary`]: the bounds-checked reader of the binary encoding ([`Cursor`]), zig-zag varints
//!   and the one error type of malformed data ([`DecodeError`]);
//! - [`schema`]: an `apache_avro::Schema` compiled once into a flat table of nodes
//!   ([`CompiledSchema`]), named and recursive types resolved to node ids;
//! - [`schema_text`]: schema text parsed as deep as Avro data may nest, not as serde_json's
//!   default recursion limit allows;
//! - [`skip`]: where one datum ends without decoding it, either validating every value the host
//!   must not pass on corrupt ([`Validate::Strict`]) or as fast as the bytes allow
//!   ([`Validate::Fast`]).
//!
//! It is not a decoder into values (apache-avro is), not schema resolution (the host's
//! transcoder), and knows nothing of plugins, files or Kafka. It must build for wasm32-wasip2.

pub mod binary;
pub mod schema;
pub mod schema_text;
pub mod skip;

pub use binary::{Block, Cursor, DecodeError, Malformed};
pub use schema::{CompiledSchema, Kind, Logical, Node, NodeId, SchemaError, Shape};
pub use skip::Validate;

/// How deeply values may nest (each record field, union branch, array item or map value is one
/// level) before a datum is rejected as corrupt. Only recursive schemas reach it; it guards the
/// stack, the smallest of which is a WebAssembly guest's. Every walker of Avro data in the
/// project uses this one limit, so that a datum the host accepted is one every plugin can read.
pub const MAX_DEPTH: u32 = 256;

#[cfg(test)]
mod tests;
