//! Bad pipelines end in one clear error that names the key, with a non-zero exit, and
//! `c2k validate` reports every problem at once.

use std::time::Duration;

use crate::support::c2k::{write_pipeline, C2k};

const T: Duration = Duration::from_secs(60);

#[test]
fn an_unknown_key_is_an_error_naming_it_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(
        dir.path(),
        "p.yaml",
        "topic: T\nsource: {dest_dir: /nowhere}\nsort: {memroy: 1GiB}\nsink: {type: stdout}\n",
    );
    C2k::new(&["run", &p])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_failed_with(&["sort.memroy", "unknown key", "did you mean `sort.memory`"]);
}

#[test]
fn a_missing_required_key_is_an_error_saying_what_it_means() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(
        dir.path(),
        "p.yaml",
        "source: {dest_dir: /nowhere}\nsink: {type: stdout}\n",
    );
    C2k::new(&["run", &p])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_failed_with(&["topic", "missing", "the original Kafka topic"]);
}

#[test]
fn validate_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(
        dir.path(),
        "p.yaml",
        "source: {dest_dirr: /d}\nsort: {memory: lots}\nsink: {type: file}\nformat: {plugin: yaml}\n",
    );
    let run = C2k::new(&["validate", &p]).dir(dir.path()).timeout(T).run();
    run.assert_failed_with(&[
        "6 problems",
        "source.dest_dirr",
        "topic",
        "sort.memory",
        "sink.path",
        "format.plugin",
    ]);
}

#[test]
fn validate_accepts_the_demo_pipeline() {
    let run = C2k::new(&["validate", "pipelines/demo.yaml"])
        .dir(crate::support::repo())
        .timeout(T)
        .run();
    run.assert_ok();
    assert!(run.stdout.contains("ok"), "{}", run.stdout);
}

#[test]
fn set_overrides_are_validated_like_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(
        dir.path(),
        "p.yaml",
        "topic: T\nsource: {dest_dir: /d}\nsink: {type: stdout}\n",
    );
    C2k::new(&["validate", &p])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();
    C2k::new(&["validate", &p, "--set", "sink.framing=random"])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_failed_with(&["sink.framing", "not one of lines, length-prefixed"]);
    C2k::new(&["validate", &p, "--set", "sink.partitioning=key"])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_failed_with(&["sink.partitioning", "belongs to sink.type kafka only"]);
    C2k::new(&["validate", &p, "--set", "sink.type"])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_failed_with(&["--set", "KEY=VALUE"]);
}

#[test]
fn librdkafka_properties_take_yaml_numbers_and_a_bad_one_is_named_with_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write_pipeline(
        dir.path(),
        "ok.yaml",
        "topic: T\nsource: {dest_dir: /d}\nkey: {config: {field: header.time}}\n\
         sink: {brokers: 'b:9092', producer: {linger.ms: 5, enable.idempotence: true}}\n\
         offsets: {consumer: {fetch.wait.max.ms: 100}}\n",
    );
    C2k::new(&["validate", &ok])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();
    let bad = write_pipeline(
        dir.path(),
        "bad.yaml",
        "topic: T\nsource: {dest_dir: /d}\nsort: {memory: lots}\n\
         sink: {brokers: 'b:9092', producer: {linger.ms: [5], no.such.property: 1}}\n",
    );
    C2k::new(&["validate", &bad])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_failed_with(&[
            "3 problems",
            "sort.memory",
            "sink.producer.linger.ms: expected text, a number or true/false, got a list",
            "sink.producer.no.such.property: librdkafka refuses it",
        ]);
}

#[test]
fn a_pipeline_that_is_not_yaml_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), "broken.yaml", "topic: [unclosed\n");
    C2k::new(&["run", &p])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_failed_with(&["broken.yaml", "not valid YAML"]);
}

#[test]
fn resume_with_a_file_sink_says_what_it_does_instead_of_ignoring_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    C2k::new(&["sample", root, "--records", "500"])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();
    let p = write_pipeline(
        dir.path(),
        "p.yaml",
        &format!(
            "topic: PAGE_VIEWS\nsource: {{dest_dir: {root}/destination}}\n\
             key: {{config: {{field: header.time}}}}\nsort: {{tmp_dir: {root}}}\n\
             sink: {{type: file, path: {root}/out.bin}}\n"
        ),
    );
    let run = C2k::new(&["run", &p, "--resume"])
        .dir(dir.path())
        .timeout(T)
        .run();
    run.assert_ok();
    assert!(
        run.stderr.contains("--resume continues Kafka replays")
            && run.stderr.contains("sink.type file is written whole again"),
        "{}",
        run.stderr
    );
}
