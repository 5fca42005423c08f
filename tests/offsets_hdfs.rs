//! The offsets step reading its Camus execution history from a real HDFS (Hadoop 2.7.3's NameNode
//! and DataNode, files uploaded with Hadoop's own `FsShell -put`) behaves exactly as with the same
//! history on local disk: the same `c2k offsets show` table (modulo the path prefix), the same
//! values committed into a real ZooKeeper, exit code 3 on a second commit; a whole `c2k run` with
//! source and history on HDFS replays and commits like the local run; a missing history folder and
//! an unreachable namenode fail fast, naming the URL.

use camus2kafka::testing::latest_run;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::c2k::{C2k, Run};
use crate::support::hdfs::HdfsTarget;
use crate::support::{c2k, hdfs, offsets, servers};

const LIMIT: Duration = Duration::from_secs(120);

/// `c2k offsets ARGS... PIPELINE --set offsets.exec_dir=EXEC [--set SETS...]`.
fn offsets_cmd(command: &str, pipeline: &Path, exec: &str, sets: &[String]) -> Run {
    let exec_set = format!("offsets.exec_dir={exec}");
    let mut args = vec![
        "offsets",
        command,
        pipeline.to_str().expect("a UTF-8 path"),
        "--set",
        &exec_set,
    ];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    C2k::new(&args).timeout(LIMIT).run()
}

/// `c2k offsets show` output with `exec` replaced by `<exec>`, asserting success.
fn show(pipeline: &Path, exec: &str) -> String {
    let out = offsets_cmd("show", pipeline, exec, &[]);
    assert!(
        out.status.success(),
        "offsets show with exec_dir {exec} failed: {}",
        out.stderr
    );
    let table = out.stdout.clone();
    assert!(
        table.contains(exec),
        "the table does not name {exec}:\n{table}"
    );
    table.replace(exec, "<exec>")
}

/// For one execution history on local disk at `local_exec`, uploaded to HDFS at `hdfs_exec`:
/// the same `show` table, the same committed values (into two groups of `zk`), and exit code 3
/// when committing again. Returns the committed `(partition, offset)` pairs.
fn same_from_hdfs_as_local(
    dir: &Path,
    local_exec: &Path,
    hdfs_exec: &str,
    zk: &servers::ZooKeeper,
    name: &str,
) -> Vec<(String, String)> {
    // Each commit below names its own group with --set.
    let pipeline = offsets::zookeeper_pipeline(dir, local_exec, &zk.connect_string(), name);
    let local_exec = local_exec.to_str().expect("a UTF-8 path");
    let local_table = show(&pipeline, local_exec);
    let hdfs_table = show(&pipeline, hdfs_exec);
    assert_eq!(
        hdfs_table, local_table,
        "{name}: `offsets show` from HDFS differs from local disk"
    );

    let mut trees = Vec::new();
    for (exec, group) in [
        (local_exec, format!("{name}-local")),
        (hdfs_exec, format!("{name}-hdfs")),
    ] {
        let sets = [format!("offsets.group={group}")];
        let first = offsets_cmd("commit", &pipeline, exec, &sets);
        assert!(
            first.status.success(),
            "{name}: commit from {exec} failed: {}",
            first.stderr
        );
        let path = format!("/consumers/{group}/offsets/PAGE_VIEWS");
        trees.push(offsets::read_zookeeper_tree(&zk.connect_string(), &path));

        // Again, with the same offsets (an interrupted earlier attempt): nothing is written and
        // the step counts as done; other offsets would be refused (exit 3, offsets_zookeeper).
        let second = offsets_cmd("commit", &pipeline, exec, &sets);
        let stdout = second.stdout.clone();
        assert!(
            second.status.success(),
            "{name}: second commit from {exec}: {}",
            second.stderr
        );
        assert!(
            stdout.contains("already committed, identical") && stdout.contains("nothing written"),
            "{stdout}"
        );
        assert_eq!(
            offsets::read_zookeeper_tree(&zk.connect_string(), &path),
            trees[trees.len() - 1],
            "{name}: the second commit changed the offsets"
        );
    }
    assert!(!trees[0].is_empty(), "{name}: nothing committed");
    assert_eq!(
        trees[1], trees[0],
        "{name}: the offsets committed from HDFS differ from those committed from local disk"
    );
    trees.swap_remove(0)
}

#[test]
fn offsets_from_an_hdfs_history_show_and_commit_like_the_local_copy() {
    let zk = servers::ZooKeeper::start();
    let target = HdfsTarget::local();
    let dir = tempfile::tempdir().expect("a temp dir");

    // 1. A history written by Hadoop's own SequenceFile.Writer.
    let hadoop_dir = dir.path().join("hadoop");
    let hadoop_exec = hadoop_dir.join("execution");
    offsets::hadoop_history(&hadoop_exec);
    let hadoop_url = target.upload_tree(&hadoop_exec, "hadoop/execution");
    let committed = same_from_hdfs_as_local(&hadoop_dir, &hadoop_exec, &hadoop_url, &zk, "hadoop");
    let expected: Vec<(String, String)> = offsets::EXPECTED
        .iter()
        .map(|(p, o, _)| (p.to_string(), o.to_string()))
        .collect();
    assert_eq!(committed, expected);

    // 2. A history written by `c2k sample`.
    let sample_dir = dir.path().join("sample");
    let camus = sample_dir.join("camus");
    std::fs::create_dir_all(&sample_dir).expect("create the sample dir");
    let sample = C2k::new(&[
        "sample",
        camus.to_str().expect("a UTF-8 path"),
        "--records",
        "2000",
    ])
    .dir(&sample_dir)
    .timeout(LIMIT)
    .run();
    sample.assert_ok();
    let sample_exec = camus.join("execution");
    let sample_url = target.upload_tree(&sample_exec, "sample/execution");
    let committed = same_from_hdfs_as_local(&sample_dir, &sample_exec, &sample_url, &zk, "sample");
    // What the offsets reader makes of the local copy, independently of the CLI.
    let history_dir = sample_exec.join("base/history");
    let run = latest_run(history_dir.to_str().expect("a UTF-8 path"), "PAGE_VIEWS")
        .expect("read the local sample history");
    let from_reader: Vec<(String, String)> = run
        .partitions
        .iter()
        .map(|p| (p.partition.to_string(), p.offset.to_string()))
        .collect();
    assert_eq!(committed, from_reader);

    // 3. A history folder that is not there: a clear error naming the URL, fast.
    let missing = target.url("nowhere/execution");
    let pipeline = offsets::zookeeper_pipeline(dir.path(), &hadoop_exec, &zk.connect_string(), "g");
    for command in ["show", "commit"] {
        let started = Instant::now();
        let out = offsets_cmd(command, &pipeline, &missing, &[]);
        let stderr = out.stderr.clone();
        assert_eq!(out.status.code(), Some(1), "offsets {command}: {stderr}");
        for needle in [
            format!("cannot list the Camus history folder {missing}/base/history"),
            "no such file or directory".to_string(),
        ] {
            assert!(
                stderr.contains(&needle),
                "offsets {command}: stderr lacks `{needle}`: {stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "offsets {command} took {:?}",
            started.elapsed()
        );
    }
    assert!(
        offsets::read_zookeeper_tree(&zk.connect_string(), "/consumers")
            .iter()
            .all(|(group, _)| group != "g"),
        "a failed commit created the group"
    );
}

#[test]
fn a_run_with_source_and_history_on_hdfs_replays_and_commits_like_the_local_run() {
    let zk = servers::ZooKeeper::start();
    let dir = tempfile::tempdir().expect("a temp dir");
    let camus = dir.path().join("camus");
    C2k::new(&[
        "sample",
        camus.to_str().expect("a UTF-8 path"),
        "--records",
        "20000",
    ])
    .dir(dir.path())
    .timeout(LIMIT)
    .run()
    .assert_ok();
    let pipeline = c2k::write_pipeline(
        dir.path(),
        "replay.yaml",
        &format!(
            "topic: PAGE_VIEWS\n\
             source: {{dest_dir: camus/destination, schema: camus/page_view.avsc}}\n\
             key: {{plugin: time-field, config: {{field: header.time}}}}\n\
             sort: {{memory: 4MiB, tmp_dir: tmp}}\n\
             format: {{plugin: json, config: {{encoding: plain}}}}\n\
             sink: {{type: file, path: local.jsonl}}\n\
             offsets: {{exec_dir: camus/execution, commit: zookeeper, zookeeper: '{}', group: local, \
             live_check: warn}}\n",
            zk.connect_string()
        ),
    );
    C2k::new(&["run", &pipeline])
        .dir(dir.path())
        .timeout(LIMIT)
        .run()
        .assert_ok();

    let target = HdfsTarget::local();
    let url = target.upload_tree(&camus, "camus");
    let run = C2k::new(&[
        "run",
        &pipeline,
        "--set",
        &format!("source.dest_dir={url}/destination"),
        "--set",
        &format!("source.schema={url}/page_view.avsc"),
        "--set",
        &format!("offsets.exec_dir={url}/execution"),
        "--set",
        "offsets.group=hdfs",
        "--set",
        "sink.path=hdfs.jsonl",
    ])
    .dir(dir.path())
    .timeout(LIMIT)
    .run();
    run.assert_ok();
    assert!(
        run.stderr.contains("20000 records in"),
        "summary: {}",
        run.stderr
    );

    let local = std::fs::read(dir.path().join("local.jsonl")).expect("local.jsonl");
    let from_hdfs = std::fs::read(dir.path().join("hdfs.jsonl")).expect("hdfs.jsonl");
    assert_eq!(local.iter().filter(|&&b| b == b'\n').count(), 20000);
    assert!(
        local == from_hdfs,
        "the replay from HDFS differs from the replay from local disk"
    );

    let local_offsets =
        offsets::read_zookeeper_tree(&zk.connect_string(), "/consumers/local/offsets/PAGE_VIEWS");
    let hdfs_offsets =
        offsets::read_zookeeper_tree(&zk.connect_string(), "/consumers/hdfs/offsets/PAGE_VIEWS");
    let history_dir = camus.join("execution/base/history");
    let expected: Vec<(String, String)> =
        latest_run(history_dir.to_str().expect("a UTF-8 path"), "PAGE_VIEWS")
            .expect("read the local sample history")
            .partitions
            .iter()
            .map(|p| (p.partition.to_string(), p.offset.to_string()))
            .collect();
    assert!(!expected.is_empty());
    assert_eq!(local_offsets, expected);
    assert_eq!(hdfs_offsets, expected);
}

#[test]
fn an_unreachable_namenode_fails_fast_naming_the_url() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("hdfs://127.0.0.1:{}/camus/execution", hdfs::free_port());
    let pipeline = offsets::pipeline(
        dir.path(),
        &dir.path().join("unused"),
        "commit: zookeeper\nzookeeper: 127.0.0.1:1\ngroup: g",
    );
    for command in ["show", "commit"] {
        let started = Instant::now();
        let out = offsets_cmd(command, &pipeline, &url, &[]);
        let stderr = out.stderr.clone();
        assert_eq!(out.status.code(), Some(1), "offsets {command}: {stderr}");
        assert!(
            stderr.contains(&url),
            "offsets {command}: stderr lacks {url}: {stderr}"
        );
        assert!(
            stderr.contains("Connection refused"),
            "offsets {command}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "offsets {command} took {:?}",
            started.elapsed()
        );
    }
}
