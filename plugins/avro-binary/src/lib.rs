//! `avro-binary`: each message's value is the record's Avro binary datum, unchanged (the host has
//! already resolved it to the reader schema). Optionally a message key from one field
//! (`key_field`) and the Confluent wire header (`confluent_schema_id`: magic byte 0, then the
//! schema id as 4 big-endian bytes).
//!
//! A text record (a JSON topic archived by Camus' text or SequenceFile writer, contract 0.1.3)
//! passes through the same way: the message's bytes as the live topic carried them.

use c2k_plugin_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    key_field: Option<String>,
    #[serde(default)]
    confluent_schema_id: Option<u32>,
}

pub struct AvroBinary {
    key_field: Option<String>,
    header: Option<[u8; 5]>,
}

impl OutputFormat for AvroBinary {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        Ok(AvroBinary {
            key_field: config.key_field,
            header: config.confluent_schema_id.map(|id| {
                let id = id.to_be_bytes();
                [0, id[0], id[1], id[2], id[3]]
            }),
        })
    }

    fn fields(&self) -> Vec<String> {
        self.key_field.iter().cloned().collect()
    }

    fn format(&self, record: &Record<'_>, message: &mut Message) -> Result<(), Error> {
        if let Some(header) = &self.header {
            if record.is_text() {
                return Err("confluent_schema_id frames Avro records, and this archive's \
                            records are text: unset it"
                    .into());
            }
            message.value.extend_from_slice(header);
        }
        message.value.extend_from_slice(record.datum());
        if self.key_field.is_some() {
            message.key = record.get(0)?.and_then(|d| d.to_key_bytes());
        }
        Ok(())
    }
}

c2k_plugin_sdk::export_output_format!(AvroBinary);
