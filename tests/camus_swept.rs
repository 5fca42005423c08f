//! camus-sweeper's daily folders (`source.swept_days`): a Camus tree with its history whose first
//! day was swept as the sweeper does it (every record of the day's hourly files read with the
//! output schema, each distinct record once, two deflate part files in `daily/YYYY/MM/dd/`, the
//! hourly folders deleted; written by fastavro, `tests/fixtures/sweep_camus_day.py`) is refused
//! unless asked, and then replays into the same messages as the tree before the sweep, its count
//! said against the history. A sweep that lost records (or removed duplicates) is said with the
//! number; one that wrote records twice, and a day both swept and hourly, are refused whatever
//! `source.integrity` says.

use std::path::Path;
use std::time::Duration;

use crate::support::c2k::{write_pipeline, C2k};
use crate::support::camus::python;
use crate::support::process::Run;

const RECORDS: u64 = 3000;
/// `c2k sample --hours 30`: the first 24 hours are 2024-03-10, the day the sweeper compacts.
const DAY: &str = "2024/03/10";

/// `c2k sample` (hourly Camus files and their history) into `dir/<name>`, and a pipeline over it
/// replaying to `dir/<name>/out.jsonl`.
fn tree(dir: &Path, name: &str) -> String {
    let root = dir.join(name);
    run(
        dir,
        &[
            "sample",
            root.to_str().unwrap(),
            "--records",
            &RECORDS.to_string(),
            "--hours",
            "30",
            "--partitions",
            "2",
        ],
    )
    .assert_ok();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    write_pipeline(
        &root,
        "replay.yaml",
        &format!(
            "topic: PAGE_VIEWS\n\
             source: {{dest_dir: {r}/destination, schema: {r}/page_view.avsc}}\n\
             key: {{plugin: time-field, config: {{field: header.time}}}}\n\
             sort: {{memory: 16MiB, tmp_dir: {r}/tmp}}\n\
             format: {{plugin: json, config: {{encoding: plain}}}}\n\
             sink: {{type: file, path: {r}/out.jsonl}}\n\
             offsets: {{exec_dir: {r}/execution, commit: none}}\n",
            r = root.display()
        ),
    )
}

/// Sweeps the first day of `dir/<name>`; the records the sweep wrote.
fn sweep(dir: &Path, name: &str, args: &[&str]) -> u64 {
    let root = dir.join(name);
    let topic = root.join("destination/PAGE_VIEWS");
    let schema = root.join("page_view.avsc");
    let mut all = vec![topic.to_str().unwrap(), DAY, schema.to_str().unwrap()];
    all.extend(args);
    let out = python("sweep_camus_day.py", &all);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the count written")
}

fn run(dir: &Path, args: &[&str]) -> Run {
    C2k::new(args)
        .dir(dir)
        .timeout(Duration::from_secs(180))
        .run()
}

/// The replay's lines, sorted (records of equal time may come in another order once swept).
fn lines(dir: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(name).join("out.jsonl")).expect("the replay");
    let times: Vec<i64> = text
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("JSON");
            record["header"]["time"].as_i64().expect("header.time")
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[track_caller]
fn refused(run: &Run, dir: &Path, name: &str, needles: &[&str]) {
    assert_eq!(run.code, Some(5), "{}", run.stderr);
    run.assert_failed_with(needles);
    assert!(
        !dir.join(name).join("out.jsonl").exists(),
        "nothing written"
    );
}

#[test]
fn a_swept_day_is_replayed_only_when_asked_and_then_into_the_same_messages() {
    let dir = tempfile::tempdir().unwrap();
    let before = tree(dir.path(), "hourly");
    run(dir.path(), &["run", &before]).assert_ok();
    let want = lines(dir.path(), "hourly");
    assert_eq!(want.len() as u64, RECORDS);

    let swept = tree(dir.path(), "swept");
    assert_eq!(
        sweep(dir.path(), "swept", &[]),
        2400,
        "the day's records, each once"
    );
    let part = format!("daily/{DAY}/part-r-00000.avro");
    refused(
        &run(dir.path(), &["run", &swept]),
        dir.path(),
        "swept",
        &["source.swept_days: replay", &part, "carry no Camus names"],
    );
    // `source.integrity: warn` publishes what it can prove once; not swept days.
    refused(
        &run(
            dir.path(),
            &["run", &swept, "--set", "source.integrity=warn"],
        ),
        dir.path(),
        "swept",
        &["whatever source.integrity says"],
    );

    let asked = ["--set", "source.swept_days=replay"];
    let verified = run(dir.path(), &[&["verify", &swept][..], &asked].concat());
    verified.assert_ok();
    assert!(
        verified.stdout.contains(
            "hold 2400 records: exactly the offsets the history's runs advanced that no hourly \
             file holds"
        ),
        "{}",
        verified.stdout
    );
    run(dir.path(), &[&["run", &swept][..], &asked].concat()).assert_ok();
    assert_eq!(lines(dir.path(), "swept"), want, "the same messages");
}

#[test]
fn swept_days_short_doubled_or_beside_their_hours_are_said_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let asked = ["--set", "source.swept_days=replay"];

    // Records missing from the swept day: replayed, with the number said.
    let short = tree(dir.path(), "short");
    sweep(dir.path(), "short", &["--drop", "3"]);
    let replayed = run(dir.path(), &[&["run", &short][..], &asked].concat());
    replayed.assert_ok();
    assert!(
        replayed
            .stderr
            .contains("hold 2397 records, 3 fewer than the 2400 offsets")
            && replayed.stderr.contains("which cannot be told"),
        "{}",
        replayed.stderr
    );
    assert_eq!(lines(dir.path(), "short").len() as u64, RECORDS - 3);

    // A sweep that wrote records twice: more records than offsets.
    let doubled = tree(dir.path(), "doubled");
    sweep(dir.path(), "doubled", &["--twice", "2"]);
    refused(
        &run(dir.path(), &[&["run", &doubled][..], &asked].concat()),
        dir.path(),
        "doubled",
        &["hold 2402 records, 2 more than the 2400 offsets"],
    );

    // The day swept and its hourly folders still there: the same records twice, refused in
    // every mode.
    let both = tree(dir.path(), "both");
    sweep(dir.path(), "both", &["--keep-hourly"]);
    for extra in [
        &asked[..],
        &[&asked[..], &["--set", "source.integrity=warn"]].concat(),
    ] {
        refused(
            &run(dir.path(), &[&["run", &both][..], extra].concat()),
            dir.path(),
            "both",
            &[
                &format!("day {DAY} is both swept"),
                "hourly/2024/03/10/",
                "publish them twice",
            ],
        );
    }
}
