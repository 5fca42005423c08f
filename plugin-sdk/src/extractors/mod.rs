//! Ready-made plugins, written once against the SDK traits and compiled twice: as the bundled
//! WebAssembly components (`plugins/`, a thin `export_key_extractor!` each) and natively into the
//! host (`key.plugin: native:<name>`), so that a benchmark compares the same code on both sides.

mod time_field;

pub use time_field::{OnMissing, TimeField, TimeFieldConfig};
