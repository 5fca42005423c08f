//! Sorts records by server name, then by time within each server.

use c2k_plugin_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

struct ServerTime;

impl KeyExtractor for ServerTime {
    type Config = Config;

    fn new(_: Config) -> Result<Self, Error> {
        Ok(ServerTime)
    }

    fn fields(&self) -> Vec<String> {
        vec!["header.server".into(), "header.time".into()]
    }

    fn key(&self, record: &Record, key: &mut KeyWriter) -> Result<Option<i64>, Error> {
        let server = record
            .require("header.server")?
            .as_str()
            .ok_or("server is not a string")?;
        let time = record
            .require("header.time")?
            .as_i64()
            .ok_or("time is not a number")?;
        key.str(server).i64(time);
        Ok(Some(time))
    }
}

c2k_plugin_sdk::export_key_extractor!(ServerTime);
