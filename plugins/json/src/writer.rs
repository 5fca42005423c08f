//! Writes Avro binary datums as JSON text by running a schema's [`Plan`].

use c2k_plugin_sdk::avro::{Cursor, DecodeError, Malformed, MAX_DEPTH};

use crate::numbers::{write_double, write_float};
use crate::plan::{BodyId, Op, Plan};
use crate::text::{append, latin1, quote};

/// Items that take no bytes (nulls in arrays or maps) allowed per datum: a corrupt block count
/// must fail, not spin.
const MAX_ZERO_SIZED: u64 = 1 << 24;

/// Appends the JSON of one datum written in the schema `plan` was compiled from.
pub fn write_datum(plan: &Plan, datum: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let mut writer = Writer {
        plan,
        zero_sized: 0,
        out,
    };
    let mut cursor = Cursor::new(datum);
    writer.body(plan.root, &mut cursor, 0)
}

struct Writer<'a> {
    plan: &'a Plan,
    zero_sized: u64,
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    /// Runs one body. `depth` counts bodies entered, which is never more than the schema levels
    /// the host walked the datum through (inlined records add none): a datum the host accepted
    /// stays within the limit.
    fn body(&mut self, id: BodyId, c: &mut Cursor<'_>, depth: u32) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(c.error(Malformed::TooDeep));
        }
        let plan = self.plan;
        for op in plan.body(id) {
            match *op {
                Op::Text { start, end } => {
                    append(self.out, &plan.text[start as usize..end as usize]);
                }
                Op::Boolean => {
                    let text: &[u8] = if c.boolean()? { b"true" } else { b"false" };
                    append(self.out, text);
                }
                Op::Int => {
                    let v = c.int()?;
                    append(self.out, itoa::Buffer::new().format(v).as_bytes());
                }
                Op::Long => {
                    let v = c.long()?;
                    append(self.out, itoa::Buffer::new().format(v).as_bytes());
                }
                Op::Float => write_float(self.out, c.float()?),
                Op::Double => write_double(self.out, c.double()?),
                Op::String => self.string(c)?,
                Op::Bytes => latin1(self.out, c.bytes()?),
                Op::Fixed { size } => latin1(self.out, c.fixed(size as usize)?),
                Op::Enum { table } => {
                    let symbols = &plan.enums[table as usize];
                    append(self.out, &symbols[c.enum_index(symbols.len())?]);
                }
                Op::Union { table } => {
                    let branches = &plan.unions[table as usize];
                    let branch = branches[c.union_index(branches.len())?];
                    self.body(branch, c, depth + 1)?;
                }
                Op::Array { item } => {
                    self.out.push(b'[');
                    let mut first = true;
                    self.blocks(c, |w, c| {
                        if !std::mem::take(&mut first) {
                            w.out.push(b',');
                        }
                        w.body(item, c, depth + 1)
                    })?;
                    self.out.push(b']');
                }
                Op::Map { value } => {
                    self.out.push(b'{');
                    let mut first = true;
                    self.blocks(c, |w, c| {
                        if !std::mem::take(&mut first) {
                            w.out.push(b',');
                        }
                        w.string(c)?;
                        w.out.push(b':');
                        w.body(value, c, depth + 1)
                    })?;
                    self.out.push(b'}');
                }
                Op::Call { body } => self.body(body, c, depth + 1)?,
            }
        }
        Ok(())
    }

    /// An Avro string, quoted. Avro strings must be UTF-8, and JSON must be: the quoting loop
    /// sees every byte's high bit anyway, so only a string with a non-ASCII byte is validated
    /// (validating every string was 15% of the writer's time in the sandbox).
    fn string(&mut self, c: &mut Cursor<'_>) -> Result<(), DecodeError> {
        let at = c.position();
        let bytes = c.bytes()?;
        let start = self.out.len();
        let ascii = quote(self.out, bytes);
        if !ascii && std::str::from_utf8(bytes).is_err() {
            self.out.truncate(start);
            return Err(DecodeError {
                offset: at,
                what: Malformed::NotUtf8,
            });
        }
        Ok(())
    }

    /// The items of an array or map, block by block.
    fn blocks(
        &mut self,
        c: &mut Cursor<'_>,
        mut item: impl FnMut(&mut Self, &mut Cursor<'_>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        loop {
            let block = c.block()?;
            if block.count == 0 {
                return Ok(());
            }
            for _ in 0..block.count {
                let before = c.position();
                item(self, c)?;
                if c.position() == before {
                    // Zero-sized items (nulls) are not bounded by the data: bound them here.
                    self.zero_sized += 1;
                    if self.zero_sized > MAX_ZERO_SIZED {
                        return Err(DecodeError {
                            offset: before,
                            what: Malformed::TooManyItems(MAX_ZERO_SIZED),
                        });
                    }
                }
            }
        }
    }
}
