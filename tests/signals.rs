//! `c2k run` stopped from outside: SIGINT, SIGTERM and SIGHUP during the sort or the output remove
//! the spill folder and the partial file, say what was delivered and exit with 128 + the signal;
//! after a `kill -9`, the next run removes what the dead one left.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::c2k::{write_pipeline, C2k, Run, Running};

const T: Duration = Duration::from_secs(60);

/// 100,000 records (snappy, quick to write) and a file pipeline whose 1 MiB sort spills at once.
fn setup(dir: &Path) -> String {
    C2k::new(&[
        "sample",
        "camus",
        "--records",
        "100000",
        "--codec",
        "snappy",
    ])
    .dir(dir)
    .timeout(T)
    .run()
    .assert_ok();
    write_pipeline(
        dir,
        "p.yaml",
        "topic: PAGE_VIEWS\n\
         source: {dest_dir: camus/destination, schema: camus/page_view.avsc}\n\
         key: {plugin: time-field, config: {field: header.time}}\n\
         sort: {memory: 1MiB, tmp_dir: tmp, mode: external}\n\
         format: {plugin: json, config: {encoding: plain}}\n\
         sink: {type: file, path: out/out.jsonl}\n",
    )
}

/// `c2k run PIPELINE` in `dir`, in the background: killed if the test ends before it does, and
/// every wait on it bounded by `T`.
fn start(dir: &Path, pipeline: &str) -> Running {
    C2k::new(&["run", pipeline]).dir(dir).timeout(T).spawn()
}

/// The names in `dir` (none when it does not exist), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A spill folder in `tmp` that already holds a spill file.
fn spilling(tmp: &Path) -> bool {
    names(tmp)
        .iter()
        .any(|name| name.starts_with("c2k-sort-") && !names(&tmp.join(name)).is_empty())
}

/// The size of the partial file in `out`, if there is one.
fn partial_size(out: &Path) -> Option<u64> {
    names(out)
        .iter()
        .find(|name| name.ends_with(".c2k-partial"))
        .and_then(|name| std::fs::metadata(out.join(name)).ok())
        .map(|m| m.len())
}

/// Nothing in `tmp/` or `out/`; `stderr` is c2k's, shown when something is.
fn assert_nothing_left(dir: &Path, stderr: &str) {
    let leftovers: Vec<String> = names(&dir.join("tmp"))
        .into_iter()
        .chain(names(&dir.join("out")))
        .collect();
    assert!(
        leftovers.is_empty(),
        "left behind: {leftovers:?}\nc2k said:\n{stderr}"
    );
}

fn a_signal_during_the_sort_removes_the_spill(signal: libc::c_int, name: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let p = setup(dir.path());
    let mut run = start(dir.path(), &p);
    let tmp = dir.path().join("tmp");
    run.wait_until("a spill file", |_| spilling(&tmp));
    run.signal(signal);
    let Run { status, stderr, .. } = run.wait();
    assert_eq!(status.code(), Some(code), "{status}: {stderr}");
    assert!(
        stderr.contains(&format!("interrupted by {name} while reading and sorting")),
        "{stderr}"
    );
    assert!(stderr.contains("`c2k run "), "{stderr}");
    assert!(!stderr.contains("thread '"), "c2k panicked:\n{stderr}");
    assert_nothing_left(dir.path(), &stderr);
}

#[test]
fn sigint_during_the_sort_removes_the_spill_folder_and_exits_130() {
    a_signal_during_the_sort_removes_the_spill(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn sigterm_during_the_sort_removes_the_spill_folder_and_exits_143() {
    a_signal_during_the_sort_removes_the_spill(libc::SIGTERM, "SIGTERM", 143);
}

#[test]
fn sighup_during_the_output_removes_the_partial_file_and_exits_129() {
    let dir = tempfile::tempdir().unwrap();
    let p = setup(dir.path());
    let mut run = start(dir.path(), &p);
    let out = dir.path().join("out");
    let mut first = None;
    run.wait_until("a growing partial file", |_| {
        match (first, partial_size(&out)) {
            (None, Some(size)) if size > 0 => {
                first = Some(size);
                false
            }
            (Some(before), Some(size)) => size > before,
            _ => false,
        }
    });
    run.signal(libc::SIGHUP);
    let Run { status, stderr, .. } = run.wait();
    assert_eq!(status.code(), Some(129), "{status}: {stderr}");
    assert!(
        stderr.contains("interrupted by SIGHUP while writing"),
        "{stderr}"
    );
    assert!(stderr.contains("messages had been written"), "{stderr}");
    assert!(stderr.contains("the partial file was removed"), "{stderr}");
    assert!(!dir.path().join("out/out.jsonl").exists());
    assert_nothing_left(dir.path(), &stderr);
}

#[test]
fn after_a_kill_9_the_next_run_removes_what_the_dead_run_left() {
    let dir = tempfile::tempdir().unwrap();
    let p = setup(dir.path());
    let tmp = dir.path().join("tmp");
    let out = dir.path().join("out");
    let mut run = start(dir.path(), &p);
    let dead = run.pid();
    run.wait_until("a spill file", |_| spilling(&tmp));
    run.signal(libc::SIGKILL);
    let status = run.wait().status;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let left: Vec<String> = names(&tmp).into_iter().chain(names(&out)).collect();
    assert!(
        left.iter()
            .any(|n| n.starts_with(&format!("c2k-sort-{dead}-")))
            && left.iter().any(|n| n.contains(&format!(".c2k-{dead}-"))),
        "a killed run leaves its spill folder and partial file: {left:?}"
    );

    // A running program that is not c2k: its pid in a name does not make the folder live.
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let other = tmp.join(format!("c2k-sort-{}-x", sleeper.id()));
    std::fs::create_dir(&other).unwrap();
    // Names c2k never makes are left alone, whatever they look like.
    let unrelated = [tmp.join("c2k-sort-unknown"), out.join("notes.txt")];
    for path in &unrelated {
        std::fs::write(path, b"not c2k's").unwrap();
    }

    let rerun = C2k::new(&["run", &p]).dir(dir.path()).timeout(T).run();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    rerun.assert_ok();
    assert_eq!(names(&tmp), ["c2k-sort-unknown"]);
    assert_eq!(names(&out), ["notes.txt", "out.jsonl"]);
    let lines = std::fs::read_to_string(out.join("out.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, 100_000);
}
