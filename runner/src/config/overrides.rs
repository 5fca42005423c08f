//! `--set dotted.key=value` overrides (the original tool's `-D name=value`).

use anyhow::{bail, Result};
use serde_yaml::Value;

use super::keys;

/// Applies one `KEY=VALUE` override to the document and returns the key. The value is read as YAML,
/// so `--set sort.memory=64MiB`, `--set sink.partitions=4` and `--set key.config={field: ts}` all
/// work; a key under a passthrough map (`sink.producer.linger.ms=5`) keeps its dots.
pub(crate) fn apply(doc: &mut Value, assignment: &str) -> Result<String> {
    let Some((path, text)) = assignment.split_once('=') else {
        bail!("--set `{assignment}`: expected KEY=VALUE, e.g. --set sink.topic=PAGE_VIEWS_REPLAY");
    };
    let path = path.trim();
    if path.is_empty() {
        bail!("--set `{assignment}`: the key is empty");
    }
    let value: Value =
        serde_yaml::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    // Text-valued keys keep the text as written (`--set topic=0123` stays "0123").
    let value = match (keys::find(path).map(|k| k.kind), &value) {
        (
            Some(keys::Kind::Text | keys::Kind::Path | keys::Kind::Delimiter),
            Value::Number(_) | Value::Bool(_),
        ) => Value::String(text.to_owned()),
        _ => value,
    };
    if let Some((map_key, property)) = passthrough_property(path) {
        let map = match keys::lookup_mut(doc, map_key) {
            Some(Value::Mapping(map)) => map,
            _ => {
                keys::insert(doc, map_key, Value::Mapping(Default::default()));
                keys::lookup_mut(doc, map_key)
                    .and_then(Value::as_mapping_mut)
                    .expect("just inserted")
            }
        };
        map.insert(
            Value::String(property.to_owned()),
            Value::String(text.to_owned()),
        );
        return Ok(path.to_owned());
    }
    keys::insert(doc, path, value);
    Ok(path.to_owned())
}

/// `sink.producer.linger.ms` → (`sink.producer`, `linger.ms`): librdkafka property names contain
/// dots, so they cannot be split like pipeline keys.
fn passthrough_property(path: &str) -> Option<(&'static str, &str)> {
    keys::KEYS
        .iter()
        .filter(|k| matches!(k.kind, keys::Kind::Properties | keys::Kind::TopicConfigs))
        .find_map(|k| {
            let rest = path.strip_prefix(k.path)?.strip_prefix('.')?;
            Some((k.path, rest))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn set_replaces_a_nested_key_and_creates_sections() {
        let mut d = doc("topic: A\nsort: {memory: 1GiB}");
        apply(&mut d, "sort.memory=64MiB").unwrap();
        apply(&mut d, "sink.partitions=4").unwrap();
        assert_eq!(
            keys::lookup(&d, "sort.memory").unwrap(),
            &Value::from("64MiB")
        );
        assert_eq!(
            keys::lookup(&d, "sink.partitions").unwrap(),
            &Value::from(4)
        );
    }

    #[test]
    fn set_keeps_dotted_librdkafka_property_names_whole() {
        let mut d = doc("topic: A");
        apply(&mut d, "sink.producer.linger.ms=5").unwrap();
        let producer = keys::lookup(&d, "sink.producer")
            .unwrap()
            .as_mapping()
            .unwrap();
        assert_eq!(producer.get("linger.ms").unwrap(), &Value::from("5"));
    }

    #[test]
    fn set_keeps_text_keys_as_written() {
        let mut d = doc("topic: A");
        apply(&mut d, "topic=0123").unwrap();
        assert_eq!(keys::lookup(&d, "topic").unwrap(), &Value::from("0123"));
    }

    /// Found by the `pipeline` fuzz target: `--set` under a tagged section panicked
    /// ("entered unreachable code").
    #[test]
    fn set_under_a_tagged_section_sets_the_key_in_it() {
        let mut d = doc("topic: A\nsink: !kafka {topic: B}");
        apply(&mut d, "sink.partitions=4").unwrap();
        assert_eq!(
            keys::lookup(&d, "sink.partitions").unwrap(),
            &Value::from(4)
        );
        assert_eq!(keys::lookup(&d, "sink.topic").unwrap(), &Value::from("B"));
    }

    #[test]
    fn set_without_equals_is_an_error_naming_the_argument() {
        let err = apply(&mut doc("{}"), "sort.memory")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sort.memory"), "{err}");
    }
}
