//! The WebAssembly side of the contract: wit-bindgen bindings for both worlds and the glue the
//! export macros expand to. Plugin authors never touch this module directly.

use std::cell::RefCell;
use std::thread::LocalKey;

pub use wit_bindgen as __wit_bindgen;

use crate::plugin::{KeyExtractor, OutputFormat};
use crate::runtime::{self, BatchRef, FormatRuntime, KeyRuntime};

/// Bindings of the `key-extractor-plugin` world.
pub mod key_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "key-extractor-plugin",
        pub_export_macro: true,
        export_macro_name: "__c2k_export_key_extractor_world",
        runtime_path: "c2k_plugin_sdk::guest::__wit_bindgen::rt",
    });
}

/// Bindings of the `output-format-plugin` world.
pub mod format_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "output-format-plugin",
        pub_export_macro: true,
        export_macro_name: "__c2k_export_output_format_world",
        runtime_path: "c2k_plugin_sdk::guest::__wit_bindgen::rt",
    });
}

use format_world::camus2kafka::plugin::types as format_types;
use format_world::exports::camus2kafka::plugin::output_format as format_wit;
use key_world::camus2kafka::plugin::types as key_types;
use key_world::exports::camus2kafka::plugin::key_extractor as key_wit;

/// Where a plugin instance keeps its state between calls (one per component instance).
pub type Slot<R> = LocalKey<RefCell<Option<R>>>;

const NOT_CONFIGURED: &str = "the plugin was called before `configure`";

/// Makes a panic's message name the record being processed: the host reads the marker from the
/// plugin's (captured) stderr and reports the record index.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| match runtime::current::get() {
        Some(index) => eprintln!("[c2k-record-index={index}] {info}"),
        None => eprintln!("{info}"),
    }));
}

pub fn key_configure<P: KeyExtractor>(
    slot: &'static Slot<KeyRuntime<P>>,
    config: String,
) -> Result<(), String> {
    install_panic_hook();
    let runtime = KeyRuntime::<P>::configure(&config)?;
    slot.with(|s| *s.borrow_mut() = Some(runtime));
    Ok(())
}

pub fn key_register_schema<P: KeyExtractor>(
    slot: &'static Slot<KeyRuntime<P>>,
    schema: key_types::Schema,
) -> Result<(), String> {
    slot.with(|s| match s.borrow_mut().as_mut() {
        Some(runtime) => runtime.register_schema(schema.id, &schema.json),
        None => Err(NOT_CONFIGURED.into()),
    })
}

pub fn key_extract<P: KeyExtractor>(
    slot: &'static Slot<KeyRuntime<P>>,
    batch: key_types::Batch,
) -> Result<key_wit::Keys, key_types::RecordError> {
    slot.with(|s| {
        let state = s.borrow();
        let runtime = state.as_ref().ok_or_else(|| key_types::RecordError {
            index: 0,
            message: NOT_CONFIGURED.into(),
        })?;
        let keys = runtime
            .extract_keys(BatchRef {
                data: &batch.data,
                ends: &batch.ends,
                schema_ids: &batch.schema_ids,
            })
            .map_err(|e| key_types::RecordError {
                index: e.index,
                message: e.message,
            })?;
        Ok(key_wit::Keys {
            data: keys.data,
            ends: keys.ends,
            timestamps_ms: keys.timestamps_ms,
        })
    })
}

pub fn key_floor<P: KeyExtractor>(
    slot: &'static Slot<KeyRuntime<P>>,
    time_ms: i64,
) -> Option<Vec<u8>> {
    slot.with(|s| {
        s.borrow()
            .as_ref()
            .and_then(|runtime| runtime.key_floor(time_ms))
    })
}

pub fn format_configure<P: OutputFormat>(
    slot: &'static Slot<FormatRuntime<P>>,
    config: String,
) -> Result<(), String> {
    install_panic_hook();
    let runtime = FormatRuntime::<P>::configure(&config)?;
    slot.with(|s| *s.borrow_mut() = Some(runtime));
    Ok(())
}

pub fn format_register_schema<P: OutputFormat>(
    slot: &'static Slot<FormatRuntime<P>>,
    schema: format_types::Schema,
) -> Result<(), String> {
    slot.with(|s| match s.borrow_mut().as_mut() {
        Some(runtime) => runtime.register_schema(schema.id, &schema.json),
        None => Err(NOT_CONFIGURED.into()),
    })
}

/// Runs `f` on the configured format runtime, with the batch as the SDK lays it out and the
/// failure as the WIT's record error.
fn with_format<P: OutputFormat, T>(
    slot: &'static Slot<FormatRuntime<P>>,
    batch: &format_types::Batch,
    f: impl FnOnce(&FormatRuntime<P>, BatchRef<'_>) -> Result<T, runtime::RecordError>,
) -> Result<T, format_types::RecordError> {
    slot.with(|s| {
        let state = s.borrow();
        let runtime = state.as_ref().ok_or_else(|| format_types::RecordError {
            index: 0,
            message: NOT_CONFIGURED.into(),
        })?;
        let batch = BatchRef {
            data: &batch.data,
            ends: &batch.ends,
            schema_ids: &batch.schema_ids,
        };
        f(runtime, batch).map_err(|e| format_types::RecordError {
            index: e.index,
            message: e.message,
        })
    })
}

pub fn format_batch<P: OutputFormat>(
    slot: &'static Slot<FormatRuntime<P>>,
    batch: format_types::Batch,
) -> Result<Vec<format_wit::Message>, format_types::RecordError> {
    with_format(slot, &batch, |runtime, batch| {
        runtime.format(batch, |m| format_wit::Message {
            key: m.key,
            value: m.value,
            headers: m
                .headers
                .into_iter()
                .map(|(key, value)| format_wit::Header { key, value })
                .collect(),
            timestamp_ms: m.timestamp_ms,
        })
    })
}

pub fn format_flat<P: OutputFormat>(
    slot: &'static Slot<FormatRuntime<P>>,
    batch: format_types::Batch,
) -> Result<format_wit::Messages, format_types::RecordError> {
    let flat = with_format(slot, &batch, |runtime, batch| runtime.format_flat(batch))?;
    Ok(format_wit::Messages {
        values: flat.values,
        value_ends: flat.value_ends,
        keyed: flat.keyed,
        keys: flat.keys,
        key_ends: flat.key_ends,
        header_ends: flat.header_ends,
        header_names: flat.header_names,
        header_name_ends: flat.header_name_ends,
        header_values: flat.header_values,
        header_value_ends: flat.header_value_ends,
        timestamps_ms: flat.timestamps_ms,
    })
}

/// Exports a [`KeyExtractor`](crate::KeyExtractor) implementation as the plugin's
/// `key-extractor` (call it once, at the crate root of a `cdylib` crate).
#[macro_export]
macro_rules! export_key_extractor {
    ($plugin:ty) => {
        const _: () = {
            use $crate::guest::key_world::exports::camus2kafka::plugin::key_extractor as __wit;

            ::std::thread_local! {
                static __C2K_STATE: ::core::cell::RefCell<
                    ::core::option::Option<$crate::runtime::KeyRuntime<$plugin>>,
                > = const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct __C2kKeyExtractor;

            impl __wit::Guest for __C2kKeyExtractor {
                fn configure(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::guest::key_configure::<$plugin>(&__C2K_STATE, config)
                }
                fn register_schema(
                    schema: __wit::Schema,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::guest::key_register_schema::<$plugin>(&__C2K_STATE, schema)
                }
                fn extract_keys(
                    batch: __wit::Batch,
                ) -> ::core::result::Result<__wit::Keys, __wit::RecordError> {
                    $crate::guest::key_extract::<$plugin>(&__C2K_STATE, batch)
                }
                fn key_floor(time_ms: i64) -> ::core::option::Option<::std::vec::Vec<u8>> {
                    $crate::guest::key_floor::<$plugin>(&__C2K_STATE, time_ms)
                }
            }

            $crate::guest::key_world::__c2k_export_key_extractor_world!(
                __C2kKeyExtractor with_types_in $crate::guest::key_world
            );
        };
    };
}

/// Exports an [`OutputFormat`](crate::OutputFormat) implementation as the plugin's
/// `output-format` (call it once, at the crate root of a `cdylib` crate).
#[macro_export]
macro_rules! export_output_format {
    ($plugin:ty) => {
        const _: () = {
            use $crate::guest::format_world::exports::camus2kafka::plugin::output_format as __wit;

            ::std::thread_local! {
                static __C2K_STATE: ::core::cell::RefCell<
                    ::core::option::Option<$crate::runtime::FormatRuntime<$plugin>>,
                > = const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct __C2kOutputFormat;

            impl __wit::Guest for __C2kOutputFormat {
                fn configure(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::guest::format_configure::<$plugin>(&__C2K_STATE, config)
                }
                fn register_schema(
                    schema: __wit::Schema,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::guest::format_register_schema::<$plugin>(&__C2K_STATE, schema)
                }
                fn format(
                    batch: __wit::Batch,
                ) -> ::core::result::Result<::std::vec::Vec<__wit::Message>, __wit::RecordError>
                {
                    $crate::guest::format_batch::<$plugin>(&__C2K_STATE, batch)
                }
                fn format_flat(
                    batch: __wit::Batch,
                ) -> ::core::result::Result<__wit::Messages, __wit::RecordError> {
                    $crate::guest::format_flat::<$plugin>(&__C2K_STATE, batch)
                }
            }

            $crate::guest::format_world::__c2k_export_output_format_world!(
                __C2kOutputFormat with_types_in $crate::guest::format_world
            );
        };
    };
}
