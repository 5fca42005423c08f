//! `sort.mode: auto | buckets`: Camus' time buckets streamed in order, on trees bucketed as Camus
//! buckets (fastavro writes them: `tests/fixtures/write_bucketed_tree.py`), always byte-identical
//! to sorting the whole archive (`sort.mode: external`), with nothing spilled where the external
//! sort spills; a record outside its bucket beyond the slack stops the run naming it, and a key
//! plugin whose keys are not time-ordered falls back to the whole-archive sort, said once.

use std::path::Path;
use std::time::Duration;

use crate::support::c2k::{write_pipeline, C2k, Run};
use crate::support::camus::python;
use crate::support::plugins::misbehave_wasm;

const TOPIC: &str = "EVENTS";

/// A bucketed tree in `dir` (`bucket_minutes` in `zone`, a misplaced record if asked) and a
/// pipeline over it writing JSON lines to `out.jsonl`, with a sort budget far below the tree.
fn tree(dir: &Path, bucket_minutes: u32, zone: &str, misplaced_ms: Option<i64>) -> String {
    let minutes = bucket_minutes.to_string();
    let misplaced = misplaced_ms.map(|ms| ms.to_string());
    let mut args = vec![dir.to_str().expect("utf-8"), TOPIC, &minutes, zone];
    if let Some(ms) = &misplaced {
        args.push(ms);
    }
    python("write_bucketed_tree.py", &args);
    write_pipeline(
        dir,
        "pipeline.yaml",
        &format!(
            "topic: {TOPIC}\n\
             source: {{ dest_dir: destination }}\n\
             key: {{ plugin: time-field, config: {{ field: time }} }}\n\
             sort: {{ memory: 256KiB, tmp_dir: tmp }}\n\
             format: {{ plugin: json }}\n\
             sink: {{ type: file, path: out.jsonl }}\n\
             offsets: {{ commit: none }}\n"
        ),
    )
}

fn run(dir: &Path, pipeline: &str, sets: &[&str]) -> Run {
    let mut args = vec!["run", pipeline];
    for set in sets {
        args.extend(["--set", set]);
    }
    C2k::new(&args)
        .dir(dir)
        .timeout(Duration::from_secs(120))
        .run()
}

/// Replays `pipeline` again with `sort.mode: external` and asserts the output is byte for byte
/// the streamed one in `streamed`.
fn assert_same_as_external(dir: &Path, pipeline: &str, streamed: &str) {
    run(
        dir,
        pipeline,
        &["sort.mode=external", "sink.path=external.jsonl"],
    )
    .assert_ok();
    assert_eq!(
        std::fs::read(dir.join(streamed)).expect("streamed"),
        std::fs::read(dir.join("external.jsonl")).expect("external"),
        "the streamed replay differs from the whole-archive sort's"
    );
}

/// The replay in both orders: byte-identical, time-ordered, the streamed one without a spill.
fn streamed_equals_external(bucket_minutes: u32, zone: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = tree(dir.path(), bucket_minutes, zone, None);
    let streamed = run(dir.path(), &pipeline, &["sink.path=streamed.jsonl"]);
    streamed.assert_ok();
    let external = run(
        dir.path(),
        &pipeline,
        &["sink.path=external.jsonl", "sort.mode=external"],
    );
    external.assert_ok();
    let streamed_bytes = std::fs::read(dir.path().join("streamed.jsonl")).expect("streamed");
    let external_bytes = std::fs::read(dir.path().join("external.jsonl")).expect("external");
    assert_eq!(
        streamed_bytes, external_bytes,
        "the streamed replay differs from the sorted one"
    );
    let times: Vec<i64> = String::from_utf8(external_bytes)
        .expect("utf-8")
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            record["time"].as_i64().expect("a time")
        })
        .collect();
    assert_eq!(times.len(), 3 * 4 * 600, "every record once");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    assert!(
        streamed.stderr.contains(" 0 B spilled"),
        "streaming spills nothing: {}",
        streamed.stderr
    );
    assert!(
        !external.stderr.contains(" 0 B spilled"),
        "the whole-archive sort of the same tree spills at this budget (else the test proves \
         nothing): {}",
        external.stderr
    );
}

#[test]
fn hourly_buckets_across_a_dst_change_with_late_events_and_an_empty_hour_stream_identically() {
    streamed_equals_external(60, "America/Los_Angeles");
}

#[test]
fn fifteen_minute_buckets_stream_identically() {
    streamed_equals_external(15, "UTC");
}

#[test]
fn daily_buckets_of_a_23_hour_day_stream_identically() {
    streamed_equals_external(1440, "America/Los_Angeles");
}

/// A record stamped 3 hours before its file's bucket (slack 1 hour): the run stops naming it,
/// leaves no output, and says which slack takes it; with that slack the replay is the sorted one.
#[test]
fn a_record_beyond_the_slack_stops_the_run_naming_it_and_a_larger_slack_takes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = tree(dir.path(), 60, "UTC", Some(3 * 3_600_000));
    let failed = run(dir.path(), &pipeline, &[]);
    failed.assert_failed_with(&[
        "sorts before records already sent",
        &format!("{TOPIC}.2.1."),
        "sort.bucket_slack=10800s or more",
        "sort.mode: external",
    ]);
    assert_eq!(failed.code, Some(1));
    assert!(
        !dir.path().join("out.jsonl").exists(),
        "a stopped stream leaves no output"
    );
    run(dir.path(), &pipeline, &["sort.bucket_slack=4h"]).assert_ok();
    assert_same_as_external(dir.path(), &pipeline, "out.jsonl");
    // Within the slack, the same record is simply held longer.
    let within = tempfile::tempdir().expect("temp dir");
    let pipeline = tree(within.path(), 60, "UTC", Some(20 * 60_000));
    run(within.path(), &pipeline, &[]).assert_ok();
}

/// A key plugin that gives no key floor: `auto` sorts the whole archive and says why, once;
/// `buckets` refuses before anything is sent.
#[test]
fn a_key_plugin_not_ordered_by_time_falls_back_to_the_whole_archive_sort_said_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = tree(dir.path(), 60, "UTC", None);
    let plugin = format!("key.plugin={}", misbehave_wasm().display());
    let auto = run(
        dir.path(),
        &pipeline,
        &[&plugin, "key.config={\"mode\": \"none\"}"],
    );
    auto.assert_ok();
    assert_eq!(
        auto.stderr
            .matches("sorting the whole archive before sending (sort.mode: auto)")
            .count(),
        1,
        "{}",
        auto.stderr
    );
    assert!(auto.stderr.contains("no key floor"), "{}", auto.stderr);
    run(
        dir.path(),
        &pipeline,
        &[
            &plugin,
            "key.config={\"mode\": \"none\"}",
            "sort.mode=buckets",
            "sink.path=refused.jsonl",
        ],
    )
    .assert_failed_with(&[
        "sort.mode: buckets cannot stream this replay",
        "no key floor",
    ]);
    assert!(!dir.path().join("refused.jsonl").exists());
}

/// `c2k sample --by-event-time` buckets late events as Camus does (a file of the previous hour
/// written by the later pull): the archive still reconciles with its Camus history, and streams
/// with no slack at all, byte-identical to the whole-archive sort.
#[test]
fn a_sample_bucketed_by_event_time_reconciles_and_streams_without_slack() {
    let (folder, files) = sample_streams_without_slack(60, 30, "1MiB");
    assert!(folder.ends_with("hourly/2024/03/10/00"), "{folder:?}");
    assert!(
        files > 4,
        "hour 00 holds its 4 partitions' files and the late events of hour 01: {files}"
    );
}

/// The same in daily folders (`etl.output.file.time.partition.mins: 1440`, `daily/YYYY/MM/DD`):
/// a day's files come from 24 pulls, the first ones of each day holding the late events of the
/// day before; and in quarter-hour buckets, four to an hour folder.
#[test]
fn a_sample_in_daily_or_quarter_hour_buckets_streams_without_slack() {
    let (daily, files) = sample_streams_without_slack(1440, 96, "4MiB");
    assert!(daily.ends_with("daily/2024/03/10"), "{daily:?}");
    assert!(
        files > 24 * 4,
        "a day holds 24 pulls of 4 partitions and the late events of the next day's first: {files}"
    );
    let (quarters, files) = sample_streams_without_slack(15, 30, "1MiB");
    assert!(
        quarters.ends_with("hourly/2024/03/10/00/00"),
        "{quarters:?}"
    );
    assert_eq!(files, 4, "the first quarter holds its 4 partitions' files");
}

/// Writes a sample in `bucket_minutes` buckets by event time, checks it verifies, streams with
/// `sort.bucket_slack: 0s` spilling nothing in `memory` (a few buckets, far less than the
/// archive), and equals the external sort; returns the first bucket's folder and how many files
/// it holds.
fn sample_streams_without_slack(
    bucket_minutes: u32,
    hours: u32,
    memory: &str,
) -> (std::path::PathBuf, usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (minutes, hours) = (bucket_minutes.to_string(), hours.to_string());
    C2k::new(&[
        "sample",
        "tree",
        "--records",
        "12000",
        "--hours",
        &hours,
        "--by-event-time",
        "--bucket-minutes",
        &minutes,
    ])
    .dir(dir.path())
    .run()
    .assert_ok();
    let first = first_bucket_folder(&dir.path().join("tree/destination/PAGE_VIEWS"));
    let files = std::fs::read_dir(&first).expect("first bucket").count();
    let pipeline = write_pipeline(
        dir.path(),
        "pipeline.yaml",
        &format!(
            "topic: PAGE_VIEWS\n\
             source: {{ dest_dir: tree/destination, schema: tree/page_view.avsc }}\n\
             key: {{ plugin: time-field, config: {{ field: header.time }} }}\n\
             sort: {{ memory: {memory}, tmp_dir: tmp, bucket_slack: 0s }}\n\
             format: {{ plugin: json }}\n\
             sink: {{ type: file, path: streamed.jsonl }}\n\
             offsets: {{ exec_dir: tree/execution, commit: none }}\n"
        ),
    );
    C2k::new(&["verify", &pipeline])
        .dir(dir.path())
        .run()
        .assert_ok();
    let streamed = run(dir.path(), &pipeline, &["sort.mode=buckets"]);
    streamed.assert_ok();
    assert!(
        streamed.stderr.contains(" 0 B spilled"),
        "{}",
        streamed.stderr
    );
    let external = run(
        dir.path(),
        &pipeline,
        &["sort.mode=external", "sink.path=spilling.jsonl"],
    );
    external.assert_ok();
    assert!(
        !external.stderr.contains(" 0 B spilled"),
        "the archive is larger than sort.memory: {}",
        external.stderr
    );
    assert_same_as_external(dir.path(), &pipeline, "streamed.jsonl");
    let first = first
        .strip_prefix(dir.path())
        .expect("inside")
        .to_path_buf();
    (first, files)
}

/// The first folder, in name order, that holds files (the oldest bucket's).
fn first_bucket_folder(dir: &Path) -> std::path::PathBuf {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("a folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    match entries.iter().find(|p| p.is_dir()) {
        Some(sub) => first_bucket_folder(sub),
        None => dir.to_path_buf(),
    }
}

/// Streaming holds a window of buckets, not the archive: four times the history at the same rate
/// (the same bucket size) spills nothing and peaks at about the same memory.
#[test]
fn streaming_memory_stays_flat_as_the_archive_grows() {
    let peak = |records: &str, hours: &str| {
        let dir = tempfile::tempdir().expect("temp dir");
        C2k::new(&[
            "sample",
            "tree",
            "--records",
            records,
            "--hours",
            hours,
            "--partitions",
            "8",
            "--codec",
            "deflate",
            "--by-event-time",
        ])
        .dir(dir.path())
        .run()
        .assert_ok();
        let pipeline = write_pipeline(
            dir.path(),
            "pipeline.yaml",
            "topic: PAGE_VIEWS\n\
             source: { dest_dir: tree/destination, schema: tree/page_view.avsc }\n\
             key: { plugin: time-field, config: { field: header.time } }\n\
             sort: { memory: 32MiB, tmp_dir: tmp, mode: buckets }\n\
             format: { plugin: avro-binary }\n\
             sink: { type: file, path: out.bin }\n\
             offsets: { commit: none }\n",
        );
        // The plugins compiled (and cached) first: compiling is not what is measured.
        C2k::new(&["validate", &pipeline])
            .dir(dir.path())
            .run()
            .assert_ok();
        let run = run(dir.path(), &pipeline, &[]);
        run.assert_ok();
        assert!(run.stderr.contains(" 0 B spilled"), "{}", run.stderr);
        run.peak_rss >> 20
    };
    let small = peak("60000", "12");
    let large = peak("240000", "48");
    eprintln!("peak RSS {small} MiB for 12 hours, {large} MiB for 48 hours");
    assert!(
        large <= small + small / 4,
        "peak RSS grew with the archive: {small} MiB for 12 hours, {large} MiB for 48"
    );
}
