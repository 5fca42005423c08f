//! Camus' text and SequenceFile writers (`StringRecordWriterProvider`,
//! `SequenceFileRecordWriterProvider`): the same JSON topic written by Hadoop 2.7.3's own classes
//! (`FileSystem.create`, GzipCodec's and DefaultCodec's streams, the Snappy codec's
//! `BlockCompressorStream` framing, `SequenceFile.Writer` uncompressed, record- and
//! block-compressed) replays into the same messages: the archived texts, byte for byte, in event
//! time order — checked against the records the test wrote, not against c2k. Each damaged case
//! (a truncated `.gz`, `.deflate` or `.snappy`, a record count that disagrees with the name, a
//! tree mixing writers, a plugin that predates text records) is refused, naming the file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value as Json;

use crate::support::archived::{
    by_time, envelope_lines, run_java_spec, skip_without_javac, Message,
};
use crate::support::c2k::{write_pipeline, C2k};
use crate::support::offsets::compile_java;

const TOPIC: &str = "PAGE_VIEWS";
const HOUR: &str = "hourly/2024/03/10/00";
const BUCKET: i64 = 1_710_028_800_000;

/// Two partitions of two files each; times interleave across partitions, with ties; texts hold
/// escapes, non-ASCII and spacing a re-serialiser would change.
fn topic() -> Vec<Vec<Message>> {
    let mut files = Vec::new();
    for partition in 0..2u32 {
        for file in 0..2u64 {
            let first = 100 * u64::from(partition + 1) + 40 * file;
            let messages = (0..40u64)
                .map(|i| {
                    let offset = first + i;
                    let time = BUCKET + 1_000 * ((offset * 7919) % 97) as i64;
                    Message {
                        partition,
                        offset,
                        time,
                        text: format!(
                            "{{\"header\": {{\"time\": {time}, \"id\": \"{partition}-{offset}\"}}, \
                             \"page\":\"/caf\u{e9}?q=\\\"{i}\\\"\",\"n\":{i}}}"
                        ),
                    }
                })
                .collect();
            files.push(messages);
        }
    }
    files
}

/// The Camus name of a file of `messages`, with the writer's extension.
fn camus_name(messages: &[Message], extension: &str) -> String {
    let last = messages.last().expect("a file has messages");
    format!(
        "{TOPIC}.1.{}.{}.{}.{BUCKET}{extension}",
        last.partition,
        messages.len(),
        last.offset + 1
    )
}

/// A layout written by Hadoop's classes: the writer (`text` or `seq`), its codec or compression
/// arguments, the file extension Camus gives it.
struct Layout {
    name: &'static str,
    args: &'static [&'static str],
    extension: &'static str,
}

const DEFAULT_CODEC: &str = "org.apache.hadoop.io.compress.DefaultCodec";
const BZIP2_CODEC: &str = "org.apache.hadoop.io.compress.BZip2Codec";

const LAYOUTS: &[Layout] = &[
    Layout {
        name: "text",
        args: &["text", "none", "\\n"],
        extension: "",
    },
    Layout {
        name: "text-gzip",
        args: &["text", "gzip", "\\n"],
        extension: ".gz",
    },
    Layout {
        name: "text-deflate",
        args: &["text", "deflate", "\\n"],
        extension: ".deflate",
    },
    Layout {
        name: "text-snappy",
        args: &["text", "snappy", "\\n"],
        extension: ".snappy",
    },
    Layout {
        name: "seq",
        args: &["seq", "none", "-"],
        extension: "",
    },
    Layout {
        name: "seq-record",
        args: &["seq", "record", DEFAULT_CODEC],
        extension: "",
    },
    Layout {
        name: "seq-block",
        args: &["seq", "block", DEFAULT_CODEC],
        extension: "",
    },
    Layout {
        name: "seq-block-bzip2",
        args: &["seq", "block", BZIP2_CODEC],
        extension: "",
    },
];

/// The Java writer, compiled once per test process.
fn java_classes() -> PathBuf {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES
        .get_or_init(|| compile_java("camus", &["WriteCamusFiles.java"]))
        .clone()
}

/// Writes every file of `jobs` (`(path, writer arguments, messages)`) with Hadoop's classes, in
/// one JVM.
fn write_with_hadoop(jobs: &[(PathBuf, &[&str], &[Message])]) {
    let classes = java_classes();
    let mut spec = String::new();
    for (n, (path, args, messages)) in jobs.iter().enumerate() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let records = classes.join(format!("records-{}-{n}", std::process::id()));
        let lines: String = messages
            .iter()
            .map(|m| format!("{}\t{}\n", m.time, STANDARD.encode(&m.text)))
            .collect();
        std::fs::write(&records, lines).expect("records");
        let mut fields = vec![args[0].to_string(), path.display().to_string()];
        fields.extend(args[1..].iter().map(|a| a.to_string()));
        fields.push(records.display().to_string());
        writeln!(spec, "{}", fields.join("\t")).unwrap();
    }
    run_java_spec(&classes, "WriteCamusFiles", &spec);
}

/// The topic in `layout` under `root/<layout>/destination/PAGE_VIEWS`; the files' paths.
fn write_layout(root: &Path, layout: &Layout, files: &[Vec<Message>]) -> Vec<PathBuf> {
    let dir = root
        .join(layout.name)
        .join("destination")
        .join(TOPIC)
        .join(HOUR);
    let jobs: Vec<(PathBuf, &[&str], &[Message])> = files
        .iter()
        .map(|messages| {
            let path = dir.join(camus_name(messages, layout.extension));
            (path, layout.args, messages.as_slice())
        })
        .collect();
    write_with_hadoop(&jobs);
    jobs.into_iter().map(|(path, ..)| path).collect()
}

/// A pipeline replaying `root/<name>` into `root/<name>/out.jsonl` (envelope framing), sorted by
/// `header.time`; `extra` adds source keys.
fn pipeline(root: &Path, name: &str, format_config: &str, extra: &str) -> String {
    let d = root.join(name);
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    write_pipeline(
        &d,
        "replay.yaml",
        &format!(
            "topic: {TOPIC}\nsource:\n  dest_dir: {d}/destination\n{extra}\
             key:\n  plugin: time-field\n  config: {{ field: header.time }}\n\
             sort:\n  memory: 64MiB\n  tmp_dir: {d}/tmp\n\
             format:\n  plugin: json\n  config: {format_config}\n\
             sink:\n  type: file\n  path: {d}/out.jsonl\n  framing: envelope\n",
            d = d.display()
        ),
    )
}

/// `c2k run`; the envelope lines it wrote, as (value, timestamp).
fn replay(root: &Path, name: &str, pipeline: &str) -> Vec<(String, i64)> {
    C2k::new(&["run", pipeline])
        .dir(root)
        .timeout(Duration::from_secs(120))
        .run()
        .assert_ok();
    envelope_lines(&root.join(name).join("out.jsonl"))
}

fn skip_without_java() -> bool {
    skip_without_javac("Hadoop's writers")
}

#[test]
fn every_camus_writer_and_codec_replays_the_archived_texts_in_time_order() {
    if skip_without_java() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let files = topic();
    let want = by_time(&files);
    for layout in LAYOUTS {
        let paths = write_layout(root.path(), layout, &files);
        if layout.args[0] == "text" {
            // `c2k inspect` shows a text file's records through its codec, as JSON strings.
            let shown = C2k::new(&["inspect", paths[0].to_str().unwrap()])
                .dir(root.path())
                .timeout(Duration::from_secs(60))
                .run();
            shown.assert_ok();
            let texts: Vec<String> = shown
                .stdout
                .lines()
                .map(|line| serde_json::from_str(line).expect("a JSON string"))
                .collect();
            let archived: Vec<String> = files[0].iter().map(|m| m.text.clone()).collect();
            assert_eq!(texts, archived, "{}: inspect", layout.name);
        }
        let run = pipeline(root.path(), layout.name, "{}", "");
        let got = replay(root.path(), layout.name, &run);
        assert_eq!(got.len(), want.len(), "{}: every record once", layout.name);
        assert_eq!(
            got, want,
            "{}: the archived texts, in time order",
            layout.name
        );
    }
    // `source.format` said outright reads the same; `text: compact` re-serialises.
    let run = pipeline(
        root.path(),
        "seq-block",
        "{ text: compact }",
        "  format: sequencefile\n",
    );
    let compact = replay(root.path(), "seq-block", &run);
    assert_eq!(compact.len(), want.len());
    for ((got, _), (archived, _)) in compact.iter().zip(&want) {
        // The archived texts have spaces only after `:` and `,` between tokens.
        assert_eq!(got, &archived.replace(": ", ":").replace(", ", ","));
        let same: Json = serde_json::from_str(archived).unwrap();
        assert_eq!(serde_json::from_str::<Json>(got).unwrap(), same);
    }
}

#[test]
fn damaged_text_and_sequence_files_are_refused_naming_the_file() {
    if skip_without_java() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let files = topic();
    for layout in LAYOUTS.iter().filter(|l| l.name.starts_with("text-")) {
        let paths = write_layout(root.path(), layout, &files);
        // Cut inside the compressed stream: never a shorter file read as whole.
        let bytes = std::fs::read(&paths[1]).unwrap();
        std::fs::write(&paths[1], &bytes[..bytes.len() * 2 / 3]).unwrap();
        let run = pipeline(root.path(), layout.name, "{}", "");
        let failed = C2k::new(&["run", &run])
            .dir(root.path())
            .timeout(Duration::from_secs(60))
            .run();
        let name = paths[1].file_name().unwrap().to_str().unwrap();
        failed.assert_failed_with(&[name]);
        assert!(
            !root.path().join(layout.name).join("out.jsonl").exists(),
            "{}: nothing written",
            layout.name
        );
        // `c2k verify` finds it too, naming it in its report.
        let verify = C2k::new(&["verify", &run])
            .dir(root.path())
            .timeout(Duration::from_secs(60))
            .run();
        verify.assert_failed_with(&["NOT consistent"]);
        assert!(
            verify.stdout.contains(name) && verify.stdout.contains("truncated"),
            "{}",
            verify.stdout
        );
    }

    // A record that held the delimiter: the file holds more lines than its name says.
    let layout = &LAYOUTS[0];
    let mut split = files.clone();
    split[0][3].text = "{\"header\": {\"time\": 1},\n \"page\": \"two lines\"}".into();
    let paths = write_layout(root.path(), layout, &split);
    let run = pipeline(root.path(), layout.name, "{}", "");
    C2k::new(&["run", &run])
        .dir(root.path())
        .timeout(Duration::from_secs(60))
        .run()
        .assert_failed_with(&[
            paths[0].file_name().unwrap().to_str().unwrap(),
            "says 40 records but the file holds 41",
        ]);

    // A tree mixing Camus' two writers of bare files, and one mixing Avro with text.
    let mixed = root.path().join("mixed/destination").join(TOPIC).join(HOUR);
    let writers = tempfile::tempdir().unwrap();
    let text = write_layout(writers.path(), &LAYOUTS[0], &files);
    let seq = write_layout(writers.path(), &LAYOUTS[4], &files);
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::copy(&text[0], mixed.join(text[0].file_name().unwrap())).unwrap();
    std::fs::copy(&seq[1], mixed.join(seq[1].file_name().unwrap())).unwrap();
    let run = pipeline(root.path(), "mixed", "{}", "  format: text\n");
    C2k::new(&["run", &run])
        .dir(root.path())
        .timeout(Duration::from_secs(60))
        .run()
        .assert_failed_with(&[
            seq[1].file_name().unwrap().to_str().unwrap(),
            "this is a SequenceFile",
        ]);
    std::fs::write(
        mixed.join("PAGE_VIEWS.1.0.1.181.1710028800000.avro"),
        b"Obj\x01",
    )
    .unwrap();
    C2k::new(&["run", &run])
        .dir(root.path())
        .timeout(Duration::from_secs(60))
        .run()
        .assert_failed_with(&[
            "mixes record writers",
            "PAGE_VIEWS.1.0.1.181.1710028800000.avro",
        ]);
}

/// A format plugin built before text records (contract 0.1.0) is refused for a text archive,
/// naming its version, before a message is written.
#[test]
fn a_plugin_that_predates_text_records_is_refused() {
    if skip_without_java() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let files = topic();
    write_layout(root.path(), &LAYOUTS[1], &files);
    let old = crate::support::plugins::contract_0_1_0_wasm();
    let run = pipeline(root.path(), LAYOUTS[1].name, "{}", "");
    let yaml = std::fs::read_to_string(&run).unwrap().replace(
        "  plugin: json\n",
        &format!("  plugin: {}\n", old.display()),
    );
    std::fs::write(&run, yaml).unwrap();
    C2k::new(&["run", &run])
        .dir(root.path())
        .timeout(Duration::from_secs(60))
        .run()
        .assert_failed_with(&["camus2kafka:plugin@0.1.0", "text", "0.1.3"]);
    assert!(!root.path().join(LAYOUTS[1].name).join("out.jsonl").exists());
}
