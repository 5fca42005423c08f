//! The two traits a plugin implements: one method per record, typed configuration.

use serde::de::DeserializeOwned;

use crate::avro::Record;
use crate::key::KeyWriter;

/// Computes the sort key of each record.
///
/// ```
/// # use c2k_plugin_sdk::prelude::*;
/// # #[derive(Deserialize)]
/// # struct Config {}
/// # struct ByTime;
/// impl KeyExtractor for ByTime {
///     type Config = Config;
///     fn new(config: Config) -> Result<Self, String> { Ok(ByTime) }
///     fn fields(&self) -> Vec<String> { vec!["header.time".into()] }
///     fn key(&self, record: &Record, key: &mut KeyWriter) -> Result<Option<i64>, String> {
///         let time = record.get(0)?.and_then(|d| d.as_i64()).ok_or("no header.time")?;
///         key.i64(time);
///         Ok(Some(time))
///     }
/// }
/// ```
pub trait KeyExtractor: Sized + 'static {
    /// The plugin's `config` from the pipeline YAML (`{}` when absent). Use
    /// `#[serde(deny_unknown_fields)]` so that a typo is an error.
    type Config: DeserializeOwned;

    /// Called once per run with the configuration.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// The dotted paths this plugin reads: `record.get(i)` returns the value at `fields()[i]`.
    fn fields(&self) -> Vec<String>;

    /// Writes the key of one record and returns its event time in milliseconds since the epoch,
    /// if it has one (the host uses it as the message timestamp). An `Err` fails the run and
    /// names this record.
    fn key(&self, record: &Record<'_>, key: &mut KeyWriter<'_>) -> Result<Option<i64>, String>;
}

/// One output message; the SDK hands a fresh one per record to [`OutputFormat::format`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Milliseconds since the epoch; `None` lets the host use the key extractor's event time.
    pub timestamp_ms: Option<i64>,
}

/// Turns each record into a message.
pub trait OutputFormat: Sized + 'static {
    /// The plugin's `config` from the pipeline YAML (`{}` when absent).
    type Config: DeserializeOwned;

    /// Called once per run with the configuration.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// The dotted paths this plugin reads with `record.get(i)` (none by default).
    fn fields(&self) -> Vec<String> {
        Vec::new()
    }

    /// Fills in the message for one record. An `Err` fails the run and names this record.
    fn format(&self, record: &Record<'_>, message: &mut Message) -> Result<(), String>;
}

/// Parses a plugin's JSON configuration; `null` and the empty string count as `{}`.
pub(crate) fn parse_config<C: DeserializeOwned>(json: &str) -> Result<C, String> {
    let json = json.trim();
    let json = if json.is_empty() || json == "null" {
        "{}"
    } else {
        json
    };
    serde_json::from_str(json).map_err(|e| format!("invalid plugin config {json}: {e}"))
}
