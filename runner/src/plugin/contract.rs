//! The plugin contract's version: the WIT package `camus2kafka:plugin@VERSION`
//! (`plugin-sdk/wit/camus2kafka.wit`). A component names the package version it was built
//! against in every interface it exports (`camus2kafka:plugin/key-extractor@0.1.1`); this host
//! loads the versions in [`LOADS`] and refuses any other before instantiating it, naming both.
//! 0.1.1 added `format-flat` to the output format; a 0.1.0 format plugin is called with `format`.
//! 0.1.2 added `key-floor` to the key extractor; a key extractor of 0.1.1 or 0.1.0 has none, and
//! its keys are taken as not ordered by time (the archive is sorted whole).
//! 0.1.3 added text records (the schema `"c2k:text"`); a component older than 0.1.3 is given
//! Avro records only, and an archive of text records refuses it, naming both versions.

use wasmtime::component::Component;
use wasmtime::Engine;

/// The WIT package of the contract.
pub(crate) const PACKAGE: &str = "camus2kafka:plugin";

/// The package versions this host loads, newest first: the WIT in `plugin-sdk/wit/` (what the
/// SDK builds and `c2k plugin new` scaffolds) and the older minor versions of its major version.
pub(crate) const LOADS: &[&str] = &["0.1.3", "0.1.2", "0.1.1", "0.1.0"];

/// The contract version that added text records (the schema `"c2k:text"`).
pub(crate) const TEXT_RECORDS_SINCE: &str = "0.1.3";

/// What `c2k --version` prints: the host's version and the contract versions it loads.
pub const VERSION_TEXT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nplugin contract (WIT package): camus2kafka:plugin@0.1.3, camus2kafka:plugin@0.1.2, \
     camus2kafka:plugin@0.1.1, camus2kafka:plugin@0.1.0"
);

/// The contract names a component exports or imports, with the version each carries (`None`:
/// unversioned).
fn contract_names(component: &Component, engine: &Engine) -> Vec<(String, Option<String>)> {
    let ty = component.component_type();
    let prefix = format!("{PACKAGE}/");
    ty.exports(engine)
        .map(|(name, _)| name)
        .chain(ty.imports(engine).map(|(name, _)| name))
        .filter(|name| name.starts_with(&prefix))
        .map(|name| match name.split_once('@') {
            Some((_, version)) => (name.to_string(), Some(version.to_string())),
            None => (name.to_string(), None),
        })
        .collect()
}

/// Whether loaded version `a` is older than loaded version `b` ([`LOADS`] is newest first).
pub(crate) fn is_older(a: &str, b: &str) -> bool {
    let at = |v: &str| LOADS.iter().position(|loaded| *loaded == v);
    at(a) > at(b)
}

/// The version at which `component` exports `interface` (`camus2kafka:plugin/output-format`), if
/// it exports it at all.
pub(crate) fn exported_version(
    component: &Component,
    engine: &Engine,
    interface: &str,
) -> Option<&'static str> {
    let prefix = format!("{interface}@");
    component
        .component_type()
        .exports(engine)
        .filter_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_string))
        .find_map(|version| LOADS.iter().copied().find(|loaded| *loaded == version))
}

/// Refuses a component built against a contract version this host does not load, saying which
/// version it was built for and which this host loads. A component that names the contract not
/// at all passes (and is then reported as lacking the role's export).
pub(crate) fn check(component: &Component, engine: &Engine) -> Result<(), String> {
    for (name, version) in contract_names(component, engine) {
        let loaded = version.as_deref().is_some_and(|v| LOADS.contains(&v));
        if !loaded {
            let built_for = match &version {
                Some(v) => format!("{PACKAGE}@{v}"),
                None => format!("an unversioned {PACKAGE}"),
            };
            let loads: Vec<String> = LOADS.iter().map(|v| format!("{PACKAGE}@{v}")).collect();
            return Err(format!(
                "it was built against the plugin contract {built_for} (it uses {name}), but \
                 this c2k {} loads {} only: rebuild the plugin with a camus2kafka-plugin-sdk \
                 for {} (see the compatibility table in plugin-sdk/README.md), or run it with a \
                 c2k that loads {built_for}",
                env!("CARGO_PKG_VERSION"),
                loads.join(", "),
                loads.join(" or ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The versions said here are the WIT's: the file's `package` line, the role interfaces, the
    /// `--version` text.
    #[test]
    fn the_loaded_version_is_the_wit_packages() {
        let wit = include_str!("../../../plugin-sdk/wit/camus2kafka.wit");
        let declared = format!("package {PACKAGE}@{};", LOADS[0]);
        assert!(
            wit.contains(&declared),
            "the WIT does not declare {declared}"
        );
        let all: Vec<String> = LOADS.iter().map(|v| format!("{PACKAGE}@{v}")).collect();
        assert!(VERSION_TEXT.ends_with(&all.join(", ")), "{VERSION_TEXT}");
        for interface in [super::super::KEY_INTERFACE, super::super::FORMAT_INTERFACE] {
            assert!(interface.starts_with(PACKAGE) && !interface.contains('@'));
        }
    }
}
