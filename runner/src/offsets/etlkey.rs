//! Camus's `com.linkedin.camus.etl.kafka.common.EtlKey`, the key of every record in an offsets
//! file (the values are `NullWritable`: nothing).
//!
//! Every layout Camus wrote shares one prefix (`EtlKey.write`):
//! leader/node id (`UTF8.writeString`: 2-byte length + modified UTF-8; older Camus called it
//! `nodeId`, later `leaderId`, the newest writes an empty string), partition (int), begin offset,
//! offset, checksum (longs), topic (`writeUTF`), time (long), server and service (`writeUTF`,
//! kept "for legacy"). Camus from 2014 on appends a `MapWritable` partition map (server, service,
//! `message.size`, decoder-specific entries); older keys end after `service` — Camus's own
//! `readFields` tells them apart the same way, by running out of bytes.
//!
//! `offset` is the offset of the *next* message to read: `KafkaReader` sets it to the consumed
//! message's offset + 1, and `EtlInputFormat` resumes each partition at `key.getOffset()` of the
//! previous run's keys. So it is already what a Kafka consumer commits; no +1 is needed.

use anyhow::{anyhow, Result};

use crate::hadoop::writable::{self, DataInput, DecodeError};

/// The Hadoop class name Camus's offsets files carry as their key class.
pub(crate) const CLASS_NAME: &str = "com.linkedin.camus.etl.kafka.common.EtlKey";

/// Which of Camus's layouts a key was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Ends after `service` (Camus before the partition map).
    Legacy,
    /// Ends with a `MapWritable`.
    WithPartitionMap,
}

/// A decoded `EtlKey`.
#[derive(Debug, Clone, PartialEq)]
pub struct EtlKey {
    /// The broker that led the partition when Camus read it (`leaderId`/`nodeId`; may be empty).
    pub leader_id: String,
    pub partition: i32,
    pub begin_offset: i64,
    /// The next offset to read in the partition.
    pub offset: i64,
    pub checksum: i64,
    pub topic: String,
    pub time: i64,
    pub server: String,
    pub service: String,
    pub layout: Layout,
    /// The partition map's entries with values as text (`None` for legacy keys, or when the map
    /// holds a Writable type this decoder does not know — it carries nothing the offsets need).
    pub partition_map: Option<Vec<(String, String)>>,
}

impl EtlKey {
    /// Decodes a key's serialized bytes.
    pub fn decode(bytes: &[u8]) -> Result<EtlKey, DecodeError> {
        let mut input = DataInput::new(bytes);
        let leader_id = input.read_java_utf("leader id")?;
        let partition = input.read_i32("partition")?;
        let begin_offset = input.read_i64("begin offset")?;
        let offset = input.read_i64("offset")?;
        let checksum = input.read_i64("checksum")?;
        let topic = input.read_java_utf("topic")?;
        let time = input.read_i64("time")?;
        let server = input.read_java_utf("server")?;
        let service = input.read_java_utf("service")?;
        let (layout, partition_map) = if input.remaining() == 0 {
            (Layout::Legacy, None)
        } else {
            (Layout::WithPartitionMap, read_map(&mut input).ok())
        };
        Ok(EtlKey {
            leader_id,
            partition,
            begin_offset,
            offset,
            checksum,
            topic,
            time,
            server,
            service,
            layout,
            partition_map,
        })
    }

    /// Serializes the key in `layout` (a map is written with the Text entries given).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.topic.len());
        writable::write_java_utf(&mut out, &self.leader_id);
        out.extend_from_slice(&self.partition.to_be_bytes());
        out.extend_from_slice(&self.begin_offset.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.checksum.to_be_bytes());
        writable::write_java_utf(&mut out, &self.topic);
        out.extend_from_slice(&self.time.to_be_bytes());
        writable::write_java_utf(&mut out, &self.server);
        writable::write_java_utf(&mut out, &self.service);
        if self.layout == Layout::WithPartitionMap {
            let entries = self.partition_map.as_deref().unwrap_or_default();
            out.push(0); // no classes beyond AbstractMapWritable's predefined ones
            out.extend_from_slice(&(entries.len() as i32).to_be_bytes());
            for (name, value) in entries {
                out.push(TEXT_ID as u8);
                writable::write_text(&mut out, name);
                out.push(TEXT_ID as u8);
                writable::write_text(&mut out, value);
            }
        }
        out
    }
}

/// Decodes a key, naming where it came from on failure.
pub(crate) fn decode_named(bytes: &[u8], file: &str, record: u64) -> Result<EtlKey> {
    EtlKey::decode(bytes).map_err(|e| anyhow!("{file}: record {record}: not a Camus EtlKey: {e}"))
}

// AbstractMapWritable's predefined class ids.
const BOOLEAN_ID: i8 = -126;
const BYTES_ID: i8 = -125;
const FLOAT_ID: i8 = -124;
const INT_ID: i8 = -123;
const LONG_ID: i8 = -122;
const MAP_ID: i8 = -121;
const MD5_ID: i8 = -120;
const NULL_ID: i8 = -119;
const TEXT_ID: i8 = -116;
const VINT_ID: i8 = -114;
const VLONG_ID: i8 = -113;

/// `MapWritable.readFields`: the classes beyond the predefined ones (id + `writeUTF` name), an int
/// count, then per entry a class id and the Writable, for the key and then the value.
fn read_map(input: &mut DataInput<'_>) -> Result<Vec<(String, String)>, DecodeError> {
    let mut extra = Vec::new();
    let new_classes = input.read_u8("map class count")?;
    for _ in 0..new_classes {
        let id = input.read_i8("map class id")?;
        extra.push((id, input.read_java_utf("map class name")?));
    }
    let count = input.read_i32("map size")?;
    let mut entries = Vec::new();
    for _ in 0..count.max(0) {
        let key = read_value(input, &extra)?;
        let value = read_value(input, &extra)?;
        entries.push((key, value));
    }
    Ok(entries)
}

fn read_value(input: &mut DataInput<'_>, extra: &[(i8, String)]) -> Result<String, DecodeError> {
    let at = input.position();
    let id = input.read_i8("map entry class")?;
    Ok(match id {
        TEXT_ID => input.read_text("map text")?,
        LONG_ID => input.read_i64("map long")?.to_string(),
        INT_ID => input.read_i32("map int")?.to_string(),
        BOOLEAN_ID => (input.read_u8("map boolean")? != 0).to_string(),
        FLOAT_ID => f32::from_bits(input.read_i32("map float")? as u32).to_string(),
        VINT_ID | VLONG_ID => input.read_vlong("map vlong")?.to_string(),
        NULL_ID => String::new(),
        MD5_ID => hex(input.take(16, "map md5")?),
        BYTES_ID => {
            let len = input.read_i32("map bytes length")?;
            hex(input.take(len.max(0) as usize, "map bytes")?)
        }
        MAP_ID => format!("{:?}", read_map(input)?),
        other => {
            let name = extra
                .iter()
                .find(|(id, _)| *id == other)
                .map_or("an unknown class", |(_, name)| name.as_str());
            return Err(DecodeError::Invalid {
                field: "map entry",
                at,
                reason: format!("class id {other} ({name}) is not decoded"),
            });
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A legacy key, assembled byte by byte from `EtlKey.write`.
    fn legacy_bytes() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&[0, 1, b'3']); // UTF8 leader id "3"
        b.extend_from_slice(&7i32.to_be_bytes());
        b.extend_from_slice(&100i64.to_be_bytes());
        b.extend_from_slice(&250i64.to_be_bytes());
        b.extend_from_slice(&(-5i64).to_be_bytes());
        b.extend_from_slice(&[0, 10]);
        b.extend_from_slice(b"PAGE_VIEWS");
        b.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
        b.extend_from_slice(&[0, 6]);
        b.extend_from_slice(b"server");
        b.extend_from_slice(&[0, 7]);
        b.extend_from_slice(b"service");
        b
    }

    #[test]
    fn legacy_layout_without_partition_map() {
        let key = EtlKey::decode(&legacy_bytes()).unwrap();
        assert_eq!(key.layout, Layout::Legacy);
        assert_eq!(key.leader_id, "3");
        assert_eq!(key.partition, 7);
        assert_eq!(key.begin_offset, 100);
        assert_eq!(key.offset, 250);
        assert_eq!(key.checksum, -5);
        assert_eq!(key.topic, "PAGE_VIEWS");
        assert_eq!(key.time, 1_700_000_000_000);
        assert_eq!(
            (key.server.as_str(), key.service.as_str()),
            ("server", "service")
        );
        assert_eq!(key.partition_map, None);
        assert_eq!(key.encode(), legacy_bytes());
    }

    #[test]
    fn layout_with_partition_map_of_text_and_long_entries() {
        let mut b = legacy_bytes();
        b.push(0); // no extra classes
        b.extend_from_slice(&2i32.to_be_bytes());
        b.push(0x8C); // Text (-116)
        b.extend_from_slice(&[6]);
        b.extend_from_slice(b"server");
        b.push(0x8C);
        b.extend_from_slice(&[4]);
        b.extend_from_slice(b"web1");
        b.push(0x8C);
        b.extend_from_slice(&[12]);
        b.extend_from_slice(b"message.size");
        b.push(0x86); // LongWritable (-122)
        b.extend_from_slice(&321i64.to_be_bytes());
        let key = EtlKey::decode(&b).unwrap();
        assert_eq!(key.layout, Layout::WithPartitionMap);
        assert_eq!(key.offset, 250);
        assert_eq!(
            key.partition_map.unwrap(),
            vec![
                ("server".to_string(), "web1".to_string()),
                ("message.size".to_string(), "321".to_string())
            ]
        );
    }

    #[test]
    fn an_undecodable_map_keeps_the_offsets() {
        let mut b = legacy_bytes();
        b.extend_from_slice(&[1, 1, 0, 3, b'F', b'o', b'o', 0, 0, 0, 1, 1]);
        let key = EtlKey::decode(&b).unwrap();
        assert_eq!(key.layout, Layout::WithPartitionMap);
        assert_eq!(key.partition_map, None);
        assert_eq!(key.offset, 250);
    }

    #[test]
    fn a_truncated_key_is_an_error_naming_the_field_and_file() {
        let b = legacy_bytes();
        let err = decode_named(&b[..20], "offsets-m-00000", 4).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("offsets-m-00000") && msg.contains("record 4"),
            "{msg}"
        );
        assert!(msg.contains("offset"), "{msg}");
    }

    #[test]
    fn encode_then_decode_with_a_map() {
        let key = EtlKey {
            leader_id: String::new(),
            partition: 0,
            begin_offset: 1,
            offset: 2,
            checksum: 3,
            topic: "t".into(),
            time: 4,
            server: "s".into(),
            service: "v".into(),
            layout: Layout::WithPartitionMap,
            partition_map: Some(vec![("server".into(), "s".into())]),
        };
        assert_eq!(EtlKey::decode(&key.encode()).unwrap(), key);
    }
}
