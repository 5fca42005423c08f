//! The JSON form of a message — key, value, headers, timestamp — shared by `sink.framing:
//! envelope` (with the replay partition) and `c2k plugin test`, so that a format plugin's whole
//! output can be read without a broker. Bytes are text when they are valid UTF-8 (`value`) and
//! base64 otherwise (`value_base64`): the field's name says which.

use base64::Engine as _;
use serde_json::{Map, Value as Json};

use crate::record::OutMessage;

/// Inserts `bytes` as `name` (UTF-8 text) or `name_base64` (anything else).
pub(crate) fn insert_bytes(object: &mut Map<String, Json>, name: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => object.insert(name.to_string(), Json::String(text.to_string())),
        Err(_) => object.insert(
            format!("{name}_base64"),
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
    };
}

/// `{"key": ..., "headers": [{"key": ..., "value": ...}], "timestamp_ms": ..., "value": ...}`;
/// an absent key is `"key": null`.
pub(crate) fn message_json(
    key: Option<&[u8]>,
    value: &[u8],
    headers: &[(String, Vec<u8>)],
    timestamp_ms: Option<i64>,
) -> Map<String, Json> {
    let mut object = Map::new();
    match key {
        Some(key) => insert_bytes(&mut object, "key", key),
        None => {
            object.insert("key".into(), Json::Null);
        }
    }
    let headers = headers
        .iter()
        .map(|(name, value)| {
            let mut header = Map::new();
            header.insert("key".into(), Json::String(name.clone()));
            insert_bytes(&mut header, "value", value);
            Json::Object(header)
        })
        .collect();
    object.insert("headers".into(), Json::Array(headers));
    object.insert("timestamp_ms".into(), timestamp_ms.into());
    insert_bytes(&mut object, "value", value);
    object
}

/// One envelope line (without its newline): the message and its replay partition — the
/// original record's partition, where `sink.partitioning: source` (the default) publishes it;
/// null when the file name did not tell it.
pub(crate) fn envelope_line(message: &OutMessage) -> Vec<u8> {
    let mut object = message_json(
        message.key.as_deref(),
        &message.value,
        &message.headers,
        message.timestamp_ms,
    );
    object.insert("partition".into(), message.source_partition.into());
    // A map of strings and numbers always serialises.
    serde_json::to_vec(&Json::Object(object)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_text_and_other_bytes_are_base64_under_a_name_that_says_so() {
        let message = OutMessage {
            key: Some(vec![0xff, 0x00]),
            value: b"FR,3".to_vec().into(),
            headers: vec![("schema".into(), b"E".to_vec()), ("raw".into(), vec![0xc3])],
            timestamp_ms: Some(3),
            source_partition: Some(2),
            origin: None,
        };
        let line: Json = serde_json::from_slice(&envelope_line(&message)).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "key_base64": "/wA=",
                "value": "FR,3",
                "headers": [{"key": "schema", "value": "E"}, {"key": "raw", "value_base64": "ww=="}],
                "timestamp_ms": 3,
                "partition": 2,
            })
        );
        let bare: Json = serde_json::from_slice(&envelope_line(&OutMessage::default())).unwrap();
        assert_eq!(
            bare,
            serde_json::json!({"key": null, "value": "", "headers": [], "timestamp_ms": null,
                               "partition": null})
        );
    }
}
