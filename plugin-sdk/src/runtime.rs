//! The per-batch loops around a plugin's per-record method, independent of WebAssembly (so that
//! they are tested natively and usable by a host that compiles a plugin in).

use crate::avro::{Projection, Record};
use crate::key::KeyWriter;
use crate::plugin::{describe, parse_config, Error, KeyExtractor, Message, OutputFormat};

/// A failure on record `index` of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub index: u32,
    pub message: String,
}

/// The keys of one batch: key `i` is `data[ends[i-1]..ends[i]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchKeys {
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
    /// Empty when no record had an event time, else one entry per record.
    pub timestamps_ms: Vec<Option<i64>>,
}

/// A batch as the contract lays it out: record `i` is `data[ends[i-1]..ends[i]]` in schema
/// `schema_ids[i]`.
#[derive(Debug, Clone, Copy)]
pub struct BatchRef<'a> {
    pub data: &'a [u8],
    pub ends: &'a [u32],
    pub schema_ids: &'a [u32],
}

/// The index of the record being processed, so that a panic can name it (see `guest`).
/// Per thread: natively, several workers may run extractors at once.
pub mod current {
    use std::cell::Cell;

    std::thread_local! {
        static INDEX: Cell<u32> = const { Cell::new(u32::MAX) };
    }

    pub fn set(index: u32) {
        INDEX.with(|i| i.set(index));
    }

    /// The record index being processed, if inside a batch.
    pub fn get() -> Option<u32> {
        match INDEX.with(Cell::get) {
            u32::MAX => None,
            i => Some(i),
        }
    }
}

/// The message of a plugin's error on `record`; when it speaks of a field the record's schema
/// lacks, what that means (the usual cause: an old record, an older writer schema).
fn explain(error: Error, record: &Record<'_>) -> String {
    let message = describe(&*error);
    if message.contains("source.schema") {
        return message;
    }
    let named = record.fields_not_in_schema().into_iter().find(|path| {
        let last = path.rsplit('.').next().unwrap_or(path);
        message.contains(last)
    });
    match named {
        Some(path) => format!("{message} ({})", record.missing_hint(path)),
        None => message,
    }
}

/// Iterates the records of a batch, checking the layout once per record.
fn records<'a>(
    batch: BatchRef<'a>,
) -> impl Iterator<Item = (u32, Result<(u32, &'a [u8]), String>)> + 'a {
    let mut start = 0usize;
    batch.ends.iter().enumerate().map(move |(i, &end)| {
        let end = end as usize;
        let slice = if start <= end && end <= batch.data.len() {
            Ok(&batch.data[start..end])
        } else {
            Err(format!("record {i} ends at byte {end}, outside the batch"))
        };
        start = end;
        let id = batch
            .schema_ids
            .get(i)
            .copied()
            .ok_or_else(|| format!("record {i} has no schema id"));
        (i as u32, id.and_then(|id| slice.map(|s| (id, s))))
    })
}

/// A configured key extractor and its projection.
pub struct KeyRuntime<P: KeyExtractor> {
    plugin: P,
    projection: Projection,
}

impl<P: KeyExtractor> KeyRuntime<P> {
    /// Builds the plugin from its JSON configuration.
    pub fn configure(config: &str) -> Result<Self, String> {
        let plugin = P::new(parse_config(config)?).map_err(|e| describe(&*e))?;
        let projection = Projection::new(plugin.fields());
        Ok(KeyRuntime { plugin, projection })
    }

    pub fn register_schema(&mut self, id: u32, json: &str) -> Result<(), String> {
        self.projection.register(id, json)
    }

    /// [`KeyExtractor::key_floor`].
    pub fn key_floor(&self, time_ms: i64) -> Option<Vec<u8>> {
        self.plugin.key_floor(time_ms)
    }

    /// One key per record, written into one buffer.
    pub fn extract_keys(&self, batch: BatchRef<'_>) -> Result<BatchKeys, RecordError> {
        let n = batch.ends.len();
        let mut out = BatchKeys {
            data: Vec::with_capacity(n * 16),
            ends: Vec::with_capacity(n),
            timestamps_ms: Vec::with_capacity(n),
        };
        let mut any_time = false;
        for (index, record) in records(batch) {
            current::set(index);
            let fail = |message| RecordError { index, message };
            let (id, datum) = record.map_err(fail)?;
            let record = self.projection.record(id, datum).map_err(fail)?;
            let time = self
                .plugin
                .key(&record, &mut KeyWriter::new(&mut out.data))
                .map_err(|e| fail(explain(e, &record)))?;
            any_time |= time.is_some();
            out.ends.push(out.data.len() as u32);
            out.timestamps_ms.push(time);
        }
        current::set(u32::MAX);
        if !any_time {
            out.timestamps_ms.clear();
        }
        Ok(out)
    }
}

/// A configured output format and its projection.
pub struct FormatRuntime<P: OutputFormat> {
    plugin: P,
    projection: Projection,
    /// Output value bytes per 1,024 input bytes in the last flat batch, so that the next one's
    /// value buffer is sized once (json writes about twice what it reads, avro-binary as much).
    growth: std::cell::Cell<u64>,
}

impl<P: OutputFormat> FormatRuntime<P> {
    /// Builds the plugin from its JSON configuration.
    pub fn configure(config: &str) -> Result<Self, String> {
        let plugin = P::new(parse_config(config)?).map_err(|e| describe(&*e))?;
        let projection = Projection::new(plugin.fields());
        Ok(FormatRuntime {
            plugin,
            projection,
            growth: std::cell::Cell::new(1024),
        })
    }

    pub fn register_schema(&mut self, id: u32, json: &str) -> Result<(), String> {
        self.projection.register(id, json)
    }

    /// One message per record, each converted by `convert` into the caller's message type
    /// (the guest's WIT record) as soon as it is made.
    pub fn format<M>(
        &self,
        batch: BatchRef<'_>,
        mut convert: impl FnMut(Message) -> M,
    ) -> Result<Vec<M>, RecordError> {
        let mut out = Vec::with_capacity(batch.ends.len());
        self.each_message(batch, |message| out.push(convert(std::mem::take(message))))?;
        Ok(out)
    }

    /// One message per record, laid out flat (the contract's `messages`): one plugin message is
    /// reused for every record, so a batch costs a few buffers, not allocations per message.
    pub fn format_flat(&self, batch: BatchRef<'_>) -> Result<FlatMessages, RecordError> {
        // In u64: usize is 32 bits in the sandbox.
        let input = (batch.data.len() as u64).max(1);
        // A sixteenth more than the last batch's ratio: slack for a batch of longer records.
        let expected = input * self.growth.get() / 1024;
        let capacity = usize::try_from(expected + expected / 16).unwrap_or(usize::MAX / 2);
        let mut out = FlatMessages::with_capacity(batch.ends.len(), capacity.min(1 << 24));
        self.each_message(batch, |message| {
            out.push(message);
            message.clear();
        })?;
        self.growth
            .set((out.values.len() as u64 * 1024 / input).clamp(1, 1 << 20));
        Ok(out.finish())
    }

    /// Calls the plugin on every record of the batch with `message`, empty (what `emit` leaves
    /// in it is the next record's starting point), and hands each filled message to `emit`.
    fn each_message(
        &self,
        batch: BatchRef<'_>,
        mut emit: impl FnMut(&mut Message),
    ) -> Result<(), RecordError> {
        let mut message = Message::default();
        for (index, record) in records(batch) {
            current::set(index);
            let fail = |message| RecordError { index, message };
            let (id, datum) = record.map_err(fail)?;
            let record = self.projection.record(id, datum).map_err(fail)?;
            if message.value.capacity() == 0 {
                message.value.reserve(datum.len() + 8);
            }
            self.plugin
                .format(&record, &mut message)
                .map_err(|e| fail(explain(e, &record)))?;
            emit(&mut message);
        }
        current::set(u32::MAX);
        Ok(())
    }
}

/// The messages of one batch laid out flat, as the contract's `messages` record (see
/// `wit/camus2kafka.wit`): values, keys and headers each in one buffer with end offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlatMessages {
    pub values: Vec<u8>,
    pub value_ends: Vec<u32>,
    /// Empty when no message has a key, else one entry per message.
    pub keyed: Vec<bool>,
    pub keys: Vec<u8>,
    /// Empty when no message has a key, else one entry per message.
    pub key_ends: Vec<u32>,
    /// Empty when no message has a header, else one entry per message.
    pub header_ends: Vec<u32>,
    pub header_names: String,
    pub header_name_ends: Vec<u32>,
    pub header_values: Vec<u8>,
    pub header_value_ends: Vec<u32>,
    /// Empty when no message has a timestamp, else one entry per message.
    pub timestamps_ms: Vec<Option<i64>>,
}

impl FlatMessages {
    fn with_capacity(messages: usize, bytes: usize) -> Self {
        FlatMessages {
            values: Vec::with_capacity(bytes),
            value_ends: Vec::with_capacity(messages),
            key_ends: Vec::with_capacity(messages),
            header_ends: Vec::with_capacity(messages),
            keyed: Vec::with_capacity(messages),
            timestamps_ms: Vec::with_capacity(messages),
            ..FlatMessages::default()
        }
    }

    /// Appends one message. Keys, headers and timestamps get an entry for every message; the
    /// columns no message used are emptied by [`finish`](Self::finish).
    fn push(&mut self, message: &Message) {
        self.values.extend_from_slice(&message.value);
        self.value_ends.push(self.values.len() as u32);
        self.keyed.push(message.key.is_some());
        if let Some(key) = &message.key {
            self.keys.extend_from_slice(key);
        }
        self.key_ends.push(self.keys.len() as u32);
        for (name, value) in &message.headers {
            self.header_names.push_str(name);
            self.header_name_ends.push(self.header_names.len() as u32);
            self.header_values.extend_from_slice(value);
            self.header_value_ends.push(self.header_values.len() as u32);
        }
        self.header_ends.push(self.header_name_ends.len() as u32);
        self.timestamps_ms.push(message.timestamp_ms);
    }

    /// Empties the columns that say nothing: no key, no header, no timestamp in the batch.
    fn finish(mut self) -> Self {
        if !self.keyed.contains(&true) {
            self.keyed.clear();
            self.key_ends.clear();
        }
        if self.header_name_ends.is_empty() {
            self.header_ends.clear();
        }
        if self.timestamps_ms.iter().all(Option::is_none) {
            self.timestamps_ms.clear();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Error;

    const V1: &str = r#"{"type": "record", "name": "PageView", "namespace": "com.example",
        "fields": [{"name": "time", "type": "long"}]}"#;
    const V2: &str = r#"{"type": "record", "name": "PageView", "namespace": "com.example",
        "fields": [{"name": "time", "type": "long"},
                   {"name": "country", "type": ["null", "string"]}]}"#;

    /// A format plugin that reads `country` by name and requires it, listing `fields` as
    /// configured (`[]`: one that forgot `fields()`), or reading by position with `get`.
    struct Country {
        fields: Vec<String>,
        by_position: bool,
    }

    #[derive(serde::Deserialize)]
    struct CountryConfig {
        fields: Vec<String>,
        #[serde(default)]
        by_position: bool,
    }

    impl OutputFormat for Country {
        type Config = CountryConfig;
        fn new(config: CountryConfig) -> Result<Self, Error> {
            Ok(Country {
                fields: config.fields,
                by_position: config.by_position,
            })
        }
        fn fields(&self) -> Vec<String> {
            self.fields.clone()
        }
        fn format(&self, record: &Record<'_>, message: &mut Message) -> Result<(), Error> {
            let country = if self.by_position {
                record.get(1)?.ok_or("no country")?
            } else {
                record.require("country")?
            };
            message.value = country.as_str().ok_or("not a string")?.as_bytes().to_vec();
            // An ordinary error type crosses `?` too.
            let _: u32 = "7".parse()?;
            Ok(())
        }
    }

    fn format_one(config: &str, schema: &str, datum: &[u8]) -> Result<Vec<u8>, String> {
        let mut runtime = FormatRuntime::<Country>::configure(config)?;
        runtime.register_schema(3, schema)?;
        runtime
            .format(
                BatchRef {
                    data: datum,
                    ends: &[datum.len() as u32],
                    schema_ids: &[3],
                },
                |m| m.value,
            )
            .map(|mut values| values.remove(0))
            .map_err(|e| e.message)
    }

    #[test]
    fn a_plugin_that_forgot_fields_is_told_to_list_them() {
        // time 1, country "FR" (union branch 1, length 2).
        let v2 = [2, 2, 4, b'F', b'R'];
        let by_name = format_one(r#"{"fields": []}"#, V2, &v2).unwrap_err();
        assert!(
            by_name.contains("reads field `country` but its fields() lists none")
                && by_name.contains(r#"vec!["country".into()]"#),
            "{by_name}"
        );
        let by_position =
            format_one(r#"{"fields": [], "by_position": true}"#, V2, &v2).unwrap_err();
        assert!(
            by_position.contains("field #1 but its fields() lists none")
                && !by_position.contains("projection ([])"),
            "{by_position}"
        );
        let not_listed = format_one(r#"{"fields": ["time"]}"#, V2, &v2).unwrap_err();
        assert!(
            not_listed.contains("fields() lists only time: add `country` to fields()"),
            "{not_listed}"
        );
        assert_eq!(
            format_one(r#"{"fields": ["time", "country"]}"#, V2, &v2).unwrap(),
            b"FR"
        );
    }

    #[test]
    fn a_field_missing_from_old_records_names_their_schema_and_source_schema() {
        let required = format_one(r#"{"fields": ["time", "country"]}"#, V1, &[2]).unwrap_err();
        assert!(
            required
                .contains("field `country` is not in this record's schema com.example.PageView")
                && required.contains("writer schema of its file")
                && required.contains("set source.schema to a reader schema"),
            "{required}"
        );
        // The plugin's own error on such a record gets the same explanation.
        let own = format_one(
            r#"{"fields": ["time", "country"], "by_position": true}"#,
            V1,
            &[2],
        )
        .unwrap_err();
        assert!(
            own.starts_with("no country (field `country` is not in this record's schema")
                && own.contains("source.schema"),
            "{own}"
        );
        // An error about something else gets no such note.
        let mut projection = Projection::new(vec!["time".into(), "country".into()]);
        projection.register(1, V1).unwrap();
        let record = projection.record(1, &[2]).unwrap();
        assert_eq!(
            explain("value too large".into(), &record),
            "value too large"
        );
        assert!(explain("no country".into(), &record).contains("source.schema"));
        // A null country is null, not missing.
        let null = format_one(r#"{"fields": ["time", "country"]}"#, V2, &[2, 0]).unwrap_err();
        assert_eq!(null, "field `country` is null");
    }

    #[test]
    fn errors_of_new_carry_their_sources() {
        struct Strict;
        impl KeyExtractor for Strict {
            type Config = serde_json::Value;
            fn new(config: serde_json::Value) -> Result<Self, Error> {
                let limit: u8 = config["limit"].as_str().unwrap_or("").parse()?;
                Err(format!("limit {limit} is too small").into())
            }
            fn fields(&self) -> Vec<String> {
                Vec::new()
            }
            fn key(&self, _: &Record<'_>, _: &mut KeyWriter<'_>) -> Result<Option<i64>, Error> {
                Ok(None)
            }
        }
        let parse = KeyRuntime::<Strict>::configure(r#"{"limit": "x"}"#)
            .err()
            .unwrap();
        assert_eq!(parse, "invalid digit found in string");
        let own = KeyRuntime::<Strict>::configure(r#"{"limit": "3"}"#)
            .err()
            .unwrap();
        assert_eq!(own, "limit 3 is too small");
    }

    /// A format whose messages use every part: a key and a header on odd times, a timestamp on
    /// times above 2, and a value built by pushing (the reused buffer must start empty).
    struct Parts;
    impl OutputFormat for Parts {
        type Config = serde_json::Value;
        fn new(_: serde_json::Value) -> Result<Self, Error> {
            Ok(Parts)
        }
        fn fields(&self) -> Vec<String> {
            vec!["time".into()]
        }
        fn format(&self, record: &Record<'_>, message: &mut Message) -> Result<(), Error> {
            let time = record.require("time")?.as_i64().ok_or("not a long")?;
            message.value.extend_from_slice(time.to_string().as_bytes());
            if time % 2 == 1 {
                message.key = Some(vec![time as u8; time as usize]);
                message
                    .headers
                    .push((format!("h{time}é"), vec![7; time as usize]));
            }
            message.timestamp_ms = (time > 2).then_some(time * 10);
            Ok(())
        }
    }

    #[test]
    fn flat_messages_are_the_messages_laid_out_flat() {
        let mut runtime = FormatRuntime::<Parts>::configure("{}").unwrap();
        runtime.register_schema(0, V1).unwrap();
        // Times 1, 2, 3, 4 (zig-zag 2, 4, 6, 8).
        let batch = BatchRef {
            data: &[2, 4, 6, 8],
            ends: &[1, 2, 3, 4],
            schema_ids: &[0; 4],
        };
        let messages = runtime.format(batch, |m| m).unwrap();
        let flat = runtime.format_flat(batch).unwrap();
        assert_eq!(flat.values, b"1234");
        assert_eq!(flat.value_ends, [1, 2, 3, 4]);
        assert_eq!(flat.keyed, [true, false, true, false]);
        assert_eq!(flat.keys, [1, 3, 3, 3]);
        assert_eq!(flat.key_ends, [1, 1, 4, 4]);
        assert_eq!(flat.header_ends, [1, 1, 2, 2]);
        assert_eq!(flat.header_names, "h1éh3é");
        assert_eq!(flat.header_name_ends, [4, 8]);
        assert_eq!(flat.header_values, [7, 7, 7, 7]);
        assert_eq!(flat.header_value_ends, [1, 4]);
        assert_eq!(flat.timestamps_ms, [None, None, Some(30), Some(40)]);
        assert_eq!(messages[2].key.as_deref(), Some(&[3, 3, 3][..]));
        assert_eq!(messages[3].value, b"4");

        // Columns no message uses are empty.
        let even = runtime
            .format_flat(BatchRef {
                data: &[4, 4],
                ends: &[1, 2],
                schema_ids: &[0; 2],
            })
            .unwrap();
        assert_eq!(even.values, b"22");
        assert!(even.keyed.is_empty() && even.key_ends.is_empty());
        assert!(even.header_ends.is_empty() && even.timestamps_ms.is_empty());
    }
}
