//! The plugins shipped inside the `c2k` binary, addressable by name. `build.rs` builds them from
//! `plugins/` for wasm32-wasip2 and embeds the components.

/// (name, component bytes) of each bundled plugin.
pub(crate) static BUNDLED: &[(&str, &[u8])] = &[
    (
        "time-field",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/time-field.wasm")),
    ),
    (
        "avro-binary",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/avro-binary.wasm")),
    ),
    (
        "json",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/json.wasm")),
    ),
];

/// The component of a bundled plugin by name.
pub(crate) fn bundled(name: &str) -> Option<&'static [u8]> {
    BUNDLED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// Checks that a `*.plugin` value names a bundled plugin, a native one (`native:time-field`,
/// see [`crate::plugin::native`]) or an existing `.wasm` file.
pub fn check_plugin_reference(plugin: &str) -> Result<(), String> {
    use crate::plugin::native;

    if bundled(plugin).is_some() {
        return Ok(());
    }
    if let Some(name) = native::native_name(plugin) {
        return if native::NAMES.contains(&name) {
            Ok(())
        } else {
            let names: Vec<String> = native::NAMES
                .iter()
                .map(|n| format!("{}{n}", native::PREFIX))
                .collect();
            Err(format!(
                "`{plugin}` is not a native plugin (there are: {})",
                names.join(", ")
            ))
        };
    }
    if plugin.ends_with(".wasm") || plugin.contains('/') {
        let path = crate::storage::local::local_path(plugin);
        return if path.is_file() {
            Ok(())
        } else {
            Err(format!("no plugin file at {}", path.display()))
        };
    }
    let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
    Err(format!(
        "`{plugin}` is neither a bundled plugin ({}) nor a path to a .wasm component",
        names.join(", ")
    ))
}
