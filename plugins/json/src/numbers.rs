//! Floating-point numbers written as Java's `Double.toString` / `Float.toString` write them
//! (which is what Java's Avro `JsonEncoder` emits): the shortest digits that round-trip,
//! plain notation with at least one fractional digit for magnitudes in [1e-3, 1e7)
//! (`1.0`, `0.001`), otherwise `d.dddE±n` (`1.0E7`, `1.5E-4`); NaN and infinities as strings.

pub fn write_double(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        return special(out, v.is_nan(), v.is_sign_negative());
    }
    let mut sci = Stack::default();
    let _ = write!(sci, "{v:e}");
    java_style(out, sci.as_bytes(), v == 0.0, v.abs());
}

pub fn write_float(out: &mut Vec<u8>, v: f32) {
    if !v.is_finite() {
        return special(out, v.is_nan(), v.is_sign_negative());
    }
    let mut sci = Stack::default();
    let _ = write!(sci, "{v:e}");
    java_style(out, sci.as_bytes(), v == 0.0, f64::from(v.abs()));
}

use std::fmt::Write as _;

/// A small text buffer on the stack: Rust's shortest `{:e}` form of an f64 is at most 24 bytes.
struct Stack {
    bytes: [u8; 40],
    len: usize,
}

impl Default for Stack {
    fn default() -> Self {
        Stack {
            bytes: [0; 40],
            len: 0,
        }
    }
}

impl Stack {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Write for Stack {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn special(out: &mut Vec<u8>, nan: bool, negative: bool) {
    let text: &[u8] = match (nan, negative) {
        (true, _) => b"\"NaN\"",
        (false, true) => b"\"-Infinity\"",
        (false, false) => b"\"Infinity\"",
    };
    out.extend_from_slice(text);
}

/// Rewrites Rust's shortest scientific form (`-1.5e-4`) in Java's layout, without allocating.
fn java_style(out: &mut Vec<u8>, sci: &[u8], zero: bool, magnitude: f64) {
    let e = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
    let (mantissa, exponent) = (&sci[..e], sci.get(e + 1..).unwrap_or(b"0"));
    let exponent: i32 = std::str::from_utf8(exponent)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix(b"-") {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut digits = [0u8; 40];
    let mut n = 0;
    for &b in mantissa.iter().filter(|&&b| b != b'.') {
        digits[n] = b;
        n += 1;
    }
    let digits = &digits[..n];
    if negative {
        out.push(b'-');
    }
    if zero {
        out.extend_from_slice(b"0.0");
        return;
    }
    if (1e-3..1e7).contains(&magnitude) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            // Digits, padded with zeros to the integer part's length.
            for i in 0..int_len {
                out.push(digits.get(i).copied().unwrap_or(b'0'));
            }
            out.push(b'.');
            match digits.get(int_len..) {
                Some(frac) if !frac.is_empty() => out.extend_from_slice(frac),
                _ => out.push(b'0'),
            }
        } else {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exponent - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(digits);
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.extend_from_slice(first);
        out.push(b'.');
        out.extend_from_slice(if rest.is_empty() { b"0" } else { rest });
        out.push(b'E');
        out.extend_from_slice(itoa::Buffer::new().format(exponent).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: f64) -> String {
        let mut out = Vec::new();
        write_double(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_look_like_java_double_to_string() {
        assert_eq!(d(1.0), "1.0");
        assert_eq!(d(1.5), "1.5");
        assert_eq!(d(-0.0), "-0.0");
        assert_eq!(d(0.001), "0.001");
        assert_eq!(d(0.0001), "1.0E-4");
        assert_eq!(d(123456.789), "123456.789");
        assert_eq!(d(1e7), "1.0E7");
        assert_eq!(d(12345678.9), "1.23456789E7");
        assert_eq!(d(f64::NAN), "\"NaN\"");
    }
}
