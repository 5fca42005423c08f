//! `time-field`: sorts records by one time field (`field`, a dotted path, default `time`).
//!
//! Keys are in microseconds so that `long`/`int` milliseconds (what Camus records carry),
//! `timestamp-millis` and `timestamp-micros` fields order together. A record without the field
//! (absent from its schema, or null) is an error by default, or sorts before (`first`) or after
//! (`last`) every other record.

use serde::Deserialize;

use crate::avro::Record;
use crate::key::KeyWriter;
use crate::plugin::KeyExtractor;

/// The `config` of `time-field`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeFieldConfig {
    /// Dotted path of the time field.
    #[serde(default = "default_field")]
    pub field: String,
    /// What a record without the field does.
    #[serde(default)]
    pub on_missing: OnMissing,
}

fn default_field() -> String {
    "time".into()
}

/// What happens to a record whose time field is absent or null.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnMissing {
    /// Fail the run, naming the record.
    #[default]
    Error,
    /// Sort before every record with a time.
    First,
    /// Sort after every record with a time.
    Last,
}

/// The `time-field` key extractor.
pub struct TimeField {
    field: String,
    on_missing: OnMissing,
}

impl KeyExtractor for TimeField {
    type Config = TimeFieldConfig;

    fn new(config: TimeFieldConfig) -> crate::Result<Self> {
        if config.field.split('.').any(str::is_empty) {
            return Err(format!("field `{}` is not a dotted path", config.field).into());
        }
        Ok(TimeField {
            field: config.field,
            on_missing: config.on_missing,
        })
    }

    fn fields(&self) -> Vec<String> {
        vec![self.field.clone()]
    }

    fn key(&self, record: &Record<'_>, key: &mut KeyWriter<'_>) -> crate::Result<Option<i64>> {
        let Some(value) = record.get(0)? else {
            match self.on_missing {
                OnMissing::Error => {
                    return Err(format!(
                        "time field `{}` is missing or null (set on_missing: first | last to \
                         sort such records first or last)",
                        self.field
                    )
                    .into())
                }
                OnMissing::First => key.absent_first(),
                OnMissing::Last => key.absent_last(),
            };
            return Ok(None);
        };
        let micros = value.as_timestamp_micros().ok_or_else(|| {
            format!(
                "time field `{}` holds {value:?}, not a long, int or timestamp",
                self.field
            )
        })?;
        key.present().timestamp_micros(micros);
        Ok(Some(micros.div_euclid(1000)))
    }

    /// A record with a time at or after `time_ms` has a present time of at least that many
    /// microseconds, and its key is that; records without a time sort before every present one
    /// (`on_missing: first`) or after (`last`), and are outside the promise.
    fn key_floor(&self, time_ms: i64) -> Option<Vec<u8>> {
        let mut floor = Vec::with_capacity(10);
        KeyWriter::new(&mut floor)
            .present()
            .timestamp_micros(time_ms.saturating_mul(1000));
        Some(floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{BatchRef, KeyRuntime};

    /// The keys of records whose time field `t` is a long of milliseconds (zig-zag varints).
    fn keys_of(times: &[i64], on_missing: &str) -> Vec<Vec<u8>> {
        let config = format!(r#"{{"field": "t", "on_missing": "{on_missing}"}}"#);
        let mut plugin = KeyRuntime::<TimeField>::configure(&config).unwrap();
        plugin
            .register_schema(
                0,
                r#"{"type": "record", "name": "E", "fields": [{"name": "t", "type": "long"}]}"#,
            )
            .unwrap();
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for &t in times {
            let mut zigzag = ((t << 1) ^ (t >> 63)) as u64;
            loop {
                let byte = (zigzag & 0x7f) as u8;
                zigzag >>= 7;
                if zigzag == 0 {
                    data.push(byte);
                    break;
                }
                data.push(byte | 0x80);
            }
            ends.push(data.len() as u32);
        }
        let keys = plugin
            .extract_keys(BatchRef {
                data: &data,
                ends: &ends,
                schema_ids: &vec![0; times.len()],
            })
            .unwrap();
        let mut start = 0;
        keys.ends
            .iter()
            .map(|&end| {
                let key = keys.data[start as usize..end as usize].to_vec();
                start = end;
                key
            })
            .collect()
    }

    #[test]
    fn the_key_floor_of_a_time_is_below_every_key_from_that_time_on_and_above_the_rest() {
        let times = [-5_000, -1, 0, 999, 1_000, 1_001, 3_600_000, i64::MAX / 1000];
        let keys = keys_of(&times, "error");
        let plugin = TimeField::new(TimeFieldConfig {
            field: "t".into(),
            on_missing: OnMissing::Error,
        })
        .unwrap();
        for floor_time in [-5_000, 0, 1_000, 1_001, 3_600_000] {
            let floor = plugin.key_floor(floor_time).unwrap();
            for (time, key) in times.iter().zip(&keys) {
                assert_eq!(
                    *key >= floor,
                    *time >= floor_time,
                    "time {time} against the floor of {floor_time}"
                );
            }
        }
    }
}
