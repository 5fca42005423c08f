//! The fuzz targets' way in (`fuzz/`, re-exported as `testing::fuzz`): one function per parser
//! of untrusted bytes, each taking what a fuzzer makes (`&[u8]`) and driving the parser the way
//! `c2k` does. A parser's error is a pass; a panic, an allocation past its limit or a hang is
//! the finding. Where a second reading of the same bytes exists (apache-avro beside the
//! walker and the transcoder, the fast walk beside the strict one, an encoder beside a decoder)
//! the two must agree, and an assertion here says so.
//!
//! Not used by `c2k`: nothing here is on the data path.

use std::io::Cursor as IoCursor;
use std::path::Path;

use apache_avro::Schema;
use c2k_avro::{CompiledSchema, Validate};

use crate::config::{self, validate};
use crate::hadoop::compression::Codec;
use crate::hadoop::sequencefile::SequenceFileReader;
use crate::offsets::etlkey::{self, EtlKey, Layout};
use crate::source::codec::BlockCodec;
use crate::source::container::ContainerReader;
use crate::source::events::OpenFile;
use crate::source::schemas::{parse_schema, Plan};
use crate::source::transcode::Transcoder;
use crate::source::{names, CamusFileName, SourceFile};

/// The most bytes a fuzzed block or buffer may inflate to: the limit logic is the same at any
/// size, and a small one keeps a decompression bomb from costing each execution 64 MiB.
const LIMIT: u64 = 1 << 20;

/// Lets a panic that the code under test catches on purpose pass (apache-avro's schema parser
/// panics on some inputs; `source::schemas::parse_schema` catches it): the fuzzer's own hook
/// aborts on every panic, caught or not. A panic that escapes a target is still a crash, made
/// by the fuzzer when the target unwinds. Call once, from the target's `init`.
pub fn init() {
    std::panic::set_hook(Box::new(|info| {
        let in_apache_avro = info
            .location()
            .is_some_and(|l| l.file().contains("apache-avro") || l.file().contains("apache_avro"));
        if !in_apache_avro {
            eprintln!("{info}\n{}", std::backtrace::Backtrace::force_capture());
        }
    }));
}

/// An Avro object container file, read as the source reads one: the header, then every block
/// (the codec the header names, at most [`LIMIT`] a block) and every record in it walked
/// strictly with the writer schema, then the record count checked against the Camus name.
pub fn avro_container(data: &[u8]) {
    let url = "fuzz/PAGE_VIEWS.1.0.3.1003.avro";
    let Ok(reader) = ContainerReader::open(url, Box::new(IoCursor::new(data.to_vec())), LIMIT)
    else {
        return;
    };
    let file = SourceFile {
        url: url.to_string(),
        size: data.len() as u64,
        name: CamusFileName::parse("PAGE_VIEWS.1.0.3.1003.avro", Some("PAGE_VIEWS")),
    };
    let Ok(mut open) = OpenFile::new(0, &file, reader, Plan::PassThrough, 0) else {
        return;
    };
    while let Ok(Some(batch)) = open.next_checked(7) {
        assert_eq!(
            batch.ends.last().map(|&e| e as usize),
            Some(batch.data.len())
        );
    }
}

/// One Avro block as stored, decompressed with a codec chosen by the first byte.
pub fn avro_block(data: &[u8]) {
    const CODECS: [BlockCodec; 6] = [
        BlockCodec::Null,
        BlockCodec::Deflate,
        BlockCodec::Snappy,
        BlockCodec::Zstandard,
        BlockCodec::Bzip2,
        BlockCodec::Xz,
    ];
    let Some((&which, stored)) = data.split_first() else {
        return;
    };
    let codec = CODECS[usize::from(which) % CODECS.len()];
    let mut stored = stored.to_vec();
    let mut out = Vec::new();
    if codec.decompress(&mut stored, &mut out, LIMIT).is_ok() {
        assert!(
            out.len() as u64 <= LIMIT,
            "{codec:?} inflated past the limit"
        );
    }
}

/// A datum walked by `camus2kafka-avro` in one schema, strictly and fast, with apache-avro's
/// decoder beside it: a datum the strict walk accepts, the fast walk and apache-avro read to the
/// same end.
pub struct DatumWalk {
    schema: Schema,
    compiled: CompiledSchema,
}

impl DatumWalk {
    /// Parses and compiles the schema once (panics on a bad schema: it is the target's own).
    pub fn new(schema_json: &str) -> DatumWalk {
        let schema = parse_schema(schema_json).expect("the fuzz target's schema parses");
        let compiled = CompiledSchema::compile(&schema).expect("the fuzz target's schema compiles");
        DatumWalk { schema, compiled }
    }

    pub fn run(&self, datum: &[u8]) {
        let Ok(end) = self.compiled.datum_end(datum, 0, Validate::Strict) else {
            return;
        };
        assert!(end <= datum.len());
        assert_eq!(
            self.compiled.datum_end(datum, 0, Validate::Fast).ok(),
            Some(end),
            "the fast walk ends elsewhere than the strict one"
        );
        let mut rest = &datum[..end];
        match apache_avro::from_avro_datum(&self.schema, &mut rest, None) {
            Ok(_) => assert!(rest.is_empty(), "apache-avro left {} bytes", rest.len()),
            // The strict walk does not check that strings are UTF-8 (`Validate::Strict` lists
            // what it checks); apache-avro does.
            Err(e) if e.to_string().contains("utf-8") => {}
            Err(e) => panic!("the strict walk accepted what apache-avro cannot read: {e}"),
        }
    }
}

/// A writer → reader schema pair compiled into a [`Transcoder`] once; each datum the writer's
/// strict walk accepts is transcoded and resolved by apache-avro, and the two must agree.
pub struct TranscodePair {
    writer: Schema,
    reader: Schema,
    walk: CompiledSchema,
    transcoder: Transcoder,
}

impl TranscodePair {
    /// Panics when the pair does not compile: the pairs are the target's own.
    pub fn new(writer_json: &str, reader_json: &str) -> TranscodePair {
        let writer = parse_schema(writer_json).expect("the writer schema parses");
        let reader = parse_schema(reader_json).expect("the reader schema parses");
        let walk = CompiledSchema::compile(&writer).expect("the writer schema compiles");
        let transcoder = Transcoder::compile(&writer, &reader).expect("the pair transcodes");
        TranscodePair {
            writer,
            reader,
            walk,
            transcoder,
        }
    }

    pub fn run(&self, datum: &[u8]) {
        // The source only hands the transcoder datums its strict walk has delimited.
        if self.walk.datum_end(datum, 0, Validate::Strict) != Ok(datum.len()) {
            return;
        }
        let mut ours = Vec::new();
        let ours = self.transcoder.transcode(datum, &mut ours).map(|()| ours);
        let theirs = Plan::resolve(&self.writer, &self.reader, datum);
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) if ours != theirs => {
                // Map entries may come out of apache-avro in another order: the values agree.
                let decode = |bytes: &[u8]| {
                    apache_avro::from_avro_datum(&self.reader, &mut &bytes[..], None)
                        .expect("the transcoder's output reads in the reader schema")
                };
                let (ours, theirs) = (decode(&ours), decode(&theirs));
                assert!(
                    same(&ours, &theirs),
                    "datum {datum:?}:\n{ours:?}\n{theirs:?}"
                );
            }
            (Ok(_), Ok(_)) | (Err(_), Err(_)) => {}
            (ours, theirs) => panic!(
                "the transcoder and apache-avro disagree on {datum:?}: {ours:?} / {:?}",
                theirs.map_err(|e| e.to_string())
            ),
        }
    }
}

/// A Hadoop SequenceFile read record by record (buffers of at most [`LIMIT`]), each key decoded
/// as a Camus `EtlKey` when the header says it is one.
pub fn sequence_file(data: &[u8]) {
    let Ok(reader) = SequenceFileReader::new(data, "fuzz.seq") else {
        return;
    };
    let mut reader = reader.with_max_buffer_bytes(LIMIT);
    let etl_keys = reader.header().key_class == etlkey::CLASS_NAME;
    while let Ok(Some(record)) = reader.next_record() {
        if etl_keys {
            let _ = EtlKey::decode(&record.key);
        }
    }
}

/// One buffer of a SequenceFile, decompressed with a Hadoop codec chosen by the first byte.
pub fn hadoop_buffer(data: &[u8]) {
    const CODECS: [Codec; 6] = [
        Codec::Deflate,
        Codec::Gzip,
        Codec::Bzip2,
        Codec::Snappy,
        Codec::Lz4,
        Codec::Zstd,
    ];
    let Some((&which, buffer)) = data.split_first() else {
        return;
    };
    let codec = CODECS[usize::from(which) % CODECS.len()];
    if let Ok(out) = codec.decompress(buffer, LIMIT) {
        assert!(
            out.len() as u64 <= LIMIT,
            "{codec:?} inflated past the limit"
        );
    }
}

/// A Camus `EtlKey`'s bytes decoded; a key decoded is encoded again to the same key.
pub fn etl_key(data: &[u8]) {
    let Ok(key) = EtlKey::decode(data) else {
        return;
    };
    // A map that did not decode is dropped (`None`): its re-encoding is another key.
    if key.layout == Layout::WithPartitionMap && key.partition_map.is_none() {
        return;
    }
    let again = EtlKey::decode(&key.encode());
    assert_eq!(again.as_ref().ok(), Some(&key), "{again:?}");
}

/// A file name (the text after the first newline; the text before it is the pipeline's topic
/// when not empty) parsed as a Camus name, and judged as a data file.
pub fn camus_name(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (topic, path) = text.split_once('\n').unwrap_or(("", &text));
    let topic = (!topic.is_empty()).then_some(topic);
    let _ = names::is_data_file(path);
    let file_name = path.rsplit('/').next().unwrap_or(path);
    for topic in [topic, None] {
        if let Some(name) = CamusFileName::parse(file_name, topic) {
            let _ = name.first_offset();
            assert!(!name.topic.is_empty());
        }
    }
}

/// A pipeline file's text (up to the first NUL byte) with `--set` overrides (the lines after
/// it) applied, checked, and built when it has no problem.
pub fn pipeline(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (yaml, sets) = text.split_once('\0').unwrap_or((&text, ""));
    let sets: Vec<String> = sets.lines().map(str::to_string).collect();
    let path = Path::new("/fuzz/pipeline.yaml");
    let Ok(doc) = config::parse_document(yaml, path, &sets) else {
        return;
    };
    let problems = validate::problems(&doc);
    if problems.is_empty() {
        let _ = config::Pipeline::from_document(&doc);
    } else {
        let _ = validate::report(path, &problems);
    }
}

/// A format plugin's flat answer (contract 0.1.1), its columns cut from the bytes, split into
/// messages as the host splits an untrusted plugin's answer.
pub fn format_answer(data: &[u8]) {
    let _ = crate::plugin::split_flat_answer_bytes(data);
}

/// Whether two decoded values are the same datum: as `==`, except that NaN equals NaN (either
/// side may keep another NaN's bits, and NaN is not equal to itself).
fn same(a: &apache_avro::types::Value, b: &apache_avro::types::Value) -> bool {
    use apache_avro::types::Value as V;
    match (a, b) {
        (V::Double(x), V::Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        (V::Float(x), V::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (V::Union(i, x), V::Union(j, y)) => i == j && same(x, y),
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (V::Map(x), V::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (V::Record(x), V::Record(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((m, v), (n, w))| m == n && same(v, w))
        }
        _ => a == b,
    }
}
