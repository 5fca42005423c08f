//! Fields of text records read by dotted path, as fields of Avro records are: a text record
//! (contract 0.1.3, a JSON topic archived by Camus' text or SequenceFile writer) is scanned for
//! the path's value without building a tree, so `time-field` sorts a JSON topic by
//! `header.time` with no code of the user's.
//!
//! Numbers that are whole and fit 64 bits read as `Datum::Long`, other numbers as
//! `Datum::Double`; strings without escapes as `Datum::String`; `true`/`false` and `null` as
//! themselves; objects, arrays and strings with escapes as `Datum::Json`, their JSON text.

use super::datum::Datum;

/// The value at dotted `path` in the JSON text `text`: `None` when a step's member is absent (or
/// an object on the way is `null`); an error when the text is not JSON where the path leads.
pub(crate) fn read<'a>(text: &'a [u8], path: &str) -> Result<Option<Datum<'a>>, String> {
    let mut scanner = Scanner { text, at: 0 };
    scanner.space();
    for step in path.split('.').filter(|s| !s.is_empty()) {
        match scanner.peek() {
            Some(b'{') => {}
            Some(b'n') if scanner.literal(b"null").is_ok() => return Ok(None),
            Some(_) => {
                return Err(format!(
                    "the record is not a JSON object where `{step}` is looked for (byte {}): \
                     text records are read by path as JSON",
                    scanner.at
                ))
            }
            None => return Err("the record is empty, not a JSON object".into()),
        }
        if !scanner.member(step)? {
            return Ok(None);
        }
    }
    let start = scanner.at;
    scanner.skip_value()?;
    classify(&text[start..scanner.at]).map(Some)
}

/// A JSON value's text as a datum.
fn classify(raw: &[u8]) -> Result<Datum<'_>, String> {
    let utf8 = |bytes| std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"));
    Ok(match raw.first() {
        Some(b'n') => Datum::Null,
        Some(b't') => Datum::Boolean(true),
        Some(b'f') => Datum::Boolean(false),
        Some(b'"') if !raw.contains(&b'\\') => Datum::String(utf8(&raw[1..raw.len() - 1])?),
        Some(b'"' | b'{' | b'[') => Datum::Json(raw),
        _ => {
            let number = utf8(raw)?;
            match number.parse::<i64>() {
                Ok(whole) => Datum::Long(whole),
                Err(_) => Datum::Double(
                    number
                        .parse::<f64>()
                        .map_err(|_| format!("`{number}` is not a JSON number"))?,
                ),
            }
        }
    })
}

struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{}`", byte as char)))
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        match self.peek() {
            Some(b) => format!(
                "not JSON: {wanted} expected at byte {}, found `{}`",
                self.at,
                (b as char).escape_default()
            ),
            None => format!("not JSON: the text ends where {wanted} was expected"),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.unexpected("a value"))
        }
    }

    /// Inside the object at the cursor, moves to the value of member `name`; false (the cursor
    /// past the object) when there is none.
    fn member(&mut self, name: &str) -> Result<bool, String> {
        self.expect(b'{')?;
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(false);
        }
        loop {
            self.space();
            let key_start = self.at;
            self.skip_string()?;
            let key = &self.text[key_start + 1..self.at - 1];
            let matches = if key.contains(&b'\\') {
                serde_json::from_slice::<String>(&self.text[key_start..self.at])
                    .map_err(|e| format!("not JSON: a member name at byte {key_start}: {e}"))?
                    == name
            } else {
                key == name.as_bytes()
            };
            self.expect(b':')?;
            self.space();
            if matches {
                return Ok(true);
            }
            self.skip_value()?;
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(false);
                }
                _ => return Err(self.unexpected("`,` or `}`")),
            }
        }
    }

    fn skip_string(&mut self) -> Result<(), String> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string"));
        }
        self.at += 1;
        while let Some(b) = self.peek() {
            self.at += 1;
            match b {
                b'"' => return Ok(()),
                b'\\' => self.at += 1,
                _ => {}
            }
        }
        Err("not JSON: a string is not closed".into())
    }

    /// Skips one value, nested objects and arrays included (counted, not recursed into).
    fn skip_value(&mut self) -> Result<(), String> {
        self.space();
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        Some(b'"') => {
                            self.skip_string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Ok(());
                            }
                        }
                        Some(_) => {}
                        None => return Err("not JSON: an object or array is not closed".into()),
                    }
                    self.at += 1;
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.at += 1;
                }
                if self.at == start + 1 && self.text[start] == b'-' {
                    return Err(self.unexpected("a digit"));
                }
                Ok(())
            }
            _ => Err(self.unexpected("a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(text: &'a str, path: &str) -> Result<Option<Datum<'a>>, String> {
        read(text.as_bytes(), path)
    }

    #[test]
    fn paths_find_their_values_past_everything_else() {
        let text = r#" {"skip": {"a": [1, {"time": 9}], "s": "}\"{"}, "n": -1.5e3,
            "header": {"x": null, "time": 1700000000123, "id": "p\u00e9"}, "ok": true} "#;
        assert_eq!(
            at(text, "header.time"),
            Ok(Some(Datum::Long(1_700_000_000_123)))
        );
        assert_eq!(at(text, "n"), Ok(Some(Datum::Double(-1500.0))));
        assert_eq!(at(text, "ok"), Ok(Some(Datum::Boolean(true))));
        assert_eq!(at(text, "header.x"), Ok(Some(Datum::Null)));
        assert_eq!(at(text, "header.missing"), Ok(None));
        assert_eq!(at(text, "header.x.deeper"), Ok(None));
        assert_eq!(
            at(text, "header.id"),
            Ok(Some(Datum::Json(br#""p\u00e9""#)))
        );
        assert_eq!(
            at(r#"{"a":"plain"}"#, "a"),
            Ok(Some(Datum::String("plain")))
        );
        assert_eq!(
            at(text, "skip.a"),
            Ok(Some(Datum::Json(br#"[1, {"time": 9}]"#)))
        );
        assert_eq!(at(r#"{"t\u0069me": 5}"#, "time"), Ok(Some(Datum::Long(5))));
    }

    #[test]
    fn text_that_is_not_json_where_the_path_leads_is_an_error() {
        assert!(at("plain log line", "time")
            .unwrap_err()
            .contains("not a JSON object"));
        assert!(at(r#"{"time": 5"#, "other").is_err());
        assert!(at(r#"{"a": [1, 2}"#, "b").is_err());
        assert!(at(r#"{"a": 1 "time": 2}"#, "time").is_err());
        assert!(at("", "time").is_err());
        assert!(at(r#"{"time": -}"#, "time").is_err());
    }
}
