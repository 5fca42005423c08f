//! The Camus source, `c2k sample` and `c2k inspect` against Avro files written by an independent
//! implementation (Python's fastavro) and read back by it.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use apache_avro::Schema;
use camus2kafka::testing::value_to_json;
use camus2kafka::testing::SourceBatch;
use camus2kafka::testing::{CamusSource, SourceEvent};
use camus2kafka::Pipeline;
use serde_json::Value as Json;

use crate::support::c2k::{C2k, Run};
use crate::support::camus;

const TOPIC: &str = "PAGE_VIEWS";

/// Announced schemas: (id, JSON).
type Announced = Vec<(u32, String)>;
/// One record read: (file URL, index in file, partition, offset, record as JSON).
type Decoded = (String, u64, Option<u32>, Option<u64>, Json);

fn pipeline(dest_dir: &Path, schema: Option<&Path>, batch_size: usize) -> Pipeline {
    let mut doc = serde_json::json!({
        "topic": TOPIC,
        "source": { "dest_dir": dest_dir.to_str().unwrap(), "batch_size": batch_size },
    });
    if let Some(schema) = schema {
        doc["source"]["schema"] = Json::String(schema.to_str().unwrap().to_string());
    }
    let yaml: serde_yaml::Value = serde_yaml::to_value(&doc).unwrap();
    Pipeline::from_document(&yaml).expect("a valid pipeline")
}

/// Everything the source yields, checking on the way that each schema id is announced exactly
/// once and before its first batch.
fn read_all(source: &CamusSource) -> anyhow::Result<(Announced, Vec<SourceBatch>)> {
    let mut schemas: Vec<(u32, String)> = Vec::new();
    let mut batches = Vec::new();
    for event in source.events() {
        match event? {
            SourceEvent::Schema { id, json } => {
                assert!(
                    schemas.iter().all(|(known, _)| *known != id),
                    "schema {id} announced twice"
                );
                schemas.push((id, json));
            }
            SourceEvent::Batch(batch) => {
                assert!(
                    schemas.iter().any(|(id, _)| *id == batch.schema_id),
                    "batch uses schema {} before it is announced",
                    batch.schema_id
                );
                batches.push(batch);
            }
        }
    }
    Ok((schemas, batches))
}

/// Each record as (file URL, index, partition, offset, JSON decoded with its batch's schema).
fn decode(
    source: &CamusSource,
    schemas: &[(u32, String)],
    batches: &[SourceBatch],
) -> Vec<Decoded> {
    let parsed: Vec<(u32, Schema)> = schemas
        .iter()
        .map(|(id, json)| {
            (
                *id,
                Schema::parse_str(json).expect("announced schema parses"),
            )
        })
        .collect();
    let mut out = Vec::new();
    for batch in batches {
        let schema = &parsed
            .iter()
            .find(|(id, _)| *id == batch.schema_id)
            .unwrap()
            .1;
        for i in 0..batch.len() {
            let mut datum = batch.datum(i);
            let value =
                apache_avro::from_avro_datum(schema, &mut datum, None).expect("datum decodes");
            assert!(datum.is_empty(), "datum has trailing bytes");
            out.push((
                source.files[batch.file as usize].url.clone(),
                batch.first_index + i as u64,
                batch.partition,
                batch.first_offset.map(|o| o + i as u64),
                value_to_json(value),
            ));
        }
    }
    out
}

fn check_against_expected(
    source: &CamusSource,
    decoded: &[Decoded],
    expected: &[Json],
    which: &str,
) {
    assert_eq!(decoded.len(), expected.len(), "record count");
    for (got, want) in decoded.iter().zip(expected) {
        let (url, index, partition, offset, record) = got;
        let file = want["file"].as_str().unwrap();
        assert!(url.ends_with(file), "{url} should be {file}");
        assert_eq!(*index, want["index"].as_u64().unwrap(), "{url}");
        assert_eq!(
            partition.map(u64::from),
            want["partition"].as_u64(),
            "{url}"
        );
        assert_eq!(*offset, want["offset"].as_u64(), "{url} record {index}");
        assert_eq!(record, &want[which], "{url} record {index}");
    }
    assert_eq!(source.partitions(), vec![0, 1, 2]);
}

#[test]
fn every_fastavro_record_is_read_once_resolved_to_the_reader_schema() {
    let dir = tempfile::tempdir().unwrap();
    let expected = camus::write_fastavro_tree(dir.path(), TOPIC);
    let dest = dir.path().join("destination");
    let reader = dir.path().join("reader.avsc");
    let source = CamusSource::open(&pipeline(&dest, Some(&reader), 7)).unwrap();
    // Junk in `_temporary`, hidden folders, `.crc` files and `_SUCCESS` is skipped.
    assert_eq!(source.files.len(), 13);
    let (schemas, batches) = read_all(&source).unwrap();
    assert_eq!(schemas.len(), 1, "one reader schema id");
    assert!(batches.iter().all(|b| b.len() <= 7 && !b.is_empty()));
    let decoded = decode(&source, &schemas, &batches);
    check_against_expected(&source, &decoded, &expected, "resolved");
}

#[test]
fn without_a_reader_schema_each_writer_schema_gets_its_own_id_and_bytes_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let expected = camus::write_fastavro_tree(dir.path(), TOPIC);
    let source = CamusSource::open(&pipeline(&dir.path().join("destination"), None, 1000)).unwrap();
    let (schemas, batches) = read_all(&source).unwrap();
    assert_eq!(schemas.len(), 2, "v1 and v2");
    let decoded = decode(&source, &schemas, &batches);
    check_against_expected(&source, &decoded, &expected, "raw");
}

/// A topic directory holding one copy of a fastavro file, as bytes we can damage.
fn damaged_copy(original: &Path, bytes: &[u8]) -> (tempfile::TempDir, Pipeline, String) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir
        .path()
        .join("destination")
        .join(TOPIC)
        .join("hourly/2024/03/10/10");
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join(original.file_name().unwrap());
    std::fs::write(&file, bytes).unwrap();
    let pipeline = pipeline(&dir.path().join("destination"), None, 3);
    (dir, pipeline, file.to_str().unwrap().to_string())
}

fn read_error(pipeline: &Pipeline) -> Option<String> {
    let source = CamusSource::open(pipeline).unwrap();
    read_all(&source).err().map(|e| format!("{e:#}"))
}

/// A fixture file with several blocks, for each codec.
fn fixture_files() -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    camus::write_fastavro_tree(dir.path(), TOPIC);
    let files = camus::avro_files(&dir.path().join("destination").join(TOPIC).join("hourly"))
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains(".staging"))
        .collect();
    (dir, files)
}

#[test]
fn truncated_files_fail_with_an_error_naming_the_file() {
    let (_fixtures, files) = fixture_files();
    for original in files.iter().take(6) {
        let bytes = std::fs::read(original).unwrap();
        for len in [
            0,
            3,
            10,
            40,
            bytes.len() / 2,
            bytes.len() - 17,
            bytes.len() - 1,
        ] {
            let (_dir, pipeline, url) = damaged_copy(original, &bytes[..len]);
            let error = read_error(&pipeline).unwrap_or_else(|| {
                panic!("{} cut at {len} read without error", original.display())
            });
            assert!(error.contains(&url), "error should name {url}: {error}");
            assert!(
                error.contains("truncated")
                    || error.contains("not an Avro")
                    || error.contains("corrupt"),
                "{error}"
            );
        }
    }
}

#[test]
fn corrupt_files_fail_with_clear_errors_and_never_panic() {
    let (_fixtures, files) = fixture_files();
    let bytes = std::fs::read(&files[1]).unwrap();

    let mut bad_magic = bytes.clone();
    bad_magic[0] = b'X';
    let (_dir, pipeline, url) = damaged_copy(&files[1], &bad_magic);
    let error = read_error(&pipeline).unwrap();
    assert!(
        error.contains(&url) && error.contains("not an Avro object container file"),
        "{error}"
    );

    let mut bad_sync = bytes.clone();
    let last = bad_sync.len() - 1;
    bad_sync[last] ^= 0xff;
    let (_dir, pipeline, url) = damaged_copy(&files[1], &bad_sync);
    let error = read_error(&pipeline).unwrap();
    assert!(
        error.contains(&url) && error.contains("sync marker mismatch"),
        "{error}"
    );

    // Random bit flips in every codec's files: an error naming the file, or (when the flip lands
    // in string content) a clean read; never a panic.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for original in files.iter().take(6) {
        let bytes = std::fs::read(original).unwrap();
        for _ in 0..40 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut flipped = bytes.clone();
            let at = (state % bytes.len() as u64) as usize;
            flipped[at] ^= 1 << (state >> 60 & 7);
            let (_dir, pipeline, url) = damaged_copy(original, &flipped);
            if let Some(error) = read_error(&pipeline) {
                assert!(error.contains(&url), "error should name {url}: {error}");
            }
        }
    }
}

#[test]
fn an_incompatible_reader_schema_is_an_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    camus::write_fastavro_tree(dir.path(), TOPIC);
    let text = std::fs::read_to_string(dir.path().join("reader.avsc")).unwrap();
    let mut schema: Json = serde_json::from_str(&text).unwrap();
    schema["fields"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "campaign_id", "type": "long"}));
    let reader = dir.path().join("bad.avsc");
    std::fs::write(&reader, schema.to_string()).unwrap();
    let error = read_error(&pipeline(
        &dir.path().join("destination"),
        Some(&reader),
        100,
    ))
    .unwrap();
    assert!(error.contains("campaign_id"), "{error}");
    assert!(error.contains(".avro"), "the error names the file: {error}");
}

fn c2k(args: &[&str]) -> Run {
    C2k::new(args).timeout(Duration::from_secs(120)).run()
}

fn sample(dir: &Path, seed: &str) {
    let output = c2k(&[
        "sample",
        dir.to_str().unwrap(),
        "--records",
        "2400",
        "--partitions",
        "3",
        "--hours",
        "4",
        "--seed",
        seed,
    ]);
    assert!(output.status.success(), "{}", output.stderr);
}

#[test]
fn sample_is_deterministic_for_a_seed_and_readable_by_fastavro_and_the_source() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    sample(a.path(), "7");
    sample(b.path(), "7");
    sample(c.path(), "8");
    let tree_a = camus::tree_bytes(a.path());
    assert_eq!(tree_a, camus::tree_bytes(b.path()), "same seed, same bytes");
    assert_ne!(
        tree_a,
        camus::tree_bytes(c.path()),
        "another seed, other data"
    );

    let files = camus::avro_files(&a.path().join("destination"));
    assert_eq!(files.len(), 12, "3 partitions x 4 hours");
    let summary = camus::fastavro_summary(&files);
    assert_eq!(summary["records"], 2400);
    assert_eq!(
        summary["codecs"],
        serde_json::json!(["bzip2", "deflate", "null", "snappy", "xz", "zstandard"])
    );
    assert_eq!(summary["schemas"], 2);

    let source = CamusSource::open(&pipeline(
        &a.path().join("destination"),
        Some(&a.path().join("page_view.avsc")),
        500,
    ))
    .unwrap();
    assert_eq!(source.partitions(), vec![0, 1, 2]);
    let (schemas, batches) = read_all(&source).unwrap();
    let decoded = decode(&source, &schemas, &batches);
    assert_eq!(decoded.len(), 2400);
    // Records are ~300 bytes, as the brief asks of a realistic sample.
    let bytes: usize = batches.iter().map(|b| b.data.len()).sum();
    assert!(
        (200..400).contains(&(bytes / 2400)),
        "{} bytes per record",
        bytes / 2400
    );
    // Offsets from names are contiguous per partition.
    for partition in 0..3u32 {
        let offsets: Vec<u64> = decoded
            .iter()
            .filter(|r| r.2 == Some(partition))
            .map(|r| r.3.unwrap())
            .collect();
        let first = offsets[0];
        assert_eq!(
            offsets,
            (first..first + offsets.len() as u64).collect::<Vec<_>>()
        );
    }
    // Late events: a record whose time lies before the hour its folder names.
    let late = decoded.iter().filter(|(url, _, _, _, record)| {
        let hour: i64 = url.split('/').rev().nth(1).unwrap().parse().unwrap();
        let time = record["header"]["time"].as_i64().unwrap();
        (time / 3_600_000) % 24 < hour
    });
    assert!(late.count() > 0, "some late events");
    // Exact ties across partitions.
    let mut seen = std::collections::BTreeMap::new();
    for (_, _, partition, _, record) in &decoded {
        seen.entry(record["header"]["time"].as_i64().unwrap())
            .or_insert_with(BTreeSet::new)
            .insert(*partition);
    }
    assert!(
        seen.values().any(|partitions| partitions.len() > 1),
        "ties across partitions"
    );
    assert!(
        decoded.iter().all(|r| r.4.get("country").is_some()),
        "resolved to v2"
    );
}

#[test]
fn inspect_prints_what_fastavro_reads() {
    let (_fixtures, files) = fixture_files();
    for file in files.iter().take(6) {
        let output = c2k(&["inspect", file.to_str().unwrap()]);
        assert!(output.status.success(), "{}", output.stderr);
        let ours: Vec<Json> = String::from_utf8(output.stdout_bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let theirs = camus::fastavro_records(std::slice::from_ref(file));
        assert!(!theirs.is_empty());
        assert_eq!(ours, theirs, "{}", file.display());
    }
    let not_avro = files[0].with_file_name("notes.txt");
    std::fs::write(&not_avro, "hello").unwrap();
    let output = c2k(&["inspect", not_avro.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = &output.stderr;
    assert!(stderr.contains("notes.txt"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Files decoded in parallel and merged back in file order.

/// One event, comparable: a schema (id, JSON) or a batch (file, first index, partition, first
/// offset, schema id, bytes, record ends).
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Schema(u32, String),
    Batch(u32, u64, Option<u32>, Option<u64>, u32, Vec<u8>, Vec<u32>),
}

fn seen(event: SourceEvent) -> Seen {
    match event {
        SourceEvent::Schema { id, json } => Seen::Schema(id, json),
        SourceEvent::Batch(b) => Seen::Batch(
            b.file,
            b.first_index,
            b.partition,
            b.first_offset,
            b.schema_id,
            b.data,
            b.ends,
        ),
    }
}

/// Every event of the source read with `workers` decoding threads, in the order yielded.
fn sequence(source: &CamusSource, workers: usize) -> Vec<Seen> {
    source
        .events_with_workers(workers)
        .map(|event| seen(event.expect("the tree reads without error")))
        .collect()
}

fn assert_parallel_equals_sequential(source: &CamusSource) {
    let sequential = sequence(source, 1);
    assert!(
        sequential.iter().any(|e| matches!(e, Seen::Batch(..))),
        "the tree has records"
    );
    for workers in [2, 3, 8] {
        let parallel = sequence(source, workers);
        assert_eq!(parallel.len(), sequential.len(), "{workers} workers");
        for (i, (p, s)) in parallel.iter().zip(&sequential).enumerate() {
            assert_eq!(p, s, "event {i} with {workers} workers");
        }
    }
}

#[test]
fn parallel_decoding_yields_the_sequential_events_on_the_fastavro_tree() {
    let dir = tempfile::tempdir().unwrap();
    camus::write_fastavro_tree(dir.path(), TOPIC);
    let dest = dir.path().join("destination");
    let reader = dir.path().join("reader.avsc");
    // Resolved to a reader schema (one id), and passed through with one id per writer schema.
    for (schema, batch_size) in [(Some(reader.as_path()), 7), (None, 1000), (None, 1)] {
        let source = CamusSource::open(&pipeline(&dest, schema, batch_size)).unwrap();
        assert_parallel_equals_sequential(&source);
    }
}

/// A `c2k sample` tree with many small files: `partitions` x `hours` files.
fn many_files_sample(dir: &Path, records: u32, partitions: u32, hours: u32) {
    let output = c2k(&[
        "sample",
        dir.to_str().unwrap(),
        "--records",
        &records.to_string(),
        "--partitions",
        &partitions.to_string(),
        "--hours",
        &hours.to_string(),
    ]);
    assert!(output.status.success(), "{}", output.stderr);
}

#[test]
fn parallel_decoding_yields_the_sequential_events_on_a_sample_tree_with_many_files() {
    let dir = tempfile::tempdir().unwrap();
    many_files_sample(dir.path(), 30_000, 8, 12);
    let dest = dir.path().join("destination");
    let reader = dir.path().join("page_view.avsc");
    for (schema, batch_size) in [(None, 500), (Some(reader.as_path()), 333)] {
        let source = CamusSource::open(&pipeline(&dest, schema, batch_size)).unwrap();
        assert_eq!(source.files.len(), 96, "8 partitions x 12 hours");
        let ids: BTreeSet<u32> = sequence(&source, 1)
            .iter()
            .filter_map(|e| match e {
                Seen::Schema(id, _) => Some(*id),
                Seen::Batch(..) => None,
            })
            .collect();
        assert_eq!(ids.len(), if schema.is_some() { 1 } else { 2 }, "{ids:?}");
        assert_parallel_equals_sequential(&source);
    }
}

#[test]
fn an_error_in_a_middle_file_is_reported_naming_it_and_nothing_after_it_is_yielded() {
    let dir = tempfile::tempdir().unwrap();
    many_files_sample(dir.path(), 20_000, 6, 8);
    let dest = dir.path().join("destination");
    let source = CamusSource::open(&pipeline(&dest, None, 100)).unwrap();
    let middle = source.files.len() / 2;
    let url = source.files[middle].url.clone();
    let bytes = std::fs::read(&url).unwrap();
    std::fs::write(&url, &bytes[..bytes.len() / 2]).unwrap();
    let source = CamusSource::open(&pipeline(&dest, None, 100)).unwrap();

    let started = std::time::Instant::now();
    let mut error = None;
    let mut events = source.events_with_workers(4);
    for event in events.by_ref() {
        match event {
            // The failing file's records before the damage may come first, as they do from
            // the sequential source (whether they do here depends on whether its worker has
            // already failed when the merger reaches it); nothing of a later file may.
            Ok(SourceEvent::Batch(batch)) => assert!(
                (batch.file as usize) <= middle,
                "a batch of file {} was yielded after the failing file {middle}",
                batch.file
            ),
            Ok(SourceEvent::Schema { .. }) => {}
            Err(e) => {
                error = Some(format!("{e:#}"));
                break;
            }
        }
    }
    let error = error.expect("the truncated file is an error");
    assert!(error.contains(&url), "the error names {url}: {error}");
    assert!(error.contains("truncated"), "{error}");
    assert!(events.next().is_none(), "the stream ends after its error");
    drop(events);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// A storage that counts the files open through it and the bytes read, to see what the parallel
/// source reads ahead and that it lets go of everything when dropped.
struct Counting {
    inner: std::sync::Arc<dyn camus2kafka::testing::Storage>,
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// How long opening a file takes, like a round trip to a NameNode and a DataNode.
    open_latency: Duration,
}

struct CountingReader {
    inner: Box<dyn std::io::Read + Send>,
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::io::Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes
            .fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
        Ok(n)
    }
}

impl Drop for CountingReader {
    fn drop(&mut self) {
        self.open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl camus2kafka::testing::Storage for Counting {
    fn list_files(&self, dir: &str) -> anyhow::Result<Vec<camus2kafka::testing::FileEntry>> {
        self.inner.list_files(dir)
    }
    fn list_dirs(&self, dir: &str) -> anyhow::Result<Vec<String>> {
        self.inner.list_dirs(dir)
    }
    fn open(&self, url: &str) -> anyhow::Result<Box<dyn std::io::Read + Send>> {
        std::thread::sleep(self.open_latency);
        let inner = self.inner.open(url)?;
        self.open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Box::new(CountingReader {
            inner,
            open: self.open.clone(),
            bytes: self.bytes.clone(),
        }))
    }
    fn file_size(&self, url: &str) -> anyhow::Result<Option<u64>> {
        self.inner.file_size(url)
    }
    fn create_dir_all(&self, dir: &str) -> anyhow::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn create(&self, url: &str) -> anyhow::Result<Box<dyn camus2kafka::testing::FileWrite>> {
        self.inner.create(url)
    }
    fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        self.inner.rename(from, to)
    }
    fn delete(&self, url: &str) -> anyhow::Result<()> {
        self.inner.delete(url)
    }
}

#[test]
fn a_slow_consumer_holds_back_reading_and_dropping_the_stream_early_stops_every_worker() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    many_files_sample(dir.path(), 30_000, 8, 12);
    let topic_dir = dir.path().join("destination").join(TOPIC);
    let local = camus2kafka::testing::for_url(topic_dir.to_str().unwrap()).unwrap();
    let files =
        camus2kafka::testing::list_archive(local.as_ref(), topic_dir.to_str().unwrap(), None)
            .unwrap()
            .files;
    assert_eq!(files.len(), 96);
    let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counting = Counting {
        inner: local,
        open: open.clone(),
        bytes: bytes.clone(),
        open_latency: Duration::ZERO,
    };
    let total: u64 = files.iter().map(|f| f.size).sum();
    let workers = 3;
    // At most workers + 2 files are in flight at once.
    let mut sizes: Vec<u64> = files.iter().map(|f| f.size).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let read_ahead_bound: u64 = sizes.iter().take(workers + 2).sum();
    let source = CamusSource::from_files(files, std::sync::Arc::new(counting), None, 50);

    let mut events = source.events_with_workers(workers);
    for _ in 0..3 {
        events.next().expect("an event").expect("no error");
    }
    // The consumer dawdles: the workers fill their queues, then wait.
    std::thread::sleep(Duration::from_millis(500));
    let read = bytes.load(SeqCst);
    assert!(
        read <= read_ahead_bound && read < total,
        "read {read} bytes ahead of a slow consumer (bound {read_ahead_bound}, tree {total})"
    );
    let started = std::time::Instant::now();
    drop(events);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "dropping the stream took {:?}",
        started.elapsed()
    );
    assert_eq!(
        open.load(SeqCst),
        0,
        "every file is closed once the stream is dropped"
    );
    let after_drop = bytes.load(SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        bytes.load(SeqCst),
        after_drop,
        "nothing is read after the drop"
    );
}

#[test]
fn files_are_decoded_at_once_so_storage_latency_overlaps() {
    let dir = tempfile::tempdir().unwrap();
    many_files_sample(dir.path(), 4_000, 8, 6);
    let topic_dir = dir.path().join("destination").join(TOPIC);
    let local = camus2kafka::testing::for_url(topic_dir.to_str().unwrap()).unwrap();
    let files =
        camus2kafka::testing::list_archive(local.as_ref(), topic_dir.to_str().unwrap(), None)
            .unwrap()
            .files;
    assert_eq!(files.len(), 48);
    let latency = Duration::from_millis(60);
    let storage = std::sync::Arc::new(Counting {
        inner: local,
        open: Default::default(),
        bytes: Default::default(),
        open_latency: latency,
    });
    let source = CamusSource::from_files(files, storage, None, 1000);
    let timed = |workers| {
        let started = std::time::Instant::now();
        let events = sequence(&source, workers);
        (started.elapsed(), events)
    };
    let (sequential, expected) = timed(1);
    let (parallel, events) = timed(6);
    assert_eq!(events, expected);
    assert!(sequential >= latency * 48, "{sequential:?}");
    // Six files open at once: about a sixth of the waiting, plus decoding.
    assert!(
        parallel * 2 < sequential,
        "6 workers took {parallel:?}, 1 worker {sequential:?}"
    );
}

/// Records/s of the source alone, sequential versus parallel, on the `c2k sample` tree in
/// `C2K_SOURCE_BENCH_DIR` (e.g. written by `c2k sample DIR --records 500000`). Run with
/// `cargo test --release -p camus2kafka --test integration -- --ignored --nocapture records_per_second`.
#[test]
#[ignore = "a measurement: needs C2K_SOURCE_BENCH_DIR"]
fn records_per_second_sequential_versus_parallel() {
    let dir = std::env::var("C2K_SOURCE_BENCH_DIR")
        .expect("C2K_SOURCE_BENCH_DIR names a tree written by `c2k sample`");
    let dest = Path::new(&dir).join("destination");
    let reader = Path::new(&dir).join("page_view.avsc");
    for (what, schema) in [("pass-through", None), ("resolved", Some(reader.as_path()))] {
        let source = CamusSource::open(&pipeline(&dest, schema, 1000)).unwrap();
        let mut counts = Vec::new();
        for workers in [1, 2, 4] {
            let started = std::time::Instant::now();
            let cpu_before = cpu_seconds();
            let mut records = 0u64;
            for event in source.events_with_workers(workers) {
                if let SourceEvent::Batch(batch) = event.unwrap() {
                    records += batch.len() as u64;
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu_before;
            println!(
                "{what:>12}, {workers} worker(s), {} files: {records} records in {seconds:.2} s = {:.0} records/s, {:.2} cores busy",
                source.files.len(),
                records as f64 / seconds,
                cpu / seconds
            );
            counts.push(records);
        }
        assert!(
            counts.iter().all(|c| *c == counts[0] && *c > 0),
            "{counts:?}"
        );
    }
}

/// CPU time (user + system) this process has used, from `/proc/self/stat`, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}
