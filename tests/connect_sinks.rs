//! Kafka Connect's HDFS and S3 sinks as archives (`source.type: kafka-connect`): the same topic
//! written as the sinks' own format writers write it (Avro's `DataFileWriter` for AvroFormat,
//! compact JSON lines for JsonFormat, bytes and a separator for ByteArrayFormat, gzip as the S3
//! sink compresses; `tests/fixtures/java/WriteConnectFiles.java`) and named as each sink names
//! its files, in the default and the time-based partitioners' folders, replays into the
//! archived messages, each once, in event-time order — checked against the messages the test
//! wrote. Each kind of damage (a missing file, an overlap, interleaved folders, a file short of
//! its offsets, a cut gzip stream) is refused, naming the offsets or the file; an identical copy
//! is read once. On a real S3 server into a real Kafka, the replay survives the broker's
//! retention check, is refused a second time, and the group gets each partition's last offset
//! + 1.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rdkafka::Offset;
use serde_json::Value as Json;

use crate::support::apache_kafka::{ApacheKafka, Version};
use crate::support::archived::{
    by_time, envelope_lines, run_java_spec, skip_without_javac, Message,
};
use crate::support::c2k::{write_pipeline, C2k};
use crate::support::offsets::compile_java;
use crate::support::s3::S3Server;
use crate::support::{kafka, live, topics};

const TOPIC: &str = "PAGE_VIEWS";
const T0: i64 = 1_710_028_800_000;
const PER_FILE: u64 = 25;
const FILES: u64 = 3;

/// Partition `p`'s offsets start at `1000 * (p + 1)`; three files of 25 each. Times interleave
/// across partitions and files, with ties.
fn topic() -> Vec<Vec<Message>> {
    topic_timed(|offset| T0 + 1_000 * ((offset * 7919) % 61) as i64)
}

/// [`topic`] with each message's time `time(offset)`.
fn topic_timed(time: impl Fn(u64) -> i64) -> Vec<Vec<Message>> {
    let mut files = Vec::new();
    for partition in 0..2u32 {
        for file in 0..FILES {
            let first = 1000 * u64::from(partition + 1) + PER_FILE * file;
            files.push(
                (0..PER_FILE)
                    .map(|i| {
                        let offset = first + i;
                        let time = time(offset);
                        Message {
                            partition,
                            offset,
                            time,
                            text: format!(
                                "{{\"header\":{{\"time\":{time},\"id\":\"{partition}-{offset}\"}},\
                                 \"page\":\"/caf\u{e9}?q=\\\"{i}\\\"\",\"n\":{i}}}"
                            ),
                        }
                    })
                    .collect(),
            );
        }
    }
    files
}

const SCHEMA: &str = r#"{"type":"record","name":"PageView","fields":[
  {"name":"header","type":{"type":"record","name":"Header","fields":[
    {"name":"time","type":"long"},{"name":"id","type":"string"}]}},
  {"name":"page","type":"string"},{"name":"n","type":"long"}]}"#;

#[derive(Clone, Copy, PartialEq)]
enum Sink {
    Hdfs,
    S3,
}

/// One way the sinks write the topic.
struct Layout {
    name: &'static str,
    sink: Sink,
    /// The writer and its codec argument (`avro deflate`, `json gzip`, ...).
    writer: &'static str,
    codec: &'static str,
    extension: &'static str,
    /// Time-based partitioner folders (`year=/month=/day=/hour=`) instead of `partition=<p>`.
    hourly: bool,
}

const LAYOUTS: &[Layout] = &[
    Layout {
        name: "hdfs-avro",
        sink: Sink::Hdfs,
        writer: "avro",
        codec: "null",
        extension: ".avro",
        hourly: false,
    },
    Layout {
        name: "hdfs-avro-deflate-hourly",
        sink: Sink::Hdfs,
        writer: "avro",
        codec: "deflate",
        extension: ".avro",
        hourly: true,
    },
    Layout {
        name: "hdfs-json",
        sink: Sink::Hdfs,
        writer: "json",
        codec: "none",
        extension: ".json",
        hourly: false,
    },
    // StringFormat: each value's text then a line separator, as the bytes writer writes them.
    Layout {
        name: "hdfs-txt",
        sink: Sink::Hdfs,
        writer: "bin",
        codec: "none",
        extension: ".txt",
        hourly: false,
    },
    Layout {
        name: "s3-avro-snappy",
        sink: Sink::S3,
        writer: "avro",
        codec: "snappy",
        extension: ".avro",
        hourly: false,
    },
    Layout {
        name: "s3-json-gzip-hourly",
        sink: Sink::S3,
        writer: "json",
        codec: "gzip",
        extension: ".json.gz",
        hourly: true,
    },
    Layout {
        name: "s3-bin",
        sink: Sink::S3,
        writer: "bin",
        codec: "none",
        extension: ".bin",
        hourly: false,
    },
];

/// The name the sink gives a file of `messages` (offsets zero-padded to 10 digits).
fn connect_name(layout: &Layout, messages: &[Message]) -> String {
    let (first, last) = (&messages[0], messages.last().expect("messages"));
    match layout.sink {
        Sink::Hdfs => format!(
            "{TOPIC}+{}+{:010}+{:010}{}",
            first.partition, first.offset, last.offset, layout.extension
        ),
        Sink::S3 => format!(
            "{TOPIC}+{}+{:010}{}",
            first.partition, first.offset, layout.extension
        ),
    }
}

/// The folder the partitioner gives the file (wall-clock hours: the files of one hour).
fn folder(layout: &Layout, messages: &[Message]) -> String {
    match layout.hourly {
        true => format!(
            "year=2024/month=03/day=10/hour={:02}",
            messages[0].offset % 1000 / PER_FILE
        ),
        false => format!("partition={}", messages[0].partition),
    }
}

fn java_classes() -> PathBuf {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES
        .get_or_init(|| compile_java("connect", &["WriteConnectFiles.java"]))
        .clone()
}

/// Runs WriteConnectFiles over `spec` lines (tab-separated); its standard output.
fn java(spec: &str) -> String {
    run_java_spec(&java_classes(), "WriteConnectFiles", spec)
}

/// Writes `files` at `paths` as `layout`'s writer does, in one JVM.
fn write_files(layout: &Layout, files: &[(PathBuf, Vec<Message>)]) {
    let classes = java_classes();
    let schema = classes.join("page_view.avsc");
    std::fs::write(&schema, SCHEMA).expect("schema");
    let mut spec = String::new();
    for (n, (path, messages)) in files.iter().enumerate() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let records = classes.join(format!("records-{}-{n}", std::process::id()));
        let lines: String = messages
            .iter()
            .map(|m| format!("{}\n", STANDARD.encode(&m.text)))
            .collect();
        std::fs::write(&records, lines).expect("records");
        let mut fields = vec![layout.writer.to_string(), path.display().to_string()];
        if layout.writer == "avro" {
            fields.push(schema.display().to_string());
        }
        fields.push(layout.codec.to_string());
        fields.push(records.display().to_string());
        writeln!(spec, "{}", fields.join("\t")).unwrap();
    }
    java(&spec);
}

/// The topic in `layout` under `root/<name>/topics/PAGE_VIEWS`; the files' paths, in order.
fn write_layout(root: &Path, name: &str, layout: &Layout, files: &[Vec<Message>]) -> Vec<PathBuf> {
    let dir = root.join(name).join("topics").join(TOPIC);
    let jobs: Vec<(PathBuf, Vec<Message>)> = files
        .iter()
        .map(|m| {
            let path = dir.join(folder(layout, m)).join(connect_name(layout, m));
            (path, m.clone())
        })
        .collect();
    write_files(layout, &jobs);
    jobs.into_iter().map(|(path, _)| path).collect()
}

/// A pipeline replaying `<dest>` (a path or URL holding `PAGE_VIEWS/`) to `root/<name>/out.jsonl`
/// (envelope framing) or `sink`, sorted by `header.time`.
fn pipeline(root: &Path, name: &str, dest: &str, sink: Option<&str>, offsets: &str) -> String {
    let d = root.join(name);
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    let sink = match sink {
        Some(sink) => sink.to_string(),
        None => format!(
            "sink:\n  type: file\n  path: {}/out.jsonl\n  framing: envelope\n",
            d.display()
        ),
    };
    write_pipeline(
        &d,
        "replay.yaml",
        &format!(
            "topic: {TOPIC}\nsource:\n  type: kafka-connect\n  dest_dir: {dest}\n\
             key:\n  plugin: time-field\n  config: {{ field: header.time }}\n\
             sort:\n  memory: 64MiB\n  tmp_dir: {d}/tmp\n\
             format:\n  plugin: json\n  config: {{ encoding: plain }}\n\
             {sink}offsets:\n{offsets}",
            d = d.display()
        ),
    )
}

fn c2k(root: &Path, args: &[&str]) -> crate::support::process::Run {
    C2k::new(args)
        .dir(root)
        .timeout(Duration::from_secs(120))
        .run()
}

/// The values and timestamps of the envelope lines `c2k run` wrote.
fn replayed(root: &Path, name: &str) -> Vec<(String, i64)> {
    envelope_lines(&root.join(name).join("out.jsonl"))
}

/// The replay equals `want`: text archives byte for byte, Avro ones as the same JSON values
/// (the `json` format writes Avro records' fields in the schema's order).
#[track_caller]
fn assert_same(layout: &Layout, got: &[(String, i64)], want: &[(String, i64)]) {
    assert_eq!(got.len(), want.len(), "{}: every record once", layout.name);
    for (n, ((value, time), (text, want_time))) in got.iter().zip(want).enumerate() {
        assert_eq!(time, want_time, "{}: message {n}'s timestamp", layout.name);
        if layout.writer == "avro" {
            let got: Json = serde_json::from_str(value).expect("JSON");
            assert_eq!(got, serde_json::from_str::<Json>(text).unwrap(), "{n}");
        } else {
            assert_eq!(
                value, text,
                "{}: message {n}, the archived bytes",
                layout.name
            );
        }
    }
}

fn skip_without_java() -> bool {
    skip_without_javac("Avro's and the Connect formats' writers")
}

const NO_COMMIT: &str = "  group: replayers\n  commit: none\n";

#[test]
fn every_connect_layout_replays_the_topic_once_in_time_order() {
    if skip_without_java() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let files = topic();
    let want = by_time(&files);
    // The names are the sinks' own: the Java side formats them as the sinks' code does.
    let names = java(
        "name\thdfs\tPAGE_VIEWS\t1\t2025\t2049\t.avro\nname\ts3\tPAGE_VIEWS\t0\t1050\t.json.gz\n",
    );
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        vec![
            connect_name(&LAYOUTS[0], &files[4]),
            connect_name(&LAYOUTS[5], &files[2])
        ]
    );
    for layout in LAYOUTS {
        let paths = write_layout(root.path(), layout.name, layout, &files);
        if layout.writer != "avro" {
            // `c2k inspect` shows a text file's records, each as a JSON string.
            let shown = c2k(root.path(), &["inspect", paths[0].to_str().unwrap()]);
            shown.assert_ok();
            let texts: Vec<String> = shown
                .stdout
                .lines()
                .map(|line| serde_json::from_str(line).expect("a JSON string"))
                .collect();
            let want: Vec<&String> = files[0].iter().map(|m| &m.text).collect();
            assert_eq!(texts.iter().collect::<Vec<_>>(), want, "{}", layout.name);
        }
        let dest = root.path().join(layout.name).join("topics");
        let run = pipeline(
            root.path(),
            layout.name,
            &dest.display().to_string(),
            None,
            NO_COMMIT,
        );
        let verified = c2k(root.path(), &["verify", &run]);
        verified.assert_ok();
        for needle in [
            "consistent: every offset from each partition's first file to its last",
            "(cut-off 1075)",
            "(cut-off 2075)",
        ] {
            assert!(
                verified.stdout.contains(needle),
                "{}: {needle}\n{}",
                layout.name,
                verified.stdout
            );
        }
        let shown = c2k(root.path(), &["offsets", "show", &run]);
        shown.assert_ok();
        assert!(
            shown.stdout.contains("cut-off from the file names")
                && shown.stdout.contains("1075")
                && shown.stdout.contains("2075"),
            "{}",
            shown.stdout
        );
        c2k(root.path(), &["run", &run]).assert_ok();
        assert_same(layout, &replayed(root.path(), layout.name), &want);
    }
}

#[test]
fn damaged_connect_archives_are_refused_naming_the_offsets_or_the_file() {
    if skip_without_java() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let files = topic();
    let hdfs = &LAYOUTS[0];
    let refused = |name: &str, needles: &[&str]| {
        let dest = root.path().join(name).join("topics");
        let run = pipeline(
            root.path(),
            name,
            &dest.display().to_string(),
            None,
            NO_COMMIT,
        );
        let failed = c2k(root.path(), &["run", &run]);
        failed.assert_failed_with(needles);
        assert!(
            !root.path().join(name).join("out.jsonl").exists(),
            "{name}: nothing written"
        );
        (run, failed)
    };

    // A missing HDFS file: a gap, named by its offsets and the files around it, exit 5.
    let paths = write_layout(root.path(), "missing", hdfs, &files);
    std::fs::remove_file(&paths[1]).unwrap();
    let (run, failed) = refused(
        "missing",
        &[
            "partition 0: offsets 1025 to 1049 (25 records) are in no file",
            "PAGE_VIEWS+0+0000001000+0000001024.avro",
            "nothing was sent",
        ],
    );
    assert_eq!(failed.code, Some(5), "{}", failed.stderr);
    c2k(root.path(), &["verify", &run]).assert_failed_with(&["NOT consistent"]);

    // An overlap in one folder: offsets in two files.
    let mut overlap = files.clone();
    overlap.push(
        files[0][20..]
            .iter()
            .chain(&files[1][..5])
            .cloned()
            .collect(),
    );
    write_layout(root.path(), "overlap", hdfs, &overlap);
    refused(
        "overlap",
        &[
            "partition 0: offsets 1020 to 1024 (5 records) are in two files",
            "PAGE_VIEWS+0+0000001020+0000001029.avro",
        ],
    );

    // A file holding fewer records than its offsets (a compacted or transactional topic).
    let mut short = files.clone();
    let last = short[0].pop().unwrap();
    let paths = write_layout(root.path(), "short", hdfs, &short);
    let renamed = paths[0].with_file_name(format!("{TOPIC}+0+0000001000+{:010}.avro", last.offset));
    std::fs::rename(&paths[0], &renamed).unwrap();
    refused(
        "short",
        &[
            "PAGE_VIEWS+0+0000001000+0000001024.avro",
            "says 25 records but the file holds 24",
            "transaction markers",
        ],
    );

    // An S3 archive missing a file: the file before it ends where the next one starts, so its
    // count is short, found as it is read, before anything is sent.
    let s3 = &LAYOUTS[5];
    let paths = write_layout(root.path(), "s3-missing", s3, &files);
    std::fs::remove_file(&paths[1]).unwrap();
    let (run, _) = refused(
        "s3-missing",
        &[
            "PAGE_VIEWS+0+0000001000.json.gz",
            "it holds 25 records, but its name (a Kafka Connect S3 sink's, with no end offset) \
             makes it end where its partition's next file starts, 50 offsets on: a file between \
             them is missing",
        ],
    );
    c2k(root.path(), &["verify", &run]).assert_failed_with(&["NOT consistent"]);

    // Interleaved folders with S3 names (no end offsets): refused as they are read, said so.
    let dir = root.path().join("s3-interleaved/topics").join(TOPIC);
    write_files(s3, &interleaved(&dir, s3, &files[0]));
    refused(
        "s3-interleaved",
        &[
            "page=a/PAGE_VIEWS+0+0000001000.json.gz",
            "files in several folders interleave their offsets",
        ],
    );

    // A cut gzip stream: refused, never read as a shorter file.
    let paths = write_layout(root.path(), "s3-cut", s3, &files);
    let bytes = std::fs::read(&paths[4]).unwrap();
    std::fs::write(&paths[4], &bytes[..bytes.len() / 2]).unwrap();
    refused("s3-cut", &["PAGE_VIEWS+1+0000002025.json.gz"]);

    // An identical copy in another folder is read once, and said.
    let paths = write_layout(root.path(), "copy", hdfs, &files);
    let copy = root.path().join("copy/topics").join(TOPIC).join("backup");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(&paths[2], copy.join(paths[2].file_name().unwrap())).unwrap();
    // The S3 sink's keys file beside a data file (store.kafka.keys): said, not replayed.
    std::fs::copy(
        &paths[0],
        paths[0].with_file_name(format!("{TOPIC}+0+0000001000.keys.avro")),
    )
    .unwrap();
    let dest = root.path().join("copy/topics");
    let run = pipeline(
        root.path(),
        "copy",
        &dest.display().to_string(),
        None,
        NO_COMMIT,
    );
    let copied = c2k(root.path(), &["run", &run]);
    copied.assert_ok();
    assert!(
        copied.stderr.contains("identical copies"),
        "{}",
        copied.stderr
    );
    assert!(
        copied
            .stderr
            .contains("1 file of Kafka Connect's record keys or headers")
            && copied.stderr.contains("PAGE_VIEWS+0+0000001000.keys.avro"),
        "{}",
        copied.stderr
    );
    assert_same(hdfs, &replayed(root.path(), "copy"), &by_time(&files));

    // A file in a format c2k does not read (Parquet) is refused, never passed over.
    let parquet = paths[3].with_file_name(format!("{TOPIC}+1+0000002075+0000002099.parquet"));
    std::fs::copy(&paths[3], &parquet).unwrap();
    c2k(root.path(), &["run", &run]).assert_failed_with(&[
        "PAGE_VIEWS+1+0000002075+0000002099.parquet",
        "in a format c2k does not read (.parquet)",
    ]);
    std::fs::remove_file(&parquet).unwrap();

    // A Connect archive read as a Camus one is refused, saying which source.type it needs.
    c2k(root.path(), &["run", &run, "--set", "source.type=camus"]).assert_failed_with(&[
        "PAGE_VIEWS+0+0000001000+0000001024.avro: not a Camus data file name",
        "set source.type: kafka-connect",
    ]);
}

/// The S3 sink's layout on a real S3 server, replayed into a real Kafka broker with the group's
/// offsets committed there: read back after the broker's retention check has run, refused a
/// second time, the group at each partition's last offset + 1.
#[test]
fn a_connect_archive_on_s3_replays_into_kafka_and_hands_off_at_its_last_offsets() {
    if skip_without_java() {
        return;
    }
    let Some(s3) = S3Server::start() else {
        return;
    };
    let Some(broker) = ApacheKafka::start_with_properties(
        Version::V3_3_2,
        "log.retention.check.interval.ms=1000\n",
    ) else {
        return;
    };
    let brokers = broker.bootstrap();
    topics::old_stamped_topic(&brokers, "CONTROL", 1, 100);
    // The live topic, past the archive's end in both partitions.
    live::create_topic(&brokers, TOPIC, 2);
    live::produce(&broker.client_config(), TOPIC, &[1100, 2100]);

    let root = tempfile::tempdir().unwrap();
    let files = topic();
    let layout = &LAYOUTS[5];
    write_layout(root.path(), "s3", layout, &files);
    s3.create_bucket("archive");
    s3.upload_dir(&root.path().join("s3"), "archive", "connect");
    let run = pipeline(
        root.path(),
        "kafka",
        "s3://archive/connect/topics",
        // The endpoint and credentials come from the environment, as AWS's tools take them.
        Some(&format!(
            "sink:\n  type: kafka\n  brokers: '{brokers}'\n  topic: PAGE_VIEWS_REPLAY\n"
        )),
        &format!("  group: replayers\n  commit: kafka\n  brokers: '{brokers}'\n"),
    );
    let env = s3.env();
    let c2k_s3 = |args: &[&str]| {
        let mut command = C2k::new(args)
            .dir(root.path())
            .timeout(Duration::from_secs(180));
        for (key, value) in &env {
            command = command.env(key, value);
        }
        command.run()
    };
    c2k_s3(&["run", &run]).assert_ok();
    assert_eq!(
        live::committed(&brokers, "replayers", TOPIC, 2),
        vec![Offset::Offset(1075), Offset::Offset(2075)]
    );
    // Again: the replay topic holds the replay, so nothing is sent twice.
    let again = c2k_s3(&["run", &run]);
    assert_eq!(again.code, Some(4), "{}", again.stderr);

    topics::wait_for_retention(&brokers, "CONTROL", Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(2));
    let want = by_time(&files);
    let got = kafka::read_topic(
        &brokers,
        "PAGE_VIEWS_REPLAY",
        want.len(),
        Duration::from_secs(60),
    );
    assert_eq!(got.len(), want.len(), "every record once");
    // One partition per source partition: each holds its messages in time order.
    let mut by_text: Vec<(String, i64)> = got
        .iter()
        .map(|m| {
            (
                String::from_utf8(m.value.clone()).expect("utf-8"),
                m.timestamp_ms.expect("a timestamp"),
            )
        })
        .collect();
    by_text.sort();
    let mut sorted_want = want.clone();
    sorted_want.sort();
    assert_eq!(by_text, sorted_want, "the archived texts, each once");
    for partition in kafka::by_partition(&got).values() {
        let times: Vec<i64> = partition.iter().map(|m| m.timestamp_ms.unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
    }
}

/// `messages` split into two files as a field partitioner alternating between two values writes
/// them within one rotation: even positions in `page=a/`, odd ones in `page=b/`.
fn interleaved(dir: &Path, layout: &Layout, messages: &[Message]) -> Vec<(PathBuf, Vec<Message>)> {
    let even: Vec<Message> = messages.iter().step_by(2).cloned().collect();
    let odd: Vec<Message> = messages.iter().skip(1).step_by(2).cloned().collect();
    vec![
        (dir.join("page=a").join(connect_name(layout, &even)), even),
        (dir.join("page=b").join(connect_name(layout, &odd)), odd),
    ]
}

/// Files whose offsets interleave across folders (Kafka Connect's field partitioner) are one
/// unit: their records are counted together and must add up to their offsets; then they replay
/// like any other. A record short is refused as they are read, nothing sent.
#[test]
fn interleaved_folders_are_counted_together_and_replay_once() {
    if skip_without_java() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    // No two records of a partition at the same time: interleaved files carry no offsets to
    // order ties by (they come in the archive's order), and this test checks the counting.
    let files = topic_timed(|offset| T0 + 1_000 * ((offset * 7919) % 1009) as i64);
    let hdfs = &LAYOUTS[0];
    let write = |name: &str, drop_one: bool| {
        let dir = root.path().join(name).join("topics").join(TOPIC);
        let mut jobs = Vec::new();
        for (n, messages) in files.iter().enumerate() {
            match n as u64 % FILES {
                // The first and last file of each partition interleaved, the middle one whole.
                0 | 2 => jobs.extend(interleaved(&dir, hdfs, messages)),
                _ => jobs.push((
                    dir.join("page=a").join(connect_name(hdfs, messages)),
                    messages.clone(),
                )),
            }
        }
        if drop_one {
            // The name still says offsets 1001 to 1023; one record of them is not there.
            jobs[1].1.remove(3);
        }
        write_files(hdfs, &jobs);
        let dest = root.path().join(name).join("topics");
        pipeline(
            root.path(),
            name,
            &dest.display().to_string(),
            None,
            NO_COMMIT,
        )
    };

    let run = write("interleaved", false);
    let verified = c2k(root.path(), &["verify", &run]);
    verified.assert_ok();
    assert!(
        verified
            .stdout
            .contains("partition 0: offsets 1000 to 1024 are interleaved over 2 files")
            && verified.stdout.contains("(cut-off 1075)"),
        "{}",
        verified.stdout
    );
    c2k(root.path(), &["run", &run]).assert_ok();
    assert_same(
        hdfs,
        &replayed(root.path(), "interleaved"),
        &by_time(&files),
    );

    let run = write("short", true);
    let failed = c2k(root.path(), &["run", &run]);
    failed.assert_failed_with(&[
        "partition 0: the 2 files whose offsets interleave over 1000 to 1024",
        "page=b/PAGE_VIEWS+0+0000001001+0000001023.avro",
        "hold 24 records, not the 25 their offsets span",
        "nothing was sent",
    ]);
    assert!(
        !root.path().join("short/out.jsonl").exists(),
        "nothing written"
    );
    let verified = c2k(root.path(), &["verify", &run]);
    verified.assert_failed_with(&["NOT consistent"]);
    assert!(
        verified
            .stdout
            .contains("hold 24 records together, not the 25"),
        "{}",
        verified.stdout
    );
}
