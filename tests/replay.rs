//! End to end on local disk: `c2k sample` trees and independently written trees replayed with
//! `c2k run` into files — every record exactly once, in key order, ties in source order,
//! byte-identical across runs, memory bounded by `sort.memory`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::c2k::{write_pipeline, C2k};

const T: Duration = Duration::from_secs(300);

fn sample(dir: &Path, args: &[&str]) {
    let out = dir.join("camus");
    let mut all = vec!["sample", out.to_str().unwrap()];
    all.extend_from_slice(args);
    C2k::new(&all).dir(dir).timeout(T).run().assert_ok();
}

/// A file-sink pipeline over the sample tree in `dir/camus`, JSON (plain) output.
fn pipeline(dir: &Path, memory: &str, out: &str) -> String {
    write_pipeline(
        dir,
        "replay.yaml",
        &format!(
            "topic: PAGE_VIEWS\n\
             source: {{dest_dir: camus/destination, schema: camus/page_view.avsc}}\n\
             key: {{plugin: time-field, config: {{field: header.time}}}}\n\
             sort: {{memory: {memory}, tmp_dir: tmp}}\n\
             format: {{plugin: json, config: {{encoding: plain}}}}\n\
             sink: {{type: file, path: {out}}}\n"
        ),
    )
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn time_of(record: &Value) -> i64 {
    record["header"]["time"]
        .as_i64()
        .unwrap_or_else(|| panic!("no header.time in {record}"))
}

#[test]
fn a_sample_tree_replays_every_record_once_in_time_order_and_identically_twice() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), &["--records", "20000"]);
    let p = pipeline(dir.path(), "1MiB", "out1.jsonl");
    let run = C2k::new(&["run", &p]).dir(dir.path()).timeout(T).run();
    run.assert_ok();
    assert!(
        run.stderr.contains("20000 records in"),
        "summary: {}",
        run.stderr
    );
    C2k::new(&["run", &p, "--set", "sink.path=out2.jsonl"])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();

    let first = std::fs::read(dir.path().join("out1.jsonl")).unwrap();
    let second = std::fs::read(dir.path().join("out2.jsonl")).unwrap();
    assert!(first == second, "two runs differ");

    let records = lines(&dir.path().join("out1.jsonl"));
    assert_eq!(records.len(), 20000);
    assert!(
        records.windows(2).all(|w| time_of(&w[0]) <= time_of(&w[1])),
        "not in time order"
    );
    // The spill directory is gone and nothing else was left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "spill files left: {leftovers:?}");
}

/// The whole-archive sort (`sort.mode: external`; streamed buckets are measured in
/// `buckets::streaming_memory_stays_flat_as_the_archive_grows`).
#[test]
fn a_replay_20_times_larger_than_sort_memory_stays_near_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    // ~120 MB of records through a 4 MiB sort budget.
    sample(dir.path(), &["--records", "400000", "--partitions", "8"]);
    let input: u64 = walk_size(&dir.path().join("camus/destination"));
    let p = pipeline(dir.path(), "4MiB", "big.jsonl");
    let run = C2k::new(&[
        "run",
        &p,
        "--set",
        "sort.mode=external",
        "--set",
        "format.plugin=avro-binary",
        "--set",
        "format.config={}",
        "--set",
        "sink.framing=length-prefixed",
    ])
    .dir(dir.path())
    .timeout(T)
    .run();
    run.assert_ok();
    let output = std::fs::metadata(dir.path().join("big.jsonl"))
        .unwrap()
        .len();
    assert!(
        output > 20 * (4 << 20),
        "output {output} is not 20x the 4 MiB budget (input {input})"
    );
    let peak_mib = run.peak_rss >> 20;
    eprintln!(
        "peak RSS {peak_mib} MiB for {} MiB of output through a 4 MiB sort",
        output >> 20
    );
    assert!(
        peak_mib < 4 + 150,
        "peak RSS {peak_mib} MiB exceeds sort.memory + 150 MiB"
    );
}

fn walk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.file_type().unwrap().is_dir() {
                walk_size(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

/// A Camus tree written by another Avro implementation (Python's fastavro: every codec, two writer
/// schemas, late events, exact ties, Camus litter) replays with the demo's keys into a JSON file:
/// every record exactly once, equal to the source record resolved to the reader schema, in time
/// order, ties in source order (partition, then offset, then input order); twice identically.
#[test]
fn an_independently_written_tree_replays_exactly_once_in_key_order_with_ties_in_source_order() {
    let dir = tempfile::tempdir().unwrap();
    let repo = crate::support::repo();
    let tree = dir.path().join("tree");
    crate::support::camus::python(
        "write_camus_tree.py",
        &[tree.to_str().unwrap(), "PAGE_VIEWS"],
    );

    let demo = repo.join("pipelines/demo.yaml");
    let args = |out: &str| {
        vec![
            "run".to_owned(),
            demo.to_string_lossy().into_owned(),
            "--set".into(),
            format!("source.dest_dir={}", tree.join("destination").display()),
            "--set".into(),
            format!("source.schema={}", tree.join("reader.avsc").display()),
            "--set".into(),
            format!("sort.tmp_dir={}", dir.path().join("tmp").display()),
            "--set".into(),
            "sort.memory=64KiB".into(),
            "--set".into(),
            format!("sink.path={}", dir.path().join(out).display()),
            // The demo's history is not this tree's (and need not exist: the demo may never have
            // run), and the tree holds a non-Camus name: what the integrity check makes of that
            // is tests/integrity.rs's subject, not this one's.
            "--set".into(),
            "offsets.exec_dir=null".into(),
            "--set".into(),
            "source.integrity=warn".into(),
        ]
    };
    for out in ["a.jsonl", "b.jsonl"] {
        let a = args(out);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        C2k::new(&a).dir(dir.path()).timeout(T).run().assert_ok();
    }
    let a = std::fs::read(dir.path().join("a.jsonl")).unwrap();
    let b = std::fs::read(dir.path().join("b.jsonl")).unwrap();
    assert!(a == b, "two runs of the same tree differ");

    let mut expected: Vec<Value> = lines(&tree.join("expected.jsonl"));
    // Stable sort: equal keys keep the file-then-record order expected.jsonl is written in.
    expected.sort_by_key(|e| {
        let unknown = |v: &Value| v.as_u64().unwrap_or(u64::MAX);
        (
            time_of(&e["resolved"]),
            unknown(&e["partition"]),
            unknown(&e["offset"]),
        )
    });
    let got = lines(&dir.path().join("a.jsonl"));
    assert_eq!(got.len(), expected.len(), "every record exactly once");
    for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(
            got, &want["resolved"],
            "record {i} of the replay (from {} #{})",
            want["file"], want["index"]
        );
    }
}

/// The format plugin's instances format batches in parallel; their output is put back in order:
/// byte-identical whatever the number of instances, with batches small enough that many are in
/// flight at once.
#[test]
fn any_number_of_format_instances_gives_byte_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), &["--records", "6000"]);
    let p = pipeline(dir.path(), "64MiB", "one.jsonl");
    let small = "format.batch_size=37";
    C2k::new(&["run", &p, "--set", small, "--set", "format.instances=1"])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();
    let one = std::fs::read(dir.path().join("one.jsonl")).unwrap();
    for instances in ["3", "0"] {
        let out = format!("many-{instances}.jsonl");
        C2k::new(&[
            "run",
            &p,
            "--set",
            small,
            "--set",
            &format!("format.instances={instances}"),
            "--set",
            &format!("sink.path={out}"),
        ])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();
        let many = std::fs::read(dir.path().join(&out)).unwrap();
        assert!(
            one == many,
            "format.instances={instances} changed the output"
        );
    }
    assert_eq!(lines(&dir.path().join("one.jsonl")).len(), 6000);
}

/// `sink.framing: envelope`: one JSON line per message with what a value-only file hides — the
/// format plugin's key and headers, the timestamp, the replay partition — and bytes that are not
/// UTF-8 as base64 under a name that says so (`value_base64`); on stdout the same.
#[test]
fn envelope_framing_writes_each_messages_key_value_headers_timestamp_and_partition() {
    use base64::Engine as _;

    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), &["--records", "2000", "--partitions", "3"]);
    let p = pipeline(dir.path(), "64MiB", "envelope.jsonl");
    C2k::new(&[
        "run",
        &p,
        "--set",
        "format.plugin=avro-binary",
        "--set",
        "format.config={key_field: header.server, confluent_schema_id: 7}",
        "--set",
        "sink.framing=envelope",
    ])
    .dir(dir.path())
    .timeout(T)
    .run()
    .assert_ok();
    let messages = lines(&dir.path().join("envelope.jsonl"));
    assert_eq!(messages.len(), 2000);
    let mut base64_values = 0;
    let mut previous_time = i64::MIN;
    for m in &messages {
        let value = match (m["value"].as_str(), m["value_base64"].as_str()) {
            (Some(text), None) => text.as_bytes().to_vec(),
            (None, Some(encoded)) => {
                base64_values += 1;
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap()
            }
            _ => panic!("one of value, value_base64: {m}"),
        };
        assert_eq!(value[..5], [0, 0, 0, 0, 7], "the Confluent header: {m}");
        assert!(
            m["key"].as_str().is_some_and(|k| k.starts_with("web-")),
            "{m}"
        );
        assert_eq!(m["headers"], serde_json::json!([]), "{m}");
        // time-field's event time, in the order of the replay.
        let time = m["timestamp_ms"].as_i64().expect("a timestamp");
        assert!(time >= previous_time, "{m}");
        previous_time = time;
        assert!(
            m["partition"].as_u64().is_some_and(|p| p < 3),
            "the source partition: {m}"
        );
    }
    assert!(
        base64_values > 1000,
        "Avro datums are binary: {base64_values}"
    );

    let stdout_pipeline = write_pipeline(
        dir.path(),
        "stdout.yaml",
        "topic: PAGE_VIEWS\n\
         source: {dest_dir: camus/destination, schema: camus/page_view.avsc}\n\
         key: {plugin: time-field, config: {field: header.time}}\n\
         format: {plugin: json, config: {encoding: plain}}\n\
         sink: {type: stdout, framing: envelope}\n",
    );
    let run = C2k::new(&["run", &stdout_pipeline])
        .dir(dir.path())
        .timeout(T)
        .run();
    run.assert_ok();
    let on_stdout: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(on_stdout.len(), 2000);
    for (m, file) in on_stdout.iter().zip(&messages) {
        let record: Value = serde_json::from_str(m["value"].as_str().unwrap()).unwrap();
        assert_eq!(record["header"]["time"], m["timestamp_ms"], "{m}");
        assert_eq!(m["key"], Value::Null);
        assert_eq!(m["timestamp_ms"], file["timestamp_ms"]);
        assert_eq!(m["partition"], file["partition"]);
    }
}
