//! Running a [`Transcoder`]'s steps over one datum: read the writer's bytes, append the
//! reader's. Nothing here looks at a schema; what to do was decided by `compile`.

use c2k_avro::binary::write_long;
use c2k_avro::{Cursor, DecodeError, Malformed, MAX_DEPTH};

use super::{FieldOp, Step, StepId, TranscodeError, Transcoder};

/// More items than this in one array or map block is corrupt data, not a record (items of
/// `null` take no bytes, so the datum's length bounds nothing).
const MAX_BLOCK_ITEMS: u64 = 1 << 28;

impl Transcoder {
    pub(super) fn run(
        &self,
        id: StepId,
        c: &mut Cursor<'_>,
        out: &mut Vec<u8>,
        depth: u32,
    ) -> Result<(), TranscodeError> {
        if depth > MAX_DEPTH {
            return Err(c.error(Malformed::TooDeep).into());
        }
        match &self.steps[id as usize] {
            Step::Null => {}
            Step::Boolean => out.push(c.boolean()? as u8),
            Step::Int => write_long(out, i64::from(c.int()?)),
            Step::Long => write_long(out, c.long()?),
            Step::IntToFloat => out.extend_from_slice(&(c.int()? as f32).to_le_bytes()),
            Step::IntToDouble => out.extend_from_slice(&f64::from(c.int()?).to_le_bytes()),
            Step::LongToFloat => out.extend_from_slice(&(c.long()? as f32).to_le_bytes()),
            Step::LongToDouble => out.extend_from_slice(&(c.long()? as f64).to_le_bytes()),
            Step::Float => out.extend_from_slice(c.fixed(4)?),
            Step::Double => out.extend_from_slice(c.fixed(8)?),
            Step::FloatToDouble => out.extend_from_slice(&f64::from(c.float()?).to_le_bytes()),
            Step::String => write_bytes(out, c.string()?.as_bytes()),
            Step::Bytes => write_bytes(out, c.bytes()?),
            Step::Fixed(size) => out.extend_from_slice(c.fixed(*size)?),
            Step::Enum {
                map,
                writer_symbols,
            } => {
                let at = c.position();
                let index = c.long()?;
                let mapped = usize::try_from(index).ok().and_then(|i| map.get(i));
                match mapped {
                    Some(Some(reader_index)) => write_long(out, i64::from(*reader_index)),
                    Some(None) => {
                        return Err(TranscodeError {
                            offset: at,
                            what: format!(
                                "enum symbol {} is not in the reader schema, which has no default",
                                writer_symbols[index as usize]
                            ),
                        })
                    }
                    None => {
                        let what = Malformed::BadEnumIndex {
                            index,
                            symbols: map.len(),
                        };
                        return Err(DecodeError { offset: at, what }.into());
                    }
                }
            }
            Step::Array(item) => {
                self.blocks(c, out, |c, out| self.run(*item, c, out, depth + 1))?;
            }
            Step::Map(value) => {
                // Each entry's encoded key and whole length, in the order written.
                let mut entries: Vec<(usize, usize)> = Vec::new();
                self.blocks(c, out, |c, out| {
                    let entry = out.len();
                    write_bytes(out, c.string()?.as_bytes());
                    let key = out.len() - entry;
                    self.run(*value, c, out, depth + 1)?;
                    if self.sort_maps {
                        entries.push((key, out.len() - entry));
                    }
                    Ok(())
                })?;
                if self.sort_maps && entries.len() > 1 {
                    sort_map_entries(out, &entries);
                }
            }
            Step::Record(ops) => {
                for op in ops {
                    match op {
                        FieldOp::Read(step) => self.run(*step, c, out, depth + 1)?,
                        FieldOp::Drop(step) => {
                            let mark = out.len();
                            self.run(*step, c, out, depth + 1)?;
                            out.truncate(mark);
                        }
                        FieldOp::Default(bytes) => out.extend_from_slice(bytes),
                    }
                }
            }
            Step::FromUnion(branches) => {
                let (index, branch) = union_branch(c, branches)?;
                let step = branch.ok_or_else(|| unresolvable_branch(c, index))?;
                self.run(step, c, out, depth + 1)?;
            }
            Step::UnionToUnion(branches) => {
                let (index, branch) = union_branch(c, branches)?;
                let (reader_branch, step) = branch.ok_or_else(|| unresolvable_branch(c, index))?;
                write_long(out, i64::from(reader_branch));
                self.run(step, c, out, depth + 1)?;
            }
            Step::IntoUnion { branch, step } => {
                write_long(out, i64::from(*branch));
                self.run(*step, c, out, depth + 1)?;
            }
        }
        Ok(())
    }

    /// Rewrites the blocks of an array or map as apache-avro writes them: one block with the
    /// total count (none when empty), then the 0 that ends it. Blocks that carried their byte
    /// size lose it (the size changes with the items).
    fn blocks(
        &self,
        c: &mut Cursor<'_>,
        out: &mut Vec<u8>,
        mut item: impl FnMut(&mut Cursor<'_>, &mut Vec<u8>) -> Result<(), TranscodeError>,
    ) -> Result<(), TranscodeError> {
        let start = out.len();
        let mut total = 0u64;
        let mut first_count = None;
        loop {
            let at = c.position();
            let block = c.block()?;
            if block.count == 0 {
                break;
            }
            total += block.count;
            if total > MAX_BLOCK_ITEMS {
                return Err(TranscodeError {
                    offset: at,
                    what: format!("more than {MAX_BLOCK_ITEMS} items in an array or map"),
                });
            }
            if first_count.is_none() {
                // Written now, in place; corrected below if more blocks follow.
                write_long(out, block.count as i64);
                first_count = Some(block.count);
            }
            for _ in 0..block.count {
                item(c, out)?;
            }
        }
        if let Some(first) = first_count.filter(|&first| first != total) {
            let mut old = Vec::with_capacity(10);
            write_long(&mut old, first as i64);
            let mut new = Vec::with_capacity(10);
            write_long(&mut new, total as i64);
            out.splice(start..start + old.len(), new);
        }
        out.push(0);
        Ok(())
    }
}

/// Reorders by key the entries of the map that ends `out` (one block: count, entries, 0).
/// `entries` gives each entry's key length (with its length prefix) and whole length.
fn sort_map_entries(out: &mut [u8], entries: &[(usize, usize)]) {
    let body_len: usize = entries.iter().map(|(_, len)| len).sum();
    // The map ends with the 0 that closes its block; the entries sit just before it.
    let body_start = out.len() - 1 - body_len;
    let body = out[body_start..body_start + body_len].to_vec();
    let mut slices = Vec::with_capacity(entries.len());
    let mut at = 0;
    for &(key_len, len) in entries {
        slices.push((&body[at..at + key_len], &body[at..at + len]));
        at += len;
    }
    // Encoded keys compare like the keys once their length prefixes are skipped.
    slices.sort_by(|a, b| skip_length(a.0).cmp(skip_length(b.0)));
    let mut write = body_start;
    for (_, entry) in slices {
        out[write..write + entry.len()].copy_from_slice(entry);
        write += entry.len();
    }
}

/// A length-prefixed byte string without its prefix.
fn skip_length(encoded: &[u8]) -> &[u8] {
    let prefix = encoded
        .iter()
        .position(|b| b & 0x80 == 0)
        .map_or(0, |i| i + 1);
    &encoded[prefix..]
}

pub(super) fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

fn error(c: &Cursor<'_>, what: String) -> TranscodeError {
    TranscodeError {
        offset: c.position(),
        what,
    }
}

fn union_branch<T: Copy>(c: &mut Cursor<'_>, branches: &[T]) -> Result<(i64, T), TranscodeError> {
    let at = c.position();
    let index = c.long()?;
    usize::try_from(index)
        .ok()
        .and_then(|i| branches.get(i))
        .map(|b| (index, *b))
        .ok_or_else(|| {
            let what = Malformed::BadUnionIndex {
                index,
                branches: branches.len(),
            };
            DecodeError { offset: at, what }.into()
        })
}

fn unresolvable_branch(c: &Cursor<'_>, index: i64) -> TranscodeError {
    error(
        c,
        format!("union branch {index} of the writer schema has no match in the reader schema"),
    )
}
