//! Hadoop's `DataInput`/`DataOutput` primitives as Writables use them: big-endian integers,
//! `WritableUtils` variable-length integers, `Text` strings (vint length + UTF-8) and the 2-byte
//! length strings of `DataOutput.writeUTF` and the old `UTF8` class (Java's "modified UTF-8").
//!
//! Decoding works on an in-memory slice (a key or a buffer already read whole); the SequenceFile
//! reader has its own streaming reads for the file framing.

use thiserror::Error;

/// Why bytes could not be decoded as the Writable field expected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("truncated: {field} needs {needed} more byte(s) at byte {at} of {len}")]
    Truncated {
        field: &'static str,
        needed: usize,
        at: usize,
        len: usize,
    },
    #[error("invalid {field} at byte {at}: {reason}")]
    Invalid {
        field: &'static str,
        at: usize,
        reason: String,
    },
}

/// A cursor over bytes written by a Java `DataOutput`.
pub(crate) struct DataInput<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> DataInput<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        DataInput { bytes, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                field,
                needed: n - self.remaining(),
                at: self.pos,
                len: self.bytes.len(),
            });
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(crate) fn read_u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn read_i8(&mut self, field: &'static str) -> Result<i8, DecodeError> {
        Ok(self.read_u8(field)? as i8)
    }

    pub(crate) fn read_u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn read_i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn read_i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// `WritableUtils.readVLong` (also `readVInt`).
    pub(crate) fn read_vlong(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        let first = self.read_i8(field)?;
        let size = vint_size(first);
        if size == 1 {
            return Ok(first as i64);
        }
        let mut value: i64 = 0;
        for &b in self.take(size - 1, field)? {
            value = (value << 8) | b as i64;
        }
        Ok(if vint_is_negative(first) {
            !value
        } else {
            value
        })
    }

    /// A vint that must be a non-negative length or count.
    pub(crate) fn read_vlen(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let at = self.pos;
        let value = self.read_vlong(field)?;
        usize::try_from(value).map_err(|_| DecodeError::Invalid {
            field,
            at,
            reason: format!("negative length {value}"),
        })
    }

    /// Hadoop `Text` as written by `Text.writeString`/`Text.write`: vint length, UTF-8 bytes.
    pub(crate) fn read_text(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = self.read_vlen(field)?;
        let at = self.pos;
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| DecodeError::Invalid {
            field,
            at,
            reason: format!("not UTF-8: {e}"),
        })
    }

    /// `DataOutput.writeUTF` and Hadoop's deprecated `UTF8.writeString`: an unsigned 2-byte length,
    /// then Java's modified UTF-8 (NUL as two bytes, supplementary characters as surrogate pairs of
    /// three bytes each). Plain 4-byte UTF-8, which newer `UTF8` readers accept, is accepted too.
    pub(crate) fn read_java_utf(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = self.read_u16(field)? as usize;
        let at = self.pos;
        let bytes = self.take(len, field)?;
        decode_modified_utf8(bytes).map_err(|reason| DecodeError::Invalid { field, at, reason })
    }
}

/// How many bytes a vint whose first byte is `first` takes in all.
pub(crate) fn vint_size(first: i8) -> usize {
    if first >= -112 {
        1
    } else if first < -120 {
        (-119 - first as i32) as usize
    } else {
        (-111 - first as i32) as usize
    }
}

fn vint_is_negative(first: i8) -> bool {
    first < -120 || (-112..0).contains(&first)
}

/// Java's modified UTF-8 (and CESU-8) to a Rust string.
pub(crate) fn decode_modified_utf8(bytes: &[u8]) -> Result<String, String> {
    let mut units: Vec<u16> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let bad = |i: usize| format!("bad modified UTF-8 sequence at offset {i}");
    while i < bytes.len() {
        let b = bytes[i];
        let cont = |k: usize| -> Result<u32, String> {
            match bytes.get(i + k) {
                Some(&c) if c & 0xC0 == 0x80 => Ok((c & 0x3F) as u32),
                _ => Err(bad(i)),
            }
        };
        if b < 0x80 {
            units.push(b as u16);
            i += 1;
        } else if b & 0xE0 == 0xC0 {
            units.push((((b & 0x1F) as u32) << 6 | cont(1)?) as u16);
            i += 2;
        } else if b & 0xF0 == 0xE0 {
            units.push((((b & 0x0F) as u32) << 12 | cont(1)? << 6 | cont(2)?) as u16);
            i += 3;
        } else if b & 0xF8 == 0xF0 {
            let code = ((b & 0x07) as u32) << 18 | cont(1)? << 12 | cont(2)? << 6 | cont(3)?;
            let c = char::from_u32(code).ok_or_else(|| bad(i))?;
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            i += 4;
        } else {
            return Err(bad(i));
        }
    }
    String::from_utf16(&units).map_err(|_| "unpaired surrogate in modified UTF-8".to_string())
}

/// Java's modified UTF-8 of a string, as `writeUTF` writes it (without the length).
pub(crate) fn encode_modified_utf8(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for unit in s.encode_utf16() {
        match unit {
            1..=0x7F => out.push(unit as u8),
            0 | 0x80..=0x7FF => {
                out.push(0xC0 | (unit >> 6) as u8);
                out.push(0x80 | (unit & 0x3F) as u8);
            }
            _ => {
                out.push(0xE0 | (unit >> 12) as u8);
                out.push(0x80 | ((unit >> 6) & 0x3F) as u8);
                out.push(0x80 | (unit & 0x3F) as u8);
            }
        }
    }
    out
}

/// `WritableUtils.writeVLong`.
pub(crate) fn write_vlong(out: &mut Vec<u8>, value: i64) {
    if (-112..=127).contains(&value) {
        out.push(value as u8);
        return;
    }
    let (magnitude, mut len) = if value < 0 {
        (!value, -120i32)
    } else {
        (value, -112i32)
    };
    let mut tmp = magnitude;
    while tmp != 0 {
        tmp >>= 8;
        len -= 1;
    }
    out.push(len as i8 as u8);
    let bytes = (if len < -120 {
        -(len + 120)
    } else {
        -(len + 112)
    }) as usize;
    for idx in (0..bytes).rev() {
        out.push((magnitude >> (idx * 8)) as u8);
    }
}

/// Hadoop `Text`: vint length then UTF-8.
pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    write_vlong(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

/// `DataOutput.writeUTF` (also what `UTF8.writeString` writes for the strings Camus uses).
/// Longer strings than 65535 encoded bytes are cut, as Java would refuse them.
pub(crate) fn write_java_utf(out: &mut Vec<u8>, s: &str) {
    let mut bytes = encode_modified_utf8(s);
    bytes.truncate(u16::MAX as usize);
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(&bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlongs_match_hadoop_encodings() {
        // Values and bytes from WritableUtils' rules: one byte for -112..=127, else a length byte.
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7F]),
            (-112, &[0x90]),
            (128, &[0x8F, 0x80]),
            (300, &[0x8E, 0x01, 0x2C]),
            (-113, &[0x87, 0x70]),
            (
                i64::MAX,
                &[0x88, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
            (
                i64::MIN,
                &[0x80, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            write_vlong(&mut out, *value);
            assert_eq!(&out, bytes, "encoding {value}");
            let mut input = DataInput::new(bytes);
            assert_eq!(input.read_vlong("v").unwrap(), *value);
            assert_eq!(input.remaining(), 0);
        }
    }

    #[test]
    fn modified_utf8_round_trips_nul_and_supplementary_characters() {
        let s = "a\u{0}é€😀";
        let bytes = encode_modified_utf8(s);
        assert_eq!(&bytes[1..3], &[0xC0, 0x80]);
        assert_eq!(bytes.len(), 1 + 2 + 2 + 3 + 6);
        assert_eq!(decode_modified_utf8(&bytes).unwrap(), s);
        // Plain 4-byte UTF-8 is accepted as well.
        assert_eq!(decode_modified_utf8("😀".as_bytes()).unwrap(), "😀");
    }

    #[test]
    fn truncated_input_is_an_error_naming_the_field() {
        let mut input = DataInput::new(&[0, 5, b'a']);
        let err = input.read_java_utf("topic").unwrap_err();
        assert!(err.to_string().contains("topic"), "{err}");
    }
}
