//! `c2k inspect FILE`: an Avro container file's (or SequenceFile's) records as JSON lines; a text
//! file's (Camus' text writer, with any of its codecs, or a Kafka Connect sink's JSON, bytes or
//! strings) as one JSON string a line.
//!
//! Records are printed as plain JSON ([`value_to_json`]): records and maps as objects, unions as
//! their branch's value (not Avro's `{"type": value}` wrapping), logical types as their underlying
//! number (a `timestamp-millis` is its long), bytes and fixed as strings of code points 0–255
//! (as in Avro's JSON encoding), NaN and infinities as strings; object keys come out sorted. That is what a person reading the
//! data, or Python's fastavro with logical types turned back into numbers, sees.

mod sequence_file;

use std::io::{Read, Write};

use anyhow::{anyhow, bail, Context, Result};
use apache_avro::types::Value;
use c2k_avro::{CompiledSchema, Validate};
use serde_json::{Map, Number, Value as Json};

use crate::source::codec::DEFAULT_MAX_BLOCK_BYTES;
use crate::source::container::{ContainerReader, MAGIC};
use crate::storage;

/// Hadoop SequenceFiles (Camus's offset files) start with these bytes.
const SEQUENCE_FILE_MAGIC: &[u8; 3] = b"SEQ";

/// Prints `file`'s records to `out`, on a thread whose stack holds apache-avro's decoding of a
/// datum nested as deep as Avro data may be ([`crate::source::schema_depth::STACK_BYTES`]).
pub fn inspect(file: &str, out: &mut (dyn Write + Send)) -> Result<()> {
    crate::source::schema_depth::on_large_stack(|| inspect_here(file, out))
}

fn inspect_here(file: &str, out: &mut dyn Write) -> Result<()> {
    let mut input = storage::for_url(file)?.open(file)?;
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut input, &mut magic).with_context(|| format!("cannot read {file}"))?;
    let head = &magic[..got];
    let rest: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head.to_vec()).chain(input));
    if head == MAGIC {
        inspect_avro(file, rest, out)
    } else if head.starts_with(SEQUENCE_FILE_MAGIC) {
        sequence_file::json_lines(rest, file, out)
    } else if is_text_file(file) {
        text_lines(file, out)
    } else {
        bail!(
            "{file}: neither an Avro container file (Obj\\x01) nor a SequenceFile (SEQ), nor \
             named as Camus' text writer or a Kafka Connect sink names text files"
        )
    }
}

/// Whether `file` is named as a text file of an archive: a codec's extension (Camus' text
/// writer), a Camus name with no extension, or a Kafka Connect sink's `.json`, `.bin`, `.txt`.
fn is_text_file(file: &str) -> bool {
    let name = file.rsplit('/').next().unwrap_or(file);
    !name.ends_with(".avro")
        && (matches!(
            crate::source::format::Written::of(file),
            crate::source::format::Written::Compressed(_)
        ) || crate::source::CamusFileName::parse(name, None).is_some()
            || crate::source::connect::is_data_file(name))
}

/// A text file's records (each followed by a newline), each printed as a JSON string: its text,
/// or, where it is not UTF-8, its bytes as code points 0–255.
fn text_lines(file: &str, out: &mut dyn Write) -> Result<()> {
    let storage = storage::for_url(file)?;
    let source_file = crate::source::SourceFile {
        url: file.to_string(),
        size: 0,
        name: None,
    };
    let format = crate::source::SourceFormat::Text {
        delimiter: b"\n".to_vec(),
    };
    let mut records = crate::source::text::open_records(
        storage.as_ref(),
        &source_file,
        &format,
        DEFAULT_MAX_BLOCK_BYTES,
    )?;
    let mut record = Vec::new();
    let mut line = Vec::new();
    while records.next_into(&mut record)? {
        let text = match std::str::from_utf8(&record) {
            Ok(text) => text.to_string(),
            Err(_) => record.iter().map(|&b| char::from(b)).collect(),
        };
        line.clear();
        serde_json::to_writer(&mut line, &text)?;
        line.push(b'\n');
        record.clear();
        match out.write_all(&line) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(anyhow!("cannot write to the output: {e}")),
        }
    }
    Ok(())
}

fn inspect_avro(file: &str, input: Box<dyn Read + Send>, out: &mut dyn Write) -> Result<()> {
    // No pipeline here: blocks are limited to the default of `source.max_block_bytes`.
    let mut reader = ContainerReader::open(file, input, DEFAULT_MAX_BLOCK_BYTES)?;
    let schema = reader.header.schema.clone();
    let compiled = CompiledSchema::compile(&schema).map_err(|e| anyhow!("{file}: {e}"))?;
    let mut index = 0u64;
    let mut line = Vec::new();
    while let Some(count) = reader.next_block()? {
        let block = reader.block();
        let mut pos = 0;
        for _ in 0..count {
            let end = compiled
                .datum_end(block, pos, Validate::Strict)
                .map_err(|e| anyhow!("{file}: record {index} is not decodable: {e}"))?;
            let value = apache_avro::from_avro_datum(&schema, &mut &block[pos..end], None)
                .with_context(|| format!("{file}: record {index} is not decodable"))?;
            line.clear();
            serde_json::to_writer(&mut line, &value_to_json(value))?;
            line.push(b'\n');
            match out.write_all(&line) {
                Ok(()) => {}
                // `c2k inspect FILE | head`: the reader has seen enough.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(anyhow!("cannot write to the output: {e}")),
            }
            pos = end;
            index += 1;
        }
        if pos != block.len() {
            bail!(
                "{file}: corrupt block {}: {} bytes are left after its records",
                reader.block_index(),
                block.len() - pos
            );
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow!("cannot write to the output: {e}"))
        }
        _ => Ok(()),
    }
}

fn read_up_to(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// An Avro value as plain JSON (see the module documentation for the mapping).
pub fn value_to_json(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::Int(i) | Value::Date(i) | Value::TimeMillis(i) => Json::from(i),
        Value::Long(l)
        | Value::TimeMicros(l)
        | Value::TimestampMillis(l)
        | Value::TimestampMicros(l)
        | Value::TimestampNanos(l)
        | Value::LocalTimestampMillis(l)
        | Value::LocalTimestampMicros(l)
        | Value::LocalTimestampNanos(l) => Json::from(l),
        Value::Float(f) => float(f64::from(f)),
        Value::Double(d) => float(d),
        Value::Bytes(bytes) | Value::Fixed(_, bytes) => latin1(&bytes),
        Value::String(s) | Value::Enum(_, s) => Json::String(s),
        Value::Union(_, inner) => value_to_json(*inner),
        Value::Array(items) => Json::Array(items.into_iter().map(value_to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k, value_to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Record(fields) => Json::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, value_to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Uuid(uuid) => Json::String(uuid.to_string()),
        Value::Decimal(decimal) => match <Vec<u8>>::try_from(&decimal) {
            Ok(bytes) => latin1(&bytes),
            Err(_) => Json::Null,
        },
        Value::BigDecimal(decimal) => Json::String(decimal.to_string()),
        Value::Duration(duration) => latin1(&<[u8; 12]>::from(duration)),
    }
}

fn float(f: f64) -> Json {
    Number::from_f64(f)
        .map(Json::Number)
        .unwrap_or_else(|| Json::String(f.to_string()))
}

fn latin1(bytes: &[u8]) -> Json {
    Json::String(bytes.iter().map(|&b| char::from(b)).collect())
}
