//! `text: compact`: a text record that is JSON, written again without insignificant whitespace.
//! Members keep their order and strings their escapes: only the spaces, tabs and line breaks
//! between tokens go, so the value is the same JSON the live topic carried.

/// Appends `text` compacted to `out`; an error, naming the position, when it is not JSON.
pub fn compact(text: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(text)
        .map_err(|e| format!("the text record is not JSON ({e}), so text: compact cannot write it"))?;
    out.reserve(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        if in_string {
            out.push(byte);
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = byte == b'"';
            out.push(byte);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_between_tokens_goes_and_strings_stay() {
        let mut out = Vec::new();
        compact(b" { \"b\" : [1, 2],\n \"a\": \"x \\\" y\" } ", &mut out).unwrap();
        assert_eq!(out, b"{\"b\":[1,2],\"a\":\"x \\\" y\"}");
        assert!(compact(b"not json", &mut Vec::new()).unwrap_err().contains("not JSON"));
    }
}
