//! What the two plugin roles share: a component instantiated in its sandbox, whose `configure`,
//! `register-schema` and batch function are looked up by the role's WIT interface and called with
//! the host's data lowered straight from borrowed slices.
//!
//! The bindings `bindgen!` generates take owned arguments (`Batch` with three `Vec`s), which costs
//! one more copy of every batch: measured, about a fifth of a `time-field` call on 270-byte
//! records. So the host calls the exports as dynamic [`Func`]s with the borrowing records below,
//! and uses the generated types only for what the guest returns.

use anyhow::Result;
use wasmtime::component::{ComponentNamedList, ComponentType, Func, Instance, Lift, Lower};

use super::contract;
use super::sandbox_call::Loaded;
use super::{PluginBatch, PluginError};
use crate::config::PluginConfig;

/// The key-extractor interface, without its version.
pub(super) const KEY_INTERFACE: &str = "camus2kafka:plugin/key-extractor";

/// The contract version that added `key-extractor.key-floor`.
const KEY_FLOOR_SINCE: &str = "0.1.2";

/// A plugin role: the WIT interface it exports (`plugin-sdk/wit/camus2kafka.wit`), without its
/// version, and its batch function at each contract version.
pub(super) struct Role {
    /// `a key-extractor` or `an output-format`, as errors name it.
    pub name: &'static str,
    /// `camus2kafka:plugin/key-extractor`: exported as `NAME@VERSION`.
    pub interface: &'static str,
    /// The batch function of a component built against a contract version.
    pub batch_function: fn(version: &str) -> &'static str,
}

/// The WIT `batch` record, lowered from the host's slices.
#[derive(ComponentType, Lower)]
#[component(record)]
struct BorrowedBatch<'a> {
    #[component(name = "data")]
    data: &'a [u8],
    #[component(name = "ends")]
    ends: &'a [u32],
    #[component(name = "schema-ids")]
    schema_ids: &'a [u32],
}

/// The WIT `schema` record, lowered from a borrowed string.
#[derive(ComponentType, Lower)]
#[component(record)]
struct BorrowedSchema<'a> {
    #[component(name = "id")]
    id: u32,
    #[component(name = "json")]
    json: &'a str,
}

/// Why a component that does not export `role`'s interface cannot play it: it plays the other
/// role, or none.
fn other_role(loaded: &mut Loaded, instance: &Instance, role: &Role) -> PluginError {
    for (other, what) in ROLES {
        for (_, name) in versions(other) {
            if instance
                .get_export_index(&mut loaded.store, None, &name)
                .is_some()
            {
                return not_this_role(
                    loaded,
                    role,
                    format!(
                        "it is {what} plugin (it exports {name}, not {})",
                        role.interface
                    ),
                );
            }
        }
    }
    not_this_role(
        loaded,
        role,
        format!("it exports no {} interface", role.interface),
    )
}

/// What `configure` and `register-schema` return.
type Accepted = (Result<(), String>,);

/// A failure the guest reports on one record (the WIT `record-error`): each world's bindings have
/// their own copy of the type.
pub(super) trait RecordFailure {
    fn into_parts(self) -> (u32, String);
}

/// A component playing one role, configured.
pub(super) struct ComponentPlugin {
    loaded: Loaded,
    /// The contract version the component is called as, one of [`contract::LOADS`]: the one it
    /// was built against, or the older one `load` was asked to call it as.
    pub version: &'static str,
    register_schema: Func,
    batch: Func,
    /// `key-floor`, which key extractors export since 0.1.2.
    key_floor: Option<Func>,
}

/// The interfaces a plugin may export, and what a plugin exporting each is.
const ROLES: [(&str, &str); 2] = [
    (
        "camus2kafka:plugin/key-extractor",
        "a key-extractor (key.plugin)",
    ),
    (
        "camus2kafka:plugin/output-format",
        "an output-format (format.plugin)",
    ),
];

/// `interface` at each contract version this host loads, newest first.
fn versions(interface: &str) -> impl Iterator<Item = (&'static str, String)> + '_ {
    contract::LOADS
        .iter()
        .map(move |version| (*version, format!("{interface}@{version}")))
}

/// `loaded` cannot play `role`, for the reason `why`.
fn not_this_role(loaded: &Loaded, role: &Role, why: String) -> PluginError {
    loaded.error(
        None,
        format!("cannot be instantiated as {}: {why}", role.name),
    )
}

impl ComponentPlugin {
    /// Loads the plugin (`config.plugin`: a bundled name or a `.wasm` path), checks that it
    /// exports `role`'s interface at a contract version this host loads, and configures it. The
    /// role checks the batch function's type with [`check_batch`](Self::check_batch).
    /// `call_as` calls the plugin as a host of that older version would (its batch function),
    /// when the component's version is newer: minor versions only add.
    pub(super) fn load(
        config: &PluginConfig,
        role: &Role,
        call_as: Option<&'static str>,
    ) -> Result<Self> {
        let mut loaded = Loaded::load(config)?;
        // A plugin built against another contract version is refused before anything else.
        contract::check(&loaded.component, loaded.store.engine())
            .map_err(|why| loaded.error(None, why))?;
        let instance = loaded
            .linker
            .instantiate(&mut loaded.store, &loaded.component)
            .map_err(|e| not_this_role(&loaded, role, format!("{e:#}")))?;
        // The version is read from the component's own export names: wasmtime's lookup by name
        // matches semver-compatibly, so `…@0.1.1` would also find a component's `…@0.1.0`.
        let exported =
            contract::exported_version(&loaded.component, loaded.store.engine(), role.interface);
        let found = versions(role.interface)
            .filter(|(version, _)| exported == Some(*version))
            .find_map(|(version, name)| {
                instance
                    .get_export_index(&mut loaded.store, None, &name)
                    .map(|index| (version, name, index))
            });
        let Some((version, interface_name, interface)) = found else {
            return Err(other_role(&mut loaded, &instance, role).into());
        };
        let mut export = |name: &str| -> Result<Func, PluginError> {
            instance
                .get_export_index(&mut loaded.store, Some(&interface), name)
                .and_then(|index| instance.get_func(&mut loaded.store, index))
                .ok_or_else(|| {
                    not_this_role(&loaded, role, format!("no {interface_name}#{name} export"))
                })
        };
        let configure = export("configure")?;
        let register_schema = export("register-schema")?;
        let version = match call_as {
            Some(older) if contract::is_older(older, version) => older,
            _ => version,
        };
        let batch = export((role.batch_function)(version))?;
        let key_floor = match role.interface {
            KEY_INTERFACE if !contract::is_older(version, KEY_FLOOR_SINCE) => {
                Some(export("key-floor")?)
            }
            _ => None,
        };
        configure
            .typed::<(&str,), Accepted>(&loaded.store)
            .and(register_schema.typed::<(BorrowedSchema<'_>,), Accepted>(&loaded.store))
            .map_err(|e| not_this_role(&loaded, role, format!("{e:#}")))?;

        let json = config.config.to_string();
        let (configured,) = loaded.call("configure", |store| {
            configure
                .typed::<(&str,), Accepted>(&*store)?
                .call(store, (json.as_str(),))
        })?;
        configured.map_err(|e| loaded.error(None, format!("rejected its config {json}: {e}")))?;
        Ok(ComponentPlugin {
            loaded,
            version,
            register_schema,
            batch,
            key_floor,
        })
    }

    /// Checks that the batch function returns `Result<T, E>` (the role's types for
    /// [`version`](Self::version)).
    pub(super) fn check_batch<T, E>(&self, role: &Role) -> Result<(), PluginError>
    where
        (Result<T, E>,): ComponentNamedList + Lift + Send + Sync + 'static,
    {
        self.batch
            .typed::<(BorrowedBatch<'_>,), (Result<T, E>,)>(&self.loaded.store)
            .map(|_| ())
            .map_err(|e| not_this_role(&self.loaded, role, format!("{e:#}")))
    }

    /// Tells the plugin about a schema later batches refer to by `id`. Text records go only to
    /// a component that knows them (contract 0.1.3): an older one would take their bytes for
    /// Avro, so it is refused, naming its version.
    pub(super) fn register_schema(&mut self, id: u32, json: &str) -> Result<()> {
        if json == crate::source::format::TEXT_ENCODING
            && contract::is_older(self.version, contract::TEXT_RECORDS_SINCE)
        {
            return Err(self
                .loaded
                .error(
                    None,
                    format!(
                        "was built against the plugin contract {}@{}, which carries Avro \
                         records only, and this archive's records are text (Camus' text or \
                         SequenceFile writer): rebuild the plugin with a \
                         camus2kafka-plugin-sdk for {}@{} or later (see the compatibility \
                         table in plugin-sdk/README.md)",
                        contract::PACKAGE,
                        self.version,
                        contract::PACKAGE,
                        contract::TEXT_RECORDS_SINCE
                    ),
                )
                .into());
        }
        let func = self.register_schema;
        let (result,) = self.loaded.call("register-schema", |store| {
            func.typed::<(BorrowedSchema<'_>,), Accepted>(&*store)?
                .call(store, (BorrowedSchema { id, json },))
        })?;
        result.map_err(|e| {
            self.loaded
                .error(None, format!("rejected schema {id}: {e}"))
                .into()
        })
    }

    /// The key extractor's `key-floor` for `time_ms` (`None` from a component older than 0.1.2).
    pub(super) fn key_floor(&mut self, time_ms: i64) -> Result<Option<Vec<u8>>> {
        let Some(func) = self.key_floor else {
            return Ok(None);
        };
        let (floor,) = self.loaded.call("key-floor", |store| {
            func.typed::<(i64,), (Option<Vec<u8>>,)>(&*store)?
                .call(store, (time_ms,))
        })?;
        Ok(floor)
    }

    /// A failure of the plugin's answer as a whole (not tied to one record).
    pub(super) fn error(&self, message: String) -> PluginError {
        self.loaded.error(None, message)
    }

    /// Calls the batch function. `T` is what it returns on success, `E` its per-record error.
    pub(super) fn call_batch<T, E>(
        &mut self,
        what: &str,
        batch: &PluginBatch,
    ) -> Result<T, PluginError>
    where
        (Result<T, E>,): ComponentNamedList + Lift + Send + Sync + 'static,
        E: RecordFailure,
    {
        let request = BorrowedBatch {
            data: batch.data,
            ends: batch.ends,
            schema_ids: batch.schema_ids,
        };
        let func = self.batch;
        let (result,) = self.loaded.call(what, |store| {
            // The type check is a comparison of two interned types: cheap next to a batch.
            func.typed::<(BorrowedBatch<'_>,), (Result<T, E>,)>(&*store)?
                .call(store, (request,))
        })?;
        result.map_err(|e| {
            let (index, message) = e.into_parts();
            self.loaded.error(Some(index), message)
        })
    }
}
