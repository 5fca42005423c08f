#![doc = include_str!("../README.md")]

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
pub use plugin::{Error, KeyExtractor, Message, OutputFormat, Result};

/// Everything a plugin usually needs: `use c2k_plugin_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::key::KeyWriter;
    #[cfg(feature = "avro")]
    pub use crate::{Datum, Error, KeyExtractor, Message, OutputFormat, Record};
    pub use serde::Deserialize;
}

#[doc(hidden)]
pub use serde_json as __serde_json;
