//! `offsets.commit: kafka`: the offsets of modern Kafka consumers, committed through the group
//! coordinator with librdkafka.
//!
//! The group's committed offsets for the topic's partitions are fetched first; when any partition
//! already has one, nothing is committed ([`AlreadyCommitted`]). The consumer is assigned the
//! partitions (never subscribed: no rebalance, no group membership to leave) and commits
//! synchronously. `offsets.consumer` properties are passed to librdkafka untouched, after ours.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaResult, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use super::history::PartitionOffset;
use super::AlreadyCommitted;
use crate::config::Properties;
use crate::kafka::{self, Origin, Watch};

/// The group coordinator's consumer, and who it is for its errors.
struct GroupConsumer {
    consumer: BaseConsumer<Watch>,
    origin: Origin,
}

/// The offsets the group already has for `offsets`' partitions of `topic`: `(partition, offset)`,
/// empty when it has none. Reads only.
pub(crate) fn existing(
    brokers: &Brokers,
    group: &str,
    topic: &str,
    properties: &Properties,
    offsets: &[PartitionOffset],
    timeout: Duration,
) -> Result<Vec<(i32, i64)>> {
    let consumer = group_consumer(brokers, group, properties, timeout)?;
    committed(&consumer, group, topic, offsets, timeout)
}

/// The brokers of the group coordinator, and the key they come from (`offsets.brokers` or
/// `sink.brokers`).
pub(crate) struct Brokers {
    pub list: String,
    pub from: &'static str,
}

/// A consumer of the group, probed: a TLS or SASL mistake fails here, naming it.
fn group_consumer(
    brokers: &Brokers,
    group: &str,
    properties: &Properties,
    timeout: Duration,
) -> Result<GroupConsumer> {
    let config = kafka::ClientConfigBuilder::new(&brokers.list)
        .role(&[
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
        ])
        .user(properties.iter());
    let origin = Origin {
        role: format!("the offsets consumer of group {group}"),
        key: "offsets.consumer",
        brokers: brokers.list.clone(),
        brokers_from: brokers.from.to_string(),
        properties: properties.clone(),
    };
    let consumer: BaseConsumer<Watch> = kafka::create(&config, Watch::default(), &origin)?;
    kafka::probe(
        consumer.client(),
        |wait| kafka::serve_consumer(&consumer, wait),
        &config,
        &origin,
        timeout,
    )?;
    Ok(GroupConsumer { consumer, origin })
}

fn committed(
    group_consumer: &GroupConsumer,
    group: &str,
    topic: &str,
    offsets: &[PartitionOffset],
    timeout: Duration,
) -> Result<Vec<(i32, i64)>> {
    let mut partitions = TopicPartitionList::new();
    for offset in offsets {
        partitions.add_partition(topic, offset.partition);
    }
    let GroupConsumer { consumer, origin } = group_consumer;
    let brokers = &origin.brokers;
    let committed = retry_coordinator(timeout, || {
        consumer.committed_offsets(partitions.clone(), timeout)
    })
    .map_err(|e| kafka::explain(e, consumer.context(), origin))
    .with_context(|| {
        format!("cannot fetch the committed offsets of group {group} for {topic} from {brokers}")
    })?;
    let mut found: Vec<(i32, i64)> = committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(n) => Some((e.partition(), n)),
            _ => None,
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Runs `call` again while the group coordinator is moving or loading (a cluster just started,
/// a broker bounced), until `timeout`; any other error at once.
fn retry_coordinator<T>(
    timeout: Duration,
    mut call: impl FnMut() -> KafkaResult<T>,
) -> KafkaResult<T> {
    let deadline = Instant::now() + timeout;
    loop {
        match call() {
            Err(e)
                if Instant::now() < deadline
                    && matches!(
                        e.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::NotCoordinator
                                | RDKafkaErrorCode::CoordinatorLoadInProgress
                                | RDKafkaErrorCode::CoordinatorNotAvailable
                        )
                    ) =>
            {
                std::thread::sleep(Duration::from_millis(200));
            }
            done => return done,
        }
    }
}

/// Commits `offsets` of `topic` for `group` unless the group already has offsets for it.
pub(crate) fn commit(
    brokers: &Brokers,
    group: &str,
    topic: &str,
    properties: &Properties,
    offsets: &[PartitionOffset],
    timeout: Duration,
) -> Result<()> {
    let group_consumer = group_consumer(brokers, group, properties, timeout)?;
    let brokers = &brokers.list;
    let mut partitions = TopicPartitionList::new();
    for offset in offsets {
        partitions.add_partition(topic, offset.partition);
    }
    let existing: Vec<String> = committed(&group_consumer, group, topic, offsets, timeout)?
        .into_iter()
        .map(|(partition, offset)| format!("{partition}={offset}"))
        .collect();
    if !existing.is_empty() {
        return Err(AlreadyCommitted {
            location: format!(
                "Kafka group {group} on {brokers}, topic {topic} (committed: {})",
                existing.join(", ")
            ),
        }
        .into());
    }

    let mut commit = TopicPartitionList::new();
    for offset in offsets {
        commit
            .add_partition_offset(topic, offset.partition, Offset::Offset(offset.offset))
            .map_err(|e| anyhow!("{topic}/{}: {e}", offset.partition))?;
    }
    let GroupConsumer { consumer, origin } = &group_consumer;
    consumer
        .assign(&partitions)
        .with_context(|| format!("cannot assign {topic}'s partitions to group {group}"))?;
    retry_coordinator(timeout, || consumer.commit(&commit, CommitMode::Sync))
        .map_err(|e| kafka::explain(e, consumer.context(), origin))
        .with_context(|| {
            format!("cannot commit the offsets of group {group} for {topic} on {brokers}")
        })?;
    // Make sure the coordinator has them before saying so.
    let check = retry_coordinator(timeout, || {
        consumer.committed_offsets(partitions.clone(), timeout)
    })
    .with_context(|| format!("cannot read back group {group}'s offsets for {topic}"))?;
    for offset in offsets {
        let got = check
            .find_partition(topic, offset.partition)
            .map(|e| e.offset());
        if got != Some(Offset::Offset(offset.offset)) {
            bail!(
                "group {group}: {topic}/{} reads back as {got:?} after committing {}",
                offset.partition,
                offset.offset
            );
        }
    }
    Ok(())
}
