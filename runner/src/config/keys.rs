//! Every pipeline key, defined once: its dotted path (also its `--set` path), what it means, its
//! kind and its default. Validation, defaults and the README's pipeline reference all come from
//! this table.

use serde_yaml::{Mapping, Value};

/// What values a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Free text.
    Text,
    /// Text that may be all whitespace, but not empty (a record delimiter).
    Delimiter,
    /// A local path, or a `file://`, `hdfs://` or object-store URL (relative paths are relative to
    /// the pipeline file).
    Path,
    /// A byte size such as `512MiB`.
    Size,
    /// A duration such as `30s`.
    Duration,
    /// A whole number ≥ 0.
    Count,
    /// A whole number, possibly negative.
    Integer,
    /// `true` or `false`.
    Flag,
    /// One of the listed words.
    Choice(&'static [&'static str]),
    /// A map of text to text, passed through (librdkafka properties).
    Properties,
    /// A map of Kafka topic configs (`retention.ms: -1`), checked by the broker that takes them.
    TopicConfigs,
    /// Anything: handed to a plugin as JSON.
    Any,
}

/// One pipeline key.
#[derive(Debug)]
pub(crate) struct Key {
    pub path: &'static str,
    pub kind: Kind,
    /// The default as YAML text, or `None` when the key is optional with no default (or required).
    pub default: Option<&'static str>,
    pub required: bool,
    pub help: &'static str,
    /// The `sink.type`s this key belongs to; empty for a key of every pipeline. Keys of other sink
    /// types are rejected, so `sink: {type: file, partitioning: key}` is an error naming the key.
    pub sinks: &'static [&'static str],
    /// The smallest and largest value a size or count may take, for the keys whose value is
    /// memory reserved or allocated (and a duration's, in seconds, where one out of range makes
    /// no sense): a value out of range is refused by `c2k validate` and every command alike,
    /// before anything is allocated from it.
    pub range: Option<(u64, u64)>,
}

impl Key {
    /// The key, belonging to these sink types only.
    const fn for_sinks(self, sinks: &'static [&'static str]) -> Key {
        Key { sinks, ..self }
    }

    /// The key, its value (a size in bytes, or a count) within `min..=max`.
    const fn within(self, min: u64, max: u64) -> Key {
        Key {
            range: Some((min, max)),
            ..self
        }
    }

    /// Whether the key belongs in a pipeline whose `sink.type` is `sink_type`.
    pub(crate) fn applies_to_sink(&self, sink_type: &str) -> bool {
        self.sinks.is_empty() || self.sinks.contains(&sink_type)
    }
}

const fn key(
    path: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    help: &'static str,
) -> Key {
    Key {
        path,
        kind,
        default,
        required: false,
        help,
        sinks: &[],
        range: None,
    }
}

const fn required(path: &'static str, kind: Kind, help: &'static str) -> Key {
    Key {
        path,
        kind,
        default: None,
        required: true,
        help,
        sinks: &[],
        range: None,
    }
}

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// Records per batch or call: batches are reserved at this size, and a million records already
/// makes a batch of hundreds of megabytes.
const MAX_BATCH: u64 = 1_000_000;

/// Sections: a key whose value is a mapping of other keys.
pub(crate) const SECTIONS: &[&str] = &[
    "source", "storage", "key", "sort", "format", "sink", "offsets",
];

pub(crate) static KEYS: &[Key] = &[
    required("topic", Kind::Text, "the original Kafka topic that Camus read"),
    required("source.dest_dir", Kind::Path, "the Camus destination directory: a path, a file://, hdfs:// or viewfs:// URL, or an object store's: s3://bucket/prefix, gs://bucket/prefix, az://container/prefix (abfs[s]:// too)"),
    key("source.type", Kind::Choice(&["camus", "kafka-connect"]), Some("camus"), "who wrote the archive: camus (Camus' hourly folders, reconciled with its execution history; swept daily folders with source.swept_days) or kafka-connect (Confluent's HDFS or S3 sink: <topic>+<partition>+<start>[+<end>].avro|json|bin below source.input_dir, in any partitioner's folders; every offset from each partition's first file to its last proven present once from the names and counts, the cut-off each partition's last offset + 1; no offsets.exec_dir)"),
    key("source.input_dir", Kind::Path, None, "where the topic's files are (a Kafka Connect sink's: `<topics.dir>/<topic>`); <dest_dir>/<topic> by default"),
    key("source.schema", Kind::Path, None, "reader schema (.avsc) every record is resolved to; without it plugins see each file's writer schema"),
    key("source.batch_size", Kind::Count, Some("3000"), "records per batch read from a file").within(1, MAX_BATCH),
    key("source.max_block_bytes", Kind::Size, Some("64MiB"), "the most one block of a data file (or a buffer of a Camus offsets file) may take, stored or decompressed: a larger block is refused, naming the file, the block and the codec, as it inflates (Camus writes blocks of about 64 KB, so only a decompression bomb or a corrupt size reaches it); each decoding thread holds at most two such blocks").within(64 * KIB, 2 * GIB),
    key("source.format", Kind::Choice(&["auto", "avro", "text", "sequencefile"]), Some("auto"), "which of Camus' record writers made the archive: avro (AvroRecordWriterProvider, *.avro), text (StringRecordWriterProvider: each message's text then source.text_delimiter, uncompressed with no extension or .gz, .deflate, .snappy from Hadoop's codecs), sequencefile (SequenceFileRecordWriterProvider: LongWritable → Text), or auto (told from the file names and, for files with no extension, the first file's magic); a tree mixing them is refused, naming a file of each"),
    key("source.text_delimiter", Kind::Delimiter, Some("\"\\n\""), "what follows every record of a text archive: Camus' etl.output.record.delimiter (a newline by default); a file whose record count disagrees with its name (a record that held the delimiter) is refused"),
    key("source.swept_days", Kind::Choice(&["refuse", "replay"]), Some("refuse"), "what to do with camus-sweeper's daily folders (YYYY/MM/dd/part-*.avro): refuse (stop, saying what cannot be proven) or replay (opt-in: their files carry no offsets, so only their record count is checked against what the Camus history says is missing from the hourly files, and the sweeper has already removed duplicate records); a swept day whose hourly folders are still there is always refused"),
    key("source.integrity", Kind::Choice(&["fail", "warn"]), Some("fail"), "what a duplicate, a gap or a stray file found by reconciling the archive with the Camus history does to a run: fail (stop before sending anything, with the table of c2k verify) or warn (publish and report; offsets are still never committed past the data)"),
    key("key.plugin", Kind::Path, Some("time-field"), "the key-extractor plugin: a bundled name (time-field), a path to a .wasm component, or native:time-field (compiled in, for benchmarks)"),
    key("key.config", Kind::Any, Some("{}"), "configuration given to the key plugin (time-field: field, on_missing)"),
    key("key.max_memory", Kind::Size, Some("256MiB"), "the most memory the key plugin may use").within(MIB, 4 * GIB),
    key("key.call_timeout", Kind::Duration, Some("30s"), "the longest one call of the key plugin may run"),
    key("key.batch_size", Kind::Count, Some("3000"), "records per call of the key plugin").within(1, MAX_BATCH),
    key("storage.endpoint", Kind::Text, None, "object stores: the S3-compatible endpoint (MinIO, Ceph, SeaweedFS...), e.g. http://s3.local:9000, AWS_ENDPOINT_URL by default, as AWS's own tools; or an Azure endpoint (Azurite, Azure Stack); an http:// endpoint is allowed as such"),
    key("storage.region", Kind::Text, None, "object stores: the S3 region; AWS_REGION, then the profile's region, then us-east-1 by default"),
    key("storage.path_style", Kind::Flag, None, "object stores: S3 path-style addressing (endpoint/bucket/key) instead of virtual-hosted (bucket.endpoint/key); true by default when storage.endpoint or AWS_ENDPOINT_URL is set (on-premises stores), false on AWS"),
    key("storage.profile", Kind::Text, None, "object stores: the profile of the AWS shared config and credentials files (~/.aws/config, ~/.aws/credentials) whose keys and region to use; AWS_PROFILE, then default, by default"),
    key("storage.options", Kind::Properties, Some("{}"), "object stores: object_store configuration keys for the URL's cloud, passed through (aws_access_key_id, aws_secret_access_key, google_service_account_path, azure_storage_account_name, azure_storage_account_key, azure_client_id...): only where the cloud's own credential chain does not apply; secret values are shown as ***"),
    key("storage.retry_timeout", Kind::Duration, Some("60s"), "object stores: how long a request is retried (throttling, 5xx, timeouts, connections refused or reset) before the run fails naming the object").within(1, 300),
    key("sort.memory", Kind::Size, Some("512MiB"), "memory the external sort may hold before it spills to disk (at most the machine's memory)").within(64 * KIB, TIB),
    key("sort.tmp_dir", Kind::Path, Some("/var/tmp"), "where the sort's spill files go (removed when the run ends)"),
    key("sort.mode", Kind::Choice(&["auto", "buckets", "external"]), Some("auto"), "auto (stream Camus' time buckets in order when the key plugin's keys order records by event time, else sort the whole archive), buckets (stream, or refuse when the key plugin or the file names cannot tell) or external (sort the whole archive, spilling what does not fit sort.memory); the output is the same"),
    key("sort.bucket_slack", Kind::Duration, Some("1h"), "how far before its Camus bucket's start a record's event time may lie (a decoder that stamped it differently) when buckets are streamed: a record earlier still stops the run, naming it"),
    key("format.plugin", Kind::Path, Some("avro-binary"), "the output-format plugin: avro-binary, json, or a path to a .wasm component"),
    key("format.config", Kind::Any, Some("{}"), "configuration given to the format plugin (json: encoding: avro | plain)"),
    key("format.max_memory", Kind::Size, Some("256MiB"), "the most memory the format plugin may use").within(MIB, 4 * GIB),
    key("format.call_timeout", Kind::Duration, Some("30s"), "the longest one call of the format plugin may run"),
    key("format.instances", Kind::Count, Some("0"), "instances of the format plugin formatting batches in parallel, their output put back in order (0: one per core); 1 for a plugin whose output depends on earlier batches").within(0, 1024),
    key("format.batch_size", Kind::Count, Some("3000"), "records per call of the format plugin").within(1, MAX_BATCH),
    key("sink.type", Kind::Choice(&["kafka", "file", "stdout"]), Some("kafka"), "where messages go: kafka, file or stdout"),
    key("sink.brokers", Kind::Text, None, "kafka: bootstrap brokers, host:port[,host:port...]").for_sinks(&["kafka"]),
    key("sink.topic", Kind::Text, None, "kafka: the replay topic; <topic>_REPLAY by default").for_sinks(&["kafka"]),
    key("sink.producer", Kind::Properties, Some("{}"), "kafka: librdkafka producer properties, passed through untouched (override our no-loss defaults); its TLS and SASL settings serve every client of the replay; secret values are shown as ***").for_sinks(&["kafka"]),
    key("sink.partitions", Kind::Count, None, "kafka: partitions of the replay topic if it is created; as many as the source topic had by default").for_sinks(&["kafka"]),
    key("sink.replication_factor", Kind::Integer, None, "kafka: replication factor of the replay topic if it is created; the cluster's own default.replication.factor by default").for_sinks(&["kafka"]),
    key("sink.topic_config", Kind::TopicConfigs, Some("{}"), "kafka: topic configs of the replay topic when c2k creates it, over c2k's own (retention.ms: -1, retention.bytes: -1, cleanup.policy: delete, message.timestamp.type: CreateTime, message.timestamp.difference.max.ms: the largest); the broker checks each and names a bad one").for_sinks(&["kafka"]),
    key("sink.timestamps", Kind::Choice(&["event", "publish"]), Some("event"), "kafka: the messages' timestamps: event (the format plugin's, the record's event time: retention is judged by it) or publish (the broker's clock at the time of the replay; the event time travels in the c2k-event-time header, milliseconds)").for_sinks(&["kafka"]),
    key("sink.min_lifetime", Kind::Duration, Some("7d"), "kafka: how long the replay must stay in the topic after the run, for its consumers to read it: a topic whose retention would delete this replay's messages sooner is refused before anything is sent").for_sinks(&["kafka"]),
    key("sink.topic_check", Kind::Choice(&["fail", "warn"]), Some("fail"), "kafka: what a replay topic whose settings would delete, reject or rewrite this replay's messages does to a run: fail (exit 8, nothing sent) or warn (say so and publish)").for_sinks(&["kafka"]),
    key("sink.partitioning", Kind::Choice(&["source", "single", "key"]), Some("source"), "kafka: source (the record's original partition), single (partition 0, total order) or key (murmur2 of the message key, as Java clients)").for_sinks(&["kafka"]),
    key("sink.max_messages_per_sec", Kind::Count, None, "kafka: publish at most this many messages per second").for_sinks(&["kafka"]),
    key("sink.provenance", Kind::Flag, Some("true"), "kafka: c2k-replay, c2k-seq and c2k-source-* headers on every message, which let a rerun account for what the topic holds (--resume); false publishes only into an empty topic").for_sinks(&["kafka"]),
    key("sink.transactions", Kind::Flag, Some("false"), "kafka: publish in transactions (transactional.id from the replay's identity), so read_committed consumers never see a partial or repeated chunk across a crash and --resume").for_sinks(&["kafka"]),
    key("sink.transaction_messages", Kind::Count, Some("100000"), "kafka: messages per transaction with sink.transactions: true").for_sinks(&["kafka"]),
    key("sink.zookeeper", Kind::Text, None, "kafka: the replay cluster's ZooKeeper (connect string with optional chroot) for brokers older than 0.11: c2k creates the replay topic there when the brokers lack CreateTopics (before 0.10.1) and keeps the replay's identity there (/c2k/replays/<topic>), which is what lets a rerun or --resume account for messages without headers").for_sinks(&["kafka"]),
    key("sink.delivery_timeout", Kind::Duration, Some("120s"), "kafka: how long to wait for outstanding delivery reports before failing").for_sinks(&["kafka"]),
    key("sink.path", Kind::Path, None, "file: the output file (written under a temporary name, renamed when complete)").for_sinks(&["file"]),
    key("sink.framing", Kind::Choice(&["lines", "length-prefixed", "envelope"]), Some("lines"), "file and stdout: lines (value then newline), length-prefixed (4-byte big-endian length then value) or envelope (one JSON line per message: key, value, headers, timestamp_ms, partition; bytes as text, or as key_base64/value_base64 when not UTF-8)").for_sinks(&["file", "stdout"]),
    key("offsets.exec_dir", Kind::Path, None, "the Camus execution directory (its base/history holds each run's offsets)"),
    key("offsets.history_dir", Kind::Path, None, "where Camus runs' folders are; <exec_dir>/base/history by default"),
    key("offsets.group", Kind::Text, None, "the consumer group whose offsets of the original topic are committed"),
    key("offsets.commit", Kind::Choice(&["zookeeper", "kafka", "none"]), Some("none"), "where offsets are committed: zookeeper, kafka (group coordinator) or none"),
    key("offsets.zookeeper", Kind::Text, None, "zookeeper: connect string with optional chroot, e.g. zk1:2181,zk2:2181/kafka"),
    key("offsets.layout", Kind::Choice(&["partition", "node-partition"]), Some("partition"), "zookeeper: children named <partition> or <node>-<partition> (old consumers)"),
    key("offsets.zookeeper_sasl", Kind::Choice(&["none", "digest-md5", "gssapi"]), Some("none"), "zookeeper: SASL authentication to the ensemble: none, digest-md5 (offsets.zookeeper_username/password) or gssapi (Kerberos: the ticket cache, or offsets.zookeeper_keytab/principal); offsets.zookeeper_jaas implies it"),
    key("offsets.zookeeper_username", Kind::Text, None, "zookeeper: the digest-md5 user"),
    key("offsets.zookeeper_password", Kind::Text, None, "zookeeper: the digest-md5 password (never printed)"),
    key("offsets.zookeeper_jaas", Kind::Path, None, "zookeeper: a JAAS file whose Client section (DigestLoginModule username/password, or Krb5LoginModule keyTab/principal) gives the SASL credentials, as Java clients' java.security.auth.login.config"),
    key("offsets.zookeeper_keytab", Kind::Path, None, "zookeeper: gssapi: a keytab to log in with (kinit into a private ticket cache); without it, the current ticket cache (KRB5CCNAME)"),
    key("offsets.zookeeper_principal", Kind::Text, None, "zookeeper: gssapi: the client principal in offsets.zookeeper_keytab"),
    key("offsets.zookeeper_service", Kind::Text, Some("zookeeper"), "zookeeper: gssapi: the servers' service principal name (zookeeper/<host>@REALM)"),
    key("offsets.session_timeout", Kind::Duration, Some("10s"), "session, connect and request timeout of the offsets step (ZooKeeper and the live cluster's brokers)"),
    key("offsets.brokers", Kind::Text, None, "the live cluster (where the original topic is): kafka: the commit's brokers, sink.brokers by default; zookeeper: the brokers the live-topic check reads, those registered in offsets.zookeeper by default"),
    key("offsets.consumer", Kind::Properties, Some("{}"), "librdkafka consumer properties for the live cluster, passed through untouched (they override what c2k sets, e.g. broker.version.fallback for a 0.8/0.9 cluster); its TLS and SASL settings serve every client of the offsets step; secret values are shown as ***"),
    key("offsets.live_check", Kind::Choice(&["fail", "warn"]), Some("fail"), "before committing, the live topic is checked against the cut-off (messages gone, archive ahead, missing partitions, live group members): fail refuses the hand-off (exit 6), warn commits anyway and says what is wrong"),
];

/// The document's `sink.type` (`kafka` when unset).
pub(crate) fn sink_type(doc: &Value) -> &str {
    lookup(doc, "sink.type")
        .and_then(Value::as_str)
        .unwrap_or("kafka")
}

/// The key with this dotted path, if there is one.
pub(crate) fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// The value at a dotted path, if present.
pub(crate) fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(doc, |node, part| node.as_mapping()?.get(part))
}

/// The value at a dotted path, mutably, if present.
pub(crate) fn lookup_mut<'a>(doc: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.split('.')
        .try_fold(doc, |node, part| node.as_mapping_mut()?.get_mut(part))
}

/// Sets the value at a dotted path, creating sections on the way.
pub(crate) fn insert(doc: &mut Value, path: &str, value: Value) {
    let mut node = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        // A tagged section (`sink: !t {...}`) is its value: `is_mapping` sees through tags.
        while let Value::Tagged(tagged) = node {
            let inner = std::mem::take(&mut tagged.value);
            *node = inner;
        }
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            unreachable!("made a mapping above")
        };
        if parts.peek().is_none() {
            map.insert(Value::String(part.to_owned()), value);
            return;
        }
        node = map
            .entry(Value::String(part.to_owned()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
}

/// The document with every absent key that has a default set to it, and every absent optional key
/// set to null, so that the typed structs need no defaults of their own.
pub(crate) fn with_defaults(doc: &Value) -> Value {
    let mut filled = doc.clone();
    let sink_type = sink_type(doc).to_owned();
    for key in KEYS.iter().filter(|k| k.applies_to_sink(&sink_type)) {
        if lookup(&filled, key.path).is_some_and(|v| !v.is_null()) {
            continue;
        }
        let value = match key.default {
            Some(text) => serde_yaml::from_str(text).expect("defaults in KEYS are valid YAML"),
            None => Value::Null,
        };
        insert(&mut filled, key.path, value);
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_fits_its_kind() {
        for key in KEYS {
            if let Some(text) = key.default {
                let value: Value = serde_yaml::from_str(text).unwrap();
                assert!(
                    crate::config::validate::check_kind(key, &value).is_ok(),
                    "default of {} does not fit its kind",
                    key.path
                );
            }
        }
    }

    #[test]
    fn the_readme_documents_every_key() {
        let readme = include_str!("../../../README.md");
        for key in KEYS {
            assert!(
                readme.contains(&format!("`{}`", key.path)),
                "README.md does not document `{}`",
                key.path
            );
        }
    }

    #[test]
    fn every_key_lives_in_a_known_section() {
        for key in KEYS {
            if let Some((section, _)) = key.path.split_once('.') {
                assert!(SECTIONS.contains(&section), "{}", key.path);
            }
        }
    }
}
