//! Schema text parsed as deep as Avro data may nest, for the host and the plugins alike.
//!
//! The limit that applies is [`crate::MAX_DEPTH`] levels (a record field, a union branch, an
//! array item or a map value each one level), which every walker of Avro data in the project
//! shares. serde_json stops at 128 levels of JSON by default, and a nested record takes three
//! (`fields`, the field, its type): a schema of 43 nested records would be refused with a JSON
//! error long before. So the text's nesting is bounded first by a scan that keeps no stack
//! ([`check_json_nesting`]), the JSON parsed without serde_json's limit ([`parse_json`]), and
//! the schema's Avro depth checked ([`check_avro_depth`]) before apache-avro parses it. The
//! caller gives the stack those levels need: the host parses on a thread of its own.

use apache_avro::Schema;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::MAX_DEPTH;

/// The most JSON nesting a schema may have: a schema within [`MAX_DEPTH`] Avro levels needs at
/// most three per level for records, one for unions, arrays and maps, and a little for its
/// defaults' own nesting. Anything deeper is refused by the scan, before any parsing.
pub const MAX_JSON_DEPTH: usize = 4 * MAX_DEPTH as usize + 64;

/// Why schema text is refused.
#[derive(Debug, thiserror::Error)]
pub enum SchemaTextError {
    #[error(
        "it nests more than {MAX_JSON_DEPTH} levels of JSON, more than any schema within Avro's \
         limit of {MAX_DEPTH} levels needs"
    )]
    TooNested,
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error(
        "it nests {0} levels deep (record fields, union branches, array items and map values), \
         more than the {MAX_DEPTH} levels c2k and its plugins read"
    )]
    TooDeep(u32),
    #[error("{0}")]
    Avro(String),
}

/// The schema of `text`: [`check_json_nesting`], [`parse_json`], [`check_avro_depth`], then
/// apache-avro's parser.
pub fn parse_schema(text: &str) -> Result<Schema, SchemaTextError> {
    check_json_nesting(text)?;
    let json = parse_json(text)?;
    check_avro_depth(&json)?;
    Schema::parse(&json).map_err(|e| SchemaTextError::Avro(e.to_string()))
}

/// Refuses text whose JSON nests deeper than [`MAX_JSON_DEPTH`].
pub fn check_json_nesting(text: &str) -> Result<(), SchemaTextError> {
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
                    return Err(SchemaTextError::TooNested);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The JSON of a schema, without serde_json's recursion limit: call it only on text
/// [`check_json_nesting`] passed.
pub fn parse_json(text: &str) -> Result<Json, SchemaTextError> {
    let invalid = |e: serde_json::Error| SchemaTextError::Json(e.to_string());
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let json = Json::deserialize(&mut deserializer).map_err(invalid)?;
    deserializer.end().map_err(invalid)?;
    Ok(json)
}

/// Refuses a schema nesting deeper than [`MAX_DEPTH`] Avro levels, saying how deep it is.
pub fn check_avro_depth(json: &Json) -> Result<(), SchemaTextError> {
    match avro_depth(json) {
        depth if depth > MAX_DEPTH => Err(SchemaTextError::TooDeep(depth)),
        _ => Ok(()),
    }
}

/// The levels a datum of this schema can nest, counted as [`crate::skip`] counts them when it
/// walks one. A named type referred to by name adds nothing: a recursive schema's datums are
/// bounded by that walk.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `levels` records, each the type of the one field of the record around it.
    pub(crate) fn nested(levels: usize) -> String {
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
        assert_eq!(depth(r#"{"type":"record","name":"E","fields":[]}"#), 0);
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
    fn a_schema_deeper_than_serde_jsons_limit_parses_and_one_deeper_than_avros_is_refused() {
        // On a stack of its own, as the host parses: this crate's tests run unoptimised.
        let parsed = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(|| [100, 256, 300].map(|levels| parse_schema(&nested(levels)).map(drop)))
            .unwrap()
            .join()
            .unwrap();
        assert!(parsed[0].is_ok(), "{:?}", parsed[0]);
        assert!(parsed[1].is_ok(), "{:?}", parsed[1]);
        let refused = parsed[2].as_ref().unwrap_err().to_string();
        assert!(refused.contains("nests 300 levels deep"), "{refused}");
    }
}
