//! What the two plugin roles share: a component instantiated in its sandbox, whose `configure`,
//! `register-schema` and batch function are looked up by the role's WIT interface and called with
//! the host's data lowered straight from borrowed slices.
//!
//! The bindings `bindgen!` generates take owned arguments (`Batch` with three `Vec`s), which costs
//! one more copy of every batch: measured, about a fifth of a `time-field` call on 270-byte
//! records. So the host calls the exports as dynamic [`Func`]s with the borrowing records below,
//! and uses the generated types only for what the guest returns.

use anyhow::Result;
use wasmtime::component::{ComponentNamedList, ComponentType, Func, Lift, Lower};

use super::sandbox_call::Loaded;
use super::{PluginBatch, PluginError};
use crate::config::PluginConfig;

/// A plugin role: the WIT interface it exports (`plugin-sdk/wit/camus2kafka.wit`) and its
/// batch function.
pub struct Role {
    /// `a key-extractor` or `an output-format`, as errors name it.
    pub name: &'static str,
    pub interface: &'static str,
    pub batch_function: &'static str,
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

/// What `configure` and `register-schema` return.
type Accepted = (Result<(), String>,);

/// A failure the guest reports on one record (the WIT `record-error`): each world's bindings have
/// their own copy of the type.
pub trait RecordFailure {
    fn into_parts(self) -> (u32, String);
}

/// A component playing one role, configured.
pub struct ComponentPlugin {
    loaded: Loaded,
    register_schema: Func,
    batch: Func,
}

/// The interfaces a plugin may export, and what a plugin exporting each is.
const ROLES: [(&str, &str); 2] = [
    (
        "camus2kafka:plugin/key-extractor@0.1.0",
        "a key-extractor (key.plugin)",
    ),
    (
        "camus2kafka:plugin/output-format@0.1.0",
        "an output-format (format.plugin)",
    ),
];

impl ComponentPlugin {
    /// Loads the plugin (`config.plugin`: a bundled name or a `.wasm` path), checks that it
    /// exports `role`'s interface with a batch function returning `Result<T, E>`, and configures
    /// it.
    pub fn load<T, E>(config: &PluginConfig, role: &Role) -> Result<Self>
    where
        (Result<T, E>,): ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let mut loaded = Loaded::load(config)?;
        let not_this_role = |loaded: &Loaded, why: String| {
            loaded.error(
                None,
                format!("cannot be instantiated as {}: {why}", role.name),
            )
        };
        // A plugin built against another contract version is refused before anything else.
        super::contract::check(&loaded.component, loaded.store.engine())
            .map_err(|why| loaded.error(None, why))?;
        let instance = loaded
            .linker
            .instantiate(&mut loaded.store, &loaded.component)
            .map_err(|e| not_this_role(&loaded, format!("{e:#}")))?;
        // A plugin of the other role is named as such, not as a missing export.
        if instance
            .get_export_index(&mut loaded.store, None, role.interface)
            .is_none()
        {
            for (interface, what) in ROLES {
                if instance
                    .get_export_index(&mut loaded.store, None, interface)
                    .is_some()
                {
                    return Err(not_this_role(
                        &loaded,
                        format!(
                            "it is {what} plugin (it exports {interface}, not {})",
                            role.interface
                        ),
                    )
                    .into());
                }
            }
        }
        let mut export = |name: &str| -> Result<Func, PluginError> {
            instance
                .get_export_index(&mut loaded.store, None, role.interface)
                .and_then(|interface| {
                    instance.get_export_index(&mut loaded.store, Some(&interface), name)
                })
                .and_then(|index| instance.get_func(&mut loaded.store, index))
                .ok_or_else(|| {
                    not_this_role(&loaded, format!("no {}#{name} export", role.interface))
                })
        };
        let configure = export("configure")?;
        let register_schema = export("register-schema")?;
        let batch = export(role.batch_function)?;
        configure
            .typed::<(&str,), Accepted>(&loaded.store)
            .and(register_schema.typed::<(BorrowedSchema<'_>,), Accepted>(&loaded.store))
            .and(batch.typed::<(BorrowedBatch<'_>,), (Result<T, E>,)>(&loaded.store))
            .map_err(|e| not_this_role(&loaded, format!("{e:#}")))?;

        let json = config.config.to_string();
        let (configured,) = loaded.call("configure", |store| {
            configure
                .typed::<(&str,), Accepted>(&*store)?
                .call(store, (json.as_str(),))
        })?;
        configured.map_err(|e| loaded.error(None, format!("rejected its config {json}: {e}")))?;
        Ok(ComponentPlugin {
            loaded,
            register_schema,
            batch,
        })
    }

    /// Tells the plugin about a schema later batches refer to by `id`.
    pub fn register_schema(&mut self, id: u32, json: &str) -> Result<()> {
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

    /// Calls the batch function. `T` is what it returns on success, `E` its per-record error.
    pub fn call_batch<T, E>(&mut self, what: &str, batch: &PluginBatch) -> Result<T, PluginError>
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
