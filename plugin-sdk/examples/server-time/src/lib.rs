//! Sorts records by server name, then by time within each server.

use c2k_plugin_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

struct ServerTime;

impl KeyExtractor for ServerTime {
    type Config = Config;

    fn new(_: Config) -> Result<Self, String> {
        Ok(ServerTime)
    }

    fn fields(&self) -> Vec<String> {
        vec!["header.server".into(), "header.time".into()]
    }

    fn key(&self, record: &Record, key: &mut KeyWriter) -> Result<Option<i64>, String> {
        let server = record
            .get(0)?
            .and_then(|d| d.as_str())
            .ok_or("no header.server")?;
        let time = record
            .get(1)?
            .and_then(|d| d.as_i64())
            .ok_or("no header.time")?;
        key.str(server).i64(time);
        Ok(Some(time))
    }
}

c2k_plugin_sdk::export_key_extractor!(ServerTime);
