//! End to end from HDFS: a Camus tree uploaded by Hadoop's own client (`FsShell -put`) reads, and
//! replays, exactly like the same tree on local disk; copies are told from namesakes by their
//! bytes, read from HDFS; and a run pointed at a namenode that is not there fails fast with a
//! message naming the URL.

use std::path::Path;
use std::time::{Duration, Instant};

use camus2kafka::testing::{CamusSource, SourceEvent};
use camus2kafka::Pipeline;

use crate::support::c2k::{write_pipeline, C2k};
use crate::support::camus::python;
use crate::support::hdfs::{self, HdfsTarget};

const T: Duration = Duration::from_secs(300);

/// A file-sink pipeline over the sample tree in `dir/camus`, JSON (plain) output.
fn pipeline(dir: &Path) -> String {
    write_pipeline(
        dir,
        "replay.yaml",
        "topic: PAGE_VIEWS\n\
         source: {dest_dir: camus/destination, schema: camus/page_view.avsc, batch_size: 500}\n\
         key: {plugin: time-field, config: {field: header.time}}\n\
         sort: {memory: 4MiB, tmp_dir: tmp}\n\
         format: {plugin: json, config: {encoding: plain}}\n\
         sink: {type: file, path: local.jsonl}\n",
    )
}

/// Every event the Camus source yields for `pipeline` (with `sets`), without the file ids.
fn source_events(pipeline: &str, sets: &[String]) -> Vec<String> {
    let pipeline = Pipeline::load(Path::new(pipeline), sets).expect("load the pipeline");
    let source = CamusSource::open(&pipeline).expect("open the Camus source");
    source
        .events()
        .map(|event| match event.expect("read an event") {
            SourceEvent::Schema { id, json } => format!("schema {id} {json}"),
            SourceEvent::Batch(b) => format!(
                "batch {} {:?} {:?} {} {:?} {:?}",
                b.first_index, b.partition, b.first_offset, b.schema_id, b.ends, b.data
            ),
        })
        .collect()
}

/// Reads a sample tree from local disk and, uploaded, from `target`: the same source events and
/// the same `c2k inspect` output. Returns the local inspect output and the data file's relative path.
fn source_scenario(target: &HdfsTarget) -> (Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    let camus = dir.path().join("camus");
    C2k::new(&["sample", camus.to_str().unwrap(), "--records", "30000"])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();
    let p = pipeline(dir.path());
    let local = source_events(&p, &[]);
    assert!(
        local.len() > 30,
        "expected many batches, got {}",
        local.len()
    );

    let dest = target.upload_tree(&camus.join("destination"), "camus/destination");
    let schema = target.upload(&camus.join("page_view.avsc"), "camus/page_view.avsc");
    let from_hdfs = source_events(
        &p,
        &[
            format!("source.dest_dir={dest}"),
            format!("source.schema={schema}"),
        ],
    );
    assert_eq!(from_hdfs.len(), local.len());
    assert!(
        from_hdfs == local,
        "the source read different records from HDFS"
    );

    // `c2k inspect` of one data file: the same JSON lines from HDFS as from disk.
    let data_file = walk(&camus.join("destination"))
        .into_iter()
        .find(|f| f.extension().is_some_and(|e| e == "avro"))
        .expect("an .avro file in the sample tree");
    let relative = data_file
        .strip_prefix(&camus)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let local_inspect = C2k::new(&["inspect", data_file.to_str().unwrap()])
        .dir(dir.path())
        .run();
    let hdfs_inspect = C2k::new(&["inspect", &target.url(&format!("camus/{relative}"))])
        .dir(dir.path())
        .run();
    assert!(local_inspect.status.success() && hdfs_inspect.status.success());
    assert!(!local_inspect.stdout_bytes.is_empty());
    assert!(
        local_inspect.stdout_bytes == hdfs_inspect.stdout_bytes,
        "inspect differs for {relative}"
    );
    (local_inspect.stdout_bytes, relative)
}

#[test]
#[ignore = "opt-in: needs C2K_TEST_HDFS=hdfs://host:port/dir naming a cluster to write to"]
fn the_camus_source_reads_a_tree_on_the_cluster_named_by_c2k_test_hdfs() {
    let target = HdfsTarget::external().unwrap_or_else(|| {
        panic!(
            "set {}=hdfs://host:port/dir to run this test",
            hdfs::EXTERNAL_ENV
        )
    });
    source_scenario(&target);
}

#[test]
fn the_camus_source_reads_a_tree_on_hdfs_exactly_like_the_same_tree_on_local_disk() {
    let target = HdfsTarget::local();
    let (local_inspect, relative) = source_scenario(&target);

    // `hdfs:///path`: the cluster comes from fs.defaultFS in $HADOOP_CONF_DIR/core-site.xml.
    let conf = target.cluster.as_ref().unwrap().workdir.join("conf");
    let default_fs_url = format!("hdfs:///c2k-test/camus/{relative}");
    let default_fs_inspect = C2k::new(&["inspect", &default_fs_url])
        .env("HADOOP_CONF_DIR", &conf)
        .run();
    assert!(
        default_fs_inspect.stdout_bytes == local_inspect,
        "inspect {default_fs_url} differs: {}",
        default_fs_inspect.stderr
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_camus_tree_on_hdfs_replays_exactly_like_the_same_tree_on_local_disk() {
    let dir = tempfile::tempdir().unwrap();
    let camus = dir.path().join("camus");
    C2k::new(&["sample", camus.to_str().unwrap(), "--records", "30000"])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();
    let p = pipeline(dir.path());
    C2k::new(&["run", &p])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();

    let target = HdfsTarget::local();
    let dest = target.upload_tree(&camus.join("destination"), "camus/destination");
    let schema = target.upload(&camus.join("page_view.avsc"), "camus/page_view.avsc");
    let run = C2k::new(&[
        "run",
        &p,
        "--set",
        &format!("source.dest_dir={dest}"),
        "--set",
        &format!("source.schema={schema}"),
        "--set",
        "sink.path=hdfs.jsonl",
    ])
    .dir(dir.path())
    .timeout(T)
    .run();
    run.assert_ok();
    assert!(
        run.stderr.contains("30000 records in"),
        "summary: {}",
        run.stderr
    );

    let local = std::fs::read(dir.path().join("local.jsonl")).unwrap();
    let from_hdfs = std::fs::read(dir.path().join("hdfs.jsonl")).unwrap();
    assert_eq!(local.iter().filter(|&&b| b == b'\n').count(), 30000);
    assert!(
        local == from_hdfs,
        "the replay from HDFS differs from the replay from local disk"
    );

    // The same cluster: a Kafka Connect HDFS sink's layout (`partition=<p>/` folders, `+` in the
    // names) reads from HDFS as from local disk, its cut-off from the names alike.
    let connect = dir.path().join("connect");
    C2k::new(&[
        "sample",
        connect.to_str().unwrap(),
        "--records",
        "5000",
        "--layout",
        "connect-hdfs",
    ])
    .dir(dir.path())
    .timeout(T)
    .run()
    .assert_ok();
    let connect_run = |dest: &str, out: &str| {
        let run = C2k::new(&[
            "run",
            &p,
            "--set",
            "source.type=kafka-connect",
            "--set",
            &format!("source.dest_dir={dest}"),
            "--set",
            "source.schema=connect/page_view.avsc",
            "--set",
            &format!("sink.path={out}"),
        ])
        .dir(dir.path())
        .timeout(T)
        .run();
        run.assert_ok();
        assert!(run.stderr.contains("5000 records in"), "{}", run.stderr);
        std::fs::read(dir.path().join(out)).unwrap()
    };
    let on_disk = connect_run("connect/destination", "connect-local.jsonl");
    let dest = target.upload_tree(&connect.join("destination"), "connect/destination");
    assert!(
        on_disk == connect_run(&dest, "connect-hdfs.jsonl"),
        "the Kafka Connect archive replays from HDFS as from local disk"
    );
}

/// `path` with the leader id of its Camus name replaced by `leader`.
fn under_leader(path: &Path, leader: &str) -> std::path::PathBuf {
    let name = path.file_name().unwrap().to_str().unwrap();
    let mut fields: Vec<&str> = name.split('.').collect();
    fields[1] = leader;
    path.with_file_name(fields.join("."))
}

#[test]
fn on_hdfs_a_byte_identical_copy_is_read_once_and_a_namesake_with_other_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let camus = dir.path().join("camus");
    C2k::new(&["sample", camus.to_str().unwrap(), "--records", "2000"])
        .dir(dir.path())
        .timeout(T)
        .run()
        .assert_ok();
    let p = pipeline(dir.path());
    let data = walk(&camus.join("destination"));
    let file = data
        .iter()
        .find(|f| f.extension().is_some_and(|e| e == "avro"))
        .expect("a data file");
    let copy = under_leader(file, "97");
    std::fs::copy(file, &copy).unwrap();
    let target = HdfsTarget::local();
    let run = |dest: &str, out: &str| {
        C2k::new(&[
            "run",
            &p,
            "--set",
            &format!("source.dest_dir={dest}"),
            "--set",
            &format!("sink.path={out}"),
        ])
        .dir(dir.path())
        .timeout(T)
        .run()
    };
    let copies = target.upload_tree(&camus.join("destination"), "copies/destination");
    let read_once = run(&copies, "copies.jsonl");
    read_once.assert_ok();
    assert!(
        read_once.stderr.contains("2000 records in")
            && read_once
                .stderr
                .contains("1 identical copy of a data file read once"),
        "{}",
        read_once.stderr
    );

    // The copy replaced by a file of the same name and size holding another record.
    std::fs::remove_file(&copy).unwrap();
    python(
        "write_namesake.py",
        &[file.to_str().unwrap(), copy.to_str().unwrap()],
    );
    let namesakes = target.upload_tree(&camus.join("destination"), "namesakes/destination");
    let refused = run(&namesakes, "namesakes.jsonl");
    let name = |path: &Path| path.file_name().unwrap().to_str().unwrap().to_string();
    refused.assert_failed_with(&[
        "contents differ",
        "nothing was sent",
        &name(file),
        &name(&copy),
    ]);
    assert_eq!(refused.code, Some(5), "{}", refused.stderr);
    assert!(!dir.path().join("namesakes.jsonl").exists());
}

#[test]
fn a_run_against_a_namenode_that_is_not_there_fails_fast_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let url = format!("hdfs://127.0.0.1:{}/camus/destination", hdfs::free_port());
    let started = Instant::now();
    let run = C2k::new(&["run", &p, "--set", &format!("source.dest_dir={url}")])
        .dir(dir.path())
        .timeout(T)
        .run();
    run.assert_failed_with(&[&url, "Connection refused"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}
