//! How deep a schema may nest, and parsing one that deep without running out of stack.
//!
//! The limit that applies is Avro's, as c2k reads data: [`c2k_avro::MAX_DEPTH`] levels (a record
//! field, a union branch, an array item or a map value each one level), which every walker of
//! Avro data in the project shares. serde_json stops at 128 levels of JSON by default, and a
//! nested record takes three (`fields`, the field, its type): a schema of 43 nested records
//! would be refused with a JSON error long before. So the JSON is parsed without serde_json's
//! limit, after a scan of the text has bounded its nesting, on a thread whose stack is sized for
//! that bound; then the schema's Avro depth is checked before apache-avro parses it.

use anyhow::{anyhow, bail, Context, Result};
use c2k_avro::MAX_DEPTH;
use serde::Deserialize;
use serde_json::Value as Json;

/// The most JSON nesting a schema may have: a schema within [`MAX_DEPTH`] Avro levels needs at
/// most three per level for records, one for unions, arrays and maps, and a little for its
/// defaults' own nesting. Anything deeper is refused by the scan, before any parsing.
pub(crate) const MAX_JSON_DEPTH: usize = 4 * MAX_DEPTH as usize + 64;

/// The stack of the thread schemas are parsed on: [`MAX_JSON_DEPTH`] levels of serde_json and
/// [`MAX_DEPTH`] of apache-avro's parser take a few MiB in an unoptimised build; only what is
/// touched is ever committed.
const STACK_BYTES: usize = 64 << 20;

/// Refuses text whose JSON nests deeper than [`MAX_JSON_DEPTH`], by a scan that keeps no stack.
pub(crate) fn check_json_nesting(text: &str) -> Result<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    bail!(
                        "it nests more than {MAX_JSON_DEPTH} levels of JSON, more than any schema \
                         within Avro's limit of {MAX_DEPTH} levels needs"
                    );
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The JSON of a schema, without serde_json's recursion limit: call it only on text
/// [`check_json_nesting`] passed, on a stack [`on_large_stack`] gives.
pub(crate) fn parse_json(text: &str) -> Result<Json> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let json = Json::deserialize(&mut deserializer).map_err(|e| anyhow!("not valid JSON: {e}"))?;
    deserializer
        .end()
        .map_err(|e| anyhow!("not valid JSON: {e}"))?;
    Ok(json)
}

/// Refuses a schema nesting deeper than [`MAX_DEPTH`] Avro levels, saying how deep it is.
pub(crate) fn check_avro_depth(json: &Json) -> Result<()> {
    let depth = avro_depth(json);
    if depth > MAX_DEPTH {
        bail!(
            "it nests {depth} levels deep (record fields, union branches, array items and map \
             values), more than the {MAX_DEPTH} levels c2k and its plugins read"
        );
    }
    Ok(())
}

/// The levels a datum of this schema can nest, counted as `c2k_avro` counts them when it walks
/// one. A named type referred to by name adds nothing: a recursive schema's datums are bounded
/// by that walk.
fn avro_depth(json: &Json) -> u32 {
    // One more level than the deepest schema inside; none when there is none (`"fields": []`).
    let deepest = |schemas: &mut dyn Iterator<Item = &Json>| {
        schemas
            .map(avro_depth)
            .max()
            .map_or(0, |inner| inner.saturating_add(1))
    };
    match json {
        Json::Array(branches) => deepest(&mut branches.iter()),
        Json::Object(map) => match map.get("type") {
            Some(Json::String(kind)) => match kind.as_str() {
                "record" | "error" => match map.get("fields") {
                    Some(Json::Array(fields)) => {
                        deepest(&mut fields.iter().filter_map(|field| field.get("type")))
                    }
                    _ => 0,
                },
                "array" => map
                    .get("items")
                    .map_or(0, |items| deepest(&mut [items].into_iter())),
                "map" => map
                    .get("values")
                    .map_or(0, |values| deepest(&mut [values].into_iter())),
                _ => 0,
            },
            // `{"type": {...}}` or `{"type": [...]}`: the schema written inside.
            Some(inner) => avro_depth(inner),
            None => 0,
        },
        _ => 0,
    }
}

/// Runs `work` on a thread with a stack of [`STACK_BYTES`]: the caller may be a decoding thread
/// with the default 2 MiB, which a schema nested hundreds of levels deep could overflow.
pub(crate) fn on_large_stack<T: Send>(work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("c2k-schema".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, work)
            .context("cannot start a thread to parse a schema")?
            .join()
            .map_err(|_| anyhow!("the schema parser panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `levels` records, each the type of the one field of the record around it.
    fn nested(levels: usize) -> String {
        let mut text = r#""long""#.to_string();
        for i in (0..levels).rev() {
            text = format!(
                r#"{{"type":"record","name":"R{i}","fields":[{{"name":"f","type":{text}}}]}}"#
            );
        }
        text
    }

    #[test]
    fn nested_records_count_one_level_each_and_unions_arrays_and_maps_one_more() {
        let depth = |text: &str| avro_depth(&serde_json::from_str(text).unwrap());
        assert_eq!(depth(r#""long""#), 0);
        assert_eq!(depth(&nested(3)), 3);
        assert_eq!(depth(r#"["null",{"type":"array","items":"long"}]"#), 2);
        assert_eq!(
            depth(r#"{"type":{"type":"map","values":["null","long"]}}"#),
            2
        );
    }

    #[test]
    fn the_nesting_scan_ignores_brackets_in_strings_and_stops_at_its_limit() {
        let quoted = format!(r#"{{"doc":"{}\"[","type":"long"}}"#, "[".repeat(5000));
        assert!(check_json_nesting(&quoted).is_ok());
        let deep = "[".repeat(MAX_JSON_DEPTH + 1);
        let error = check_json_nesting(&deep).unwrap_err().to_string();
        assert!(error.contains(&MAX_JSON_DEPTH.to_string()), "{error}");
    }

    #[test]
    fn a_schema_within_avros_limit_parses_and_a_deeper_one_is_refused_saying_how_deep() {
        for (levels, fits) in [(100, true), (256, true), (300, false)] {
            let text = nested(levels);
            check_json_nesting(&text).unwrap();
            let checked = on_large_stack(|| {
                let json = parse_json(&text)?;
                check_avro_depth(&json)
            });
            match (fits, checked) {
                (true, Ok(())) => {}
                (false, Err(error)) => {
                    assert!(
                        error.to_string().contains("nests 300 levels deep"),
                        "{error}"
                    )
                }
                (_, other) => panic!("{levels} levels: {other:?}"),
            }
        }
    }
}
