//! # camus2kafka plugin SDK
//!
//! What a camus2kafka (`c2k`) plugin author depends on. A plugin is a WebAssembly component that
//! either computes a sort key for each record ([`KeyExtractor`]) or turns each record into a
//! Kafka message ([`OutputFormat`]). The author implements one trait with a per-record method and
//! calls one macro ([`export_key_extractor!`] / [`export_output_format!`]); the SDK owns the WIT
//! contract (`wit/camus2kafka.wit`), the memory plumbing and the per-batch loop.
//!
//! The SDK also carries what makes per-record work cheap, usable natively too (feature `avro`
//! without `guest`, as the host does):
//! - [`avro::Projection`]: read one field by dotted path (`header.time`) straight from an Avro
//!   binary datum, with a plan compiled once per schema, without decoding the record;
//! - [`key::KeyWriter`]: order-preserving key encoding (integers, timestamps, strings, bytes,
//!   optional values, tuples), so that the host can sort keys as plain bytes.
//!
//! The Avro binary reader and compiled schemas under [`avro`] are `camus2kafka-avro`'s, which the
//! host walks its input with too.
//!
//! It is not the host: loading, sandboxing and calling plugins is `camus2kafka::plugin`.
//!
//! Build a plugin with `cargo build --release --target wasm32-wasip2` and point the pipeline's
//! `key.plugin` or `format.plugin` at the `.wasm` file. See the README for a complete example.

// The bindings name the SDK by its crate name, also from inside the SDK.
extern crate self as c2k_plugin_sdk;

pub mod key;

#[cfg(feature = "avro")]
pub mod avro;
#[cfg(feature = "avro")]
pub mod extractors;
#[cfg(feature = "avro")]
mod plugin;
#[cfg(feature = "avro")]
pub mod runtime;

#[cfg(feature = "guest")]
#[doc(hidden)]
pub mod guest;

pub use key::KeyWriter;

#[cfg(feature = "avro")]
pub use avro::{Datum, Record};
#[cfg(feature = "avro")]
pub use plugin::{KeyExtractor, Message, OutputFormat};

/// Everything a plugin usually needs: `use c2k_plugin_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::key::KeyWriter;
    #[cfg(feature = "avro")]
    pub use crate::{Datum, KeyExtractor, Message, OutputFormat, Record};
    pub use serde::Deserialize;
}

#[doc(hidden)]
pub use serde_json as __serde_json;
