//! Reading the Avro binary encoding one primitive at a time, without building values.
//!
//! Every read is bounds-checked: a truncated or corrupt datum is a [`DecodeError`] naming what
//! was wrong and at which byte, never a panic. What the bytes mean is the schema's business
//! ([`crate::schema`], [`crate::skip`]), not this module's.

use crate::MAX_DEPTH;

/// Malformed Avro binary data: what was wrong, and the byte offset (in the buffer the cursor
/// reads, such as a whole container block) where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {offset}")]
pub struct DecodeError {
    pub offset: usize,
    pub what: Malformed,
}

/// What was wrong with the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("datum runs past the end of its bytes")]
    Truncated,
    #[error("varint longer than {0} bytes")]
    LongVarint(usize),
    #[error("negative length {0}")]
    NegativeLength(i64),
    #[error("int {0} out of range")]
    IntOutOfRange(i64),
    #[error("string is not UTF-8")]
    NotUtf8,
    #[error("boolean byte {0} is neither 0 nor 1")]
    BadBoolean(u8),
    #[error("block count {0} out of range")]
    BadBlockCount(i64),
    #[error("union branch {index} out of range (the union has {branches})")]
    BadUnionIndex { index: i64, branches: usize },
    #[error("enum symbol {index} out of range (the enum has {symbols})")]
    BadEnumIndex { index: i64, symbols: usize },
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Items that take no bytes (nulls) are not bounded by the data's length: a reader that
    /// loops over them bounds their number itself.
    #[error("more than {0} array or map items")]
    TooManyItems(u64),
    /// A block's declared byte size is what a reader that jumps over blocks trusts: items that
    /// end elsewhere would be read differently by it.
    #[error("array or map block declares {declared} bytes but its items take {walked}")]
    BlockSizeMismatch { declared: usize, walked: usize },
}

/// The most bytes a zig-zag varint `long` takes.
const LONG_BYTES: usize = 10;

/// The most bytes a zig-zag varint `int` takes.
pub const INT_BYTES: usize = 5;

/// A read position in Avro binary data.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// A cursor at byte `pos` of `buf`, so that positions and errors count from the start of
    /// `buf` (a container block holding many datums).
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Cursor { buf, pos }
    }

    /// The current position in the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The whole buffer this cursor reads.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    /// An error at the current position.
    pub fn error(&self, what: Malformed) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what,
        }
    }

    /// A zig-zag varint of at most `max_bytes` bytes.
    #[inline]
    pub fn varint(&mut self, max_bytes: usize) -> Result<i64, DecodeError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let Some(&byte) = self.buf.get(start + i) else {
                self.pos = start + i;
                return Err(self.error(Malformed::Truncated));
            };
            value |= u64::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                self.pos = start + i + 1;
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(DecodeError {
            offset: start,
            what: Malformed::LongVarint(max_bytes),
        })
    }

    /// A zig-zag varint `long`.
    #[inline]
    pub fn long(&mut self) -> Result<i64, DecodeError> {
        self.varint(LONG_BYTES)
    }

    /// A zig-zag varint `int`.
    #[inline]
    pub fn int(&mut self) -> Result<i32, DecodeError> {
        let at = self.pos;
        let value = self.long()?;
        i32::try_from(value).map_err(|_| DecodeError {
            offset: at,
            what: Malformed::IntOutOfRange(value),
        })
    }

    /// A union's branch index, checked against its `branches`.
    #[inline]
    pub fn union_index(&mut self, branches: usize) -> Result<usize, DecodeError> {
        self.index(branches, |index| Malformed::BadUnionIndex {
            index,
            branches,
        })
    }

    /// An enum's symbol index, checked against its `symbols`.
    #[inline]
    pub fn enum_index(&mut self, symbols: usize) -> Result<usize, DecodeError> {
        self.index(symbols, |index| Malformed::BadEnumIndex { index, symbols })
    }

    /// A `long` that must index a table of `len` entries; `bad` names the error otherwise.
    #[inline]
    fn index(
        &mut self,
        len: usize,
        bad: impl FnOnce(i64) -> Malformed,
    ) -> Result<usize, DecodeError> {
        let at = self.pos;
        let index = self.long()?;
        usize::try_from(index)
            .ok()
            .filter(|&i| i < len)
            .ok_or_else(|| DecodeError {
                offset: at,
                what: bad(index),
            })
    }

    /// A length or count: a `long` that must not be negative.
    #[inline]
    pub fn length(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let value = self.long()?;
        usize::try_from(value).map_err(|_| DecodeError {
            offset: at,
            what: Malformed::NegativeLength(value),
        })
    }

    /// `n` raw bytes.
    #[inline]
    pub fn fixed(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.error(Malformed::Truncated))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// Length-prefixed bytes.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.length()?;
        self.fixed(n)
    }

    /// A length-prefixed UTF-8 string.
    #[inline]
    pub fn string(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError {
            offset: at,
            what: Malformed::NotUtf8,
        })
    }

    pub fn boolean(&mut self) -> Result<bool, DecodeError> {
        let at = self.pos;
        match self.fixed(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(DecodeError {
                offset: at,
                what: Malformed::BadBoolean(value),
            }),
        }
    }

    pub fn float(&mut self) -> Result<f32, DecodeError> {
        let b = self.fixed(4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn double(&mut self) -> Result<f64, DecodeError> {
        let b = self.fixed(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    /// Skips `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.fixed(n).map(|_| ())
    }

    /// Skips one `long` varint without decoding it.
    #[inline]
    pub fn skip_varint(&mut self) -> Result<(), DecodeError> {
        self.skip_varint_of(LONG_BYTES)
    }

    /// Skips one varint of at most `max_bytes` bytes without decoding it.
    #[inline]
    pub fn skip_varint_of(&mut self, max_bytes: usize) -> Result<(), DecodeError> {
        let start = self.pos;
        for i in 0..max_bytes {
            let Some(&byte) = self.buf.get(start + i) else {
                self.pos = start + i;
                return Err(self.error(Malformed::Truncated));
            };
            if byte & 0x80 == 0 {
                self.pos = start + i + 1;
                return Ok(());
            }
        }
        Err(DecodeError {
            offset: start,
            what: Malformed::LongVarint(max_bytes),
        })
    }

    /// The header of one block of an array or map: the item count, and (for a negative count)
    /// the block's byte size, which lets a reader skip the block at once. A count of 0 ends it.
    pub fn block(&mut self) -> Result<Block, DecodeError> {
        let at = self.pos;
        let count = self.long()?;
        if count >= 0 {
            return Ok(Block {
                count: count as u64,
                byte_size: None,
            });
        }
        let size = self.length()?;
        Ok(Block {
            count: count.checked_neg().ok_or(DecodeError {
                offset: at,
                what: Malformed::BadBlockCount(count),
            })? as u64,
            byte_size: Some(size),
        })
    }
}

/// One block of an array or map.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    pub count: u64,
    pub byte_size: Option<usize>,
}

/// Appends the zig-zag varint encoding of `value` (for tests and writers).
pub fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0,
            -1,
            1,
            63,
            -64,
            64,
            i64::MAX,
            i64::MIN,
            i32::MAX as i64,
            i32::MIN as i64,
        ] {
            let mut buf = Vec::new();
            write_long(&mut buf, v);
            let mut c = Cursor::new(&buf);
            assert_eq!(c.long().unwrap(), v);
            assert_eq!(c.position(), buf.len());
            let mut c = Cursor::new(&buf);
            c.skip_varint().unwrap();
            assert_eq!(c.position(), buf.len());
        }
    }

    #[test]
    fn varints_decode_zigzag() {
        assert_eq!(Cursor::new(&[0x03]).long(), Ok(-2));
        assert_eq!(Cursor::new(&[0x80, 0x01]).long(), Ok(64));
        assert!(Cursor::new(&[0xff; 11]).long().is_err());
    }

    #[test]
    fn truncated_and_overlong_data_is_an_error_not_a_panic() {
        assert!(Cursor::new(&[0x80]).long().is_err());
        assert!(Cursor::new(&[0xFF; 11]).long().is_err());
        assert!(Cursor::new(&[0x80; 5]).skip_varint_of(INT_BYTES).is_err());
        assert!(Cursor::new(&[0x06, b'a']).string().is_err());
        assert!(Cursor::new(&[0x01]).bytes().is_err(), "negative length");
        assert!(Cursor::new(&[0x02, 0xFF]).string().is_err(), "not UTF-8");
        let mut big = Vec::new();
        write_long(&mut big, i64::from(i32::MAX) + 1);
        assert!(Cursor::new(&big).int().is_err());
    }

    #[test]
    fn errors_count_bytes_from_the_start_of_the_buffer() {
        let mut c = Cursor::at(&[0x00, 0x00, 0x02], 2);
        assert_eq!(
            c.boolean(),
            Err(DecodeError {
                offset: 2,
                what: Malformed::BadBoolean(2)
            })
        );
        let err = Cursor::at(&[0x04, b'a'], 0).string().unwrap_err();
        assert_eq!(
            err.to_string(),
            "datum runs past the end of its bytes at byte 1"
        );
    }
}
