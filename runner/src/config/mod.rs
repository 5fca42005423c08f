//! A pipeline's configuration: the YAML file loaded into typed structs, with `--set` overrides and
//! defaults. It describes a run; [`crate::run`] executes it.
//!
//! Every key, its meaning and its default is defined once, in [`keys::KEYS`]; loading goes
//! YAML text → `--set` overrides → defaults filled in from that table → typed structs (unknown keys
//! rejected). [`validate`] reports every problem at once.

pub(crate) mod keys;
mod machine;
pub(crate) mod overrides;
pub(crate) mod secrets;
pub(crate) mod units;
pub(crate) mod validate;

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

pub(crate) use secrets::Properties;
pub use units::{ByteSize, Seconds};

/// A whole pipeline, as `c2k run` executes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// The original topic Camus read.
    pub topic: String,
    pub source: SourceConfig,
    pub storage: StorageConfig,
    pub key: PluginConfig,
    pub sort: SortConfig,
    pub format: PluginConfig,
    pub sink: SinkConfig,
    pub offsets: OffsetsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Who wrote the archive (`source.type`).
    #[serde(rename = "type")]
    pub kind: SourceType,
    /// Camus destination directory: a path, or a `file://`, `hdfs://` or object-store URL.
    pub dest_dir: String,
    /// Where this topic's files are; `<dest_dir>/<topic>` when unset.
    pub input_dir: Option<String>,
    /// Reader schema (an .avsc path or URL) every record is resolved to.
    pub schema: Option<String>,
    /// Records per batch read from a file.
    pub batch_size: usize,
    /// The most bytes one block may take, stored or decompressed.
    pub max_block_bytes: ByteSize,
    /// What a finding of the archive's reconciliation does to a run.
    pub integrity: Integrity,
    /// Which of Camus' record writers made the files (`auto`: told from the files).
    pub format: crate::source::FormatChoice,
    /// What follows every record of a text archive (`etl.output.record.delimiter`).
    pub text_delimiter: String,
    /// Whether camus-sweeper's daily folders are replayed (an opt-in: they prove less).
    pub swept_days: SweptDays,
}

/// `source.type`: who wrote the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceType {
    /// Camus' hourly folders and execution history.
    Camus,
    /// Confluent's Kafka Connect HDFS or S3 sink: offsets in every file name.
    KafkaConnect,
}

/// `source.swept_days`: camus-sweeper's daily folders, refused or replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SweptDays {
    Refuse,
    Replay,
}

/// `storage.*`: how object stores (`s3://`, `gs://`, `az://`) are reached; local disk and HDFS
/// ignore it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    pub profile: Option<String>,
    /// object_store configuration keys, passed through; shown only redacted ([`secrets`]).
    pub options: Properties,
    pub retry_timeout: Seconds,
}

impl StorageConfig {
    /// What the object-store clients are given.
    pub(crate) fn settings(&self) -> crate::storage::ObjectSettings {
        crate::storage::ObjectSettings {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            path_style: self.path_style,
            profile: self.profile.clone(),
            options: self
                .options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            retry_timeout: self.retry_timeout.duration(),
        }
    }
}

/// `source.integrity`: what a duplicate, a gap or a stray does to `c2k run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Integrity {
    /// Stop before anything is sent.
    Fail,
    /// Publish and report; offsets are still never committed past the data.
    Warn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// A bundled plugin's name, or a path to a `.wasm` component.
    pub plugin: String,
    /// Given to the plugin once, as JSON.
    pub config: serde_json::Value,
    /// The most linear memory the plugin may grow to.
    pub max_memory: ByteSize,
    /// The longest one batch call may run.
    pub call_timeout: Seconds,
    /// Records per plugin call.
    pub batch_size: usize,
    /// Format plugin instances (`format.instances`; 0: one per core). Key plugins have one.
    #[serde(default)]
    pub instances: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortConfig {
    pub memory: ByteSize,
    pub tmp_dir: String,
    pub mode: SortMode,
    pub bucket_slack: Seconds,
}

/// `sort.mode`: how the records are put in key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SortMode {
    /// Buckets when the key plugin and the file names allow it, else external.
    Auto,
    /// Camus' time buckets streamed in order, a window of them sorted in memory.
    Buckets,
    /// The whole archive sorted at once, spilling what does not fit `sort.memory`.
    External,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    Lines,
    LengthPrefixed,
    /// One JSON line per message: key, value, headers, timestamp, partition ([`crate::sink::envelope`]).
    Envelope,
}

/// `sink.timestamps`: which clock stamps the replay's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timestamps {
    /// The format plugin's timestamp (the event time): what retention and stream windows see.
    Event,
    /// The broker's clock when published; the event time goes in the `c2k-event-time` header.
    Publish,
}

/// `sink.topic_check`: what a replay topic that would lose or reject the replay does to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopicCheck {
    Fail,
    Warn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Partitioning {
    Source,
    Single,
    Key,
}

/// Where messages go, chosen by `sink.type`; each type has its own keys, and a key of another
/// type is an error that names it (see [`keys::Key::sinks`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SinkConfig {
    Kafka(KafkaSinkConfig),
    File(FileSinkConfig),
    Stdout(StdoutSinkConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    pub brokers: Option<String>,
    /// `<topic>_REPLAY` when unset.
    pub topic: Option<String>,
    /// librdkafka properties, passed through untouched (they override our defaults); shown only
    /// redacted ([`secrets`]).
    pub producer: Properties,
    /// Partitions of the replay topic when it is created; as many as the source had when unset.
    pub partitions: Option<u32>,
    /// `None`: the cluster's `default.replication.factor`.
    pub replication_factor: Option<i32>,
    /// Topic configs of a replay topic c2k creates, over its own ([`crate::sink::kafka::topic`]).
    pub topic_config: Properties,
    pub timestamps: Timestamps,
    /// How long the replay must stay in the topic after the run.
    pub min_lifetime: Seconds,
    pub topic_check: TopicCheck,
    pub partitioning: Partitioning,
    pub max_messages_per_sec: Option<u64>,
    /// How long to wait for outstanding deliveries before failing.
    pub delivery_timeout: Seconds,
    /// Provenance headers on every message (what lets a rerun account for the topic).
    pub provenance: bool,
    /// A transactional producer, committing every `transaction_messages` messages.
    pub transactions: bool,
    pub transaction_messages: u64,
    /// The replay cluster's ZooKeeper, for brokers older than 0.11 (topic creation, the replay's
    /// identity).
    pub zookeeper: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    pub path: Option<String>,
    pub framing: Framing,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {
    pub framing: Framing,
}

impl SinkConfig {
    /// The value of `sink.type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkConfig::Kafka(_) => "kafka",
            SinkConfig::File(_) => "file",
            SinkConfig::Stdout(_) => "stdout",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitMode {
    Zookeeper,
    Kafka,
    None,
}

/// `offsets.zookeeper_sasl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZkSasl {
    None,
    DigestMd5,
    Gssapi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZkLayout {
    /// `/consumers/<group>/offsets/<topic>/<partition>`
    Partition,
    /// `/consumers/<group>/offsets/<topic>/<node>-<partition>` (the original tool, old consumers)
    NodePartition,
}

/// What the offsets step does when the live topic disagrees with the cut-off
/// (`offsets.live_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveCheck {
    /// Refuse the hand-off (exit code 6), write nothing.
    Fail,
    /// Say what is wrong and commit anyway.
    Warn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsetsConfig {
    /// Camus execution directory; needed unless `commit: none`.
    pub exec_dir: Option<String>,
    /// `<exec_dir>/base/history` when unset.
    pub history_dir: Option<String>,
    pub group: Option<String>,
    pub commit: CommitMode,
    /// ZooKeeper connect string, with an optional chroot (`zk1:2181,zk2:2181/kafka`).
    pub zookeeper: Option<String>,
    pub layout: ZkLayout,
    pub session_timeout: Seconds,
    /// The live cluster's brokers: for `commit: kafka` (`sink.brokers` when unset) and the
    /// live-topic check (with `commit: zookeeper`, the brokers registered in that ZooKeeper when
    /// unset).
    pub brokers: Option<String>,
    /// librdkafka consumer properties for the live cluster, passed through untouched after ours;
    /// shown only redacted ([`secrets`]).
    pub consumer: Properties,
    pub live_check: LiveCheck,
    /// SASL to the ZooKeeper ensemble (`offsets.zookeeper_*`).
    pub zookeeper_sasl: ZkSasl,
    pub zookeeper_username: Option<String>,
    pub zookeeper_password: Option<String>,
    pub zookeeper_jaas: Option<String>,
    pub zookeeper_keytab: Option<String>,
    pub zookeeper_principal: Option<String>,
    pub zookeeper_service: String,
}

impl Pipeline {
    /// Reads a pipeline file, applies `--set KEY=VALUE` overrides and the defaults, and checks it;
    /// every problem found is reported at once.
    pub fn load(path: &Path, sets: &[String]) -> Result<Pipeline> {
        let doc = load_document(path, sets)?;
        let problems = validate::problems(&doc);
        if !problems.is_empty() {
            anyhow::bail!("{}", validate::report(path, &problems));
        }
        let pipeline = Pipeline::from_document(&doc)
            .with_context(|| format!("pipeline {}", path.display()))?;
        secrets::remember(pipeline.secret_values());
        crate::storage::configure(pipeline.storage.settings());
        Ok(pipeline)
    }

    /// The secret values of the pipeline: of librdkafka properties (`sink.producer`,
    /// `offsets.consumer`) and `offsets.zookeeper_password`.
    pub fn secret_values(&self) -> Vec<&str> {
        let producer = match &self.sink {
            SinkConfig::Kafka(kafka) => Some(&kafka.producer),
            _ => None,
        };
        producer
            .into_iter()
            .chain([&self.offsets.consumer, &self.storage.options])
            .flat_map(Properties::secret_values)
            .chain(self.offsets.zookeeper_password.as_deref())
            .collect()
    }

    /// Builds the typed pipeline from a document already validated.
    pub fn from_document(doc: &serde_yaml::Value) -> Result<Pipeline> {
        let filled = keys::with_defaults(doc);
        Ok(serde_yaml::from_value(filled)?)
    }

    /// Where the topic's Camus files are.
    pub fn input_dir(&self) -> String {
        match &self.source.input_dir {
            Some(dir) => dir.clone(),
            None => join_url(&self.source.dest_dir, &self.topic),
        }
    }

    /// The topic the replay is published to: `sink.topic`, or `<topic>_REPLAY`.
    pub fn replay_topic(&self) -> String {
        match &self.sink {
            SinkConfig::Kafka(KafkaSinkConfig {
                topic: Some(topic), ..
            }) => topic.clone(),
            _ => format!("{}_REPLAY", self.topic),
        }
    }

    /// Where the replay is written, as messages name it: the replay topic, `file PATH` or
    /// `stdout`. A file-sink run sends nothing to a topic, and must not say it did.
    pub fn destination(&self) -> String {
        match &self.sink {
            SinkConfig::Kafka(_) => self.replay_topic(),
            SinkConfig::File(file) => format!("file {}", file.path.as_deref().unwrap_or("?")),
            SinkConfig::Stdout(_) => "stdout".to_string(),
        }
    }

    /// The Kafka sink's keys, or an error naming the sink type this pipeline has instead.
    pub fn kafka_sink(&self) -> Result<&KafkaSinkConfig> {
        match &self.sink {
            SinkConfig::Kafka(kafka) => Ok(kafka),
            other => anyhow::bail!("sink.type is {}, not kafka", other.type_name()),
        }
    }

    /// Where the Camus runs' offset files are, if the offsets step is configured.
    pub fn history_dir(&self) -> Option<String> {
        match (&self.offsets.history_dir, &self.offsets.exec_dir) {
            (Some(dir), _) => Some(dir.clone()),
            (None, Some(exec)) => Some(join_url(exec, "base/history")),
            (None, None) => None,
        }
    }

    /// Brokers used to commit offsets with `commit: kafka`.
    pub fn offsets_brokers(&self) -> Option<String> {
        let sink_brokers = match &self.sink {
            SinkConfig::Kafka(kafka) => kafka.brokers.clone(),
            _ => None,
        };
        self.offsets.brokers.clone().or(sink_brokers)
    }
}

/// Reads the YAML file (an empty file is an empty mapping) and applies `--set` overrides.
pub(crate) fn load_document(path: &Path, sets: &[String]) -> Result<serde_yaml::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read pipeline {}", path.display()))?;
    parse_document(&text, path, sets)
}

/// The document of a pipeline file's `text` with `--set` overrides applied; `path` is where the
/// text was read from (relative paths in it are relative to its folder).
pub(crate) fn parse_document(
    text: &str,
    path: &Path,
    sets: &[String],
) -> Result<serde_yaml::Value> {
    let mut doc: serde_yaml::Value = if text.trim().is_empty() {
        serde_yaml::Value::Mapping(Default::default())
    } else {
        serde_yaml::from_str(text)
            .with_context(|| format!("pipeline {} is not valid YAML", path.display()))?
    };
    if doc.is_null() {
        doc = serde_yaml::Value::Mapping(Default::default());
    }
    let file_dir = path.parent().unwrap_or(Path::new("."));
    resolve_relative_paths(&mut doc, file_dir);
    for set in sets {
        let file_sink_type = keys::sink_type(&doc).to_owned();
        let file_plugins = [plugin_of(&doc, "key"), plugin_of(&doc, "format")];
        let key = overrides::apply(&mut doc, set)?;
        // A relative path given on the command line is relative to where the user is.
        if keys::find(&key).is_some_and(|k| k.kind == keys::Kind::Path) {
            resolve_relative_paths_at(&mut doc, &key, &std::env::current_dir()?);
        }
        if key == "sink.type" && keys::sink_type(&doc) != file_sink_type {
            drop_other_sink_keys(&mut doc);
        }
        // Another plugin does not take the file's plugin's config (`--set format.plugin=json`
        // on an avro-binary pipeline): it starts from its own defaults, unless set after.
        for (section, before) in ["key", "format"].into_iter().zip(&file_plugins) {
            if key == format!("{section}.plugin") && plugin_of(&doc, section) != *before {
                if let Some(serde_yaml::Value::Mapping(map)) = keys::lookup_mut(&mut doc, section) {
                    map.remove("config");
                }
            }
        }
    }
    Ok(doc)
}

/// `key.plugin` or `format.plugin` as written, if it is.
fn plugin_of(doc: &serde_yaml::Value, section: &str) -> Option<String> {
    doc.get(section)?
        .get("plugin")?
        .as_str()
        .map(str::to_string)
}

/// `--set sink.type=file` on a Kafka pipeline switches the sink wholesale: the Kafka keys the
/// file had would otherwise make the pipeline invalid. Keys set after it are kept as given.
fn drop_other_sink_keys(doc: &mut serde_yaml::Value) {
    let sink_type = keys::sink_type(doc).to_owned();
    let Some(serde_yaml::Value::Mapping(sink)) = keys::lookup_mut(doc, "sink") else {
        return;
    };
    sink.retain(|name, _| {
        let path = format!("sink.{}", name.as_str().unwrap_or_default());
        keys::find(&path).is_none_or(|key| key.applies_to_sink(&sink_type))
    });
}

/// Relative local paths in a pipeline file mean "relative to that file", as a user reading the
/// file would expect, not to wherever `c2k` happens to be started.
fn resolve_relative_paths(doc: &mut serde_yaml::Value, base: &Path) {
    for key in keys::KEYS.iter().filter(|k| k.kind == keys::Kind::Path) {
        resolve_relative_paths_at(doc, key.path, base);
    }
}

fn resolve_relative_paths_at(doc: &mut serde_yaml::Value, key: &str, base: &Path) {
    if let Some(serde_yaml::Value::String(value)) = keys::lookup_mut(doc, key) {
        let is_bundled_plugin = key.ends_with(".plugin") && !value.ends_with(".wasm");
        if !value.contains("://") && !Path::new(value.as_str()).is_absolute() && !is_bundled_plugin
        {
            *value = normalize(&base.join(value.as_str()))
                .to_string_lossy()
                .into_owned();
        }
    }
}

/// `pipelines/../target/demo` → `target/demo`: the same path, as a user would write it in an error.
fn normalize(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Joins a path segment onto a directory given as a path or URL.
pub(crate) fn join_url(dir: &str, name: &str) -> String {
    format!(
        "{}/{}",
        dir.trim_end_matches('/'),
        name.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(yaml: &str) -> Pipeline {
        Pipeline::from_document(&serde_yaml::from_str(yaml).unwrap()).unwrap()
    }

    #[test]
    fn each_sink_type_gets_its_own_typed_keys_with_defaults() {
        let kafka = pipeline("topic: T\nsource: {dest_dir: /d}\nsink: {brokers: b:9092}");
        let SinkConfig::Kafka(sink) = &kafka.sink else {
            panic!("{:?}", kafka.sink)
        };
        assert_eq!(sink.partitioning, Partitioning::Source);
        assert_eq!(kafka.replay_topic(), "T_REPLAY");

        let file = pipeline("topic: T\nsource: {dest_dir: /d}\nsink: {type: file, path: /o}");
        let SinkConfig::File(sink) = &file.sink else {
            panic!("{:?}", file.sink)
        };
        assert_eq!(sink.framing, Framing::Lines);
        assert_eq!(kafka.destination(), "T_REPLAY");
        assert_eq!(file.destination(), "file /o", "a file sink names no topic");
        assert!(file
            .kafka_sink()
            .unwrap_err()
            .to_string()
            .contains("sink.type is file"));
    }

    #[test]
    fn setting_the_sink_type_on_the_command_line_switches_the_sink_wholesale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(
            &path,
            "topic: T\nsource: {dest_dir: /d}\nsink: {brokers: b, partitioning: key}\n",
        )
        .unwrap();
        let sets = ["sink.type=file".to_string(), "sink.path=/o".to_string()];
        let doc = load_document(&path, &sets).unwrap();
        assert!(
            validate::problems(&doc).is_empty(),
            "{:?}",
            validate::problems(&doc)
        );
        let later = [
            "sink.type=file".to_string(),
            "sink.partitioning=key".to_string(),
        ];
        let doc = load_document(&path, &later).unwrap();
        let keys: Vec<String> = validate::problems(&doc)
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(keys, vec!["sink.partitioning", "sink.path"]);
    }

    #[test]
    fn setting_another_plugin_on_the_command_line_drops_the_files_plugin_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(
            &path,
            "topic: T\nsource: {dest_dir: /d}\nsink: {type: stdout}\n\
             format: {plugin: json, config: {encoding: plain}}\n",
        )
        .unwrap();
        let doc = load_document(&path, &["format.plugin=avro-binary".to_string()]).unwrap();
        assert_eq!(doc["format"].get("config"), None);
        // Set after the plugin, a config is kept; the same plugin again keeps the file's.
        let doc = load_document(
            &path,
            &[
                "format.plugin=avro-binary".to_string(),
                "format.config={}".to_string(),
            ],
        )
        .unwrap();
        assert!(doc["format"]["config"].is_mapping());
        let doc = load_document(&path, &["format.plugin=json".to_string()]).unwrap();
        assert_eq!(doc["format"]["config"]["encoding"].as_str(), Some("plain"));
    }

    #[test]
    fn a_document_that_skipped_validation_still_cannot_mix_sink_keys() {
        let doc = serde_yaml::from_str(
            "topic: T\nsource: {dest_dir: /d}\nsink: {type: stdout, brokers: b}",
        )
        .unwrap();
        let error = format!("{:#}", Pipeline::from_document(&doc).unwrap_err());
        assert!(error.contains("brokers"), "{error}");
    }
}
