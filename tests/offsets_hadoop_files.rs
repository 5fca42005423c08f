//! Camus offsets files written by Hadoop's own `SequenceFile.Writer` (Hadoop 2.7.3, through the
//! Java program in `tests/fixtures/java`, generated at test time) decode key for key, and the
//! newest run's resume offsets are what `c2k offsets show` prints.

use camus2kafka::testing::latest_run;
use std::time::Duration;

use camus2kafka::testing::{Compression, SequenceFileReader};
use camus2kafka::testing::{EtlKey, Layout};

use crate::support::c2k::C2k;
use crate::support::offsets;
use crate::support::offsets::{key, HadoopFile, BZIP2_CODEC, DEFAULT_CODEC};

#[test]
fn every_hadoop_compression_codec_and_layout_decodes_key_for_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = vec![
        key("PAGE_VIEWS", "5", 0, 10, 20),
        key("CLICKS", "", 1, 0, 1),
        key("PAGE_VIEWS", "6", 2, 1 << 40, (1 << 40) + 3),
    ];
    let mut files = Vec::new();
    for compression in ["none", "record", "block"] {
        for codec in [DEFAULT_CODEC, BZIP2_CODEC] {
            if compression == "none" && codec == BZIP2_CODEC {
                continue;
            }
            for layout in ["legacy", "map"] {
                let name = format!(
                    "{compression}-{}-{layout}",
                    codec.rsplit('.').next().unwrap()
                );
                files.push(HadoopFile {
                    path: dir.path().join(name),
                    compression,
                    codec,
                    layout,
                    keys: keys.clone(),
                });
            }
        }
    }
    offsets::write_with_hadoop(&files);
    for file in &files {
        let name = file.path.display().to_string();
        let input = std::fs::File::open(&file.path).unwrap();
        let mut reader = SequenceFileReader::new(input, &name).unwrap();
        let header = reader.header().clone();
        assert_eq!(header.version, 6, "{name}");
        assert_eq!(
            header.key_class,
            "com.linkedin.camus.etl.kafka.common.EtlKey"
        );
        assert_eq!(header.value_class, "org.apache.hadoop.io.NullWritable");
        match (file.compression, header.compression) {
            ("none", Compression::None) => {}
            ("record", Compression::Record(c)) | ("block", Compression::Block(c)) => {
                assert_eq!(c.class_name(), file.codec, "{name}")
            }
            (want, got) => panic!("{name}: expected {want}, header says {got:?}"),
        }
        let mut decoded = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            assert!(
                record.value.is_empty(),
                "{name}: NullWritable values are empty"
            );
            decoded.push(EtlKey::decode(&record.key).unwrap());
        }
        assert_eq!(decoded.len(), keys.len(), "{name}");
        for (got, want) in decoded.iter().zip(&keys) {
            assert_eq!(got.topic, want.topic, "{name}");
            assert_eq!(got.leader_id, want.leader, "{name}");
            assert_eq!(got.partition, want.partition, "{name}");
            assert_eq!(got.begin_offset, want.begin, "{name}");
            assert_eq!(got.offset, want.offset, "{name}");
            assert_eq!(got.checksum, 77, "{name}");
            assert_eq!(got.time, 1_700_000_000_000, "{name}");
            let layout = if file.layout == "legacy" {
                Layout::Legacy
            } else {
                Layout::WithPartitionMap
            };
            assert_eq!(got.layout, layout, "{name}");
            if layout == Layout::WithPartitionMap {
                let map = got.partition_map.clone().expect("map decoded");
                assert!(
                    map.contains(&("message.size".to_string(), "1024".to_string())),
                    "{name}: {map:?}"
                );
                assert!(
                    map.contains(&("server".to_string(), "server".to_string())),
                    "{name}: {map:?}"
                );
            }
        }
    }
}

#[test]
fn newest_run_written_by_hadoop_gives_each_partitions_resume_offset() {
    let dir = tempfile::tempdir().unwrap();
    let exec = dir.path().join("execution");
    let history_dir = offsets::hadoop_history(&exec);
    let run = latest_run(history_dir.to_str().unwrap(), "PAGE_VIEWS").unwrap();
    assert!(
        run.run_dir.ends_with("2024-01-15-10-00-00"),
        "{}",
        run.run_dir
    );
    let got: Vec<(i32, i64, &str)> = run
        .partitions
        .iter()
        .map(|p| (p.partition, p.offset, p.node.as_str()))
        .collect();
    assert_eq!(got, offsets::EXPECTED);

    let pipeline = offsets::pipeline(dir.path(), &exec, "commit: none");
    let out = C2k::new(&["offsets", "show", pipeline.to_str().unwrap()])
        .timeout(Duration::from_secs(60))
        .run();
    let stdout = out.stdout.clone();
    out.assert_ok();
    for (partition, offset, node) in offsets::EXPECTED {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(partition.to_string().as_str()))
            .unwrap_or_else(|| panic!("no line for partition {partition} in:\n{stdout}"));
        // partition, cut-off, log start, high watermark, to read, node, file; no live cluster
        // with `commit: none` and a stdout sink, so the live columns are empty.
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], offset.to_string(), "{line}");
        assert_eq!(fields[2..5], ["-", "-", "-"], "{line}");
        assert_eq!(fields[5], *node, "{line}");
        assert!(
            fields[6].contains("2024-01-15-10-00-00/offsets-m-"),
            "{line}"
        );
    }
}

#[test]
fn a_run_without_the_topic_is_an_error_naming_the_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let exec = dir.path().join("execution");
    let run = exec.join("base/history/2024-02-01-00-00-00");
    offsets::write_with_hadoop(&[HadoopFile {
        path: run.join("offsets-m-00000"),
        compression: "block",
        codec: DEFAULT_CODEC,
        layout: "map",
        keys: vec![key("CLICKS", "1", 0, 0, 5)],
    }]);
    let pipeline = offsets::pipeline(dir.path(), &exec, "commit: none");
    let out = C2k::new(&["offsets", "show", pipeline.to_str().unwrap()])
        .timeout(Duration::from_secs(60))
        .run();
    assert_eq!(out.status.code(), Some(1));
    let stderr = out.stderr.clone();
    assert!(
        stderr.contains("2024-02-01-00-00-00") && stderr.contains("PAGE_VIEWS"),
        "{stderr}"
    );
}
