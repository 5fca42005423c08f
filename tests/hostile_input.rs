//! Hostile input: data files built to exhaust memory or to slip damage past a check, written here
//! byte by byte (a decompression bomb is kilobytes that inflate to a gigabyte). The real `c2k`
//! must refuse each one naming the file, the block and the codec, in `run`, `verify`, `inspect`
//! and `plugin test`, with its peak memory (measured by the kernel) within `sort.memory` plus the
//! overhead `docs/pipeline.md` documents; a size or count out of range is refused by `validate`
//! and `run` alike before anything is allocated; and `c2k verify --records` finds the record
//! damage `c2k run` refuses, while warnings alone exit 0. Hostile trees too: an hour folder no
//! one may read is named where it is; a file named with a newline or a terminal escape is
//! printed escaped by every command; a schema 100 records deep is read, one 300 deep refused
//! naming the file. And the file sink's output gets the mode the umask leaves.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::c2k::{write_pipeline, C2k, Run};

const TOPIC: &str = "PAGE_VIEWS";
const SCHEMA: &str = r#"{"type":"record","name":"Event","fields":[
    {"name":"header","type":{"type":"record","name":"Header","fields":[{"name":"time","type":"long"}]}},
    {"name":"n","type":"long"},
    {"name":"tag","type":["null","string"]}]}"#;
const SYNC: [u8; 16] = *b"c2k-hostile-sync";
const MIB: u64 = 1 << 20;
/// `sort.memory` of every pipeline here.
const SORT_MEMORY: u64 = 64 * MIB;
/// The default `source.max_block_bytes`.
const MAX_BLOCK: u64 = 64 * MIB;
/// What a bomb inflates to when nothing stops it.
const BOMB: u64 = 1 << 30;
const LIMIT: Duration = Duration::from_secs(180);

/// The peak memory a run may reach whatever its input, as docs/pipeline.md says: `sort.memory`,
/// two blocks (stored and decompressed) per decoding thread, and the fixed part (the program,
/// two WebAssembly plugins, buffers).
fn memory_bound() -> u64 {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    SORT_MEMORY + threads * 2 * MAX_BLOCK + 160 * MIB
}

fn long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Record `n` of the schema: time `1_710_072_000_000 + n`, tag `"x"`.
fn record(n: i64) -> Vec<u8> {
    let mut out = Vec::new();
    long(&mut out, 1_710_072_000_000 + n);
    long(&mut out, n);
    long(&mut out, 1);
    long(&mut out, 1);
    out.push(b'x');
    out
}

fn records(from: i64, count: i64) -> Vec<u8> {
    (from..from + count).flat_map(record).collect()
}

/// A container file of `codec` whose blocks are `(record count, bytes as stored)`.
fn container(codec: &str, blocks: &[(i64, Vec<u8>)]) -> Vec<u8> {
    container_of(SCHEMA, codec, blocks)
}

/// [`container`] with a writer schema of its own.
fn container_of(schema: &str, codec: &str, blocks: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"Obj\x01".to_vec();
    long(&mut out, 2);
    for (key, value) in [("avro.schema", schema), ("avro.codec", codec)] {
        long(&mut out, key.len() as i64);
        out.extend_from_slice(key.as_bytes());
        long(&mut out, value.len() as i64);
        out.extend_from_slice(value.as_bytes());
    }
    long(&mut out, 0);
    out.extend_from_slice(&SYNC);
    for (count, bytes) in blocks {
        long(&mut out, *count);
        long(&mut out, bytes.len() as i64);
        out.extend_from_slice(bytes);
        out.extend_from_slice(&SYNC);
    }
    out
}

/// A raw deflate stream of `bytes` zeros, built from one compressed MiB repeated: each piece is a
/// run of non-final blocks that refer only to zeros, then one empty final block.
fn deflate_bomb(bytes: u64) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let mut piece = Vec::with_capacity(MIB as usize);
    compress
        .compress_vec(
            &vec![0; MIB as usize],
            &mut piece,
            flate2::FlushCompress::Sync,
        )
        .unwrap();
    assert_eq!(compress.total_in(), MIB);
    let mut out = piece.repeat((bytes / MIB) as usize);
    out.extend_from_slice(&[0x03, 0x00]);
    out
}

/// `bytes` zeros through a streaming encoder, a MiB at a time.
fn streamed<W: Write>(mut encoder: W, bytes: u64) -> W {
    let zeros = vec![0; MIB as usize];
    for _ in 0..bytes / MIB {
        encoder.write_all(&zeros).unwrap();
    }
    encoder
}

/// A block of `codec` that inflates to [`BOMB`] bytes of zeros (zeros are valid records of this
/// schema: a record of no time, no n and no tag).
fn bomb(codec: &str) -> Vec<u8> {
    match codec {
        "deflate" => deflate_bomb(BOMB),
        "zstandard" => streamed(zstd::Encoder::new(Vec::new(), 1).unwrap(), BOMB)
            .finish()
            .unwrap(),
        "xz" => streamed(liblzma::write::XzEncoder::new(Vec::new(), 0), BOMB / 2)
            .finish()
            .unwrap(),
        "bzip2" => streamed(
            bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast()),
            BOMB / 4,
        )
        .finish()
        .unwrap(),
        // Raw snappy says its length first: 4 GiB - 1 here, then a little of it; the CRC last.
        "snappy" => {
            let mut block = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
            block.extend_from_slice(&[0; 64]);
            block.extend_from_slice(&[0; 4]);
            block
        }
        other => panic!("no bomb for {other}"),
    }
}

/// A Camus tree: one sound file in partition 0 and `hostile` as the only file of partition 1,
/// named for `hostile_count` records; a pipeline into a file, sorting in [`SORT_MEMORY`].
struct Tree {
    dir: tempfile::TempDir,
    pipeline: String,
    hostile: PathBuf,
}

impl Tree {
    fn new(hostile: &[u8], hostile_count: u64) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let hour = dir
            .path()
            .join("destination")
            .join(TOPIC)
            .join("hourly/2024/03/10/12");
        std::fs::create_dir_all(&hour).unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let sound = container("deflate", &[(3, deflated(&records(0, 3)))]);
        std::fs::write(hour.join(name(0, 3)), sound).unwrap();
        let path = hour.join(name(1, hostile_count));
        std::fs::write(&path, hostile).unwrap();
        let pipeline = write_pipeline(
            dir.path(),
            "replay.yaml",
            &format!(
                "topic: {TOPIC}\n\
                 source:\n  dest_dir: {d}/destination\n\
                 key:\n  plugin: time-field\n  config: {{ field: header.time }}\n\
                 sort:\n  memory: 64MiB\n  tmp_dir: {d}/tmp\n\
                 format:\n  plugin: json\n  config: {{ encoding: plain }}\n\
                 sink:\n  type: file\n  path: {d}/out.jsonl\n",
                d = dir.path().display()
            ),
        );
        Tree {
            dir,
            pipeline,
            hostile: path,
        }
    }

    fn hostile_name(&self) -> String {
        self.hostile
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn c2k(&self, args: &[&str]) -> Run {
        let started = Instant::now();
        let run = C2k::new(args).dir(self.dir.path()).timeout(LIMIT).run();
        eprintln!(
            "c2k {}: exit {:?}, peak RSS {} MiB, {:.1} s",
            args.first().copied().unwrap_or_default(),
            run.code,
            run.peak_rss / MIB,
            started.elapsed().as_secs_f64()
        );
        run
    }

    /// Nothing was written, and the sort left nothing behind.
    fn assert_nothing_left(&self) {
        assert!(!self.dir.path().join("out.jsonl").exists());
        let tmp: Vec<_> = std::fs::read_dir(self.dir.path().join("tmp"))
            .unwrap()
            .collect();
        assert!(tmp.is_empty(), "left in the spill folder: {tmp:?}");
    }
}

/// A Camus file name for `count` records of `partition`, from offset 0.
fn name(partition: u32, count: u64) -> String {
    format!("{TOPIC}.1.{partition}.{count}.{count}.1710072000000.avro")
}

fn deflated(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Default::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[track_caller]
fn assert_exit(run: &Run, code: i32, needles: &[&str]) {
    let all = run.stdout_and_stderr();
    assert_eq!(run.code, Some(code), "{}:\n{all}", run.what);
    for needle in needles {
        assert!(
            all.contains(needle),
            "{} lacks `{needle}`:\n{all}",
            run.what
        );
    }
    assert!(!all.contains("panicked"), "{all}");
}

#[track_caller]
fn assert_bounded(run: &Run) {
    let bound = memory_bound();
    assert!(
        run.peak_rss < bound,
        "{}: peak RSS {} MiB, more than sort.memory + the documented overhead, {} MiB",
        run.what,
        run.peak_rss / MIB,
        bound / MIB
    );
}

/// Every command that reads data files refuses the bomb of `codec`, naming the file, the block
/// and the codec, within bounded memory, and leaves nothing behind.
fn a_bomb_is_refused_everywhere(codec: &str) {
    let built = Instant::now();
    let bytes = container(codec, &[(1000, bomb(codec))]);
    eprintln!(
        "{codec} bomb: {} KiB on disk (built in {:.1} s)",
        bytes.len() >> 10,
        built.elapsed().as_secs_f64()
    );
    let tree = Tree::new(&bytes, 1000);
    let file = tree.hostile_name();
    let codec_named = format!("(codec {codec})");
    let needles = [
        file.as_str(),
        "block 0 at byte ",
        codec_named.as_str(),
        "source.max_block_bytes",
    ];

    let run = tree.c2k(&["run", &tree.pipeline]);
    assert_exit(&run, 1, &needles);
    assert_bounded(&run);
    tree.assert_nothing_left();

    for depth in [None, Some("--records")] {
        let mut args = vec!["verify", tree.pipeline.as_str()];
        args.extend(depth);
        let verify = tree.c2k(&args);
        assert_exit(&verify, 5, &needles);
        assert!(verify.stdout.contains("damaged"), "{}", verify.stdout);
        assert_bounded(&verify);
    }

    let path = tree.hostile.to_string_lossy().into_owned();
    let inspect = tree.c2k(&["inspect", &path]);
    assert_exit(&inspect, 1, &needles);
    assert_bounded(&inspect);

    let plugin = tree.c2k(&[
        "plugin",
        "test",
        "time-field",
        "--input",
        &path,
        "--config",
        r#"{"field": "header.time"}"#,
    ]);
    assert_exit(&plugin, 1, &needles);
    assert_bounded(&plugin);
}

#[test]
fn a_deflate_bomb_is_refused_in_bounded_memory() {
    a_bomb_is_refused_everywhere("deflate");
}

#[test]
fn a_zstandard_bomb_is_refused_in_bounded_memory() {
    a_bomb_is_refused_everywhere("zstandard");
}

#[test]
fn an_xz_bomb_is_refused_in_bounded_memory() {
    a_bomb_is_refused_everywhere("xz");
}

#[test]
fn a_bzip2_bomb_is_refused_in_bounded_memory() {
    a_bomb_is_refused_everywhere("bzip2");
}

#[test]
fn a_snappy_block_claiming_4_gib_is_refused_before_allocating() {
    a_bomb_is_refused_everywhere("snappy");
}

#[test]
fn a_block_header_claiming_2_pow_60_bytes_or_records_is_never_allocated() {
    // A null-codec block that says it is 2^60 bytes, then ends.
    let mut bytes = container("null", &[]);
    long(&mut bytes, 1);
    long(&mut bytes, 1 << 60);
    bytes.extend_from_slice(&[0; 16]);
    let tree = Tree::new(&bytes, 1);
    let run = tree.c2k(&["run", &tree.pipeline]);
    let says = format!("says it is {} bytes", 1u64 << 60);
    assert_exit(&run, 1, &[&tree.hostile_name(), "block 0 at byte", &says]);
    assert_bounded(&run);
    tree.assert_nothing_left();

    // 2^60 records in a block of 5 records' bytes.
    let five = records(0, 5);
    let says = format!("{} records in {} bytes", 1u64 << 60, five.len());
    let bytes = container("null", &[(1 << 60, five)]);
    let tree = Tree::new(&bytes, 5);
    let run = tree.c2k(&["run", &tree.pipeline]);
    assert_exit(&run, 1, &[&tree.hostile_name(), "corrupt block 0", &says]);
    let verify = tree.c2k(&["verify", &tree.pipeline]);
    assert_exit(&verify, 5, &[&tree.hostile_name(), &says]);
}

#[test]
fn source_max_block_bytes_raises_the_limit_for_genuine_large_blocks() {
    // One block of over 2 MiB of records, deflated: refused at 1 MiB, read whole at 4 MiB.
    let count = 250_000;
    let block = records(0, count);
    assert!((2 * MIB..4 * MIB).contains(&(block.len() as u64)));
    let bytes = container("deflate", &[(count, deflated(&block))]);
    let tree = Tree::new(&bytes, count as u64);
    let small = ["--set", "source.max_block_bytes=1MiB"];
    let run = tree.c2k(&[&["run", tree.pipeline.as_str()][..], &small].concat());
    assert_exit(
        &run,
        1,
        &[
            &tree.hostile_name(),
            "inflates to more than 1MiB",
            "(codec deflate)",
        ],
    );
    let large = ["--set", "source.max_block_bytes=4MiB"];
    let run = tree.c2k(&[&["run", tree.pipeline.as_str()][..], &large].concat());
    assert_exit(&run, 0, &[]);
    let written = std::fs::read_to_string(tree.dir.path().join("out.jsonl")).unwrap();
    assert_eq!(written.lines().count() as i64, count + 3);
}

#[test]
fn sizes_out_of_range_are_refused_by_validate_and_run_before_anything_is_allocated() {
    let tree = Tree::new(&container("deflate", &[(1, deflated(&record(0)))]), 1);
    let cases = [
        (
            "sort.memory=18446744073709551615",
            "sort.memory",
            "out of range",
        ),
        (
            "sort.memory=1000000000000000",
            "sort.memory",
            "out of range",
        ),
        (
            "sort.memory=900GiB",
            "sort.memory",
            "more than this machine's memory",
        ),
        (
            "source.max_block_bytes=3GiB",
            "source.max_block_bytes",
            "out of range",
        ),
        (
            "source.batch_size=99999999999",
            "source.batch_size",
            "out of range",
        ),
        (
            "format.instances=1000000",
            "format.instances",
            "out of range",
        ),
    ];
    for (set, key, why) in cases {
        for command in ["validate", "run"] {
            let run = tree.c2k(&[command, &tree.pipeline, "--set", set]);
            let value = set.split_once('=').unwrap().1;
            assert_exit(&run, 1, &[key, why, value]);
            assert!(
                run.peak_rss < 256 * MIB,
                "{set}: {} MiB",
                run.peak_rss / MIB
            );
        }
        tree.assert_nothing_left();
    }
}

/// A tree whose partition 1 file is `blocks` (deflate) named for `count` records.
fn damaged(blocks: &[(i64, Vec<u8>)], count: u64) -> Tree {
    let stored: Vec<(i64, Vec<u8>)> = blocks.iter().map(|(n, b)| (*n, deflated(b))).collect();
    Tree::new(&container("deflate", &stored), count)
}

/// `verify` without `--records` passes what only decoding finds; `verify --records` and `run`
/// refuse it, naming the file, block and record.
fn found_only_by_decoding(tree: &Tree, needles: &[&str]) {
    let file = tree.hostile_name();
    let mut all = vec![file.as_str()];
    all.extend_from_slice(needles);
    assert_exit(&tree.c2k(&["verify", &tree.pipeline]), 0, &["consistent"]);
    let verify = tree.c2k(&["verify", &tree.pipeline, "--records"]);
    assert_exit(&verify, 5, &all);
    assert!(
        verify.stdout.contains("error   damaged"),
        "{}",
        verify.stdout
    );
    let run = tree.c2k(&["run", &tree.pipeline]);
    assert_exit(&run, 1, &all);
    tree.assert_nothing_left();
}

/// A record whose array of `null` declares 2^33 items, each of no bytes: the walk that checks
/// every record before apache-avro decodes it refuses it (items of no bytes are bounded to 2^20 a
/// record), so neither `inspect`, `verify --records` nor `run` reserves 2^33 values (the
/// out-of-memory the avro_datum fuzz target found). Each names the file and the record, in
/// bounded memory.
#[test]
fn an_array_of_nulls_declaring_billions_of_items_is_refused_before_it_is_decoded() {
    let schema = r#"{"type":"record","name":"Event","fields":[
        {"name":"header","type":{"type":"record","name":"Header","fields":[{"name":"time","type":"long"}]}},
        {"name":"nulls","type":{"type":"array","items":"null"}}]}"#;
    let mut datum = Vec::new();
    long(&mut datum, 1_710_072_000_000);
    long(&mut datum, 1 << 33);
    long(&mut datum, 0);
    let tree = Tree::new(&container_of(schema, "null", &[(1, datum)]), 1);
    let file = tree.hostile_name();
    let hostile = tree.hostile.to_str().unwrap().to_string();
    for (args, code) in [
        (vec!["inspect", hostile.as_str()], 1),
        (vec!["verify", &tree.pipeline, "--records"], 5),
        (vec!["run", &tree.pipeline], 1),
    ] {
        let run = tree.c2k(&args);
        assert_exit(&run, code, &[file.as_str(), "record 0"]);
        assert_bounded(&run);
    }
    tree.assert_nothing_left();
}

#[test]
fn bytes_after_a_blocks_records_are_found_by_verify_records_as_run_finds_them() {
    let mut second = records(2, 2);
    second.extend_from_slice(&[0, 0, 0]);
    let tree = damaged(&[(2, records(0, 2)), (2, second)], 4);
    found_only_by_decoding(&tree, &["corrupt block 1: 3 bytes are left after its"]);
}

#[test]
fn a_bad_union_branch_is_found_by_verify_records_naming_the_record() {
    let mut bad = record(3);
    // The tag's branch: 5 in a union of 2 (the varint before the string's length).
    let at = bad.len() - 3;
    bad[at] = 10;
    let block = [records(0, 3), bad, records(4, 2)].concat();
    let tree = damaged(&[(6, block)], 6);
    found_only_by_decoding(&tree, &["record 3 (in block 0", "union"]);
}

#[test]
fn a_truncated_record_is_found_by_verify_records_naming_the_record() {
    let mut block = records(0, 3);
    block.truncate(block.len() - 2);
    // The count and the name agree: only the record's own bytes are short.
    let tree = damaged(&[(2, records(10, 2)), (3, block)], 5);
    found_only_by_decoding(&tree, &["record 4 (in block 1"]);
}

#[test]
fn an_archive_whose_only_finding_is_a_warning_verifies_with_exit_0() {
    let tree = Tree::new(&container("deflate", &[(2, deflated(&records(5, 2)))]), 2);
    // The same file again under another leader id: a copy, read once.
    let copy = tree
        .hostile
        .with_file_name(tree.hostile_name().replacen(".1.1.", ".7.1.", 1));
    std::fs::copy(&tree.hostile, copy).unwrap();
    for depth in [None, Some("--records")] {
        let mut args = vec!["verify", tree.pipeline.as_str()];
        args.extend(depth);
        let verify = tree.c2k(&args);
        assert_exit(&verify, 0, &["warning copy", "consistent with 1 warnings"]);
    }
    let run = tree.c2k(&["run", &tree.pipeline]);
    assert_exit(&run, 0, &["read once"]);
    let written = std::fs::read_to_string(tree.dir.path().join("out.jsonl")).unwrap();
    assert_eq!(written.lines().count(), 5);
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn an_unreadable_hour_folder_is_named_not_its_topic_folder() {
    let tree = Tree::new(&container("deflate", &[(2, deflated(&records(5, 2)))]), 2);
    let hour = tree.hostile.parent().unwrap().to_path_buf();
    // Anyone may read down to the hour folder, which no one may read.
    set_mode(tree.dir.path(), 0o755);
    set_mode(&tree.dir.path().join("tmp"), 0o777);
    set_mode(&hour, 0o000);
    let topic = tree.dir.path().join("destination").join(TOPIC);
    for command in ["verify", "run"] {
        let run = C2k::new(&[command, &tree.pipeline])
            .dir(tree.dir.path())
            .timeout(LIMIT)
            .unprivileged()
            .run();
        assert_exit(
            &run,
            1,
            &[&format!(
                "cannot list {}: Permission denied",
                hour.display()
            )],
        );
        let topic_named = format!("cannot list {}:", topic.display());
        assert!(!run.stderr.contains(&topic_named), "{}", run.stderr);
    }
    set_mode(&hour, 0o755);
    tree.assert_nothing_left();
}

#[test]
fn a_file_named_with_a_newline_or_an_escape_is_printed_escaped_everywhere() {
    let tree = Tree::new(&container("deflate", &[(2, deflated(&records(5, 2)))]), 2);
    // Damaged, so that every command that reads it has something to say about it.
    let mut damaged = container("deflate", &[(2, deflated(&records(5, 2)))]);
    damaged.truncate(damaged.len() - 20);
    let raw = "late\nc2k: all good \u{1b}[31m.avro";
    let escaped = "late\\nc2k: all good \\u{1b}[31m.avro";
    // JSON has escapes of its own.
    let in_json = "late\\nc2k: all good \\u001b[31m.avro";
    let path = tree.hostile.with_file_name(raw);
    std::fs::write(&path, damaged).unwrap();
    let runs = [
        tree.c2k(&["verify", &tree.pipeline]),
        tree.c2k(&["verify", &tree.pipeline, "--format", "json"]),
        tree.c2k(&["run", &tree.pipeline]),
        tree.c2k(&["inspect", path.to_str().unwrap()]),
    ];
    for (run, (code, shown)) in
        runs.iter()
            .zip([(5, escaped), (5, in_json), (5, escaped), (1, escaped)])
    {
        assert_exit(run, code, &[shown]);
        let all = run.stdout_and_stderr();
        assert!(!all.contains("\nc2k: all good"), "{all}");
        assert!(!all.contains('\u{1b}'), "{all}");
    }
    tree.assert_nothing_left();
}

#[test]
fn the_file_sink_creates_its_output_with_the_mode_the_umask_leaves() {
    let tree = Tree::new(&container("deflate", &[(2, deflated(&records(5, 2)))]), 2);
    let out = tree.dir.path().join("out.jsonl");
    for (umask, mode) in [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)] {
        C2k::new(&["run", &tree.pipeline])
            .dir(tree.dir.path())
            .timeout(LIMIT)
            .umask(umask)
            .run()
            .assert_ok();
        use std::os::unix::fs::PermissionsExt;
        let got = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "umask {umask:o}: mode {got:o}");
    }
}

/// A writer schema of `levels` records, each the type of the one field of the record around it;
/// its datum is the innermost long.
fn nested_schema(levels: usize) -> String {
    let mut text = r#""long""#.to_string();
    for i in (0..levels).rev() {
        text =
            format!(r#"{{"type":"record","name":"R{i}","fields":[{{"name":"f","type":{text}}}]}}"#);
    }
    text
}

#[test]
fn a_schema_100_records_deep_is_read_and_one_300_deep_is_refused_naming_the_file() {
    let mut datum = Vec::new();
    long(&mut datum, 1_710_072_000_000);
    let deep = |levels| container_of(&nested_schema(levels), "deflate", &[(1, deflated(&datum))]);

    // 100 levels, and Avro's limit itself: read by inspect and verify --records, and replayed
    // through both plugins (keyed by the innermost long), without overflowing any stack.
    for levels in [100, 256] {
        let tree = Tree::new(&deep(levels), 1);
        std::fs::remove_file(tree.hostile.with_file_name(name(0, 3))).unwrap();
        let inspect = tree.c2k(&["inspect", tree.hostile.to_str().unwrap()]);
        assert_exit(&inspect, 0, &[]);
        let value = format!(
            "{}1710072000000{}",
            r#"{"f":"#.repeat(levels),
            "}".repeat(levels)
        );
        assert_eq!(inspect.stdout.trim(), value);
        assert_exit(
            &tree.c2k(&["verify", &tree.pipeline, "--records"]),
            0,
            &["consistent"],
        );
        let field = vec!["f"; levels].join(".");
        let key = format!("key.config={{field: {field}}}");
        assert_exit(&tree.c2k(&["run", &tree.pipeline, "--set", &key]), 0, &[]);
        let written = std::fs::read_to_string(tree.dir.path().join("out.jsonl")).unwrap();
        assert_eq!(written.trim(), value);
    }

    let tree = Tree::new(&deep(300), 1);
    let file = tree.hostile_name();
    let why = "nests 300 levels deep";
    assert_exit(
        &tree.c2k(&["inspect", tree.hostile.to_str().unwrap()]),
        1,
        &[&file, why, "256"],
    );
    assert_exit(&tree.c2k(&["verify", &tree.pipeline]), 5, &[&file, why]);
    assert_exit(&tree.c2k(&["run", &tree.pipeline]), 1, &[&file, why]);
    tree.assert_nothing_left();
}
