//! One data file read as `c2k run` reads it, without sending anything: every block read and
//! decompressed (never past `source.max_block_bytes`), its record count added up, and with
//! `c2k verify --records` every record walked against the file's writer schema with the run's
//! own strict check, each block's records using exactly its bytes. What `run` would refuse in a
//! file (a truncated record, a bad union branch, bytes left after a block's records) is found
//! here and named by file, block and record. One block at a time is held, whatever the file.

use anyhow::{anyhow, bail, Result};
use c2k_avro::{CompiledSchema, Validate};

use crate::source::container::ContainerReader;
use crate::source::text::count_records;
use crate::source::{SourceFile, SourceFormat};
use crate::storage::Storage;

/// How much of each file to read.
#[derive(Debug, Clone)]
pub(crate) struct Depth {
    /// How the archive's records are written (Camus' text and SequenceFile writers' files are
    /// read record by record either way: they have no blocks to count).
    pub format: SourceFormat,
    /// The most bytes one block may take, stored or decompressed.
    pub max_block_bytes: u64,
    /// Walk every record too, not only the blocks.
    pub records: bool,
}

/// Reads `file` to its end; its record count, or the first thing `c2k run` would refuse in it.
pub(super) fn read_file(storage: &dyn Storage, file: &SourceFile, depth: &Depth) -> Result<u64> {
    if depth.format != SourceFormat::Avro {
        return count_records(storage, file, &depth.format, depth.max_block_bytes);
    }
    let mut reader =
        ContainerReader::open(&file.url, storage.open(&file.url)?, depth.max_block_bytes)?;
    let writer = match depth.records {
        true => Some(
            CompiledSchema::compile(&reader.header.schema)
                .map_err(|e| anyhow!("{}: the writer schema is incomplete: {e}", file.url))?,
        ),
        false => None,
    };
    let mut total = 0u64;
    while let Some(count) = reader.next_block()? {
        if let Some(writer) = &writer {
            walk_block(&reader, writer, count, total)?;
        }
        // Saturating: a schema whose records take no bytes lets a count be anything.
        total = total.saturating_add(count);
    }
    Ok(total)
}

/// Walks the `count` records of the block `reader` holds, the first being record `first` of
/// the file, as strictly as `c2k run` does; the records must end exactly where the block does.
fn walk_block(
    reader: &ContainerReader,
    writer: &CompiledSchema,
    count: u64,
    first: u64,
) -> Result<()> {
    let block = reader.block();
    let mut pos = 0usize;
    for i in 0..count {
        let start = pos;
        pos = writer
            .datum_end(block, pos, Validate::Strict)
            .map_err(|e| {
                anyhow!(
                    "{}: record {} (in block {}, at byte {start} of the block) is not decodable \
                     with the file's writer schema: {e}",
                    reader.url(),
                    first + i,
                    reader.block_index()
                )
            })?;
        if pos == start {
            // A record of no bytes: the schema's records all take none, so the others too.
            break;
        }
    }
    if pos != block.len() {
        bail!(
            "{}: corrupt block {}: {} bytes are left after its {count} records",
            reader.url(),
            reader.block_index(),
            block.len() - pos
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::container::MAGIC;

    const SCHEMA: &str = r#"{"type":"record","name":"R","fields":[
        {"name":"id","type":"long"},
        {"name":"tag","type":["null","string"]}]}"#;
    const SYNC: [u8; 16] = [9; 16];

    fn long(out: &mut Vec<u8>, value: i64) {
        c2k_avro::binary::write_long(out, value);
    }

    /// A null-codec container file of `blocks`, each `(record count, record bytes)`.
    fn file(blocks: &[(i64, Vec<u8>)]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        long(&mut out, 1);
        long(&mut out, "avro.schema".len() as i64);
        out.extend_from_slice(b"avro.schema");
        long(&mut out, SCHEMA.len() as i64);
        out.extend_from_slice(SCHEMA.as_bytes());
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

    /// Record `id` with the tag `x` (union branch 1).
    fn record(id: i64) -> Vec<u8> {
        let mut out = Vec::new();
        long(&mut out, id);
        long(&mut out, 1);
        long(&mut out, 1);
        out.push(b'x');
        out
    }

    fn read(bytes: Vec<u8>, records: bool) -> Result<u64> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.avro");
        std::fs::write(&path, bytes).unwrap();
        let url = path.to_string_lossy().into_owned();
        let storage = crate::storage::for_url(&url).unwrap();
        let file = SourceFile {
            url,
            size: 0,
            name: None,
        };
        let depth = Depth {
            format: SourceFormat::Avro,
            max_block_bytes: 1 << 20,
            records,
        };
        read_file(storage.as_ref(), &file, &depth)
    }

    #[test]
    fn sound_blocks_count_their_records_either_way() {
        let bytes = file(&[(2, [record(1), record(2)].concat()), (1, record(3))]);
        assert_eq!(read(bytes.clone(), false).unwrap(), 3);
        assert_eq!(read(bytes, true).unwrap(), 3);
    }

    #[test]
    fn bytes_after_a_blocks_records_are_found_only_by_walking_them() {
        let mut block = [record(1), record(2)].concat();
        block.extend_from_slice(&[0, 0]);
        let bytes = file(&[(1, record(0)), (2, block)]);
        assert_eq!(read(bytes.clone(), false).unwrap(), 3);
        let error = format!("{:#}", read(bytes, true).unwrap_err());
        assert!(
            error.contains("corrupt block 1: 2 bytes are left after its 2 records"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_union_branch_names_its_file_block_and_record() {
        let mut bad = record(2);
        bad[1] = 6; // branch 3 of a union of 2
        let bytes = file(&[(1, record(0)), (2, [record(1), bad].concat())]);
        let error = format!("{:#}", read(bytes, true).unwrap_err());
        assert!(error.contains("f.avro: record 2 (in block 1"), "{error}");
        assert!(error.contains("union"), "{error}");
    }

    #[test]
    fn a_truncated_record_is_named() {
        let mut cut = record(1);
        cut.pop();
        let bytes = file(&[(1, cut)]);
        let error = format!("{:#}", read(bytes, true).unwrap_err());
        assert!(error.contains("record 0 (in block 0"), "{error}");
    }
}
