//! `c2k run` end to end with things going wrong — a plugin that panics, rejects a record, loops
//! forever; a truncated Avro file — and with a custom plugin built from the SDK's example: each
//! failure is a clear error naming the plugin, the file and the record, with a non-zero exit.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::c2k::{write_pipeline, C2k, Run};
use crate::support::plugins;

const T: Duration = Duration::from_secs(300);

/// A sample tree of 3,000 records in `dir/camus` and a pipeline over it with the given key plugin.
fn setup(dir: &Path, key_plugin: &Path, key_config: &str, extra: &str) -> String {
    C2k::new(&[
        "sample",
        "camus",
        "--records",
        "3000",
        "--partitions",
        "2",
        "--hours",
        "2",
    ])
    .dir(dir)
    .timeout(T)
    .run()
    .assert_ok();
    write_pipeline(
        dir,
        "p.yaml",
        &format!(
            "topic: PAGE_VIEWS\n\
             source: {{dest_dir: camus/destination, schema: camus/page_view.avsc}}\n\
             key: {{plugin: {}, config: {key_config}{extra}}}\n\
             sort: {{memory: 16MiB, tmp_dir: tmp}}\n\
             format: {{plugin: json, config: {{encoding: plain}}}}\n\
             sink: {{type: file, path: out.jsonl}}\n",
            key_plugin.display()
        ),
    )
}

/// `c2k run PIPELINE` in `dir`.
fn run(dir: &Path, pipeline: &str) -> Run {
    C2k::new(&["run", pipeline]).dir(dir).timeout(T).run()
}

#[test]
fn a_plugin_that_panics_fails_the_run_naming_the_plugin_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = plugins::misbehave_wasm();
    let p = setup(dir.path(), &wasm, "{mode: panic, at: 1500}", "");
    let run = run(dir.path(), &p);
    run.assert_failed_with(&["misbehave.wasm", "deliberate panic on record 1500", ".avro"]);
    assert!(run.stderr.contains("record "), "{}", run.stderr);
    assert!(
        !dir.path().join("out.jsonl").exists(),
        "no output is published by a failed run"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "spill files removed"
    );
}

#[test]
fn a_plugin_that_rejects_a_record_names_that_record_and_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = plugins::misbehave_wasm();
    let p = setup(dir.path(), &wasm, "{mode: reject, at: 7}", "");
    run(dir.path(), &p).assert_failed_with(&[
        "misbehave.wasm",
        "deliberate error on record 7",
        "record 7 of ",
        ".avro",
    ]);
}

/// SDK errors that cross the WebAssembly boundary whole: a field read that `fields()` does not list
/// says to list it (not "no field #0 in the projection"), and any error type works with `?`.
#[test]
fn a_plugin_reading_a_field_it_did_not_list_is_told_to_list_it_and_any_error_crosses() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = plugins::misbehave_wasm();
    let p = setup(dir.path(), &wasm, "{mode: unlisted, at: 3}", "");
    run(dir.path(), &p).assert_failed_with(&[
        "misbehave.wasm",
        "reads field `header.time` but its fields() lists none",
        r#"return vec!["header.time".into()]"#,
        "record 3 of ",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let p = setup(dir.path(), &wasm, "{mode: parse, at: 0}", "");
    run(dir.path(), &p).assert_failed_with(&[
        "misbehave.wasm",
        "invalid digit found in string",
        "record 0 of ",
    ]);
}

#[test]
fn a_plugin_that_loops_forever_is_stopped_by_its_call_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = plugins::misbehave_wasm();
    let p = setup(
        dir.path(),
        &wasm,
        "{mode: loop, at: 10}",
        ", call_timeout: 1s",
    );
    let started = Instant::now();
    let run = C2k::new(&["run", &p])
        .dir(dir.path())
        .timeout(Duration::from_secs(60))
        .run();
    run.assert_failed_with(&["misbehave.wasm"]);
    assert!(
        run.stderr.contains("call_timeout") || run.stderr.contains("time"),
        "{}",
        run.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_truncated_avro_file_fails_the_run_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = setup(
        dir.path(),
        Path::new("time-field"),
        "{field: header.time}",
        "",
    );
    let victim = find_avro(&dir.path().join("camus/destination"));
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let name = victim.file_name().unwrap().to_string_lossy().into_owned();
    run(dir.path(), &p).assert_failed_with(&[&name]);
    assert!(
        !dir.path().join("out.jsonl").exists(),
        "no output is published by a failed run"
    );
}

/// The plugin guide's custom plugin (`plugin-sdk/examples/server-time`), built with cargo for
/// wasm32-wasip2 and run in a whole pipeline: records come out ordered by (server, time).
#[test]
fn a_custom_plugin_built_from_the_sdk_example_orders_a_whole_replay() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = plugins::build_wasm(
        &crate::support::repo().join("plugin-sdk/examples/server-time"),
        "server_time",
    );
    let p = setup(dir.path(), &wasm, "{}", "");
    run(dir.path(), &p).assert_ok();
    let records: Vec<Value> = std::fs::read_to_string(dir.path().join("out.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3000);
    let key = |r: &Value| {
        (
            r["header"]["server"].as_str().unwrap().to_owned(),
            r["header"]["time"].as_i64().unwrap(),
        )
    };
    assert!(
        records.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
        "not ordered by (server, time)"
    );
    let servers: std::collections::BTreeSet<String> = records.iter().map(|r| key(r).0).collect();
    assert!(servers.len() > 1, "the sample should have several servers");
}

fn find_avro(dir: &Path) -> std::path::PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.path().extension().is_some_and(|x| x == "avro") {
                found.push(e.path());
            }
        }
    }
    found.sort();
    found.into_iter().next().expect("an avro file")
}
