//! Floating-point numbers written as Java's `Double.toString` / `Float.toString` write them
//! (which is what Java's Avro `JsonEncoder` emits): the shortest digits that round-trip,
//! plain notation with at least one fractional digit for magnitudes in [1e-3, 1e7)
//! (`1.0`, `0.001`), otherwise `d.dddE±n` (`1.0E7`, `1.5E-4`); NaN and infinities as strings.

pub fn write_double(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        return special(out, v.is_nan(), v.is_sign_negative());
    }
    java_style(out, &format!("{v:e}"), v == 0.0, v.abs());
}

pub fn write_float(out: &mut Vec<u8>, v: f32) {
    if !v.is_finite() {
        return special(out, v.is_nan(), v.is_sign_negative());
    }
    java_style(out, &format!("{v:e}"), v == 0.0, f64::from(v.abs()));
}

fn special(out: &mut Vec<u8>, nan: bool, negative: bool) {
    let text: &[u8] = match (nan, negative) {
        (true, _) => b"\"NaN\"",
        (false, true) => b"\"-Infinity\"",
        (false, false) => b"\"Infinity\"",
    };
    out.extend_from_slice(text);
}

/// Rewrites Rust's shortest scientific form (`-1.5e-4`) in Java's layout.
fn java_style(out: &mut Vec<u8>, sci: &str, zero: bool, magnitude: f64) {
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
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
            let padded = format!("{digits:0<int_len$}");
            let (int_part, frac) = padded.split_at(int_len);
            out.extend_from_slice(int_part.as_bytes());
            out.push(b'.');
            out.extend_from_slice(if frac.is_empty() { "0" } else { frac }.as_bytes());
        } else {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exponent - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(digits.as_bytes());
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.extend_from_slice(first.as_bytes());
        out.push(b'.');
        out.extend_from_slice(if rest.is_empty() { "0" } else { rest }.as_bytes());
        out.extend_from_slice(format!("E{exponent}").as_bytes());
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
