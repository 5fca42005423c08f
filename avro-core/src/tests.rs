//! The walker checked against datums written by apache-avro's own encoder, in both modes.

use apache_avro::types::Value;
use apache_avro::Schema;

use crate::binary::write_long;
use crate::{CompiledSchema, Malformed, Validate, MAX_DEPTH};

const BOTH: [Validate; 2] = [Validate::Strict, Validate::Fast];

fn schema() -> Schema {
    Schema::parse_str(
        r#"{"type":"record","name":"R","fields":[
            {"name":"a","type":"int"},
            {"name":"s","type":["null","string"]},
            {"name":"m","type":{"type":"map","values":"long"}},
            {"name":"xs","type":{"type":"array","items":"double"}},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
            {"name":"f","type":{"type":"fixed","name":"F","size":3}},
            {"name":"b","type":"boolean"},
            {"name":"next","type":["null","R"]}
        ]}"#,
    )
    .unwrap()
}

fn value(depth: u32) -> Value {
    Value::Record(vec![
        ("a".into(), Value::Int(-5)),
        (
            "s".into(),
            Value::Union(1, Box::new(Value::String("héllo".into()))),
        ),
        (
            "m".into(),
            Value::Map([("k".to_string(), Value::Long(1 << 40))].into()),
        ),
        (
            "xs".into(),
            Value::Array(vec![Value::Double(1.5), Value::Double(-2.0)]),
        ),
        ("e".into(), Value::Enum(1, "Y".into())),
        ("f".into(), Value::Fixed(3, vec![1, 2, 3])),
        ("b".into(), Value::Boolean(true)),
        (
            "next".into(),
            if depth == 0 {
                Value::Union(0, Box::new(Value::Null))
            } else {
                Value::Union(1, Box::new(value(depth - 1)))
            },
        ),
    ])
}

fn compiled(schema: &Schema) -> CompiledSchema {
    CompiledSchema::compile(schema).unwrap()
}

#[test]
fn finds_the_exact_end_of_each_datum_including_recursive_ones() {
    let schema = schema();
    let compiled = compiled(&schema);
    let mut buf = Vec::new();
    let mut ends = Vec::new();
    for depth in 0..4 {
        buf.extend(apache_avro::to_avro_datum(&schema, value(depth)).unwrap());
        ends.push(buf.len());
    }
    for validate in BOTH {
        let mut pos = 0;
        for &end in &ends {
            pos = compiled.datum_end(&buf, pos, validate).unwrap();
            assert_eq!(pos, end, "{validate:?}");
        }
    }
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let schema = schema();
    let compiled = compiled(&schema);
    let buf = apache_avro::to_avro_datum(&schema, value(2)).unwrap();
    for validate in BOTH {
        for len in 0..buf.len() {
            assert!(
                compiled.datum_end(&buf[..len], 0, validate).is_err(),
                "{validate:?} truncated at {len}"
            );
        }
    }
}

#[test]
fn bit_flips_never_panic() {
    let schema = schema();
    let compiled = compiled(&schema);
    let buf = apache_avro::to_avro_datum(&schema, value(3)).unwrap();
    for i in 0..buf.len() {
        for bit in 0..8 {
            let mut bad = buf.clone();
            bad[i] ^= 1 << bit;
            for validate in BOTH {
                let _ = compiled.datum_end(&bad, 0, validate);
            }
        }
    }
}

#[test]
fn strict_rejects_booleans_and_enum_indexes_that_fast_jumps_over() {
    let schema = Schema::parse_str(
        r#"{"type":"record","name":"R","fields":[
            {"name":"b","type":"boolean"},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}}]}"#,
    )
    .unwrap();
    let compiled = compiled(&schema);
    let bad_boolean = [2, 0];
    let err = compiled
        .datum_end(&bad_boolean, 0, Validate::Strict)
        .unwrap_err();
    assert_eq!(err.what, Malformed::BadBoolean(2));
    assert_eq!(compiled.datum_end(&bad_boolean, 0, Validate::Fast), Ok(2));
    let bad_enum = [1, 4];
    let err = compiled
        .datum_end(&bad_enum, 0, Validate::Strict)
        .unwrap_err();
    assert_eq!(
        (err.offset, err.what),
        (
            1,
            Malformed::BadEnumIndex {
                index: 2,
                symbols: 2
            }
        )
    );
    assert_eq!(compiled.datum_end(&bad_enum, 0, Validate::Fast), Ok(2));
}

#[test]
fn union_indexes_are_checked_in_both_modes() {
    let schema = Schema::parse_str(r#"["null", "long"]"#).unwrap();
    let compiled = compiled(&schema);
    for validate in BOTH {
        let err = compiled.datum_end(&[4], 0, validate).unwrap_err();
        assert_eq!(
            err.what,
            Malformed::BadUnionIndex {
                index: 2,
                branches: 2
            }
        );
    }
}

#[test]
fn strict_walks_the_items_of_sized_blocks_that_fast_jumps_over() {
    let schema = Schema::parse_str(r#"{"type":"array","items":"boolean"}"#).unwrap();
    let compiled = compiled(&schema);
    // One block of -2 items with its byte size 2, then the end.
    let mut datum = Vec::new();
    write_long(&mut datum, -2);
    write_long(&mut datum, 2);
    datum.extend_from_slice(&[1, 0, 0]);
    for validate in BOTH {
        assert_eq!(compiled.datum_end(&datum, 0, validate), Ok(datum.len()));
    }
    datum[2] = 7;
    assert!(compiled.datum_end(&datum, 0, Validate::Strict).is_err());
    assert_eq!(
        compiled.datum_end(&datum, 0, Validate::Fast),
        Ok(datum.len())
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_an_error_not_a_stack_overflow() {
    let schema = Schema::parse_str(
        r#"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}"#,
    )
    .unwrap();
    let compiled = compiled(&schema);
    // Each list node is two levels: the record's field and the union's branch.
    let nodes = MAX_DEPTH as usize;
    let mut deep = vec![2u8; nodes];
    deep.push(0);
    for validate in BOTH {
        let err = compiled.datum_end(&deep, 0, validate).unwrap_err();
        assert_eq!(err.what, Malformed::TooDeep, "{validate:?}");
        let shallow = &deep[nodes - MAX_DEPTH as usize / 2 + 1..];
        assert_eq!(
            compiled.datum_end(shallow, 0, validate),
            Ok(shallow.len()),
            "{validate:?}"
        );
    }
}

#[test]
fn zero_sized_items_do_not_spin_on_a_huge_count() {
    let schema = Schema::parse_str(r#"{"type":"array","items":"null"}"#).unwrap();
    let compiled = compiled(&schema);
    let mut datum = Vec::new();
    write_long(&mut datum, i64::MAX);
    datum.push(0);
    assert_eq!(
        compiled.datum_end(&datum, 0, Validate::Fast),
        Ok(datum.len())
    );
    // The strict walk bounds them (a decoder that makes a value of each would not stop).
    let refused = compiled.datum_end(&datum, 0, Validate::Strict).unwrap_err();
    assert_eq!(
        refused.what,
        crate::binary::Malformed::TooManyItems(crate::skip::MAX_EMPTY_ITEMS)
    );
}

#[test]
fn the_bound_on_empty_items_counts_every_block_of_a_datum() {
    let schema = Schema::parse_str(r#"{"type":"array","items":"null"}"#).unwrap();
    let compiled = compiled(&schema);
    let half = (crate::skip::MAX_EMPTY_ITEMS / 2) as i64;
    let blocks = |counts: &[i64]| {
        let mut datum = Vec::new();
        for &count in counts {
            write_long(&mut datum, count);
        }
        datum.push(0);
        datum
    };
    let at_the_bound = blocks(&[half, half]);
    assert_eq!(
        compiled.datum_end(&at_the_bound, 0, Validate::Strict),
        Ok(at_the_bound.len())
    );
    let past_it = blocks(&[half, half, 1]);
    assert!(compiled.datum_end(&past_it, 0, Validate::Strict).is_err());
}

#[test]
fn a_sized_block_whose_items_end_elsewhere_is_refused_by_the_strict_walk() {
    // Found by the avro_datum fuzz target: the fast walk jumps by the declared size, so a strict
    // walk that accepted other items would end the datum where the fast walk does not.
    let schema = Schema::parse_str(r#"{"type":"array","items":"long"}"#).unwrap();
    let compiled = compiled(&schema);
    let sized = |declared: i64| {
        let mut datum = Vec::new();
        write_long(&mut datum, -2);
        write_long(&mut datum, declared);
        write_long(&mut datum, 1);
        write_long(&mut datum, 2);
        datum.push(0);
        datum
    };
    let right = sized(2);
    for validate in [Validate::Strict, Validate::Fast] {
        assert_eq!(compiled.datum_end(&right, 0, validate), Ok(right.len()));
    }
    let wrong = sized(3);
    let refused = compiled.datum_end(&wrong, 0, Validate::Strict).unwrap_err();
    assert_eq!(
        refused.what,
        crate::binary::Malformed::BlockSizeMismatch {
            declared: 3,
            walked: 2
        }
    );
}

#[test]
fn an_int_of_five_bytes_past_32_bits_is_refused_by_the_strict_walk() {
    // Found by the avro_datum fuzz target: 5 varint bytes hold 35 bits.
    let schema = Schema::parse_str(r#""int""#).unwrap();
    let compiled = compiled(&schema);
    let mut datum = Vec::new();
    write_long(&mut datum, 11_718_750_000);
    assert_eq!(datum.len(), 5);
    let refused = compiled.datum_end(&datum, 0, Validate::Strict).unwrap_err();
    assert_eq!(
        refused.what,
        crate::binary::Malformed::IntOutOfRange(11_718_750_000)
    );
    let mut fits = Vec::new();
    write_long(&mut fits, i64::from(i32::MIN));
    assert_eq!(
        compiled.datum_end(&fits, 0, Validate::Strict),
        Ok(fits.len())
    );
}
