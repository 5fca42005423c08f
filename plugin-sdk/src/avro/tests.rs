//! Projection reads checked against datums written by apache-avro's own encoder.

use apache_avro::types::Value;
use apache_avro::{to_avro_datum, Schema};

use super::*;

const EVENT: &str = r#"{
  "type": "record", "name": "Event", "namespace": "com.example",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "flags", "type": {"type": "fixed", "name": "Flags", "size": 3}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attrs", "type": {"type": "map", "values": ["null", "double"]}},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}},
    {"name": "header", "type": {"type": "record", "name": "Header", "fields": [
        {"name": "server", "type": "string"},
        {"name": "time", "type": {"type": "long", "logicalType": "timestamp-micros"}}
    ]}},
    {"name": "maybe", "type": ["null", "Header"]},
    {"name": "next", "type": ["null", "Flags", "int"]},
    {"name": "time", "type": ["null", "long"]}
  ]
}"#;

fn header(server: &str, time: i64) -> Value {
    Value::Record(vec![
        ("server".into(), Value::String(server.into())),
        ("time".into(), Value::TimestampMicros(time)),
    ])
}

fn event(maybe: Option<Value>, time: Option<i64>, tags: usize) -> Value {
    Value::Record(vec![
        ("id".into(), Value::Long(-5)),
        ("flags".into(), Value::Fixed(3, vec![0, 1, 2])),
        (
            "tags".into(),
            Value::Array((0..tags).map(|i| Value::String(format!("t{i}"))).collect()),
        ),
        (
            "attrs".into(),
            Value::Map(
                [
                    (
                        "a".to_string(),
                        Value::Union(1, Box::new(Value::Double(1.5))),
                    ),
                    ("b".to_string(), Value::Union(0, Box::new(Value::Null))),
                ]
                .into_iter()
                .collect(),
            ),
        ),
        ("kind".into(), Value::Enum(2, "C".into())),
        ("header".into(), header("web-1", 1_700_000_000_123_456)),
        (
            "maybe".into(),
            match maybe {
                Some(v) => Value::Union(1, Box::new(v)),
                None => Value::Union(0, Box::new(Value::Null)),
            },
        ),
        ("next".into(), Value::Union(2, Box::new(Value::Int(9)))),
        (
            "time".into(),
            match time {
                Some(t) => Value::Union(1, Box::new(Value::Long(t))),
                None => Value::Union(0, Box::new(Value::Null)),
            },
        ),
    ])
}

fn projection(paths: &[&str]) -> Projection {
    let mut p = Projection::new(paths.iter().map(|s| s.to_string()).collect());
    p.register(7, EVENT).unwrap();
    p
}

fn encode(value: Value) -> Vec<u8> {
    to_avro_datum(&Schema::parse_str(EVENT).unwrap(), value).unwrap()
}

#[test]
fn reads_nested_and_nullable_fields_past_every_kind_of_value() {
    let p = projection(&[
        "header.time",
        "header.server",
        "time",
        "maybe.server",
        "kind",
        "next",
        "id",
        "missing",
        "header.nope",
        "flags",
    ]);
    for tags in [0, 1, 300] {
        let datum = encode(event(Some(header("db-2", 42)), Some(1234), tags));
        let r = p.record(7, &datum).unwrap();
        assert_eq!(
            r.get(0).unwrap(),
            Some(Datum::TimestampMicros(1_700_000_000_123_456))
        );
        assert_eq!(r.get(1).unwrap(), Some(Datum::String("web-1")));
        assert_eq!(r.get(2).unwrap(), Some(Datum::Long(1234)));
        assert_eq!(r.get(3).unwrap(), Some(Datum::String("db-2")));
        assert_eq!(
            r.get(4).unwrap(),
            Some(Datum::Enum {
                index: 2,
                symbol: "C"
            })
        );
        assert_eq!(r.get(5).unwrap(), Some(Datum::Int(9)));
        assert_eq!(r.get(6).unwrap(), Some(Datum::Long(-5)));
        assert_eq!(r.get(7).unwrap(), None, "a field the schema lacks");
        assert_eq!(r.get(8).unwrap(), None);
        assert_eq!(r.get(9).unwrap(), Some(Datum::Fixed(&[0, 1, 2])));
    }
    let datum = encode(event(None, None, 2));
    let r = p.record(7, &datum).unwrap();
    assert_eq!(r.get(2).unwrap(), None, "null in a nullable union");
    assert_eq!(r.get(3).unwrap(), None, "descending through a null branch");
}

#[test]
fn skips_arrays_written_with_byte_sized_negative_blocks() {
    let schema = r#"{"type": "record", "name": "R", "fields": [
        {"name": "xs", "type": {"type": "array", "items": "long"}},
        {"name": "m", "type": {"type": "map", "values": "string"}},
        {"name": "t", "type": "long"}]}"#;
    let mut p = Projection::new(vec!["t".into()]);
    p.register(1, schema).unwrap();
    // xs: one block of -2 items with a byte size, then one plain block of 1 item, then 0.
    let mut datum = Vec::new();
    binary::write_long(&mut datum, -2);
    binary::write_long(&mut datum, 2);
    datum.extend_from_slice(&[0x02, 0x04]);
    binary::write_long(&mut datum, 1);
    binary::write_long(&mut datum, 300);
    datum.push(0);
    // m: -1 entry with byte size 3 ("k" -> "v"), then 0.
    binary::write_long(&mut datum, -1);
    binary::write_long(&mut datum, 4);
    datum.extend_from_slice(&[0x02, b'k', 0x02, b'v']);
    datum.push(0);
    binary::write_long(&mut datum, 77);
    assert_eq!(
        p.record(1, &datum).unwrap().get(0).unwrap(),
        Some(Datum::Long(77))
    );
}

#[test]
fn follows_named_references_and_recursive_types() {
    let schema = r#"{"type": "record", "name": "Node", "namespace": "n", "fields": [
        {"name": "value", "type": "int"},
        {"name": "next", "type": ["null", "Node"]},
        {"name": "last", "type": "string"}]}"#;
    let parsed = Schema::parse_str(schema).unwrap();
    let node = |value, next: Option<Value>, last: &str| {
        Value::Record(vec![
            ("value".into(), Value::Int(value)),
            (
                "next".into(),
                match next {
                    Some(n) => Value::Union(1, Box::new(n)),
                    None => Value::Union(0, Box::new(Value::Null)),
                },
            ),
            ("last".into(), Value::String(last.into())),
        ])
    };
    let value = node(1, Some(node(2, Some(node(3, None, "c")), "b")), "a");
    let datum = to_avro_datum(&parsed, value).unwrap();
    let mut p = Projection::new(vec![
        "last".into(),
        "next.next.value".into(),
        "next.last".into(),
    ]);
    p.register(3, schema).unwrap();
    let r = p.record(3, &datum).unwrap();
    assert_eq!(r.get(0).unwrap(), Some(Datum::String("a")));
    assert_eq!(r.get(1).unwrap(), Some(Datum::Int(3)));
    assert_eq!(r.get(2).unwrap(), Some(Datum::String("b")));
}

#[test]
fn corrupt_datums_and_unknown_schemas_are_errors() {
    let p = projection(&["time"]);
    let datum = encode(event(None, Some(1), 3));
    for cut in 0..datum.len() - 1 {
        assert!(
            p.record(7, &datum[..cut]).unwrap().get(0).is_err(),
            "cut at {cut}"
        );
    }
    let err = p.record(8, &datum).unwrap_err();
    assert!(err.contains("schema id 8"), "{err}");
    let mut bad_union = datum;
    let n = bad_union.len();
    bad_union[n - 2] = 0x08; // union index 4
    assert!(p.record(7, &bad_union).unwrap().get(0).is_err());
}
