//! Checks a pipeline document and reports every problem at once, each with what the key means.

use std::path::Path;

use serde_yaml::Value;

use super::keys::{self, Key, Kind, KEYS, SECTIONS};

/// One thing wrong with a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The dotted key concerned.
    pub key: String,
    pub message: String,
}

impl Problem {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Every problem in the document (after `--set` overrides), in key order.
pub(crate) fn problems(doc: &Value) -> Vec<Problem> {
    problems_on(doc, super::machine::memory_bytes())
}

/// [`problems`] on a machine of `machine_memory` bytes (`None`: unknown, not checked).
fn problems_on(doc: &Value, machine_memory: Option<u64>) -> Vec<Problem> {
    let mut found = Vec::new();
    if !doc.is_mapping() {
        found.push(Problem::new(
            "(top)",
            "a pipeline is a YAML mapping of keys (topic:, source:, ...)",
        ));
        return found;
    }
    unknown_keys(doc, &mut found);
    let sink_type = keys::sink_type(doc);
    for key in KEYS {
        let value = keys::lookup(doc, key.path);
        if !key.applies_to_sink(sink_type) {
            if value.is_some_and(|v| !v.is_null()) {
                found.push(Problem::new(
                    key.path,
                    format!(
                        "belongs to sink.type {} only, and this sink is {sink_type}; remove it or change sink.type",
                        key.sinks.join(" or ")
                    ),
                ));
            }
            continue;
        }
        match value {
            None | Some(Value::Null) if key.required => found.push(Problem::new(
                key.path,
                format!("missing; it is {}", key.help),
            )),
            None | Some(Value::Null) => {}
            Some(value) => {
                let checked =
                    check_kind(key, value).and_then(|()| check_range(key, value, machine_memory));
                if let Err(why) = checked {
                    found.push(Problem::new(key.path, format!("{why}; it is {}", key.help)));
                }
            }
        }
    }
    requirements(doc, &mut found);
    passthrough_values(doc, sink_type, &mut found);
    librdkafka_properties(doc, sink_type, &mut found);
    found
}

/// Every property of a passed-through map (`sink.producer`, `sink.topic_config`,
/// `offsets.consumer`) must be a scalar: librdkafka and Kafka take text, and a YAML number or
/// flag (`linger.ms: 5`) is read as its text. Anything else is its own problem, named in full
/// (`sink.producer.linger.ms`).
fn passthrough_values(doc: &Value, sink_type: &str, found: &mut Vec<Problem>) {
    let passthrough = |k: &&Key| matches!(k.kind, Kind::Properties | Kind::TopicConfigs);
    for key in KEYS
        .iter()
        .filter(|k| passthrough(k) && k.applies_to_sink(sink_type))
    {
        let Some(Value::Mapping(map)) = keys::lookup(doc, key.path) else {
            continue;
        };
        for (name, value) in map {
            let path = format!("{}.{}", key.path, plain(name));
            if !name.is_string() {
                found.push(Problem::new(path, "a property's name must be text"));
            } else if scalar_text(value).is_none() {
                found.push(Problem::new(
                    path,
                    // Not a scalar, so `describe` shows no content.
                    format!(
                        "expected text, a number or true/false, got {}",
                        describe(value)
                    ),
                ));
            }
        }
    }
}

/// The passed-through properties that are object_store's, not librdkafka's.
const OBJECT_STORE_OPTIONS: &str = "storage.options";

/// librdkafka's own check of every passed-through property (`sink.producer.*`,
/// `offsets.consumer.*`): unknown names and values it refuses, each its own problem, a secret's
/// value never shown ([`super::secrets`]). `storage.options.*` names must be object_store's.
fn librdkafka_properties(doc: &Value, sink_type: &str, found: &mut Vec<Problem>) {
    if let Some(Value::Mapping(map)) = keys::lookup(doc, OBJECT_STORE_OPTIONS) {
        for name in map.keys().filter_map(Value::as_str) {
            if !crate::storage::is_object_store_option(name) {
                found.push(Problem::new(
                    format!("{OBJECT_STORE_OPTIONS}.{name}"),
                    "not a configuration key of object_store's S3, Google Cloud Storage or \
                     Azure client (aws_access_key_id, google_service_account_path, \
                     azure_storage_account_key, ...)"
                        .to_string(),
                ));
            }
        }
    }
    for key in KEYS.iter().filter(|k| {
        k.kind == Kind::Properties && k.applies_to_sink(sink_type) && k.path != OBJECT_STORE_OPTIONS
    }) {
        let Some(Value::Mapping(map)) = keys::lookup(doc, key.path) else {
            continue;
        };
        for (name, value) in map {
            // Values that are not scalars were reported by `passthrough_values`.
            let (Value::String(name), Some(value)) = (name, scalar_text(value)) else {
                continue;
            };
            if let Err(why) = crate::kafka::check_property(name, &value) {
                found.push(Problem::new(
                    format!("{}.{name}", key.path),
                    format!("librdkafka refuses it: {why}"),
                ));
            }
        }
    }
}

/// A scalar as the text librdkafka is given; `None` for anything else.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The problems as one paragraph per problem, for stderr.
pub(crate) fn report(file: &Path, problems: &[Problem]) -> String {
    let mut text = format!(
        "pipeline {} has {} problem{}:",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        text.push_str(&format!("\n  - {}: {}", p.key, p.message));
    }
    text
}

/// Checks that a value is of the key's kind.
pub(crate) fn check_kind(key: &Key, value: &Value) -> Result<(), String> {
    let text = || match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match key.kind {
        Kind::Delimiter => match value {
            Value::String(s) if !s.is_empty() => Ok(()),
            Value::String(_) => Err("is empty: records could not be told apart".into()),
            _ => Err(format!("expected text, got {}", describe(value))),
        },
        Kind::Text | Kind::Path => match value {
            Value::String(s) if !s.trim().is_empty() => Ok(()),
            Value::String(_) => Err("is empty".into()),
            _ => Err(format!("expected text, got {}", describe(value))),
        },
        Kind::Size => text()
            .ok_or_else(|| format!("expected a size, got {}", describe(value)))?
            .parse::<super::ByteSize>()
            .map(drop),
        Kind::Duration => text()
            .ok_or_else(|| format!("expected a duration, got {}", describe(value)))?
            .parse::<super::Seconds>()
            .map(drop),
        Kind::Count => match value.as_u64() {
            Some(_) => Ok(()),
            None => Err(format!(
                "expected a whole number ≥ 0, got {}",
                describe(value)
            )),
        },
        Kind::Flag => match value {
            Value::Bool(_) => Ok(()),
            _ => Err(format!("expected true or false, got {}", describe(value))),
        },
        Kind::Integer => match value.as_i64() {
            Some(_) => Ok(()),
            None => Err(format!("expected a whole number, got {}", describe(value))),
        },
        Kind::Choice(words) => match value.as_str() {
            Some(word) if words.contains(&word) => Ok(()),
            _ => Err(format!(
                "`{}` is not one of {}",
                plain(value),
                words.join(", ")
            )),
        },
        // Each property is checked on its own by `passthrough_values`, named in full.
        Kind::Properties | Kind::TopicConfigs => match value {
            Value::Mapping(_) => Ok(()),
            // Not `describe(value)`: the text may be a secret (`sasl.password=...` on one line).
            Value::String(_) => {
                Err("expected a mapping of properties (name: value, one per line), got text".into())
            }
            _ => Err(format!(
                "expected a mapping of properties, got {}",
                describe(value)
            )),
        },
        Kind::Any => Ok(()),
    }
}

/// The keys whose value is memory held at once, which the machine must have.
const WITHIN_MACHINE_MEMORY: &[&str] = &["sort.memory"];

/// Checks that a size or count (already of the key's kind) is within the key's range, and that
/// memory held at once is within the machine's.
fn check_range(key: &Key, value: &Value, machine_memory: Option<u64>) -> Result<(), String> {
    let Some((min, max)) = key.range else {
        return Ok(());
    };
    let (number, shown): (u64, fn(u64) -> String) = match key.kind {
        Kind::Size => {
            let text = match value {
                Value::Number(n) => n.to_string(),
                other => plain(other),
            };
            let size = text.parse::<super::ByteSize>()?;
            (size.0, |n| super::ByteSize(n).to_string())
        }
        Kind::Duration => {
            let seconds = plain(value).parse::<super::Seconds>()?;
            if seconds.0 < min as f64 || seconds.0 > max as f64 {
                return Err(format!(
                    "`{}` is out of range: from {min}s to {max}s",
                    plain(value)
                ));
            }
            return Ok(());
        }
        _ => (value.as_u64().unwrap_or(0), |n| n.to_string()),
    };
    if number < min || number > max {
        return Err(format!(
            "`{}` is out of range: from {} to {}",
            plain(value),
            shown(min),
            shown(max)
        ));
    }
    if let (true, Some(memory)) = (WITHIN_MACHINE_MEMORY.contains(&key.path), machine_memory) {
        if number > memory {
            return Err(format!(
                "`{}` is more than this machine's memory ({}): it would be killed before the \
                 sort ever spilled to disk",
                plain(value),
                super::ByteSize(memory)
            ));
        }
    }
    Ok(())
}

fn unknown_keys(doc: &Value, found: &mut Vec<Problem>) {
    let Some(top) = doc.as_mapping() else { return };
    for (name, value) in top {
        let name = plain(name);
        if SECTIONS.contains(&name.as_str()) {
            match value {
                Value::Mapping(section) => {
                    for (sub, _) in section {
                        let path = format!("{name}.{}", plain(sub));
                        if keys::find(&path).is_none() {
                            found.push(unknown(&path));
                        }
                    }
                }
                Value::Null => {}
                _ => found.push(Problem::new(
                    name,
                    format!("expected a section of keys, got {}", describe(value)),
                )),
            }
        } else if keys::find(&name).is_none() {
            found.push(unknown(&name));
        }
    }
}

fn unknown(path: &str) -> Problem {
    let hint = match closest_key(path) {
        Some(near) => format!("unknown key; did you mean `{}` ({})?", near.path, near.help),
        None => "unknown key".to_owned(),
    };
    Problem::new(path, hint)
}

/// The known key nearest in spelling, if one is near enough to be a typo.
fn closest_key(path: &str) -> Option<&'static Key> {
    KEYS.iter()
        .map(|k| (edit_distance(k.path, path), k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// Keys that become required by the value of another key.
fn requirements(doc: &Value, found: &mut Vec<Problem>) {
    let get = |path: &str| keys::lookup(doc, path).filter(|v| !v.is_null());
    let text = |path: &str| get(path).and_then(Value::as_str).map(str::to_owned);
    let need = |found: &mut Vec<Problem>, path: &str, why: &str| {
        if get(path).is_none() {
            let help = keys::find(path).map_or("", |k| k.help);
            found.push(Problem::new(
                path,
                format!("missing, needed {why}; it is {help}"),
            ));
        }
    };
    match text("sink.type").as_deref().unwrap_or("kafka") {
        "kafka" => need(found, "sink.brokers", "by sink.type: kafka"),
        "file" => need(found, "sink.path", "by sink.type: file"),
        _ => {}
    }
    match text("offsets.commit").as_deref().unwrap_or("none") {
        "zookeeper" => {
            need(found, "offsets.zookeeper", "by offsets.commit: zookeeper");
            need(found, "offsets.group", "by offsets.commit: zookeeper");
        }
        "kafka" => {
            need(found, "offsets.group", "by offsets.commit: kafka");
            if get("offsets.brokers").is_none() && get("sink.brokers").is_none() {
                found.push(Problem::new(
                    "offsets.brokers",
                    "missing, needed by offsets.commit: kafka when sink.brokers is not set",
                ));
            }
        }
        _ => {}
    }
    let connect = text("source.type").as_deref() == Some("kafka-connect");
    if connect {
        for key in ["offsets.exec_dir", "offsets.history_dir"] {
            if get(key).is_some() {
                found.push(Problem::new(
                    key,
                    "set, but source.type is kafka-connect: a Kafka Connect archive has no Camus \
                     history; its cut-off comes from its file names (unset it)",
                ));
            }
        }
        if text("source.format").is_some_and(|f| f == "sequencefile") {
            found.push(Problem::new(
                "source.format",
                "sequencefile, but source.type is kafka-connect: Kafka Connect's sinks write \
                 Avro (.avro), JSON (.json) or bytes (.bin), never SequenceFiles",
            ));
        }
    }
    if !connect
        && text("offsets.commit").is_some_and(|c| c != "none")
        && get("offsets.exec_dir").is_none()
        && get("offsets.history_dir").is_none()
    {
        found.push(Problem::new(
            "offsets.exec_dir",
            "missing, needed to commit offsets (or set offsets.history_dir); it is the Camus execution directory",
        ));
    }
    for section in ["key", "format"] {
        let path = format!("{section}.plugin");
        if let Some(plugin) = text(&path) {
            if section == "format" && plugin.starts_with("native:") {
                found.push(Problem::new(
                    path,
                    "native plugins are key extractors: use them as key.plugin",
                ));
            } else if let Err(why) = crate::bundled::check_plugin_reference(&plugin) {
                found.push(Problem::new(path, why));
            }
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text `{s}`"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(text: &str) -> Vec<Problem> {
        problems(&serde_yaml::from_str(text).unwrap())
    }

    #[test]
    fn a_minimal_file_pipeline_has_no_problems() {
        let found = problems_of("topic: T\nsource: {dest_dir: /d}\nsink: {type: file, path: /o}");
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once_with_the_key_and_its_meaning() {
        let found = problems_of(
            "source: {dest_dirr: /d}\nsort: {memory: lots}\nsink: {type: file}\nformat: {plugin: yaml}",
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert!(keys.contains(&"source.dest_dirr"), "{found:?}");
        assert!(keys.contains(&"topic"), "{found:?}");
        assert!(keys.contains(&"source.dest_dir"), "{found:?}");
        assert!(keys.contains(&"sort.memory"), "{found:?}");
        assert!(keys.contains(&"sink.path"), "{found:?}");
        assert!(keys.contains(&"format.plugin"), "{found:?}");
        let typo = found.iter().find(|p| p.key == "source.dest_dirr").unwrap();
        assert!(
            typo.message.contains("did you mean `source.dest_dir`"),
            "{typo:?}"
        );
    }

    #[test]
    fn a_native_plugin_is_only_a_key_extractor() {
        let found = problems_of("topic: T\nsource: {dest_dir: /d}\nsink: {type: stdout}\nformat: {plugin: native:time-field}");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "format.plugin");
    }

    #[test]
    fn kafka_offsets_need_a_group_and_brokers() {
        let found = problems_of(
            "topic: T\nsource: {dest_dir: /d}\nsink: {type: stdout}\noffsets: {commit: kafka, exec_dir: /e}",
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, vec!["offsets.group", "offsets.brokers"], "{found:?}");
    }

    #[test]
    fn a_key_of_another_sink_type_is_rejected_with_the_key_named() {
        let found = problems_of(
            "topic: T\nsource: {dest_dir: /d}\nsink: {type: file, path: /o, partitioning: key}",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "sink.partitioning");
        assert!(
            found[0].message.contains("sink.type kafka only"),
            "{found:?}"
        );
        assert!(found[0].message.contains("this sink is file"), "{found:?}");

        let found = problems_of("topic: T\nsource: {dest_dir: /d}\nsink: {brokers: b, path: /o}");
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["sink.path"],
            "the default sink is kafka: {found:?}"
        );
    }

    #[test]
    fn librdkafka_properties_are_checked_by_librdkafka_and_secrets_never_shown() {
        let found = problems_of(
            "topic: T\nsource: {dest_dir: /d}\nsink: {brokers: b, producer: {security.protocol: SSLX, sasl.passwrod: hunter22, linger.ms: 5}}\n\
             offsets: {consumer: {sasl.password: hunter22, no.such.thing: x}}",
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "sink.producer.security.protocol",
                "sink.producer.sasl.passwrod",
                "offsets.consumer.no.such.thing"
            ],
            "{found:?}"
        );
        let report = report(Path::new("p.yaml"), &found);
        assert!(!report.contains("hunter22"), "{report}");
        assert!(report.contains("SSLX"), "{report}");

        let found =
            problems_of("topic: T\nsource: {dest_dir: /d}\nsink: {brokers: b, producer: 'sasl.password=hunter22'}");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].message.contains("hunter22"), "{found:?}");
    }

    #[test]
    fn storage_options_are_object_store_keys_and_the_retry_timeout_is_ranged() {
        let found = problems_of(
            "topic: T\nsource: {dest_dir: s3://b/p}\nsink: {type: file, path: o}\n\
             storage: {retry_timeout: 10m, options: {aws_access_key_id: k, \
             aws_secret_access_key: hunter22, google_service_account_path: /k.json, \
             azure_storage_account_key: hunter33, linger.ms: 5}}",
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["storage.retry_timeout", "storage.options.linger.ms"],
            "{found:?}"
        );
        let report = report(Path::new("p.yaml"), &found);
        assert!(report.contains("from 1s to 300s"), "{report}");
        assert!(
            !report.contains("hunter22") && !report.contains("hunter33"),
            "{report}"
        );
    }

    #[test]
    fn passthrough_maps_take_numbers_and_flags_and_name_any_other_value_in_full() {
        let text = "topic: T\nsource: {dest_dir: /d, batch_size: -1}\n\
             sink: {brokers: b, producer: {linger.ms: 5, enable.idempotence: true, acks: [all]},\
             topic_config: {retention.ms: -1, cleanup.policy: ~}}\n\
             offsets: {consumer: {fetch.wait.max.ms: 100, sasl.password: {x: hunter22}}}";
        let found = problems_of(text);
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "source.batch_size",
                "sink.producer.acks",
                "sink.topic_config.cleanup.policy",
                "offsets.consumer.sasl.password"
            ],
            "every problem at once, each named in full: {found:?}"
        );
        assert!(found[1].message.contains("got a list"), "{found:?}");
        assert!(!report(Path::new("p.yaml"), &found).contains("hunter22"));

        let fine = text
            .replace("batch_size: -1", "batch_size: 1")
            .replace("acks: [all]", "acks: all")
            .replace("cleanup.policy: ~", "cleanup.policy: delete")
            .replace("{x: hunter22}", "hunter22");
        assert_eq!(problems_of(&fine), vec![]);
        let pipeline =
            super::super::Pipeline::from_document(&serde_yaml::from_str(&fine).unwrap()).unwrap();
        let sink = pipeline.kafka_sink().unwrap();
        assert_eq!(
            sink.producer.get("linger.ms").map(String::as_str),
            Some("5")
        );
        assert_eq!(
            sink.producer.get("enable.idempotence").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            pipeline
                .offsets
                .consumer
                .get("fetch.wait.max.ms")
                .map(String::as_str),
            Some("100")
        );
    }

    #[test]
    fn sizes_and_counts_out_of_range_are_refused_naming_the_key_and_value() {
        let head = "topic: T\nsink: {type: stdout}\n";
        let source = "source: {dest_dir: /d}\n";
        let cases = [
            (
                "sort: {memory: 18446744073709551615}",
                "sort.memory",
                "out of range",
            ),
            (
                "sort: {memory: 1000000000000000}",
                "sort.memory",
                "out of range",
            ),
            (
                "sort: {memory: 1KiB}",
                "sort.memory",
                "from 64KiB to 1024GiB",
            ),
            ("key: {max_memory: 5GiB}", "key.max_memory", "out of range"),
            (
                "format: {batch_size: 10000000}",
                "format.batch_size",
                "out of range",
            ),
            (
                "format: {instances: 100000}",
                "format.instances",
                "out of range",
            ),
        ]
        .map(|(yaml, key, needle)| (format!("{source}{yaml}"), key, needle));
        let sources = [
            (
                "source: {dest_dir: /d, max_block_bytes: 4GiB}",
                "source.max_block_bytes",
                "4GiB",
            ),
            (
                "source: {dest_dir: /d, batch_size: 0}",
                "source.batch_size",
                "from 1 to 1000000",
            ),
            (
                "source: {dest_dir: /d, batch_size: 99999999999}",
                "source.batch_size",
                "99999999999",
            ),
        ]
        .map(|(yaml, key, needle)| (yaml.to_string(), key, needle));
        for (yaml, key, needle) in cases.into_iter().chain(sources) {
            let doc: Value = serde_yaml::from_str(&format!("{head}{yaml}")).unwrap();
            let found = problems_on(&doc, None);
            assert_eq!(found.len(), 1, "{yaml}: {found:?}");
            assert_eq!(found[0].key, key, "{yaml}");
            assert!(found[0].message.contains(needle), "{yaml}: {found:?}");
        }
        let fine = format!("{head}source: {{dest_dir: /d, max_block_bytes: 256MiB}}");
        assert!(problems_on(&serde_yaml::from_str(&fine).unwrap(), None).is_empty());
    }

    #[test]
    fn every_default_is_within_its_range() {
        let doc =
            serde_yaml::from_str("topic: T\nsource: {dest_dir: /d}\nsink: {type: stdout}").unwrap();
        let found = problems_on(&keys::with_defaults(&doc), Some(1 << 30));
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn sort_memory_beyond_the_machines_is_refused() {
        let doc: Value = serde_yaml::from_str(
            "topic: T\nsource: {dest_dir: /d}\nsink: {type: stdout}\nsort: {memory: 8GiB}",
        )
        .unwrap();
        let found = problems_on(&doc, Some(4 << 30));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "sort.memory");
        assert!(
            found[0]
                .message
                .contains("`8GiB` is more than this machine's memory (4GiB)"),
            "{found:?}"
        );
        assert!(problems_on(&doc, Some(16 << 30)).is_empty());
    }

    #[test]
    fn framing_belongs_to_both_file_and_stdout() {
        let found = problems_of(
            "topic: T\nsource: {dest_dir: /d}\nsink: {type: stdout, framing: length-prefixed}",
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
