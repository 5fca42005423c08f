//! `time-field`: sorts records by one time field (`field`, a dotted path, default `time`).
//!
//! Keys are in microseconds so that `long`/`int` milliseconds (what Camus records carry),
//! `timestamp-millis` and `timestamp-micros` fields order together. A record without the field
//! (absent from its schema, or null) is an error by default, or sorts before (`first`) or after
//! (`last`) every other record.

use c2k_plugin_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_field")]
    field: String,
    #[serde(default)]
    on_missing: OnMissing,
}

fn default_field() -> String {
    "time".into()
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum OnMissing {
    #[default]
    Error,
    First,
    Last,
}

pub struct TimeField {
    field: String,
    on_missing: OnMissing,
}

impl KeyExtractor for TimeField {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.field.split('.').any(str::is_empty) {
            return Err(format!("field `{}` is not a dotted path", config.field));
        }
        Ok(TimeField {
            field: config.field,
            on_missing: config.on_missing,
        })
    }

    fn fields(&self) -> Vec<String> {
        vec![self.field.clone()]
    }

    fn key(&self, record: &Record<'_>, key: &mut KeyWriter<'_>) -> Result<Option<i64>, String> {
        let Some(value) = record.get(0)? else {
            match self.on_missing {
                OnMissing::Error => {
                    return Err(format!(
                        "time field `{}` is missing or null (set on_missing: first | last to \
                         sort such records first or last)",
                        self.field
                    ))
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

c2k_plugin_sdk::export_key_extractor!(TimeField);
