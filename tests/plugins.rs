//! The plugin system end to end: real components (the bundled ones, a custom example, test
//! plugins that misbehave on purpose) in the real wasmtime host, over real Avro datums.

use std::time::{Duration, Instant};

use apache_avro::types::Value;
use apache_avro::{to_avro_datum, Schema};
use camus2kafka::testing::{ByteSize, Seconds};
use camus2kafka::testing::{FormatPlugin, KeyPlugin};
use serde_json::json;

use crate::support::c2k::C2k;
use crate::support::plugins;
use crate::support::plugins::{config, misbehave_wasm, split_keys, Batch};
use crate::support::process::run_with_timeout;
use crate::support::repo;

/// `header.time` as a plain long in milliseconds (what Camus records carry).
const HEADER_LONG_MS: &str = r#"{"type": "record", "name": "PageView", "namespace": "com.example",
  "fields": [
    {"name": "page", "type": "string"},
    {"name": "header", "type": {"type": "record", "name": "Header", "fields": [
      {"name": "server", "type": "string"},
      {"name": "time", "type": "long"}]}}]}"#;

/// `header.time` as timestamp-micros, behind a nullable union, after a map to skip.
const HEADER_MICROS: &str = r#"{"type": "record", "name": "PageView", "namespace": "com.example",
  "fields": [
    {"name": "attrs", "type": {"type": "map", "values": "string"}},
    {"name": "header", "type": ["null", {"type": "record", "name": "Header", "fields": [
      {"name": "server", "type": "string"},
      {"name": "time", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]}]}]}]}"#;

/// `header.time` as an int (seconds would be odd, but ints are accepted as milliseconds).
const HEADER_INT: &str = r#"{"type": "record", "name": "PageView", "namespace": "com.example",
  "fields": [{"name": "header", "type": {"type": "record", "name": "Header", "fields": [
      {"name": "server", "type": "string"},
      {"name": "time", "type": "int"}]}}]}"#;

/// No `header.time` at all (an older schema).
const NO_TIME: &str = r#"{"type": "record", "name": "PageView", "namespace": "com.example",
  "fields": [{"name": "page", "type": "string"}]}"#;

fn datum(schema: &str, value: Value) -> Vec<u8> {
    to_avro_datum(&Schema::parse_str(schema).unwrap(), value).unwrap()
}

fn long_ms(server: &str, ms: i64) -> Vec<u8> {
    datum(
        HEADER_LONG_MS,
        Value::Record(vec![
            ("page".into(), Value::String("/".into())),
            (
                "header".into(),
                Value::Record(vec![
                    ("server".into(), Value::String(server.into())),
                    ("time".into(), Value::Long(ms)),
                ]),
            ),
        ]),
    )
}

fn micros(server: &str, us: Option<i64>) -> Vec<u8> {
    let time = match us {
        Some(us) => Value::Union(1, Box::new(Value::TimestampMicros(us))),
        None => Value::Union(0, Box::new(Value::Null)),
    };
    datum(
        HEADER_MICROS,
        Value::Record(vec![
            (
                "attrs".into(),
                Value::Map(
                    [("k".to_string(), Value::String("v".into()))]
                        .into_iter()
                        .collect(),
                ),
            ),
            (
                "header".into(),
                Value::Union(
                    1,
                    Box::new(Value::Record(vec![
                        ("server".into(), Value::String(server.into())),
                        ("time".into(), time),
                    ])),
                ),
            ),
        ]),
    )
}

fn int_ms(ms: i32) -> Vec<u8> {
    datum(
        HEADER_INT,
        Value::Record(vec![(
            "header".into(),
            Value::Record(vec![
                ("server".into(), Value::String("i".into())),
                ("time".into(), Value::Int(ms)),
            ]),
        )]),
    )
}

fn no_time() -> Vec<u8> {
    datum(
        NO_TIME,
        Value::Record(vec![("page".into(), Value::String("/old".into()))]),
    )
}

fn time_field(on_missing: &str) -> KeyPlugin {
    time_field_as("time-field", on_missing)
}

/// `time-field` on `header.time` loaded as `plugin` (`time-field` or `native:time-field`), with
/// the four test schemas registered.
fn time_field_as(plugin: &str, on_missing: &str) -> KeyPlugin {
    let mut key = KeyPlugin::load(&config(
        plugin,
        json!({"field": "header.time", "on_missing": on_missing}),
    ))
    .unwrap();
    for (id, schema) in [
        (1, HEADER_LONG_MS),
        (2, HEADER_MICROS),
        (3, HEADER_INT),
        (4, NO_TIME),
    ] {
        key.register_schema(id, schema).unwrap();
    }
    key
}

/// The batch positions in the order their keys sort.
fn sorted_positions(keys: &[Vec<u8>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
    order
}

#[test]
fn time_field_orders_long_int_and_micros_times_together() {
    let mut key = time_field("error");
    let mut batch = Batch::default();
    batch
        .push(1, &long_ms("a", 1_700_000_000_002)) // 0: ...002 ms
        .push(2, &micros("b", Some(1_700_000_000_001_500))) // 1: ...001.5 ms
        .push(1, &long_ms("c", -5)) // 2: before the epoch
        .push(3, &int_ms(7)) // 3: 7 ms
        .push(2, &micros("d", Some(1_700_000_000_002_000))) // 4: equal to 0
        .push(2, &micros("e", Some(-5_001))); // 5: -5.001 ms
    let keys = key.extract_keys(&batch.as_plugin_batch()).unwrap();
    let split = split_keys(&keys.data, &keys.ends);
    assert_eq!(sorted_positions(&split), vec![5, 2, 3, 1, 0, 4]);
    assert_eq!(split[0], split[4], "1 ms == 1000 µs");
    assert_eq!(
        keys.timestamps_ms,
        vec![
            Some(1_700_000_000_002),
            Some(1_700_000_000_001),
            Some(-5),
            Some(7),
            Some(1_700_000_000_002),
            Some(-6)
        ]
    );
}

#[test]
fn time_field_missing_time_is_an_error_naming_the_field_and_record() {
    let mut key = time_field("error");
    let mut batch = Batch::default();
    batch.push(1, &long_ms("a", 1)).push(2, &micros("b", None));
    let error = key.extract_keys(&batch.as_plugin_batch()).unwrap_err();
    assert_eq!(error.index, Some(1));
    assert_eq!(error.plugin, "time-field");
    assert!(error.to_string().contains("`header.time`"), "{error}");

    // Absent from the record's schema (an old writer schema): the error names that schema and
    // what gives old records the field.
    let mut batch = Batch::default();
    batch.push(4, &no_time());
    let error = time_field("error")
        .extract_keys(&batch.as_plugin_batch())
        .unwrap_err();
    assert_eq!(error.index, Some(0), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("field `header.time` is not in this record's schema com.example.PageView")
            && text.contains("writer schema of its file")
            && text.contains("set source.schema to a reader schema"),
        "{text}"
    );
}

/// The WIT package version is the contract: a component built against another one is refused
/// before it runs, naming the version it was built for and the one this c2k loads, which
/// `c2k --version` states.
#[test]
fn a_plugin_built_against_another_contract_version_is_refused_naming_both_versions() {
    let wasm = plugins::future_contract_wasm();
    let error = KeyPlugin::load(&config(wasm.to_str().unwrap(), json!({})))
        .err()
        .expect("a plugin of contract 9.0.0 is refused");
    let text = format!("{error:#}");
    assert!(
        text.contains("future_contract.wasm")
            && text.contains("built against the plugin contract camus2kafka:plugin@9.0.0")
            && text.contains(
                "loads camus2kafka:plugin@0.1.3, camus2kafka:plugin@0.1.2, \
                 camus2kafka:plugin@0.1.1, camus2kafka:plugin@0.1.0 only"
            ),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let version = C2k::new(&["--version"])
        .dir(dir.path())
        .timeout(Duration::from_secs(30))
        .run();
    version.assert_ok();
    assert!(
        version.stdout.contains(
            "plugin contract (WIT package): camus2kafka:plugin@0.1.3, camus2kafka:plugin@0.1.2, \
             camus2kafka:plugin@0.1.1, camus2kafka:plugin@0.1.0"
        ),
        "{}",
        version.stdout
    );
    // The command line says the same (here `c2k plugin test`, which tries both roles).
    crate::support::camus::write_fastavro_tree(dir.path(), "PAGE_VIEWS");
    let input = dir.path().join("destination/PAGE_VIEWS");
    C2k::new(&[
        "plugin",
        "test",
        wasm.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ])
    .dir(dir.path())
    .timeout(Duration::from_secs(60))
    .run()
    .assert_failed_with(&["camus2kafka:plugin@9.0.0", "camus2kafka:plugin@0.1.3"]);
}

/// A format plugin of the older minor contract 0.1.0 (`format` returning `list<message>`, no
/// `format-flat`) still loads and gives every part of every message: value, key or none,
/// headers, timestamp or none.
#[test]
fn a_format_plugin_of_contract_0_1_0_is_still_loaded_and_called_with_format() {
    let wasm = plugins::contract_0_1_0_wasm();
    let mut plugin = FormatPlugin::load(&config(wasm.to_str().unwrap(), json!({})))
        .expect("a 0.1.0 output format loads");
    plugin.register_schema(0, HEADER_LONG_MS).unwrap();
    let mut batch = Batch::default();
    let datums: Vec<Vec<u8>> = (0..7).map(|i| long_ms("s", 1_000 + i)).collect();
    for d in &datums {
        batch.push(0, d);
    }
    let messages = plugin.format(&batch.as_plugin_batch()).unwrap();
    assert_eq!(messages.len(), 7);
    for (i, (m, d)) in messages.iter().zip(&datums).enumerate() {
        assert_eq!(&m.value, d, "message {i}");
        assert_eq!(m.key, (i % 2 == 0).then(|| d[..1].to_vec()), "message {i}");
        assert_eq!(
            m.headers,
            vec![("i".to_string(), i.to_string().into_bytes())],
            "message {i}"
        );
        assert_eq!(
            m.timestamp_ms,
            (i % 3 == 0).then_some(1000 + i as i64),
            "message {i}"
        );
    }
}

/// The SDK exports both boundaries of an output format: `format-flat` (what this host calls) and
/// `format` (what a host of contract 0.1.0 calls). Every bundled format gives the same messages
/// through both, keys included.
#[test]
fn every_bundled_format_gives_the_same_messages_through_both_boundaries() {
    let mut batch = Batch::default();
    let datums: Vec<Vec<u8>> = (0..50).map(|i| long_ms(&format!("s\"{i}é"), i)).collect();
    for d in &datums {
        batch.push(0, d);
    }
    for (plugin, cfg) in [
        ("avro-binary", json!({})),
        (
            "avro-binary",
            json!({"key_field": "page", "confluent_schema_id": 7}),
        ),
        (
            "json",
            json!({"encoding": "avro", "key_field": "header.server"}),
        ),
        ("json", json!({"encoding": "plain"})),
    ] {
        let config = config(plugin, cfg.clone());
        let mut flat = FormatPlugin::load(&config).unwrap();
        let mut list = FormatPlugin::load_list_of_messages(&config).unwrap();
        flat.register_schema(0, HEADER_LONG_MS).unwrap();
        list.register_schema(0, HEADER_LONG_MS).unwrap();
        let a = flat.format(&batch.as_plugin_batch()).unwrap();
        let b = list.format(&batch.as_plugin_batch()).unwrap();
        assert_eq!(a.len(), 50, "{plugin} {cfg}");
        for (i, (a, b)) in a.iter().zip(&b).enumerate() {
            assert_eq!(
                (&a.key, &a.value, &a.headers, a.timestamp_ms),
                (&b.key, &b.value, &b.headers, b.timestamp_ms),
                "{plugin} {cfg}, message {i}"
            );
        }
        assert!(a.iter().all(|m| !m.value.is_empty()), "{plugin} {cfg}");
        let keyed = cfg.get("key_field").is_some();
        assert!(a.iter().all(|m| m.key.is_some() == keyed), "{plugin} {cfg}");
    }
}

#[test]
fn time_field_sorts_records_without_time_first_or_last_as_configured() {
    let mut batch = Batch::default();
    batch
        .push(1, &long_ms("a", i64::MAX / 1000)) // 0: the latest time there can be
        .push(4, &no_time()) // 1: absent from the schema
        .push(1, &long_ms("b", i64::MIN / 1000)) // 2: the earliest
        .push(2, &micros("c", None)); // 3: null
    for (on_missing, expected) in [("first", vec![1, 3, 2, 0]), ("last", vec![2, 0, 1, 3])] {
        let keys = time_field(on_missing)
            .extract_keys(&batch.as_plugin_batch())
            .unwrap();
        let split = split_keys(&keys.data, &keys.ends);
        assert_eq!(
            sorted_positions(&split),
            expected,
            "on_missing: {on_missing}"
        );
        assert_eq!(keys.timestamps_ms[1], None);
    }
}

#[test]
fn bundled_plugins_reject_unknown_config_keys_by_name() {
    let error = KeyPlugin::load(&config("time-field", json!({"feild": "time"})))
        .err()
        .expect("a typo in the config is an error");
    assert!(format!("{error:#}").contains("feild"), "{error:#}");
    let error = FormatPlugin::load(&config("json", json!({"encoding": "yaml"})))
        .err()
        .expect("an unknown encoding is an error");
    assert!(format!("{error:#}").contains("yaml"), "{error:#}");
}

#[test]
fn a_plugin_loaded_in_the_wrong_role_is_refused_naming_its_role() {
    let error = KeyPlugin::load(&config("avro-binary", json!({})))
        .err()
        .expect("an output format is not a key extractor");
    let text = format!("{error:#}");
    assert!(
        text.contains("avro-binary")
            && text.contains("cannot be instantiated as a key-extractor")
            && text.contains("it is an output-format (format.plugin) plugin"),
        "{text}"
    );
    let error = FormatPlugin::load(&config("time-field", json!({"field": "time"})))
        .err()
        .expect("a key extractor is not an output format");
    let text = format!("{error:#}");
    assert!(
        text.contains("time-field")
            && text.contains("cannot be instantiated as an output-format")
            && text.contains("it is a key-extractor (key.plugin) plugin"),
        "{text}"
    );
}

#[test]
fn avro_binary_passes_datums_through_with_key_and_confluent_header() {
    let mut plain = FormatPlugin::load(&config("avro-binary", json!({}))).unwrap();
    let mut framed = FormatPlugin::load(&config(
        "avro-binary",
        json!({"key_field": "header.server", "confluent_schema_id": 258}),
    ))
    .unwrap();
    let records = [long_ms("web-1", 10), long_ms("web-2", 20)];
    let mut batch = Batch::default();
    for r in &records {
        batch.push(9, r);
    }
    plain.register_schema(9, HEADER_LONG_MS).unwrap();
    framed.register_schema(9, HEADER_LONG_MS).unwrap();

    let messages = plain.format(&batch.as_plugin_batch()).unwrap();
    assert_eq!(messages.len(), 2);
    for (m, r) in messages.iter().zip(&records) {
        assert_eq!(&m.value, r);
        assert_eq!(m.key, None);
    }
    let messages = framed.format(&batch.as_plugin_batch()).unwrap();
    for (i, (m, r)) in messages.iter().zip(&records).enumerate() {
        assert_eq!(&m.value[..5], &[0, 0, 0, 1, 2]);
        assert_eq!(&m.value[5..], &r[..]);
        assert_eq!(m.key.as_deref(), Some(format!("web-{}", i + 1).as_bytes()));
    }
}

/// A schema with every kind of value Avro's JSON encoding treats specially.
const EVERYTHING: &str = r#"{"type": "record", "name": "Everything", "namespace": "t",
  "fields": [
    {"name": "s", "type": "string"},
    {"name": "b", "type": "bytes"},
    {"name": "f", "type": {"type": "fixed", "name": "Pair", "size": 2}},
    {"name": "e", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
    {"name": "m", "type": {"type": "map", "values": ["null", "double"]}},
    {"name": "a", "type": {"type": "array", "items": "long"}},
    {"name": "u", "type": ["null", "string", "long", {"type": "record", "name": "Inner",
        "fields": [{"name": "x", "type": "int"}, {"name": "ok", "type": "boolean"}]}]},
    {"name": "t", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
    {"name": "n", "type": ["null", "Pair"]},
    {"name": "d", "type": "double"},
    {"name": "fl", "type": "float"}]}"#;

/// Writes records with Python's fastavro (an independent implementation): each record's binary
/// datum and its Avro JSON encoding from `fastavro.json_writer`.
fn fastavro_records() -> Vec<(Vec<u8>, serde_json::Value)> {
    let script = r#"
import io, json, sys, fastavro
schema = fastavro.parse_schema(json.loads(sys.argv[1]))
records = [
  {"s": "h\u00e9 \"q\" \\ \n", "b": b"\x00\x01\x7f\x80\xff", "f": b"\xfe\x00", "e": "GREEN",
   "m": {"x": 1.5, "y": None}, "a": [1, -2, 3000000000], "u": {"x": -7, "ok": True},
   "t": 1700000000123, "n": b"ab", "d": 1.0, "fl": 0.5},
  {"s": "", "b": b"", "f": b"zz", "e": "RED", "m": {}, "a": [], "u": "text", "t": None,
   "n": None, "d": -2.5e-5, "fl": -3.0},
  {"s": "x", "b": b"y", "f": b"\x01\x02", "e": "RED", "m": {}, "a": [0], "u": 42, "t": 0,
   "n": None, "d": 12345.678, "fl": 1e10},
  {"s": "x", "b": b"y", "f": b"\x01\x02", "e": "RED", "m": {}, "a": [], "u": None, "t": None,
   "n": None, "d": 0.0, "fl": 0.0},
]
for r in records:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, r)
    text = io.StringIO()
    fastavro.json_writer(text, schema, [r])
    print(buf.getvalue().hex() + "\t" + text.getvalue().strip())
"#;
    let output = run_with_timeout(
        std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(EVERYTHING),
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "fastavro failed (pip install fastavro): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (hex, text) = line.split_once('\t').unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (bytes, serde_json::from_str(text).unwrap())
        })
        .collect()
}

#[test]
fn json_avro_encoding_matches_fastavro_and_javas_layout() {
    let records = fastavro_records();
    let mut json = FormatPlugin::load(&config("json", json!({"key_field": "e"}))).unwrap();
    json.register_schema(1, EVERYTHING).unwrap();
    let mut batch = Batch::default();
    for (datum, _) in &records {
        batch.push(1, datum);
    }
    let messages = json.format(&batch.as_plugin_batch()).unwrap();
    for ((_, expected), message) in records.iter().zip(&messages) {
        let ours: serde_json::Value = serde_json::from_slice(&message.value)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&message.value)));
        assert_eq!(&ours, expected);
    }
    assert_eq!(messages[0].key.as_deref(), Some(&b"GREEN"[..]));
    // Java's JsonEncoder layout, checked by hand: no whitespace, Double.toString numbers,
    // ISO-8859-1 bytes with Jackson's escapes.
    assert_eq!(
        String::from_utf8(messages[1].value.to_vec()).unwrap(),
        r#"{"s":"","b":"","f":"zz","e":"RED","m":{},"a":[],"u":{"string":"text"},"t":null,"n":null,"d":-2.5E-5,"fl":-3.0}"#
    );
    let first = String::from_utf8(messages[0].value.to_vec()).unwrap();
    assert!(
        first.starts_with(r#"{"s":"hé \"q\" \\ \n","b":"\u0000\u0001"#),
        "{first}"
    );
    assert!(first.contains(r#""u":{"t.Inner":{"x":-7,"ok":true}},"t":{"long":1700000000123},"n":{"t.Pair":"ab"},"d":1.0,"fl":0.5}"#), "{first}");
}

#[test]
fn json_plain_encoding_unwraps_unions() {
    let records = fastavro_records();
    let mut json = FormatPlugin::load(&config("json", json!({"encoding": "plain"}))).unwrap();
    json.register_schema(1, EVERYTHING).unwrap();
    let mut batch = Batch::default();
    batch.push(1, &records[0].0).push(1, &records[2].0);
    let messages = json.format(&batch.as_plugin_batch()).unwrap();
    let first: serde_json::Value = serde_json::from_slice(&messages[0].value).unwrap();
    assert_eq!(first["u"], json!({"x": -7, "ok": true}));
    assert_eq!(first["t"], json!(1_700_000_000_123i64));
    assert_eq!(first["m"], json!({"x": 1.5, "y": null}));
    let second: serde_json::Value = serde_json::from_slice(&messages[1].value).unwrap();
    assert_eq!(second["u"], json!(42));
}

#[test]
fn a_panicking_plugin_fails_with_its_name_and_the_record() {
    let wasm = misbehave_wasm();
    let plugin = wasm.display().to_string();
    let mut key = KeyPlugin::load(&config(&plugin, json!({"mode": "panic", "at": 2}))).unwrap();
    key.register_schema(1, HEADER_LONG_MS).unwrap();
    let mut batch = Batch::default();
    for i in 0..5 {
        batch.push(1, &long_ms("a", i));
    }
    let error = key.extract_keys(&batch.as_plugin_batch()).unwrap_err();
    assert_eq!(error.plugin, plugin);
    assert_eq!(error.index, Some(2), "{error}");
    assert!(
        error.message.contains("deliberate panic on record 2"),
        "{error}"
    );
    // A plugin that failed is not called again.
    let again = key.extract_keys(&batch.as_plugin_batch()).unwrap_err();
    assert!(again.message.contains("not called again"), "{again}");

    let mut key = KeyPlugin::load(&config(&plugin, json!({"mode": "reject", "at": 3}))).unwrap();
    key.register_schema(1, HEADER_LONG_MS).unwrap();
    let error = key.extract_keys(&batch.as_plugin_batch()).unwrap_err();
    assert_eq!(error.index, Some(3));
    assert!(
        error.message.contains("deliberate error on record 3"),
        "{error}"
    );
}

#[test]
fn a_plugin_that_never_returns_is_stopped_at_call_timeout() {
    let wasm = misbehave_wasm();
    let mut cfg = config(
        &wasm.display().to_string(),
        json!({"mode": "loop", "at": 1}),
    );
    cfg.call_timeout = Seconds(0.5);
    let mut key = KeyPlugin::load(&cfg).unwrap();
    key.register_schema(1, HEADER_LONG_MS).unwrap();
    let mut batch = Batch::default();
    batch.push(1, &long_ms("a", 1)).push(1, &long_ms("a", 2));
    let started = Instant::now();
    let error = key.extract_keys(&batch.as_plugin_batch()).unwrap_err();
    let took = started.elapsed();
    assert!(error.message.contains("timed out"), "{error}");
    assert!(error.message.contains("call_timeout"), "{error}");
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "stopped after {took:?}"
    );
}

#[test]
fn a_plugin_that_hoards_memory_is_capped_at_max_memory() {
    let wasm = misbehave_wasm();
    let mut cfg = config(&wasm.display().to_string(), json!({"mode": "hog", "at": 0}));
    cfg.max_memory = ByteSize(32 << 20);
    let mut key = KeyPlugin::load(&cfg).unwrap();
    key.register_schema(1, HEADER_LONG_MS).unwrap();
    let mut batch = Batch::default();
    batch.push(1, &long_ms("a", 1));
    let error = key.extract_keys(&batch.as_plugin_batch()).unwrap_err();
    assert!(error.message.contains("out of memory"), "{error}");
    assert!(
        error.message.contains(&(32u64 << 20).to_string()),
        "{error}"
    );
}

#[test]
fn a_plugin_gets_no_files_environment_network_clock_or_randomness() {
    let wasm = misbehave_wasm();
    let cfg = config(&wasm.display().to_string(), json!({"mode": "snoop"}));
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut key = KeyPlugin::load(&cfg).unwrap();
        key.register_schema(1, HEADER_LONG_MS).unwrap();
        let mut batch = Batch::default();
        batch.push(1, &long_ms("a", 1));
        let keys = key.extract_keys(&batch.as_plugin_batch()).unwrap();
        let report: serde_json::Value = serde_json::from_slice(&keys.data).unwrap();
        assert!(
            report["file"].as_str().unwrap().starts_with("Err"),
            "{report}"
        );
        assert!(
            report["dir"].as_str().unwrap().starts_with("Err"),
            "{report}"
        );
        assert!(
            report["network"].as_str().unwrap().starts_with("Err"),
            "{report}"
        );
        assert_eq!(report["env"], 0, "{report}");
        assert_eq!(report["args"], 0, "{report}");
        assert_eq!(
            report["now"], 0,
            "the wall clock is frozen at the epoch: {report}"
        );
        seen.push(report);
    }
    assert_eq!(
        seen[0]["random"], seen[1]["random"],
        "randomness is the same in every run"
    );
}

#[test]
fn the_server_time_example_builds_and_sorts_by_server_then_time() {
    let wasm = plugins::build_wasm(
        &repo().join("plugin-sdk/examples/server-time"),
        "server_time",
    );
    let mut key = KeyPlugin::load(&config(&wasm.display().to_string(), json!({}))).unwrap();
    key.register_schema(1, HEADER_LONG_MS).unwrap();
    key.register_schema(2, HEADER_MICROS).unwrap();
    let mut batch = Batch::default();
    batch
        .push(1, &long_ms("web-2", 5)) // 0
        .push(1, &long_ms("web-1", 9)) // 1
        .push(2, &micros("web-1", Some(3))) // 2
        .push(1, &long_ms("web-10", 1)) // 3
        .push(1, &long_ms("web-1", -4)); // 4
    let keys = key.extract_keys(&batch.as_plugin_batch()).unwrap();
    let split = split_keys(&keys.data, &keys.ends);
    assert_eq!(sorted_positions(&split), vec![4, 2, 1, 3, 0]);
    assert_eq!(
        keys.timestamps_ms,
        vec![Some(5), Some(9), Some(3), Some(1), Some(-4)]
    );
}

/// Every kind of record the time-field tests use, several times over, in one batch.
fn mixed_batch() -> Batch {
    let mut batch = Batch::default();
    for i in 0..50i64 {
        batch
            .push(1, &long_ms("a", 1_700_000_000_000 + i * 37))
            .push(2, &micros("b", Some(1_700_000_000_000_500 - i * 1_001)))
            .push(1, &long_ms("c", -5 - i))
            .push(3, &int_ms(7 * i as i32))
            .push(2, &micros("d", Some(-5_001 * i)))
            .push(1, &long_ms("e", i64::MAX / 1000 - i))
            .push(1, &long_ms("f", i64::MIN / 1000 + i));
    }
    batch
}

#[test]
fn native_and_wasm_time_field_give_identical_keys_and_timestamps() {
    let batch = mixed_batch();
    let mut with_missing = mixed_batch();
    with_missing.push(4, &no_time()).push(2, &micros("n", None));
    for (on_missing, batch) in [
        ("error", &batch),
        ("first", &with_missing),
        ("last", &with_missing),
    ] {
        let mut wasm = time_field_as("time-field", on_missing);
        let mut native = time_field_as("native:time-field", on_missing);
        // Twice: a reused extractor gives the same answer as a fresh one.
        for round in 0..2 {
            let expected = wasm.extract_keys(&batch.as_plugin_batch()).unwrap();
            let got = native.extract_keys(&batch.as_plugin_batch()).unwrap();
            assert_eq!(
                got.ends, expected.ends,
                "on_missing: {on_missing}, round {round}"
            );
            assert_eq!(
                got.data, expected.data,
                "on_missing: {on_missing}, round {round}"
            );
            assert_eq!(
                got.timestamps_ms, expected.timestamps_ms,
                "on_missing: {on_missing}, round {round}"
            );
            assert_eq!(got.ends.len(), batch.ends.len());
        }
    }
}

#[test]
fn native_time_field_errors_name_the_plugin_and_record() {
    let mut batch = Batch::default();
    batch
        .push(1, &long_ms("a", 1))
        .push(3, &int_ms(2))
        .push(2, &micros("b", None));
    let error = time_field_as("native:time-field", "error")
        .extract_keys(&batch.as_plugin_batch())
        .unwrap_err();
    assert_eq!(error.plugin, "native:time-field");
    assert_eq!(error.index, Some(2), "{error}");
    assert!(error.to_string().contains("`header.time`"), "{error}");
    // The same message as the component's.
    let wasm = time_field("error")
        .extract_keys(&batch.as_plugin_batch())
        .unwrap_err();
    assert_eq!(error.message, wasm.message);

    let error = KeyPlugin::load(&config("native:time-field", json!({"feild": "time"})))
        .err()
        .expect("a typo in the config is an error");
    let text = format!("{error:#}");
    assert!(
        text.contains("native:time-field") && text.contains("feild"),
        "{text}"
    );

    let error = KeyPlugin::load(&config("native:json", json!({})))
        .err()
        .expect("there is no native json key extractor");
    let text = format!("{error:#}");
    assert!(
        text.contains("native:json") && text.contains("time-field"),
        "{text}"
    );

    let mut key = KeyPlugin::load(&config("native:time-field", json!({}))).unwrap();
    let error = key.register_schema(9, "{not json").unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.contains("native:time-field") && text.contains("schema 9"),
        "{text}"
    );
}

#[test]
fn validate_accepts_native_time_field_and_lists_the_native_plugins_otherwise() {
    use camus2kafka::testing::check_plugin_reference;
    check_plugin_reference("native:time-field").unwrap();
    let error = check_plugin_reference("native:time_field").unwrap_err();
    assert!(error.contains("native:time-field"), "{error}");
    let error = FormatPlugin::load(&config("native:time-field", json!({})))
        .err()
        .expect("native plugins are key extractors only");
    assert!(format!("{error:#}").contains("key.plugin"), "{error:#}");
}

/// Issue 6: keys/s of the native and the WebAssembly `time-field` over 1M sample page views
/// (schema v2 of `c2k sample`, ~300 bytes each) in batches of `key.batch_size` (1000). Run with
/// `cargo test --release -p camus2kafka --test integration -- --ignored --nocapture time_field_speed`.
#[test]
#[ignore = "a benchmark: run it with --release --ignored"]
fn time_field_speed_native_versus_wasm() {
    use camus2kafka::testing::PAGE_VIEW_V2;

    const RECORDS: usize = 1_000_000;
    const BATCH: usize = 1000;
    let schema = Schema::parse_str(PAGE_VIEW_V2).unwrap();
    let distinct: Vec<Vec<u8>> = (0..BATCH as i64)
        .map(|i| {
            let record =
                Value::Record(vec![
                (
                    "header".into(),
                    Value::Record(vec![
                        ("time".into(), Value::TimestampMillis(1_710_028_800_000 + i * 7)),
                        ("server".into(), Value::String(format!("web-{:02}.example.com", i % 17))),
                        ("service".into(), Value::String("frontend".into())),
                    ]),
                ),
                ("url".into(), Value::String(format!(
                    "https://www.example.com/news/{i:08x}-story?utm_source=feed&page={}", i % 20
                ))),
                ("referrer".into(), Value::Union(1, Box::new(Value::String(
                    "https://www.google.com/search?q=example".into()
                )))),
                ("user_id".into(), Value::Long(1_000_000 + i * 7919)),
                ("session_id".into(), Value::String(format!("{:032x}", i * 0x9e37_79b9))),
                ("user_agent".into(), Value::String(
                    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0".into()
                )),
                ("ip".into(), Value::String(format!("10.{}.{}.{}", i % 256, i / 256, i % 7))),
                ("duration_ms".into(), Value::Long(i * 13 % 5000)),
                ("country".into(), Value::String("FR".into())),
            ]);
            to_avro_datum(&schema, record).unwrap()
        })
        .collect();
    let mut batch = Batch::default();
    for datum in &distinct {
        batch.push(1, datum);
    }
    let bytes = batch.data.len() as f64 / BATCH as f64;

    let mut extractors = Vec::new();
    for plugin in ["native:time-field", "time-field"] {
        let mut key = KeyPlugin::load(&config(plugin, json!({"field": "header.time"}))).unwrap();
        key.register_schema(1, PAGE_VIEW_V2).unwrap();
        key.extract_keys(&batch.as_plugin_batch()).unwrap(); // warm up
        extractors.push((plugin, key, Duration::MAX));
    }
    // The best of several interleaved rounds: the machine running the tests is shared.
    for _round in 0..7 {
        for (_, key, best) in &mut extractors {
            let started = Instant::now();
            let mut key_bytes = 0;
            for _ in 0..RECORDS / BATCH {
                let keys = key.extract_keys(&batch.as_plugin_batch()).unwrap();
                key_bytes += keys.data.len();
            }
            *best = (*best).min(started.elapsed());
            assert_eq!(key_bytes, RECORDS * 9, "one 9-byte key per record");
        }
    }
    let mut rates = Vec::new();
    for (plugin, _, best) in &extractors {
        let rate = RECORDS as f64 / best.as_secs_f64();
        println!(
            "{plugin:>18}: {RECORDS} records ({bytes:.0} B each) in {best:.2?} (best of 7): \
             {:.1} M keys/s",
            rate / 1e6
        );
        rates.push(rate);
    }
    println!("wasm takes {:.2}x the native time", rates[0] / rates[1]);
}

/// A whole `c2k run` over a `c2k sample` tree: `native:time-field` and the component give the
/// same output file, byte for byte (same order, same timestamps).
#[test]
fn a_run_with_native_time_field_writes_the_same_output_as_the_component() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sampled = C2k::new(&["sample", data.to_str().unwrap()]).run();
    assert!(sampled.status.success(), "c2k sample failed");
    let mut outputs = Vec::new();
    for plugin in ["time-field", "native:time-field"] {
        let out = dir
            .path()
            .join(format!("{}.jsonl", plugin.replace(':', "-")));
        let pipeline = dir.path().join("pipeline.yaml");
        let yaml = format!(
            "topic: PAGE_VIEWS\n\
             source: {{ dest_dir: {data}/destination, schema: {data}/page_view.avsc }}\n\
             key: {{ plugin: \"{plugin}\", config: {{ field: header.time }} }}\n\
             sort: {{ memory: 64MiB, tmp_dir: {tmp} }}\n\
             format: {{ plugin: json, config: {{ encoding: plain }} }}\n\
             sink: {{ type: file, path: {out} }}\n\
             offsets: {{ exec_dir: {data}/execution, group: g, commit: none }}\n",
            data = data.display(),
            tmp = dir.path().display(),
            out = out.display(),
        );
        std::fs::write(&pipeline, yaml).unwrap();
        let output = C2k::new(&["run", pipeline.to_str().unwrap()]).run();
        assert!(
            output.status.success(),
            "c2k run with {plugin}: {}",
            output.stderr
        );
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert!(outputs[0].len() > 1_000_000, "the sample is written out");
    assert!(outputs[0] == outputs[1], "native and wasm outputs differ");
}

/// `c2k plugin test` on files fastavro wrote: a key plugin's keys and timestamps, a format
/// plugin's messages, its kind found by itself, and a rejected config said as a run says it.
#[test]
fn plugin_test_runs_either_kind_over_real_records_without_a_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::camus::write_fastavro_tree(dir.path(), "PAGE_VIEWS");
    let input = dir.path().join("destination/PAGE_VIEWS");
    let input = input.to_str().unwrap();
    let reader = dir.path().join("reader.avsc");
    let run = |args: &[&str]| {
        let mut all = vec!["plugin", "test"];
        all.extend_from_slice(args);
        C2k::new(&all)
            .dir(dir.path())
            .timeout(std::time::Duration::from_secs(120))
            .run()
    };
    let lines = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };

    let keys = run(&[
        "time-field",
        "--input",
        input,
        "--config",
        r#"{"field":"header.time"}"#,
        "-n",
        "5",
    ]);
    keys.assert_ok();
    let keys = lines(&keys.stdout);
    assert_eq!(keys.len(), 5);
    for key in &keys {
        assert_eq!(
            key["timestamp_ms"], key["record"]["header"]["time"],
            "{key}"
        );
        assert!(key["key_hex"].as_str().is_some_and(|h| !h.is_empty()));
    }

    let messages = run(&[
        "json",
        "--input",
        input,
        "--config",
        r#"{"encoding":"plain"}"#,
        "--schema",
        reader.to_str().unwrap(),
    ]);
    messages.assert_ok();
    let messages = lines(&messages.stdout);
    assert!(messages.len() > 100, "{}", messages.len());
    let value: serde_json::Value =
        serde_json::from_str(messages[0]["value"].as_str().unwrap()).unwrap();
    // Resolved to the reader schema: v2's field is there even in v1 records.
    assert!(value.get("country").is_some(), "{value}");

    run(&[
        "time-field",
        "--input",
        input,
        "--config",
        r#"{"feild":"x"}"#,
    ])
    .assert_failed_with(&["plugin time-field", "rejected its config", "feild"]);
}

/// The json writer checks strings eight bytes at a time: every ASCII character (and, for bytes,
/// every byte value) at every position of a run longer than a word comes back exactly, in both
/// encodings, when the JSON is parsed again.
#[test]
fn json_escapes_every_character_at_every_position_of_long_strings() {
    const SCHEMA: &str = r#"{"type": "record", "name": "S", "fields": [
        {"name": "s", "type": "string"}, {"name": "b", "type": "bytes"}]}"#;
    let schema = Schema::parse_str(SCHEMA).unwrap();
    let mut expected = Vec::new();
    let mut batch = Batch::default();
    for special in 0u8..=255 {
        for at in [0usize, 3, 7, 8, 9, 15, 16, 17, 22] {
            let mut text = vec![b'x'; 23];
            // Strings are UTF-8: beyond ASCII, the character U+00XX instead of the byte.
            let mut s = String::from_utf8(text.clone()).unwrap();
            s.replace_range(at..at + 1, &char::from(special).to_string());
            text[at] = special;
            let record = Value::Record(vec![
                ("s".into(), Value::String(s.clone())),
                ("b".into(), Value::Bytes(text.clone())),
            ]);
            batch.push(1, &to_avro_datum(&schema, record).unwrap());
            // Bytes are written as ISO-8859-1: byte XX is the character U+00XX.
            let latin1: String = text.iter().map(|&b| char::from(b)).collect();
            expected.push((s, latin1));
        }
    }
    for encoding in ["avro", "plain"] {
        let mut json = FormatPlugin::load(&config("json", json!({"encoding": encoding}))).unwrap();
        json.register_schema(1, SCHEMA).unwrap();
        let messages = json.format(&batch.as_plugin_batch()).unwrap();
        assert_eq!(messages.len(), expected.len());
        for ((s, latin1), message) in expected.iter().zip(&messages) {
            let parsed: serde_json::Value = serde_json::from_slice(&message.value)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&message.value)));
            assert_eq!(parsed["s"], json!(s), "{encoding}: {parsed}");
            assert_eq!(parsed["b"], json!(latin1), "{encoding}: {parsed}");
        }
    }
}

/// Only strings with a non-ASCII byte are checked for UTF-8 (the quoting loop sees the high
/// bits): one that is not UTF-8 is still refused, in a map key as in a value, naming the
/// record's offset, and valid multi-byte text in the same batch passes.
#[test]
fn json_refuses_a_string_that_is_not_utf8_wherever_it_is() {
    const SCHEMA: &str = r#"{"type": "record", "name": "S", "fields": [
        {"name": "s", "type": "string"}, {"name": "m", "type": {"type": "map", "values": "int"}}]}"#;
    // Zigzag lengths: 3 -> 0x06, 2 -> 0x04, 1 -> 0x02; a map block of one entry, then its end.
    let valid = [
        &[0x06, b'a', 0xC3, 0xA9][..],
        &[0x02, 0x02, b'k', 0x02, 0x00],
    ]
    .concat();
    let bad_value = [&[0x06, b'a', 0xFF, b'b'][..], &[0x00]].concat();
    let bad_key = [&[0x02, b'a'][..], &[0x02, 0x04, 0xC3, b'k', 0x02, 0x00]].concat();
    for encoding in ["avro", "plain"] {
        let mut json = FormatPlugin::load(&config("json", json!({"encoding": encoding}))).unwrap();
        json.register_schema(1, SCHEMA).unwrap();
        let mut ok = Batch::default();
        ok.push(1, &valid);
        let messages = json.format(&ok.as_plugin_batch()).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&messages[0].value).unwrap();
        assert_eq!(parsed, json!({"s": "a\u{e9}", "m": {"k": 1}}), "{encoding}");
        for bad in [&bad_value, &bad_key] {
            let mut batch = Batch::default();
            batch.push(1, bad);
            let error = json.format(&batch.as_plugin_batch()).unwrap_err();
            assert!(
                error.message.contains("not UTF-8"),
                "{encoding}: {}",
                error.message
            );
        }
    }
}

/// Strings, bytes and a recursive record, for the json writer's word-at-a-time copy: every
/// length around the 8-byte word, with an escape, a non-ASCII character or nothing at each
/// position, and a self-referencing list several levels deep.
const WORDS: &str = r#"{"type": "record", "name": "Node", "namespace": "t",
  "fields": [
    {"name": "s", "type": "string"},
    {"name": "b", "type": "bytes"},
    {"name": "next", "type": ["null", "Node"]},
    {"name": "kids", "type": {"type": "array", "items": "Node"}}]}"#;

/// The strings the writer must copy exactly: lengths 0 to 41, each clean and with one special
/// character (a quote, a backslash, a control character, `é`, an emoji) at every position.
fn word_edge_strings() -> Vec<String> {
    let mut strings = Vec::new();
    for len in 0..42usize {
        let clean: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        strings.push(clean.clone());
        for special in ['"', '\\', '\n', '\u{1}', 'é', '😀'] {
            for at in 0..len {
                let mut s: String = clean.chars().take(at).collect();
                s.push(special);
                s.extend(clean.chars().skip(at + 1));
                strings.push(s);
            }
        }
    }
    strings
}

fn node(s: &str, b: &[u8], next: Option<Value>, kids: Vec<Value>) -> Value {
    Value::Record(vec![
        ("s".into(), Value::String(s.into())),
        ("b".into(), Value::Bytes(b.to_vec())),
        (
            "next".into(),
            match next {
                None => Value::Union(0, Box::new(Value::Null)),
                Some(n) => Value::Union(1, Box::new(n)),
            },
        ),
        ("kids".into(), Value::Array(kids)),
    ])
}

fn expected_node(
    s: &str,
    b: &[u8],
    next: Option<serde_json::Value>,
    kids: Vec<serde_json::Value>,
    tagged: bool,
) -> serde_json::Value {
    let latin1: String = b.iter().map(|&c| char::from(c)).collect();
    let next = match next {
        None => serde_json::Value::Null,
        Some(n) if tagged => json!({ "t.Node": n }),
        Some(n) => n,
    };
    json!({"s": s, "b": latin1, "next": next, "kids": kids})
}

#[test]
fn json_copies_every_string_length_and_escape_position_exactly_and_writes_recursive_records() {
    for (encoding, tagged) in [("avro", true), ("plain", false)] {
        let mut json = FormatPlugin::load(&config("json", json!({"encoding": encoding}))).unwrap();
        json.register_schema(1, WORDS).unwrap();
        let schema = Schema::parse_str(WORDS).unwrap();
        let strings = word_edge_strings();
        let mut batch = Batch::default();
        let mut expected = Vec::new();
        for (i, s) in strings.iter().enumerate() {
            // Bytes of every value, high ones included, shaped like the string.
            let bytes: Vec<u8> = s.bytes().map(|c| c.wrapping_add(i as u8)).collect();
            // A list three deep (through the union) with a child (through the array).
            let leaf = node(s, &[], None, vec![]);
            let mid = node(
                "",
                &bytes,
                Some(leaf),
                vec![node("k", b"\x7f", None, vec![])],
            );
            let top = node(s, &bytes, Some(mid), vec![]);
            batch.push(1, &to_avro_datum(&schema, top).unwrap());
            let leaf = expected_node(s, &[], None, vec![], tagged);
            let kid = expected_node("k", b"\x7f", None, vec![], tagged);
            let mid = expected_node("", &bytes, Some(leaf), vec![kid], tagged);
            expected.push(expected_node(s, &bytes, Some(mid), vec![], tagged));
        }
        let messages = json.format(&batch.as_plugin_batch()).unwrap();
        assert_eq!(messages.len(), expected.len());
        for ((message, expected), s) in messages.iter().zip(&expected).zip(&strings) {
            let ours: serde_json::Value =
                serde_json::from_slice(&message.value).unwrap_or_else(|e| {
                    panic!(
                        "{encoding} {s:?}: {e}: {}",
                        String::from_utf8_lossy(&message.value)
                    )
                });
            assert_eq!(&ours, expected, "{encoding} {s:?}");
        }
    }
}
