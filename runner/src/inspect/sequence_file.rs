//! SequenceFile records as JSON lines, for `c2k inspect` (whose owner calls
//! [`json_lines`] when a file starts with `SEQ`). Camus `EtlKey` keys are decoded
//! field by field; other keys and values are shown as hex.

use std::io::{Read, Write};

use anyhow::Result;
use serde_json::{json, Value};

use crate::hadoop::sequencefile::SequenceFileReader;
use crate::offsets::etlkey::{self, EtlKey, Layout};

/// Writes one JSON object per record of the SequenceFile `name` read from `input`.
pub(super) fn json_lines(input: impl Read, name: &str, out: &mut dyn Write) -> Result<()> {
    let mut reader = SequenceFileReader::new(input, name)?;
    let etl_keys = reader.header().key_class.ends_with("EtlKey");
    let mut index = 0u64;
    while let Some(record) = reader.next_record()? {
        let key = if etl_keys {
            etl_key_json(&etlkey::decode_named(&record.key, name, index)?)
        } else {
            Value::String(hex(&record.key))
        };
        let line = json!({ "key": key, "value": hex(&record.value) });
        writeln!(out, "{line}")?;
        index += 1;
    }
    Ok(())
}

fn etl_key_json(key: &EtlKey) -> Value {
    json!({
        "topic": key.topic,
        "partition": key.partition,
        "leader_id": key.leader_id,
        "begin_offset": key.begin_offset,
        "offset": key.offset,
        "checksum": key.checksum,
        "time": key.time,
        "server": key.server,
        "service": key.service,
        "layout": match key.layout { Layout::Legacy => "legacy", Layout::WithPartitionMap => "partition-map" },
        "partition_map": key.partition_map.as_ref().map(|m| {
            m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>()
        }),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hadoop::sequencefile::{Compression, SequenceFileWriter};

    #[test]
    fn etl_keys_print_as_json_objects() {
        let key = EtlKey {
            leader_id: "1".into(),
            partition: 2,
            begin_offset: 3,
            offset: 4,
            checksum: 5,
            topic: "T".into(),
            time: 6,
            server: "s".into(),
            service: "v".into(),
            layout: Layout::Legacy,
            partition_map: None,
        };
        let mut w = SequenceFileWriter::new(
            Vec::new(),
            etlkey::CLASS_NAME,
            "N",
            Compression::None,
            &[],
            [1; 16],
        )
        .unwrap();
        w.append(&key.encode(), &[]).unwrap();
        let bytes = w.finish().unwrap();
        let mut out = Vec::new();
        json_lines(&bytes[..], "f", &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["key"]["topic"], "T");
        assert_eq!(v["key"]["offset"], 4);
        assert_eq!(v["value"], "");
    }
}
