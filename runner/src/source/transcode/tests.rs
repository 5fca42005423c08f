//! The transcoder checked against apache-avro's own resolution, byte for byte.

use apache_avro::types::Value as V;
use apache_avro::Schema;
use c2k_avro::binary::write_long;

use super::runtime::write_bytes;
use super::Transcoder;
use crate::source::schemas::Plan;

fn parse(json: &str) -> Schema {
    Schema::parse_str(json).unwrap()
}

/// The transcoder's bytes must be apache-avro's, byte for byte — but for the order of map
/// entries, which apache-avro takes from a `HashMap` (so it differs from run to run) and the
/// transcoder keeps as written: then the values must be equal.
fn assert_same_as_apache_avro(writer: &Schema, reader: &Schema, datum: &[u8]) {
    let transcoder = Transcoder::compile(writer, reader).unwrap();
    let mut ours = Vec::new();
    transcoder.transcode(datum, &mut ours).unwrap();
    let theirs = Plan::resolve(writer, reader, datum).unwrap();
    if ours != theirs {
        assert_eq!(ours.len(), theirs.len(), "datum {datum:?}");
        let decode =
            |bytes: &[u8]| apache_avro::from_avro_datum(reader, &mut &bytes[..], None).unwrap();
        assert_eq!(decode(&ours), decode(&theirs), "datum {datum:?}");
    }
}

const WRITER: &str = r#"{"type": "record", "name": "R", "namespace": "n", "fields": [
    {"name": "a", "type": "int"},
    {"name": "gone", "type": {"type": "array", "items": {"type": "record", "name": "G",
        "fields": [{"name": "x", "type": ["null", "string"]}]}}},
    {"name": "b", "type": ["null", "int", "string"]},
    {"name": "c", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}},
    {"name": "d", "type": {"type": "map", "values": "long"}},
    {"name": "e", "type": {"type": "array", "items": "float"}},
    {"name": "f", "type": {"type": "fixed", "name": "F", "size": 3}},
    {"name": "g", "type": "bytes"},
    {"name": "h", "type": "string"},
    {"name": "i", "type": "boolean"},
    {"name": "old_name", "type": "double"},
    {"name": "nested", "type": {"type": "record", "name": "N", "fields": [
        {"name": "p", "type": "long"}, {"name": "q", "type": "int"}]}},
    {"name": "opt", "type": "int"},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "tree", "type": {"type": "record", "name": "Tree", "fields": [
        {"name": "v", "type": "int"},
        {"name": "kids", "type": {"type": "array", "items": "Tree"}}]}}
]}"#;

const READER: &str = r#"{"type": "record", "name": "R", "namespace": "n", "fields": [
    {"name": "a", "type": "double"},
    {"name": "b", "type": ["null", "long", "string"]},
    {"name": "c", "type": {"type": "enum", "name": "E", "symbols": ["A", "C", "Z"],
        "default": "Z"}},
    {"name": "d", "type": {"type": "map", "values": "double"}},
    {"name": "e", "type": {"type": "array", "items": "double"}},
    {"name": "f", "type": {"type": "fixed", "name": "F", "size": 3}},
    {"name": "g", "type": "string"},
    {"name": "h", "type": "bytes"},
    {"name": "i", "type": "boolean"},
    {"name": "new_name", "aliases": ["old_name"], "type": "double"},
    {"name": "nested", "type": {"type": "record", "name": "N", "fields": [
        {"name": "p", "type": "long"},
        {"name": "added", "type": {"type": "array", "items": "int"}, "default": [1, 2]}]}},
    {"name": "opt", "type": ["null", "int"]},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "tree", "type": {"type": "record", "name": "Tree", "fields": [
        {"name": "v", "type": "long"},
        {"name": "kids", "type": {"type": "array", "items": "Tree"}}]}},
    {"name": "z1", "type": ["null", "string"], "default": null},
    {"name": "z2", "type": ["string", "null"], "default": "dflt"},
    {"name": "z3", "type": {"type": "record", "name": "D", "fields": [
        {"name": "k", "type": "int"}]}, "default": {"k": 7}},
    {"name": "z4", "type": {"type": "enum", "name": "E2", "symbols": ["P", "Q"]},
        "default": "Q"},
    {"name": "z5", "type": "bytes", "default": "\u00ff\u0001"},
    {"name": "z6", "type": "F", "default": "abc"},
    {"name": "z7", "type": {"type": "map", "values": "string"}, "default": {"k": "v"}}
]}"#;

fn tree(v: i32, kids: Vec<V>) -> V {
    V::Record(vec![
        ("v".into(), V::Int(v)),
        ("kids".into(), V::Array(kids)),
    ])
}

fn writer_record(variant: i32) -> V {
    let b = match variant % 3 {
        0 => V::Union(0, Box::new(V::Null)),
        1 => V::Union(1, Box::new(V::Int(-77 * variant))),
        _ => V::Union(2, Box::new(V::String(format!("s{variant}")))),
    };
    let symbol = ["A", "B", "C"][(variant % 3) as usize];
    V::Record(vec![
        ("a".into(), V::Int(i32::MIN + variant)),
        (
            "gone".into(),
            V::Array(
                (0..variant)
                    .map(|i| {
                        V::Record(vec![(
                            "x".into(),
                            if i % 2 == 0 {
                                V::Union(0, Box::new(V::Null))
                            } else {
                                V::Union(1, Box::new(V::String("x".repeat(i as usize))))
                            },
                        )])
                    })
                    .collect(),
            ),
        ),
        ("b".into(), b),
        ("c".into(), V::Enum((variant % 3) as u32, symbol.into())),
        (
            "d".into(),
            V::Map(
                (0..variant)
                    .map(|i| (format!("k{i}"), V::Long(i64::MAX - i as i64)))
                    .collect(),
            ),
        ),
        (
            "e".into(),
            V::Array((0..variant).map(|i| V::Float(i as f32 / 3.0)).collect()),
        ),
        ("f".into(), V::Fixed(3, vec![1, 2, variant as u8])),
        ("g".into(), V::Bytes(format!("é{variant}").into_bytes())),
        ("h".into(), V::String("naïve".into())),
        ("i".into(), V::Boolean(variant % 2 == 0)),
        ("old_name".into(), V::Double(f64::from(variant) * 1.5)),
        (
            "nested".into(),
            V::Record(vec![
                ("p".into(), V::Long(-(variant as i64))),
                ("q".into(), V::Int(variant)),
            ]),
        ),
        ("opt".into(), V::Int(variant)),
        (
            "ts".into(),
            V::TimestampMillis(1_500_000_000_000 + variant as i64),
        ),
        (
            "tree".into(),
            tree(
                1,
                vec![tree(2, vec![]), tree(3, vec![tree(variant, vec![])])],
            ),
        ),
    ])
}

#[test]
fn evolution_gives_apache_avros_bytes_exactly() {
    let (writer, reader) = (parse(WRITER), parse(READER));
    for variant in 0..7 {
        let datum = apache_avro::to_avro_datum(&writer, writer_record(variant)).unwrap();
        assert_same_as_apache_avro(&writer, &reader, &datum);
    }
}

#[test]
fn the_sample_topics_v1_to_v2_is_transcoded() {
    use crate::sample::page_view_schemas::{PAGE_VIEW_V1, PAGE_VIEW_V2};
    let (writer, reader) = (parse(PAGE_VIEW_V1), parse(PAGE_VIEW_V2));
    let header = V::Record(vec![
        ("time".into(), V::TimestampMillis(1_600_000_000_123)),
        ("server".into(), V::String("web-1".into())),
        ("service".into(), V::String("front".into())),
    ]);
    let datum = apache_avro::to_avro_datum(
        &writer,
        V::Record(vec![
            ("header".into(), header),
            ("url".into(), V::String("/a".into())),
            (
                "referrer".into(),
                V::Union(1, Box::new(V::String("/b".into()))),
            ),
            ("user_id".into(), V::Long(42)),
            ("session_id".into(), V::String("s".into())),
            ("user_agent".into(), V::String("ua".into())),
            ("ip".into(), V::String("10.0.0.1".into())),
            ("duration_ms".into(), V::Int(-5)),
        ]),
    )
    .unwrap();
    let mut ours = Vec::new();
    let transcoder = Transcoder::compile(&writer, &reader).unwrap();
    transcoder.transcode(&datum, &mut ours).unwrap();
    assert_eq!(ours, Plan::resolve(&writer, &reader, &datum).unwrap());
}

#[test]
fn arrays_in_several_blocks_with_byte_sizes_become_one_block() {
    let writer = parse(r#"{"type": "array", "items": "int"}"#);
    let reader = parse(r#"{"type": "array", "items": "long"}"#);
    // Block of -2 items (byte size 2): 1, -1; block of 1 item: 300; end.
    let mut datum = Vec::new();
    for v in [-2i64, 2, 1, -1, 1, 300, 0] {
        write_long(&mut datum, v);
    }
    assert_same_as_apache_avro(&writer, &reader, &datum);
    // Empty arrays: just the end marker.
    assert_same_as_apache_avro(&writer, &reader, &[0]);
}

#[test]
fn pairs_it_is_not_sure_of_are_left_to_apache_avro() {
    let record = |fields: &str| {
        parse(&format!(
            r#"{{"type": "record", "name": "R", "fields": [{fields}]}}"#
        ))
    };
    let a_b = record(r#"{"name": "a", "type": "int"}, {"name": "b", "type": "int"}"#);
    let b_a = record(r#"{"name": "b", "type": "int"}, {"name": "a", "type": "int"}"#);
    assert!(Transcoder::compile(&a_b, &b_a)
        .unwrap_err()
        .contains("moved"));
    let int = record(r#"{"name": "a", "type": "int"}"#);
    let two_ways = record(r#"{"name": "a", "type": ["long", "double"]}"#);
    assert!(Transcoder::compile(&int, &two_ways)
        .unwrap_err()
        .contains("several"));
    let decimal = record(
        r#"{"name": "a", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4}}"#,
    );
    assert!(Transcoder::compile(&decimal, &decimal).is_err());
    let plain_long = record(r#"{"name": "a", "type": "long"}"#);
    let timestamp =
        record(r#"{"name": "a", "type": {"type": "long", "logicalType": "timestamp-micros"}}"#);
    assert!(Transcoder::compile(&plain_long, &timestamp).is_err());
}

#[test]
fn bad_data_is_an_error_at_a_byte_never_a_panic() {
    let (writer, reader) = (parse(WRITER), parse(READER));
    let transcoder = Transcoder::compile(&writer, &reader).unwrap();
    let datum = apache_avro::to_avro_datum(&writer, writer_record(5)).unwrap();
    for cut in 0..datum.len() {
        let mut out = Vec::new();
        assert!(
            transcoder.transcode(&datum[..cut], &mut out).is_err(),
            "cut at {cut}"
        );
    }
    let mut longer = datum.clone();
    longer.push(0);
    let err = transcoder.transcode(&longer, &mut Vec::new()).unwrap_err();
    assert!(err.what.contains("left after"), "{err}");
    // Flip every byte in turn: errors or other values, never a panic.
    for at in 0..datum.len() {
        let mut bent = datum.clone();
        bent[at] ^= 0xA5;
        let _ = transcoder.transcode(&bent, &mut Vec::new());
    }
}

#[test]
fn values_the_reader_cannot_take_are_named() {
    let writer = parse(r#"{"type": "enum", "name": "E", "symbols": ["A", "B"]}"#);
    let reader = parse(r#"{"type": "enum", "name": "E", "symbols": ["A"]}"#);
    let transcoder = Transcoder::compile(&writer, &reader).unwrap();
    let err = transcoder.transcode(&[2], &mut Vec::new()).unwrap_err();
    assert!(err.what.contains("enum symbol B"), "{err}");

    let writer = parse(r#"["null", "string", "boolean"]"#);
    let reader = parse(r#"["null", "string"]"#);
    let transcoder = Transcoder::compile(&writer, &reader).unwrap();
    let mut out = Vec::new();
    transcoder.transcode(&[2, 2, b'x'], &mut out).unwrap();
    assert_eq!(out, [2, 2, b'x']);
    let err = transcoder.transcode(&[4, 1], &mut Vec::new()).unwrap_err();
    assert!(err.what.contains("union branch 2"), "{err}");
}

fn map_datum(blocks: &[&[(&str, i64)]]) -> Vec<u8> {
    let mut datum = Vec::new();
    for block in blocks {
        write_long(&mut datum, block.len() as i64);
        for (key, value) in *block {
            write_bytes(&mut datum, key.as_bytes());
            write_long(&mut datum, *value);
        }
    }
    datum.push(0);
    datum
}

#[test]
fn sorting_maps_writes_entries_in_key_order_whatever_the_order_written() {
    let schema = parse(r#"{"type": "map", "values": "long"}"#);
    let sorting = Transcoder::sorting_maps(&schema).unwrap();
    let mut out = Vec::new();
    let written = map_datum(&[&[("b", 1), ("ab", 2)], &[("a", 3), ("", 4)]]);
    sorting.transcode(&written, &mut out).unwrap();
    assert_eq!(out, map_datum(&[&[("", 4), ("a", 3), ("ab", 2), ("b", 1)]]));
}

#[test]
fn the_apache_avro_path_gives_the_same_bytes_every_time() {
    use crate::source::schemas::{ReaderSchema, Registry};
    // `a` and `m` swap places: the transcoder leaves this pair to apache-avro.
    let writer = parse(
        r#"{"type": "record", "name": "R", "fields": [
            {"name": "a", "type": "int"},
            {"name": "m", "type": {"type": "map", "values": "int"}}]}"#,
    );
    let reader_json = r#"{"type": "record", "name": "R", "fields": [
        {"name": "m", "type": {"type": "map", "values": "long"}},
        {"name": "a", "type": "long"}]}"#;
    let reader = ReaderSchema::parse("reader.avsc", reader_json.as_bytes()).unwrap();
    let (_, plan) = Registry::new(Some(reader))
        .plan_for("f.avro", &writer, "{}")
        .unwrap();
    assert!(matches!(plan, Plan::Resolve { .. }));
    let mut datum = Vec::new();
    write_long(&mut datum, 7);
    let entries: Vec<(String, i64)> = (0..20).map(|i| (format!("k{i:02}"), i)).collect();
    write_long(&mut datum, entries.len() as i64);
    for (key, value) in entries.iter().rev() {
        write_bytes(&mut datum, key.as_bytes());
        write_long(&mut datum, *value);
    }
    datum.push(0);
    let mut first = Vec::new();
    plan.write(&datum, &mut first).unwrap();
    for _ in 0..20 {
        let mut again = Vec::new();
        plan.write(&datum, &mut again).unwrap();
        assert_eq!(again, first);
    }
    let sorted: Vec<(&str, i64)> = entries.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let mut expected = map_datum(&[&sorted]);
    write_long(&mut expected, 7);
    assert_eq!(first, expected, "map entries in key order, then a");
}

/// Found by the `transcode` fuzz target: a writer string that is not UTF-8, read as `bytes`,
/// went through, where apache-avro (and the string → string path) refuse it.
#[test]
fn a_writer_string_read_as_bytes_must_be_utf8_as_apache_avro_says() {
    let writer =
        parse(r#"{"type": "record", "name": "R", "fields": [{"name": "h", "type": "string"}]}"#);
    let reader =
        parse(r#"{"type": "record", "name": "R", "fields": [{"name": "h", "type": "bytes"}]}"#);
    let transcoder = Transcoder::compile(&writer, &reader).unwrap();
    let not_utf8 = [4, 0xf4, 0x3f];
    let mut out = Vec::new();
    assert!(transcoder.transcode(&not_utf8, &mut out).is_err());
    assert!(Plan::resolve(&writer, &reader, &not_utf8).is_err());
    let utf8 = [4, b'o', b'k'];
    assert_same_as_apache_avro(&writer, &reader, &utf8);
}
