//! Brokers older than Kafka 0.11 — the clusters Camus fed. They speak message formats v0/v1: no
//! record headers (so no provenance headers), no idempotent producer, and before 0.10.1 no
//! CreateTopics. librdkafka is told so by `sink.producer`'s `api.version.request: false` and
//! `broker.version.fallback` (0.8.x, 0.9.x, 0.10.x), and so is c2k: the producer's no-loss
//! defaults change, the replay topic is created through the cluster's ZooKeeper, and the guard
//! identifies the replay by a record in ZooKeeper and by comparing bytes
//! ([`super::legacy_guard`]).

use crate::config::KafkaSinkConfig;

/// librdkafka's `broker.version.fallback` when `api.version.request` is false and none is given.
const LIBRDKAFKA_DEFAULT_FALLBACK: &str = "0.10.0";

/// What an old broker lacks, as `sink.producer` declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Legacy {
    /// The `broker.version.fallback` in force.
    pub fallback: String,
    /// Whether the brokers serve CreateTopics (0.10.1 and later).
    pub create_topics: bool,
}

/// The brokers' era from `sink.producer`: `Some` when librdkafka is told not to ask the brokers
/// their versions and to assume one before 0.11 (without `api.version.request: false`, librdkafka
/// asks, and brokers that answer are 0.10 or later).
pub(crate) fn detect(sink: &KafkaSinkConfig) -> Option<Legacy> {
    let asks = sink
        .producer
        .get("api.version.request")
        .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
    if asks {
        return None;
    }
    let fallback = sink
        .producer
        .get("broker.version.fallback")
        .map_or(LIBRDKAFKA_DEFAULT_FALLBACK, |v| v.trim())
        .to_string();
    let version = parse(&fallback);
    (version < vec![0, 11]).then(|| Legacy {
        create_topics: version >= vec![0, 10, 1],
        fallback,
    })
}

/// `0.8.2.2` → `[0, 8, 2, 2]` (a part that is not a number counts as 0).
fn parse(version: &str) -> Vec<u32> {
    version
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// The no-loss defaults such brokers allow, set over [`super::config::PRODUCER_DEFAULTS`] (the
/// user's `sink.producer` still comes last and wins): no idempotence (it needs 0.11), every
/// replica's acknowledgement, one request in flight per broker (a retry can then neither reorder
/// nor overtake), and retries until `message.timeout.ms`.
pub(crate) const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "false"),
    ("acks", "all"),
    ("max.in.flight.requests.per.connection", "1"),
    ("retries", "2147483647"),
];

/// What changes on such brokers, said once on stderr when the sink opens.
pub(crate) fn notice(legacy: &Legacy, zookeeper: bool) -> String {
    let guard = if zookeeper {
        "Reruns are still guarded: the replay's identity is kept in ZooKeeper (sink.zookeeper, \
         /c2k/replays/<topic>) and each partition's last message is compared byte for byte with \
         this replay's message at that position before anything more is sent to it, so a rerun \
         is refused and --resume sends exactly what is missing"
    } else {
        "Without sink.zookeeper c2k keeps no record of which replay wrote the topic: only an empty \
         topic is published into, and --resume cannot be honoured (set sink.zookeeper to the \
         cluster's ZooKeeper)"
    };
    format!(
        "c2k: note: sink.producer says the brokers are older than Kafka 0.11 \
         (api.version.request: false, broker.version.fallback: {}): their messages carry no \
         headers and there is no idempotent producer. The replay is published without c2k-* \
         headers, with acks=all, one request in flight and retries; a batch a broker wrote but \
         did not acknowledge before a crash can be written twice by the retry, and is then \
         caught (offsets vs messages) and fails the run, instead of being prevented. {guard}.",
        legacy.fallback
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pipeline;

    fn sink(producer: &str) -> KafkaSinkConfig {
        let yaml = format!(
            "topic: T\nsource: {{ dest_dir: /nowhere }}\nsink: {{ brokers: b, producer: {producer} }}\n"
        );
        let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        Pipeline::from_document(&doc)
            .unwrap()
            .kafka_sink()
            .unwrap()
            .clone()
    }

    #[test]
    fn the_fallback_decides_what_the_brokers_lack() {
        assert_eq!(detect(&sink("{}")), None);
        assert_eq!(
            detect(&sink("{ broker.version.fallback: '0.8.2.2' }")),
            None,
            "librdkafka asks the brokers unless api.version.request is false"
        );
        let old = detect(&sink(
            "{ api.version.request: 'false', broker.version.fallback: '0.8.2.2' }",
        ))
        .unwrap();
        assert_eq!(
            (old.fallback.as_str(), old.create_topics),
            ("0.8.2.2", false)
        );
        let default = detect(&sink("{ api.version.request: 'false' }")).unwrap();
        assert_eq!(
            (default.fallback.as_str(), default.create_topics),
            ("0.10.0", false)
        );
        let with_create = detect(&sink(
            "{ api.version.request: 'false', broker.version.fallback: '0.10.2.1' }",
        ))
        .unwrap();
        assert!(with_create.create_topics);
        assert_eq!(
            detect(&sink(
                "{ api.version.request: 'false', broker.version.fallback: '2.1.1' }"
            )),
            None
        );
    }
}
