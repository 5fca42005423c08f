//! A schema-directed transcoder from Avro binary to JSON text.

use c2k_plugin_sdk::avro::{
    CompiledSchema, Cursor, DecodeError, Kind, Malformed, NodeId, MAX_DEPTH,
};

use crate::numbers::{write_double, write_float};

/// Items that take no bytes (nulls in arrays or maps) allowed per datum: a corrupt block count
/// must fail, not spin.
const MAX_ZERO_SIZED: u64 = 1 << 24;

/// The JSON of every record field's name, `"name":` (after a comma for all fields but the first),
/// escaped once per schema rather than once per record: a record's field names were half of the
/// strings the writer escaped.
#[derive(Default)]
pub struct FieldNames {
    /// By record node id; filled the first time a record node is written.
    by_node: Vec<Option<Quoted>>,
}

/// One record's quoted field names, in field order.
type Quoted = Box<[Box<[u8]>]>;

impl FieldNames {
    fn of(&mut self, id: NodeId, fields: &[(String, NodeId)]) -> &[Box<[u8]>] {
        let at = id as usize;
        if self.by_node.len() <= at {
            self.by_node.resize_with(at + 1, || None);
        }
        self.by_node[at].get_or_insert_with(|| {
            fields
                .iter()
                .enumerate()
                .map(|(i, (name, _))| {
                    let mut out = Vec::with_capacity(name.len() + 4);
                    if i > 0 {
                        out.push(b',');
                    }
                    Writer::quote_into(&mut out, name);
                    out.push(b':');
                    out.into_boxed_slice()
                })
                .collect()
        })
    }
}

/// Appends the JSON of one datum; `tagged_unions` selects Avro's JSON encoding over plain JSON.
/// `names` belongs to `schema` (one per schema, kept across its records).
pub fn write_datum(
    schema: &CompiledSchema,
    names: &mut FieldNames,
    datum: &[u8],
    tagged_unions: bool,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let mut writer = Writer {
        schema,
        names,
        zero_sized: 0,
        tagged_unions,
        out,
    };
    let mut cursor = Cursor::new(datum);
    writer.value(schema.root(), &mut cursor, 0)
}

struct Writer<'a> {
    schema: &'a CompiledSchema,
    names: &'a mut FieldNames,
    zero_sized: u64,
    tagged_unions: bool,
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn value(&mut self, id: NodeId, c: &mut Cursor<'_>, depth: u32) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            // The limit the host walked the record with, so a record it passed on is within it.
            return Err(c.error(Malformed::TooDeep));
        }
        let schema = self.schema;
        match &schema.node(id).kind {
            Kind::Null => self.out.extend_from_slice(b"null"),
            Kind::Boolean => {
                let text: &[u8] = if c.boolean()? { b"true" } else { b"false" };
                self.out.extend_from_slice(text);
            }
            Kind::Int => {
                let v = c.int()?;
                append(self.out, itoa::Buffer::new().format(v).as_bytes());
            }
            Kind::Long => {
                let v = c.long()?;
                append(self.out, itoa::Buffer::new().format(v).as_bytes());
            }
            Kind::Float => write_float(self.out, c.float()?),
            Kind::Double => write_double(self.out, c.double()?),
            Kind::Bytes => {
                let bytes = c.bytes()?;
                self.latin1(bytes);
            }
            Kind::Fixed { size } => {
                let bytes = c.fixed(*size)?;
                self.latin1(bytes);
            }
            Kind::String => self.avro_string(c)?,
            Kind::Enum { symbols } => {
                let at = c.position();
                let index = c.long()?;
                let symbol = usize::try_from(index)
                    .ok()
                    .and_then(|i| symbols.get(i))
                    .ok_or(DecodeError {
                        offset: at,
                        what: Malformed::BadEnumIndex {
                            index,
                            symbols: symbols.len(),
                        },
                    })?;
                self.string(symbol);
            }
            Kind::Array(item) => {
                self.out.push(b'[');
                let mut first = true;
                self.blocks(c, |w, c| {
                    if !std::mem::take(&mut first) {
                        w.out.push(b',');
                    }
                    w.value(*item, c, depth + 1)
                })?;
                self.out.push(b']');
            }
            Kind::Map(value) => {
                self.out.push(b'{');
                let mut first = true;
                self.blocks(c, |w, c| {
                    if !std::mem::take(&mut first) {
                        w.out.push(b',');
                    }
                    w.avro_string(c)?;
                    w.out.push(b':');
                    w.value(*value, c, depth + 1)
                })?;
                self.out.push(b'}');
            }
            Kind::Union(branches) => {
                let branch = schema.branch(branches, c)?;
                let node = schema.node(branch);
                if !self.tagged_unions || matches!(node.kind, Kind::Null) {
                    return self.value(branch, c, depth + 1);
                }
                self.out.push(b'{');
                self.string(&node.type_name);
                self.out.push(b':');
                self.value(branch, c, depth + 1)?;
                self.out.push(b'}');
            }
            Kind::Record { fields } => {
                self.out.push(b'{');
                for (i, (_, field)) in fields.iter().enumerate() {
                    // Looked up field by field: the value may itself be a record, which uses the table too.
                    let name = &self.names.of(id, fields)[i];
                    append(self.out, name);
                    self.value(*field, c, depth + 1)?;
                }
                self.out.push(b'}');
            }
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

    /// Bytes as Java's JsonEncoder writes them: each byte is the character U+0000..U+00FF.
    /// Runs of bytes that need nothing are copied at once.
    fn latin1(&mut self, bytes: &[u8]) {
        self.out.reserve(bytes.len() + 2);
        self.out.push(b'"');
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            if let Some(word) = word_at(bytes, i) {
                if !needs_escape(word) && word & HIGH_BITS == 0 {
                    i += 8;
                    continue;
                }
            }
            let b = bytes[i];
            if b >= 0x80 || ESCAPE[usize::from(b)] != 0 {
                self.out.extend_from_slice(&bytes[run..i]);
                if b >= 0x80 {
                    // U+0080..U+00FF in UTF-8: two bytes.
                    self.out
                        .extend_from_slice(&[0xC0 | (b >> 6), 0x80 | (b & 0x3F)]);
                } else {
                    escape_into(self.out, b);
                }
                run = i + 1;
            }
            i += 1;
        }
        self.out.extend_from_slice(&bytes[run..]);
        self.out.push(b'"');
    }

    /// A string, escaped as Jackson does by default. Only ASCII bytes are ever escaped, and no
    /// byte of a multi-byte UTF-8 sequence is ASCII: runs between escapes are copied as they are.
    /// Eight bytes are checked at a time (most strings need no escape at all): a byte-by-byte
    /// loop was the JSON writer's hottest spot, several times slower in the sandbox than natively.
    fn string(&mut self, s: &str) {
        Self::quote_into(self.out, s);
    }

    /// An Avro string read from `c`, quoted. Avro strings must be UTF-8, and JSON must be: the
    /// quoting loop sees every byte's high bit anyway, so only a string with a non-ASCII byte is
    /// validated (validating every string was 15% of the writer's time in the sandbox).
    fn avro_string(&mut self, c: &mut Cursor<'_>) -> Result<(), DecodeError> {
        let at = c.position();
        let bytes = c.bytes()?;
        let start = self.out.len();
        let ascii = Self::quote_bytes_into(self.out, bytes);
        if !ascii && std::str::from_utf8(bytes).is_err() {
            self.out.truncate(start);
            return Err(DecodeError {
                offset: at,
                what: Malformed::NotUtf8,
            });
        }
        Ok(())
    }

    /// [`Writer::string`] into any buffer (the field names' table is built with it too).
    fn quote_into(out: &mut Vec<u8>, s: &str) {
        Self::quote_bytes_into(out, s.as_bytes());
    }

    /// Quotes `bytes`, escaping only ASCII (no byte of a multi-byte UTF-8 sequence is ASCII);
    /// returns whether every byte was ASCII.
    fn quote_bytes_into(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
        // The OR of every byte seen: its high bits say whether any byte was not ASCII.
        let mut seen = 0u64;
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            if let Some(word) = word_at(bytes, i) {
                if !needs_escape(word) {
                    seen |= word;
                    i += 8;
                    continue;
                }
            }
            let b = bytes[i];
            seen |= u64::from(b);
            if ESCAPE[usize::from(b)] != 0 {
                out.extend_from_slice(&bytes[run..i]);
                escape_into(out, b);
                run = i + 1;
            }
            i += 1;
        }
        append(out, &bytes[run..]);
        out.push(b'"');
        seen & HIGH_BITS == 0
    }
}

/// One ASCII byte escaped as Jackson does by default: `"` and `\`, short escapes for
/// `\b \t \n \f \r`, `\u00XX` for other control characters.
fn escape_into(out: &mut Vec<u8>, b: u8) {
    match ESCAPE[usize::from(b)] {
        b'u' => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xF)],
            ]);
        }
        short => out.extend_from_slice(&[b'\\', short]),
    }
}

/// Appends `bytes`: short slices (field names, numbers, most strings) by at most two unaligned
/// word stores, longer ones by `extend_from_slice`. In the sandbox every `extend_from_slice`
/// becomes a `memory.copy`, which wasmtime runs as a call out of the guest's code.
#[inline(always)]
fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n > 16 {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(16);
    let len = out.len();
    let spare = &mut out.spare_capacity_mut()[..16];
    // Two words from the slice's start and end (overlapping when shorter than 16), or bytes.
    if n >= 8 {
        let head = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
        let tail = u64::from_le_bytes(bytes[n - 8..].try_into().unwrap_or([0; 8]));
        for (slot, b) in spare[..8].iter_mut().zip(head.to_le_bytes()) {
            slot.write(b);
        }
        for (slot, b) in spare[n - 8..n].iter_mut().zip(tail.to_le_bytes()) {
            slot.write(b);
        }
    } else {
        for (slot, &b) in spare.iter_mut().zip(bytes) {
            slot.write(b);
        }
    }
    // SAFETY: the first `n` spare bytes were written just above.
    unsafe { out.set_len(len + n) };
}

/// Every byte's high bit.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// `0x01` in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The eight bytes at `i` as one word, when there are eight.
fn word_at(bytes: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Whether any byte of `word` is one [`ESCAPE`] escapes: a control character (< 0x20), `"` or
/// `\`. Exact, with no false negatives: `(x - 0x01..) & !x & 0x80..` is nonzero exactly when
/// some byte of `x` is zero (the classic test), applied to the word XOR each quoted byte, and
/// `(x - 0x20..) & !x & 0x80..` when some byte is below 0x20. A false positive only sends the
/// eight bytes through the exact byte-by-byte path.
fn needs_escape(word: u64) -> bool {
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH_BITS;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS;
    (control
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\'))))
        != 0
}

/// For each byte: 0 when written as it is, else the letter of its escape (`u` for `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};
