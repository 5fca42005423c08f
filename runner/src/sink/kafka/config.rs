//! The librdkafka configuration of the replay producer: our no-loss defaults, then the user's
//! `sink.producer` map on top, untouched (every property a Kafka user knows works, and wins).

use anyhow::{Context, Result};
use rdkafka::ClientConfig;

use crate::config::KafkaSinkConfig;
use crate::kafka::{ClientConfigBuilder, Origin};

/// Defaults for a replay that must lose nothing, duplicate nothing and keep each partition's order:
/// - `enable.idempotence` (implies `acks=all`, retries, and at most 5 requests in flight per
///   partition with sequence numbers), so a broker failover neither loses nor reorders nor
///   duplicates;
/// - `compression.type=lz4`: cheap on the CPU, and replays are large;
/// - `linger.ms`/`batch.size`/`batch.num.messages`: big batches. Measured with
///   `runner/examples/publish_bench.rs` (1M messages of 300 bytes, 4 partitions, tansu, 2 shared
///   cores): linger 5 ms ~455k msgs/s, 20 ms ~404k, 100 ms ~367k; the 1 MB batches carry ~3,000
///   such messages;
/// - `queue.buffering.max.*`: room for a few format-plugin batches in flight, so `send` rarely
///   waits; when it is full, the sink waits (never drops).
pub(crate) const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("compression.type", "lz4"),
    ("linger.ms", "5"),
    ("batch.size", "1048576"),
    ("batch.num.messages", "10000"),
    ("queue.buffering.max.messages", "500000"),
    ("queue.buffering.max.kbytes", "524288"),
];

/// Properties that make no sense for the admin client used to create the topic (it would start
/// an idempotent or transactional producer of its own).
const PRODUCE_ONLY: &[&str] = &["enable.idempotence", "transactional.id"];

/// The `sink.brokers` of a Kafka sink, or an error saying the key is needed.
pub(crate) fn brokers(sink: &KafkaSinkConfig) -> Result<&str> {
    sink.brokers
        .as_deref()
        .filter(|b| !b.trim().is_empty())
        .context("sink.brokers is required for sink.type: kafka (bootstrap brokers, host:port[,host:port...])")
}

/// Who a client of the sink is, for its errors: its properties come from `sink.producer`.
pub(crate) fn origin(sink: &KafkaSinkConfig, role: &str) -> Result<Origin> {
    Ok(Origin {
        role: role.to_string(),
        key: "sink.producer",
        brokers: brokers(sink)?.to_string(),
        brokers_from: "sink.brokers".to_string(),
        properties: sink.producer.clone(),
    })
}

/// The producer's configuration: defaults, then `sink.producer` (which may even override
/// `bootstrap.servers`).
pub fn producer_config(sink: &KafkaSinkConfig) -> Result<ClientConfig> {
    let mut config = ClientConfigBuilder::new(brokers(sink)?).role(PRODUCER_DEFAULTS);
    if super::legacy::detect(sink).is_some() {
        config = config.role(super::legacy::PRODUCER_DEFAULTS);
    }
    Ok(config.user(sink.producer.iter()))
}

/// The admin client's configuration: the same connection settings (security, SASL, timeouts...)
/// without what would make it a producer.
pub(crate) fn admin_config(sink: &KafkaSinkConfig) -> Result<ClientConfig> {
    let connection = sink
        .producer
        .iter()
        .filter(|(name, _)| !PRODUCE_ONLY.contains(&name.as_str()));
    Ok(ClientConfigBuilder::new(brokers(sink)?).user(connection))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pipeline;

    fn pipeline(sink: &str) -> Pipeline {
        let yaml = format!("topic: T\nsource: {{ dest_dir: /nowhere }}\nsink: {sink}\n");
        let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        Pipeline::from_document(&doc).unwrap()
    }

    #[test]
    fn defaults_are_no_loss_and_user_properties_win() {
        let p = pipeline(
            "{ brokers: 'b:9092', producer: { linger.ms: '1', acks: '1', client.id: me } }",
        );
        let config = producer_config(p.kafka_sink().unwrap()).unwrap();
        assert_eq!(config.get("bootstrap.servers"), Some("b:9092"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(config.get("compression.type"), Some("lz4"));
        assert_eq!(config.get("linger.ms"), Some("1"));
        assert_eq!(config.get("acks"), Some("1"));
        assert_eq!(config.get("client.id"), Some("me"));
    }

    #[test]
    fn brokers_older_than_0_11_get_the_no_loss_defaults_they_allow() {
        let p = pipeline(
            "{ brokers: b, producer: { api.version.request: 'false', broker.version.fallback: '0.8.2.2', retries: '5' } }",
        );
        let config = producer_config(p.kafka_sink().unwrap()).unwrap();
        assert_eq!(config.get("enable.idempotence"), Some("false"));
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(
            config.get("max.in.flight.requests.per.connection"),
            Some("1")
        );
        assert_eq!(
            config.get("retries"),
            Some("5"),
            "the user's properties still win"
        );
    }

    #[test]
    fn admin_config_keeps_connection_settings_only() {
        let p = pipeline(
            "{ brokers: 'b:9092', producer: { security.protocol: ssl, transactional.id: x, enable.idempotence: 'true' } }",
        );
        let config = admin_config(p.kafka_sink().unwrap()).unwrap();
        assert_eq!(config.get("security.protocol"), Some("ssl"));
        assert_eq!(config.get("transactional.id"), None);
        assert_eq!(config.get("enable.idempotence"), None);
    }

    #[test]
    fn brokers_are_required() {
        let p = pipeline("{ type: kafka }");
        let error = producer_config(p.kafka_sink().unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("sink.brokers is required"), "{error}");
    }
}
