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
}
