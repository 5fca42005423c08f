//! Writing an Avro container file byte-for-byte reproducibly.
//!
//! apache-avro's `Writer` draws a random sync marker and writes its header metadata from a
//! `HashMap` (in no fixed order), so the same records would give different bytes on each run. Here
//! the header is written by hand with a given marker and sorted metadata, and apache-avro only
//! encodes and compresses the blocks after it.

use anyhow::{Context, Result};
use apache_avro::types::Value;
use apache_avro::{Codec, Schema, Writer};

/// Encodes `records` into a complete container file.
pub(super) fn container_bytes(
    schema: &Schema,
    schema_json: &str,
    codec: Codec,
    codec_name: &str,
    marker: [u8; 16],
    records: &[Value],
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(b"Obj\x01");
    // The metadata map: one block of two entries, sorted by key, then the end-of-map zero.
    write_long(&mut out, 2);
    write_bytes(&mut out, b"avro.codec");
    write_bytes(&mut out, codec_name.as_bytes());
    write_bytes(&mut out, b"avro.schema");
    write_bytes(&mut out, compact(schema_json).as_bytes());
    write_long(&mut out, 0);
    out.extend_from_slice(&marker);

    let mut writer = Writer::append_to_with_codec(schema, out, codec, marker);
    for record in records {
        writer
            .append_value_ref(record)
            .context("a sample record does not match its schema")?;
    }
    Ok(writer.into_inner()?)
}

/// The schema text without the indentation: what writers usually store in `avro.schema`.
fn compact(json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(value) => value.to_string(),
        Err(_) => json.to_string(),
    }
}

fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}
