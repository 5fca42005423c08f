//! `c2k plugin new NAME --kind key|format`: a plugin crate of its own, outside this repository,
//! that builds with one `cargo build --release --target wasm32-wasip2`, tests natively with
//! `cargo test`, and runs with `c2k plugin test` or a pipeline.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Which role the new plugin has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Key,
    Format,
}

/// Writes the crate `dir/NAME` and returns its folder. `sdk` is the SDK's folder (a path
/// dependency); `None`: the SDK of the source tree this `c2k` was built from.
pub fn new_plugin(name: &str, kind: Kind, dir: &Path, sdk: Option<&Path>) -> Result<PathBuf> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
    {
        bail!(
            "plugin name `{name}`: use a crate name, lowercase letters, digits, - and _, \
             starting with a letter"
        );
    }
    let sdk = match sdk {
        Some(path) => path.to_path_buf(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk"),
    };
    let sdk = sdk.canonicalize().with_context(|| {
        format!(
            "the plugin SDK is not at {} (give its folder with --sdk: plugin-sdk/ of a \
             camus2kafka checkout)",
            sdk.display()
        )
    })?;
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists: nothing written", root.display());
    }
    let lib_name = name.replace('-', "_");
    let files: [(&str, String); 4] = [
        ("Cargo.toml", cargo_toml(name, &sdk)),
        (
            "src/lib.rs",
            match kind {
                Kind::Key => KEY_LIB.to_string(),
                Kind::Format => FORMAT_LIB.to_string(),
            },
        ),
        ("pipeline.yaml", pipeline(kind, &lib_name)),
        ("README.md", readme(name, kind, &lib_name, &sdk)),
    ];
    for (relative, text) in files {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(root)
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"# A camus2kafka plugin. Build: cargo build --release --target wasm32-wasip2
# (rustup target add wasm32-wasip2 once). Test natively: cargo test.
[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
# The SDK by path; from a git checkout elsewhere, `{{ git = "URL", tag = "..." }}` works the same.
# It builds plugins for the contract camus2kafka:plugin@{contract} (`c2k --version` says which
# contract versions a c2k loads).
camus2kafka-plugin-sdk = {{ path = "{}" }}
serde = {{ version = "1", features = ["derive"] }}

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"

# Not part of any enclosing workspace.
[workspace]
"#,
        sdk.display(),
        contract = crate::plugin::contract::LOADS[0]
    )
}

fn pipeline(kind: Kind, lib_name: &str) -> String {
    let wasm = format!("target/wasm32-wasip2/release/{lib_name}.wasm");
    let (key, format) = match kind {
        Kind::Key => (
            format!("  plugin: {wasm}\n  config: {{}}\n"),
            "  plugin: json\n".to_string(),
        ),
        Kind::Format => (
            "  plugin: time-field\n  config: {field: header.time}\n".to_string(),
            format!("  plugin: {wasm}\n  config: {{}}\n"),
        ),
    };
    format!(
        "# Try it on c2k's sample tree: c2k sample sample && c2k run pipeline.yaml\n\
         topic: PAGE_VIEWS\nsource:\n  dest_dir: sample/destination\n  schema: sample/page_view.avsc\n\
         key:\n{key}format:\n{format}\
         # envelope: one JSON line per message with its key, value, headers, timestamp, partition\n\
         sink:\n  type: file\n  path: out.jsonl\n  framing: envelope\n\
         offsets:\n  exec_dir: sample/execution\n"
    )
}

fn readme(name: &str, kind: Kind, lib_name: &str, sdk: &Path) -> String {
    let role = match kind {
        Kind::Key => "key extractor (`key.plugin`)",
        Kind::Format => "output format (`format.plugin`)",
    };
    format!(
        "# {name}\n\nA camus2kafka {role}.\n\n\
         ```sh\ncargo test                                         # the unit tests, natively\n\
         cargo build --release --target wasm32-wasip2        # target/wasm32-wasip2/release/{lib_name}.wasm\n\
         c2k sample sample                                   # a Camus tree to try it on\n\
         c2k plugin test target/wasm32-wasip2/release/{lib_name}.wasm --input sample/destination -n 5\n\
         c2k run pipeline.yaml                               # the whole job, into out.jsonl\n```\n\n\
         `out.jsonl` holds one JSON line per message (`sink.framing: envelope`): its `key`, \
         `value`, `headers`, `timestamp_ms` and replay `partition`, what a Kafka consumer would \
         receive. Bytes that are not UTF-8 show as `key_base64` / `value_base64`.\n\n\
         The SDK's guide (reading fields, sort keys, errors, compatibility): {}/README.md, or \
         `cargo doc --open -p camus2kafka-plugin-sdk` here.\n",
        sdk.display()
    )
}

const KEY_LIB: &str = r##"//! A key extractor: sorts records by `country` (ascending, records without one last), then by
//! `header.time`, newest first. The host sorts keys as plain bytes; `KeyWriter` encodes values so
//! that byte order is value order.

use c2k_plugin_sdk::prelude::*;

/// The plugin's configuration (`key.config`): the two fields, with defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_country")]
    country: String,
    #[serde(default = "default_time")]
    time: String,
}

fn default_country() -> String {
    "country".into()
}

fn default_time() -> String {
    "header.time".into()
}

pub struct CountryThenNewest {
    country: String,
    time: String,
}

impl KeyExtractor for CountryThenNewest {
    type Config = Config;

    /// An `Err` here (any error: `?` converts it) fails `c2k validate` and `c2k run` at start.
    fn new(config: Config) -> Result<Self, Error> {
        if config.time.is_empty() {
            return Err("time: give the dotted path of the time field".into());
        }
        Ok(CountryThenNewest {
            country: config.country,
            time: config.time,
        })
    }

    /// Every field `key` reads, by dotted path (the SDK reads only these, straight from the
    /// Avro bytes): `record.field(path)` reads one by name, `record.get(i)` by position here.
    fn fields(&self) -> Vec<String> {
        vec![self.country.clone(), self.time.clone()]
    }

    /// Writes the record's key and returns its event time (the message timestamp).
    fn key(&self, record: &Record, key: &mut KeyWriter) -> Result<Option<i64>, Error> {
        // `field`: `None` when the record has no country (or a null one).
        let country = record.field(&self.country)?.and_then(|d| d.as_str());
        // `require`: an error naming the record's schema when the field is missing.
        let time = record
            .require(&self.time)?
            .as_i64()
            .ok_or_else(|| format!("{} is not a number", self.time))?;
        // Country ascending, records without one last; then time descending (newest first).
        key.option_str_last(country).i64_desc(time);
        Ok(Some(time))
    }
}

#[cfg(target_arch = "wasm32")]
c2k_plugin_sdk::export_key_extractor!(CountryThenNewest);

#[cfg(test)]
mod tests {
    use super::*;
    use c2k_plugin_sdk::runtime::{BatchRef, KeyRuntime};

    const SCHEMA: &str = r#"{"type": "record", "name": "E", "fields": [
        {"name": "country", "type": ["null", "string"]},
        {"name": "header", "type": {"type": "record", "name": "H",
            "fields": [{"name": "time", "type": "long"}]}}]}"#;

    /// Avro's zig-zag varint.
    fn long(out: &mut Vec<u8>, v: i64) {
        let mut n = ((v << 1) ^ (v >> 63)) as u64;
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    /// One record's Avro binary datum.
    fn datum(country: Option<&str>, time: i64) -> Vec<u8> {
        let mut out = Vec::new();
        match country {
            None => long(&mut out, 0),
            Some(c) => {
                long(&mut out, 1);
                long(&mut out, c.len() as i64);
                out.extend_from_slice(c.as_bytes());
            }
        }
        long(&mut out, time);
        out
    }

    #[test]
    fn country_ascending_then_newest_first() {
        let mut plugin = KeyRuntime::<CountryThenNewest>::configure("{}").unwrap();
        plugin.register_schema(0, SCHEMA).unwrap();
        let records = [(Some("FR"), 1), (None, 9), (Some("DE"), 2), (Some("FR"), 5)];
        let (mut data, mut ends) = (Vec::new(), Vec::new());
        for (country, time) in records {
            data.extend(datum(country, time));
            ends.push(data.len() as u32);
        }
        let keys = plugin
            .extract_keys(BatchRef { data: &data, ends: &ends, schema_ids: &[0; 4] })
            .unwrap();
        let mut start = 0;
        let mut sorted: Vec<(Vec<u8>, usize)> = Vec::new();
        for (i, &end) in keys.ends.iter().enumerate() {
            sorted.push((keys.data[start as usize..end as usize].to_vec(), i));
            start = end;
        }
        sorted.sort();
        let order: Vec<usize> = sorted.into_iter().map(|(_, i)| i).collect();
        assert_eq!(order, vec![2, 3, 0, 1]);
        assert_eq!(keys.timestamps_ms, vec![Some(1), Some(9), Some(2), Some(5)]);
    }
}
"##;

const FORMAT_LIB: &str = r##"//! An output format: each message's value is one CSV line `country,time`, its key the country,
//! and a `source-schema` header with the record's schema name.

use c2k_plugin_sdk::prelude::*;

/// The plugin's configuration (`format.config`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The value's separator.
    #[serde(default = "default_separator")]
    separator: String,
}

fn default_separator() -> String {
    ",".into()
}

pub struct Csv {
    separator: String,
}

impl OutputFormat for Csv {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Csv {
            separator: config.separator,
        })
    }

    /// Every field `format` reads, by dotted path (the SDK reads only these, straight from the
    /// Avro bytes): `record.field(path)` reads one by name, `record.get(i)` by position here.
    fn fields(&self) -> Vec<String> {
        vec!["country".into(), "header.time".into()]
    }

    /// Fills in one message: value, key, headers, timestamp (`None` would let the host use the
    /// key plugin's event time). An `Err` (any error) fails the run, naming file and record.
    fn format(&self, record: &Record<'_>, message: &mut Message) -> Result<(), Error> {
        let country = record.field("country")?.and_then(|d| d.as_str()).unwrap_or("");
        let time = record
            .require("header.time")?
            .as_i64()
            .ok_or("header.time is not a number")?;
        message.value.extend_from_slice(country.as_bytes());
        message.value.extend_from_slice(self.separator.as_bytes());
        message.value.extend_from_slice(time.to_string().as_bytes());
        message.key = Some(country.as_bytes().to_vec());
        message.timestamp_ms = Some(time);
        // The record's schema name (`com.example.PageView`) as a header.
        message
            .headers
            .push(("source-schema".into(), record.schema_name().into_bytes()));
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
c2k_plugin_sdk::export_output_format!(Csv);

#[cfg(test)]
mod tests {
    use super::*;
    use c2k_plugin_sdk::runtime::{BatchRef, FormatRuntime};

    const SCHEMA: &str = r#"{"type": "record", "name": "E", "fields": [
        {"name": "country", "type": "string"},
        {"name": "header", "type": {"type": "record", "name": "H",
            "fields": [{"name": "time", "type": "long"}]}}]}"#;

    #[test]
    fn one_csv_line_per_record() {
        let mut plugin = FormatRuntime::<Csv>::configure(r#"{"separator": ";"}"#).unwrap();
        plugin.register_schema(0, SCHEMA).unwrap();
        // country "FR" (length 2 as a zig-zag varint: 4), time 3 (zig-zag: 6).
        let data = [4, b'F', b'R', 6];
        let messages = plugin
            .format(BatchRef { data: &data, ends: &[4], schema_ids: &[0] }, |m| m)
            .unwrap();
        assert_eq!(messages[0].value, b"FR;3");
        assert_eq!(messages[0].key.as_deref(), Some(&b"FR"[..]));
        assert_eq!(messages[0].timestamp_ms, Some(3));
        assert_eq!(messages[0].headers, vec![("source-schema".to_string(), b"E".to_vec())]);
    }
}
"##;
