//! The two traits a plugin implements: one method per record, typed configuration, and the
//! error type their methods return.

use serde::de::DeserializeOwned;

use crate::avro::Record;
use crate::key::KeyWriter;

/// What a plugin method returns on failure: any error (`?` converts `std::io::Error`,
/// `serde_json::Error`, `String`, `&str`, ... into it). The run fails with its message (and the
/// messages of its sources), naming the plugin, the file and the record.
///
/// ```
/// use c2k_plugin_sdk::Error;
///
/// fn parse_limit(text: &str) -> Result<u32, Error> {
///     let limit: u32 = text.parse()?; // a ParseIntError
///     if limit == 0 {
///         return Err("limit must be positive".into()); // a &str
///     }
///     Ok(limit)
/// }
/// assert_eq!(parse_limit("12").unwrap(), 12);
/// assert_eq!(parse_limit("0").unwrap_err().to_string(), "limit must be positive");
/// assert!(parse_limit("x").is_err());
/// ```
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result<T, Error>`, the return type of every plugin method.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error's message followed by those of its sources (`a: b: c`), as the host shows it.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Many errors repeat their source's message in their own; say it once.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Computes the sort key of each record.
///
/// A complete key extractor, tried natively with the SDK's [`runtime`](crate::runtime) (what
/// `cargo test` of a plugin crate does; the wasm build adds one line,
/// `c2k_plugin_sdk::export_key_extractor!(ByTime);`):
///
/// ```
/// use c2k_plugin_sdk::prelude::*;
/// use c2k_plugin_sdk::runtime::{BatchRef, KeyRuntime};
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Config {
///     #[serde(default = "default_field")]
///     field: String,
/// }
/// fn default_field() -> String { "time".into() }
///
/// struct ByTime { field: String }
///
/// impl KeyExtractor for ByTime {
///     type Config = Config;
///     fn new(config: Config) -> Result<Self, Error> {
///         Ok(ByTime { field: config.field })
///     }
///     fn fields(&self) -> Vec<String> {
///         vec![self.field.clone()]
///     }
///     fn key(&self, record: &Record, key: &mut KeyWriter) -> Result<Option<i64>, Error> {
///         // By name (or `record.get(0)`, by position in `fields()`); an absent field is an
///         // error naming the record's schema.
///         let time = record.require(&self.field)?.as_i64().ok_or("time is not a number")?;
///         key.i64_desc(time); // newest first
///         Ok(Some(time))
///     }
/// }
///
/// let mut plugin = KeyRuntime::<ByTime>::configure("{}").unwrap();
/// plugin
///     .register_schema(0, r#"{"type": "record", "name": "E",
///                             "fields": [{"name": "time", "type": "long"}]}"#)
///     .unwrap();
/// // Two records, time 1 and time 2 (Avro zig-zag varints 2 and 4).
/// let keys = plugin
///     .extract_keys(BatchRef { data: &[2, 4], ends: &[1, 2], schema_ids: &[0, 0] })
///     .unwrap();
/// let (first, second) = keys.data.split_at(keys.ends[0] as usize);
/// assert!(second < first, "time 2 sorts before time 1");
/// assert_eq!(keys.timestamps_ms, vec![Some(1), Some(2)]);
/// ```
pub trait KeyExtractor: Sized + 'static {
    /// The plugin's `config` from the pipeline YAML (`{}` when absent). Use
    /// `#[serde(deny_unknown_fields)]` so that a typo is an error.
    type Config: DeserializeOwned;

    /// Called once per run with the configuration. An `Err` fails the run (and `c2k validate`)
    /// before any record is read.
    fn new(config: Self::Config) -> Result<Self>;

    /// The dotted paths this plugin reads: `record.get(i)` returns the value at `fields()[i]`,
    /// `record.field(path)` the value at `path`.
    fn fields(&self) -> Vec<String>;

    /// Writes the key of one record and returns its event time in milliseconds since the epoch,
    /// if it has one (the host uses it as the message timestamp). An `Err` fails the run and
    /// names this record.
    fn key(&self, record: &Record<'_>, key: &mut KeyWriter<'_>) -> Result<Option<i64>>;

    /// The smallest key any record whose event time is `time_ms` or later can get, when the
    /// keys order records by event time first, ascending. With it `c2k` streams an archive that
    /// Camus bucketed by time (`sort.mode: auto`): it sends a time bucket's records once every
    /// later bucket is known to sort after them, instead of sorting the whole archive first. It
    /// checks every record's key against the floors it relied on, so a wrong floor stops a run,
    /// never reorders one. `None` (the default): keys are not ordered by time first.
    fn key_floor(&self, time_ms: i64) -> Option<Vec<u8>> {
        let _ = time_ms;
        None
    }
}

/// One output message; the SDK hands an empty one per record to [`OutputFormat::format`] (the
/// same one each time, cleared, so that its buffers are reused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Milliseconds since the epoch; `None` lets the host use the key extractor's event time.
    pub timestamp_ms: Option<i64>,
}

impl Message {
    /// Empties the message, keeping the value's buffer.
    pub(crate) fn clear(&mut self) {
        self.key = None;
        self.value.clear();
        self.headers.clear();
        self.timestamp_ms = None;
    }
}

/// Turns each record into a message.
///
/// A complete output format (a CSV line, the country as key, a header), tried natively; the
/// wasm build adds `c2k_plugin_sdk::export_output_format!(Csv);`:
///
/// ```
/// use std::io::Write;
///
/// use c2k_plugin_sdk::prelude::*;
/// use c2k_plugin_sdk::runtime::{BatchRef, FormatRuntime};
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Config {}
///
/// struct Csv;
///
/// impl OutputFormat for Csv {
///     type Config = Config;
///     fn new(_: Config) -> Result<Self, Error> {
///         Ok(Csv)
///     }
///     // Every field `format` reads must be listed here.
///     fn fields(&self) -> Vec<String> {
///         vec!["country".into(), "time".into()]
///     }
///     fn format(&self, record: &Record, message: &mut Message) -> Result<(), Error> {
///         let country = record.field("country")?.and_then(|d| d.as_str()).unwrap_or("");
///         let time = record.require("time")?.as_i64().ok_or("time is not a number")?;
///         // Written into the message's buffer, which the SDK reuses from record to record.
///         write!(message.value, "{country},{time}")?;
///         message.key = Some(country.as_bytes().to_vec());
///         message.headers.push(("schema".into(), record.schema().name().map_or(
///             b"?".to_vec(), |n| n.fullname(None).into_bytes())));
///         message.timestamp_ms = Some(time);
///         Ok(())
///     }
/// }
///
/// let mut plugin = FormatRuntime::<Csv>::configure("{}").unwrap();
/// plugin
///     .register_schema(0, r#"{"type": "record", "name": "E", "fields": [
///         {"name": "country", "type": "string"}, {"name": "time", "type": "long"}]}"#)
///     .unwrap();
/// // country "FR" (length 2: zig-zag 4), time 3 (zig-zag 6).
/// let messages = plugin
///     .format(BatchRef { data: &[4, b'F', b'R', 6], ends: &[4], schema_ids: &[0] }, |m| m)
///     .unwrap();
/// assert_eq!(messages[0].value, b"FR,3");
/// assert_eq!(messages[0].key.as_deref(), Some(&b"FR"[..]));
/// assert_eq!(messages[0].headers, vec![("schema".to_string(), b"E".to_vec())]);
/// assert_eq!(messages[0].timestamp_ms, Some(3));
/// ```
pub trait OutputFormat: Sized + 'static {
    /// The plugin's `config` from the pipeline YAML (`{}` when absent).
    type Config: DeserializeOwned;

    /// Called once per run with the configuration. An `Err` fails the run (and `c2k validate`)
    /// before any record is read.
    fn new(config: Self::Config) -> Result<Self>;

    /// The dotted paths this plugin reads with `record.get(i)` or `record.field(path)` (none by
    /// default: a plugin that only copies `record.datum()` reads no field).
    fn fields(&self) -> Vec<String> {
        Vec::new()
    }

    /// Fills in the message for one record. An `Err` fails the run and names this record.
    fn format(&self, record: &Record<'_>, message: &mut Message) -> Result<()>;
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
