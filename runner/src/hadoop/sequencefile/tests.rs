use super::*;
use crate::hadoop::writable;
use anyhow::Result;

const SYNC: [u8; 16] = *b"0123456789abcdef";

/// The header bytes, assembled by hand from the format description above.
fn header(codec: Option<&str>, block: bool) -> Vec<u8> {
    let mut h = b"SEQ\x06".to_vec();
    for class in ["org.apache.hadoop.io.Text", "org.apache.hadoop.io.Text"] {
        h.push(class.len() as u8);
        h.extend_from_slice(class.as_bytes());
    }
    h.push(codec.is_some() as u8);
    h.push(block as u8);
    if let Some(c) = codec {
        h.push(c.len() as u8);
        h.extend_from_slice(c.as_bytes());
    }
    h.extend_from_slice(&[0, 0, 0, 1]); // one metadata entry
    h.extend_from_slice(&[4]);
    h.extend_from_slice(b"name");
    h.extend_from_slice(&[5]);
    h.extend_from_slice(b"value");
    h.extend_from_slice(&SYNC);
    h
}

/// A `Text` Writable's bytes.
fn text(s: &str) -> Vec<u8> {
    let mut v = vec![s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

fn plain_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut r = ((key.len() + value.len()) as u32).to_be_bytes().to_vec();
    r.extend_from_slice(&(key.len() as u32).to_be_bytes());
    r.extend_from_slice(key);
    r.extend_from_slice(value);
    r
}

fn read_all(bytes: &[u8]) -> Result<(Header, Vec<Record>)> {
    let mut reader = SequenceFileReader::new(bytes, "test.seq")?;
    let records = (&mut reader).collect::<Result<Vec<_>>>()?;
    Ok((reader.header().clone(), records))
}

fn expected() -> Vec<Record> {
    vec![
        Record {
            key: text("k1"),
            value: text("v1"),
        },
        Record {
            key: text("k2"),
            value: text("value two"),
        },
    ]
}

#[test]
fn uncompressed_file_with_a_sync_escape_between_records() {
    let mut file = header(None, false);
    file.extend(plain_record(&text("k1"), &text("v1")));
    file.extend_from_slice(&(-1i32).to_be_bytes());
    file.extend_from_slice(&SYNC);
    file.extend(plain_record(&text("k2"), &text("value two")));
    let (h, records) = read_all(&file).unwrap();
    assert_eq!(h.version, 6);
    assert_eq!(h.key_class, "org.apache.hadoop.io.Text");
    assert_eq!(h.compression, Compression::None);
    assert_eq!(h.metadata, vec![("name".into(), "value".into())]);
    assert_eq!(records, expected());
}

fn record_compressed(codec: Codec, compress: impl Fn(&[u8]) -> Vec<u8>) {
    let mut file = header(Some(codec.class_name()), false);
    for r in expected() {
        file.extend(plain_record(&r.key, &compress(&r.value)));
    }
    let (h, records) = read_all(&file).unwrap();
    assert_eq!(h.compression, Compression::Record(codec));
    assert_eq!(records, expected(), "{codec:?}");
}

fn zlib(d: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

fn gzip(d: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

fn bzip2(d: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

/// Hadoop's BlockCompressorStream framing around one raw chunk.
fn framed(d: &[u8], raw: Vec<u8>) -> Vec<u8> {
    if d.is_empty() {
        return Vec::new();
    }
    let mut out = (d.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&(raw.len() as u32).to_be_bytes());
    out.extend(raw);
    out
}

fn snappy(d: &[u8]) -> Vec<u8> {
    framed(d, snap::raw::Encoder::new().compress_vec(d).unwrap())
}

fn lz4(d: &[u8]) -> Vec<u8> {
    framed(d, lz4_flex::block::compress(d))
}

fn zstd_stream(d: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(d, 3).unwrap()
}

type Compressor = fn(&[u8]) -> Vec<u8>;

fn all_codecs() -> Vec<(Codec, Compressor)> {
    vec![
        (Codec::Deflate, zlib as Compressor),
        (Codec::Gzip, gzip),
        (Codec::Bzip2, bzip2),
        (Codec::Snappy, snappy),
        (Codec::Lz4, lz4),
        (Codec::Zstd, zstd_stream),
    ]
}

#[test]
fn record_compressed_files_for_every_codec() {
    for (codec, compress) in all_codecs() {
        record_compressed(codec, compress);
    }
}

fn block(records: &[Record], compress: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut b = (-1i32).to_be_bytes().to_vec();
    b.extend_from_slice(&SYNC);
    b.push(records.len() as u8);
    let key_lengths: Vec<u8> = records.iter().map(|r| r.key.len() as u8).collect();
    let keys: Vec<u8> = records.iter().flat_map(|r| r.key.clone()).collect();
    let value_lengths: Vec<u8> = records.iter().map(|r| r.value.len() as u8).collect();
    let values: Vec<u8> = records.iter().flat_map(|r| r.value.clone()).collect();
    for buffer in [key_lengths, keys, value_lengths, values] {
        let c = compress(&buffer);
        let mut len = Vec::new();
        writable::write_vlong(&mut len, c.len() as i64);
        b.extend(len);
        b.extend(c);
    }
    b
}

#[test]
fn block_compressed_files_for_every_codec_with_two_blocks() {
    let all = expected();
    for (codec, compress) in all_codecs() {
        let mut file = header(Some(codec.class_name()), true);
        file.extend(block(&all[..1], compress));
        file.extend(block(&all[1..], compress));
        let (h, records) = read_all(&file).unwrap();
        assert_eq!(h.compression, Compression::Block(codec));
        assert_eq!(records, all, "{codec:?}");
    }
}

#[test]
fn a_block_of_no_records_is_refused_not_read_as_records() {
    // Found by the sequence_file fuzz target: the empty block's count went below zero.
    let all = expected();
    let (codec, compress) = all_codecs().remove(0);
    let mut file = header(Some(codec.class_name()), true);
    file.extend(block(&all, compress));
    file.extend(block(&[], compress));
    let error = format!("{:#}", read_all(&file).unwrap_err());
    assert!(error.contains("a block of 0 records at byte"), "{error}");
}

#[test]
fn block_with_empty_values_as_null_writable_values_are() {
    let records = vec![
        Record {
            key: text("k"),
            value: vec![]
        };
        3
    ];
    for (codec, compress) in all_codecs() {
        let mut file = header(Some(codec.class_name()), true);
        file.extend(block(&records, compress));
        assert_eq!(read_all(&file).unwrap().1, records, "{codec:?}");
    }
}

#[test]
fn version_4_header_without_codec_name_or_metadata() {
    let mut file = b"SEQ\x04".to_vec();
    file.extend(text("K"));
    file.extend(text("V"));
    file.extend_from_slice(&[1, 0]); // compressed, not block compressed -> DefaultCodec
    file.extend_from_slice(&SYNC);
    file.extend(plain_record(b"key", &zlib(b"val")));
    let (h, records) = read_all(&file).unwrap();
    assert_eq!(h.compression, Compression::Record(Codec::Deflate));
    assert_eq!(records[0].value, b"val");
}

#[test]
fn corrupt_files_are_errors_naming_the_file_and_position() {
    let mut file = header(None, false);
    file.extend(plain_record(b"key", b"value"));
    let err = read_all(&file[..file.len() - 2]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("test.seq") && msg.contains("record 0"),
        "{msg}"
    );

    let mut bad_sync = header(None, false);
    bad_sync.extend_from_slice(&(-1i32).to_be_bytes());
    bad_sync.extend_from_slice(&[0u8; 16]);
    let msg = format!("{:#}", read_all(&bad_sync).unwrap_err());
    assert!(msg.contains("sync marker"), "{msg}");

    let msg = format!("{:#}", read_all(b"PAR1....").unwrap_err());
    assert!(msg.contains("test.seq") && msg.contains("SEQ"), "{msg}");
}

#[test]
fn writer_output_reads_back_for_each_mode() {
    for compression in [
        Compression::None,
        Compression::Record(Codec::Deflate),
        Compression::Block(Codec::Deflate),
        Compression::Block(Codec::Gzip),
    ] {
        let mut w = SequenceFileWriter::new(Vec::new(), "K", "V", compression, &[], SYNC).unwrap();
        let records: Vec<Record> = (0..500)
            .map(|i| Record {
                key: format!("key-{i}").into_bytes(),
                value: vec![b'x'; i % 17],
            })
            .collect();
        for r in &records {
            w.append(&r.key, &r.value).unwrap();
        }
        let bytes = w.finish().unwrap();
        let (h, back) = read_all(&bytes).unwrap();
        assert_eq!(h.compression, compression);
        assert_eq!(back, records, "{compression:?}");
    }
}
