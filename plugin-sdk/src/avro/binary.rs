//! Reading the Avro binary encoding one primitive at a time, without building values.
//!
//! Every read is bounds-checked: a truncated or corrupt datum is a [`DecodeError`], never a panic.

use std::fmt;

/// Malformed Avro binary data, with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed Avro datum at byte {}: {}",
            self.offset, self.what
        )
    }
}

impl std::error::Error for DecodeError {}

/// A read position in one Avro binary datum.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The whole datum this cursor reads.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    fn error(&self, what: &'static str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what,
        }
    }

    /// A zig-zag varint `long`.
    #[inline]
    pub fn long(&mut self) -> Result<i64, DecodeError> {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.error("truncated varint"));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
            shift += 7;
            if shift > 63 {
                return Err(self.error("varint longer than 10 bytes"));
            }
        }
    }

    /// A zig-zag varint `int`.
    #[inline]
    pub fn int(&mut self) -> Result<i32, DecodeError> {
        let at = self.pos;
        let value = self.long()?;
        i32::try_from(value).map_err(|_| DecodeError {
            offset: at,
            what: "int out of range",
        })
    }

    /// A length or count: a `long` that must not be negative.
    #[inline]
    pub fn length(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let value = self.long()?;
        usize::try_from(value).map_err(|_| DecodeError {
            offset: at,
            what: "negative length",
        })
    }

    /// `n` raw bytes.
    #[inline]
    pub fn fixed(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.error("truncated value"))?;
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
            what: "string is not UTF-8",
        })
    }

    pub fn boolean(&mut self) -> Result<bool, DecodeError> {
        match self.fixed(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError {
                offset: self.pos - 1,
                what: "boolean is neither 0 nor 1",
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

    /// Skips one varint without decoding it.
    #[inline]
    pub fn skip_varint(&mut self) -> Result<(), DecodeError> {
        for _ in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.error("truncated varint"));
            };
            self.pos += 1;
            if byte & 0x80 == 0 {
                return Ok(());
            }
        }
        Err(self.error("varint longer than 10 bytes"))
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
                what: "block count out of range",
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
    fn truncated_and_overlong_data_is_an_error_not_a_panic() {
        assert!(Cursor::new(&[0x80]).long().is_err());
        assert!(Cursor::new(&[0xFF; 11]).long().is_err());
        assert!(Cursor::new(&[0x06, b'a']).string().is_err());
        assert!(Cursor::new(&[0x01]).bytes().is_err(), "negative length");
        assert!(Cursor::new(&[0x02, 0xFF]).string().is_err(), "not UTF-8");
        let mut big = Vec::new();
        write_long(&mut big, i64::from(i32::MAX) + 1);
        assert!(Cursor::new(&big).int().is_err());
    }
}
