//! The replay topic: how many partitions it needs, and creating it when it is missing.
//!
//! Everything here happens before the first message is sent, so a topic that cannot take the
//! replay (too few partitions for `partitioning: source`) fails the run with nothing published.

use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::Metadata;
use rdkafka::producer::{BaseProducer, Producer};

use crate::config::{Partitioning, Pipeline};
use crate::kafka::{self, Origin, Watch};
use crate::sink::SourceFacts;

/// How long metadata requests, topic creation and waiting for the new topic's leaders may take
/// (and the brokers to answer the producer's probe at all).
pub(crate) const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What the sink needs of the replay topic, decided from the pipeline and the source alone (the
/// dry run prints it without a broker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicPlan {
    pub topic: String,
    /// Partitions it is created with if missing: `sink.partitions`, or as many as the source had
    /// (highest source partition + 1, at least 1).
    pub partitions: i32,
    /// The fewest partitions an existing topic may have: highest source partition + 1 for
    /// `partitioning: source`, 1 otherwise.
    pub needed: i32,
    /// `sink.replication_factor`; `None`: the cluster's own default.
    pub replication_factor: Option<i32>,
    /// The topic configs it is created with ([`super::topic::creation_configs`]).
    pub configs: BTreeMap<String, String>,
}

/// Decides the replay topic's partitions; fails when `sink.partitions` is too few for
/// `partitioning: source`.
pub(crate) fn plan_topic(pipeline: &Pipeline, facts: &SourceFacts) -> Result<TopicPlan> {
    let sink = pipeline.kafka_sink()?;
    let source_count = facts
        .partitions
        .iter()
        .max()
        .map_or(1, |max| i64::from(*max) + 1);
    let source_count = i32::try_from(source_count).context("source partition number too large")?;
    let needed = match sink.partitioning {
        Partitioning::Source => source_count,
        Partitioning::Single | Partitioning::Key => 1,
    };
    let partitions = match sink.partitions {
        Some(n) => i32::try_from(n).ok().filter(|n| *n >= 1).with_context(|| {
            format!(
                "sink.partitions: {n} is not a valid partition count (1 to {})",
                i32::MAX
            )
        })?,
        None => source_count,
    };
    if partitions < needed {
        bail!(
            "sink.partitions is {partitions} but partitioning: source needs at least {needed} \
             (the source has partitions up to {}); raise sink.partitions or use partitioning: key or single",
            needed - 1
        );
    }
    Ok(TopicPlan {
        topic: pipeline.replay_topic(),
        partitions,
        needed,
        replication_factor: sink.replication_factor,
        configs: super::topic::creation_configs(sink, super::legacy::detect(sink).is_some()),
    })
}

/// The admin client, once the brokers answered a client with its settings ([`kafka::probe`]): a
/// TLS or SASL mistake fails here, before anything is read from the archive. (Nothing polls an
/// admin client's main queue, so its own context never hears librdkafka's reports: the probe is a
/// plain producer-type client, as the admin client is, with the same configuration.)
pub(crate) fn connect(
    config: &rdkafka::ClientConfig,
    origin: &Origin,
) -> Result<AdminClient<Watch>> {
    let probe: BaseProducer<Watch> = kafka::create(config, Watch::default(), origin)?;
    kafka::probe(
        probe.client(),
        |wait| probe.poll(wait),
        config,
        origin,
        ADMIN_TIMEOUT,
    )?;
    drop(probe);
    kafka::create(config, Watch::default(), origin)
}

/// How a missing replay topic is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Creation {
    /// CreateTopics (Kafka 0.10.1 and later).
    Admin,
    /// Through the cluster's ZooKeeper (`sink.zookeeper`), for brokers without CreateTopics.
    ZooKeeper(String),
    /// Brokers without CreateTopics and no `sink.zookeeper`: the topic must exist. The
    /// `broker.version.fallback` that says so.
    Refused(String),
}

/// The replay topic as found or made by [`ensure_topic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ensured {
    pub partitions: i32,
    /// Whether this run created it.
    pub created: bool,
    /// The fewest replicas any of its partitions has, as the metadata read showed.
    pub replicas: Option<i32>,
}

/// Makes sure the replay topic exists with enough partitions, creating it if missing.
pub(crate) fn ensure_topic(
    admin: &AdminClient<Watch>,
    plan: &TopicPlan,
    origin: &Origin,
    creation: &Creation,
) -> Result<Ensured> {
    let brokers = origin.brokers.as_str();
    if let Some(found) = shape(admin, &plan.topic, origin)? {
        let count = found.partitions;
        if count < plan.needed {
            bail!(
                "replay topic {} at {brokers} has {count} partitions but partitioning: source needs \
                 {} (the source has partitions up to {}); nothing was sent. Add partitions to the \
                 topic, delete it so that it is created again, or use partitioning: key or single",
                plan.topic,
                plan.needed,
                plan.needed - 1
            );
        }
        tracing::info!(topic = %plan.topic, partitions = count, "replay topic exists");
        return Ok(Ensured {
            partitions: count,
            created: false,
            replicas: found.replicas,
        });
    }
    match creation {
        Creation::Admin => create_topic(admin, plan, origin)?,
        Creation::ZooKeeper(connect) => super::zookeeper::create_topic(connect, plan)?,
        Creation::Refused(fallback) => bail!(
            "replay topic {topic} does not exist at {brokers}, and brokers older than 0.10.1 \
             (sink.producer broker.version.fallback: {fallback}) cannot create topics for a \
             client; nothing was sent. Set sink.zookeeper to the cluster's ZooKeeper (c2k then \
             creates it there, as Kafka's own tools do), or create it yourself: \
             bin/kafka-topics.sh --zookeeper ZK --create --topic {topic} --partitions {} \
             --replication-factor {} --config retention.ms={}",
            plan.partitions,
            plan.replication_factor.unwrap_or(1),
            i64::MAX,
            topic = plan.topic
        ),
    }
    let replicas = wait_for_leaders(admin, plan, origin)?;
    Ok(Ensured {
        partitions: plan.partitions,
        created: true,
        replicas,
    })
}

fn create_topic(admin: &AdminClient<Watch>, plan: &TopicPlan, origin: &Origin) -> Result<()> {
    let brokers = origin.brokers.as_str();
    let replicas = match plan.replication_factor {
        Some(n) => n,
        // KIP-464 (Kafka 2.4): -1 asks for the cluster's default.replication.factor.
        None => match create(admin, plan, -1, origin)? {
            Ok(()) => return Ok(()),
            Err(code) => {
                let default = cluster_replication_factor(admin, origin);
                tracing::info!(
                    %code,
                    ?default,
                    "the brokers take no replication factor -1 (older than Kafka 2.4): their \
                     default.replication.factor, read, is given instead"
                );
                default.unwrap_or_else(|why| {
                    eprintln!(
                        "c2k: warning: cannot read the cluster's default.replication.factor \
                         ({why}): replay topic {} is created with replication factor 1; set \
                         sink.replication_factor for more copies",
                        plan.topic
                    );
                    1
                })
            }
        },
    };
    if let Err(code) = create(admin, plan, replicas, origin)? {
        let why = match code {
            RDKafkaErrorCode::InvalidConfig | RDKafkaErrorCode::PolicyViolation => {
                format!(" ({})", refused_configs(admin, plan, replicas, origin))
            }
            RDKafkaErrorCode::InvalidReplicationFactor => {
                " (sink.replication_factor: more than the cluster's brokers?)".to_string()
            }
            _ => String::new(),
        };
        bail!(
            "cannot create replay topic {} at {brokers} with {} partitions, replication factor \
             {replicas} and topic configs {}: {code}{why}",
            plan.topic,
            plan.partitions,
            describe_configs(&plan.configs),
        );
    }
    Ok(())
}

/// Which of the topic configs the brokers refuse, each asked alone (CreateTopics with
/// `validate_only`, which creates nothing): the broker's answer names the bad one, which the
/// error of a whole request does not.
fn refused_configs(
    admin: &AdminClient<Watch>,
    plan: &TopicPlan,
    replicas: i32,
    origin: &Origin,
) -> String {
    let mut refused = Vec::new();
    for (name, value) in &plan.configs {
        let alone = TopicPlan {
            configs: BTreeMap::from([(name.clone(), value.clone())]),
            ..plan.clone()
        };
        if let Ok(Err(code)) = create_as(admin, &alone, replicas, origin, true) {
            refused.push(format!("{name}={value}: {code}"));
        }
    }
    if refused.is_empty() {
        "the brokers refuse these configs together".to_string()
    } else {
        format!(
            "the brokers refuse {} — from sink.topic_config, or c2k's own replay configs where \
             sink.topic_config does not set them",
            refused.join(", ")
        )
    }
}

/// `name=value, ...`.
pub(crate) fn describe_configs(configs: &BTreeMap<String, String>) -> String {
    configs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One CreateTopics request: `Ok(Err(code))` when the broker refuses this topic.
fn create(
    admin: &AdminClient<Watch>,
    plan: &TopicPlan,
    replicas: i32,
    origin: &Origin,
) -> Result<std::result::Result<(), RDKafkaErrorCode>> {
    create_as(admin, plan, replicas, origin, false)
}

/// [`create`], or with `validate_only` the brokers' verdict on it without creating anything.
fn create_as(
    admin: &AdminClient<Watch>,
    plan: &TopicPlan,
    replicas: i32,
    origin: &Origin,
    validate_only: bool,
) -> Result<std::result::Result<(), RDKafkaErrorCode>> {
    let mut topic = NewTopic::new(
        &plan.topic,
        plan.partitions,
        TopicReplication::Fixed(replicas),
    );
    for (name, value) in &plan.configs {
        topic = topic.set(name, value);
    }
    let options = AdminOptions::new()
        .request_timeout(Some(ADMIN_TIMEOUT))
        .operation_timeout(Some(ADMIN_TIMEOUT))
        .validate_only(validate_only);
    let results = match futures::executor::block_on(admin.create_topics([&topic], &options)) {
        // librdkafka sends a replication factor of -1 only with CreateTopics v4 (Kafka 2.4).
        Err(rdkafka::error::KafkaError::AdminOp(RDKafkaErrorCode::UnsupportedFeature))
            if replicas == -1 =>
        {
            return Ok(Err(RDKafkaErrorCode::UnsupportedFeature));
        }
        other => other,
    }
    .map_err(|e| kafka::explain(e, admin.inner().context(), origin))
    .with_context(|| {
        format!(
            "cannot create replay topic {} at {}",
            plan.topic, origin.brokers
        )
    })?;
    for result in results {
        match result {
            Ok(_) => {}
            // Created by someone else in the meantime: the leader wait and the settings check
            // that follow look at it.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Ok(Err(code)),
        }
    }
    if !validate_only {
        tracing::info!(
            topic = %plan.topic,
            partitions = plan.partitions,
            replicas,
            "replay topic created"
        );
    }
    Ok(Ok(()))
}

/// The cluster's `default.replication.factor`, as a broker describes its own configuration.
fn cluster_replication_factor(
    admin: &AdminClient<Watch>,
    origin: &Origin,
) -> std::result::Result<i32, String> {
    let metadata = fetch_metadata(admin, origin)
        .map_err(|e| format!("{e:#}"))?
        .ok_or("the cluster answered no metadata")?;
    let broker = metadata
        .brokers()
        .first()
        .ok_or("the metadata names no broker")?
        .id();
    let configs = describe(admin, ResourceSpecifier::Broker(broker))?;
    configs
        .get("default.replication.factor")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("broker {broker} describes no default.replication.factor"))
}

/// A resource's effective configuration (DescribeConfigs); `Err` says why it cannot be read.
fn describe(
    admin: &AdminClient<Watch>,
    resource: ResourceSpecifier<'_>,
) -> std::result::Result<BTreeMap<String, String>, String> {
    let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
    let results = futures::executor::block_on(admin.describe_configs([&resource], &options))
        .map_err(|e| e.to_string())?;
    let resource = results
        .into_iter()
        .next()
        .ok_or("the broker answered nothing")?
        .map_err(|code| code.to_string())?;
    Ok(resource
        .entries
        .into_iter()
        .filter_map(|entry| Some((entry.name, entry.value?)))
        .collect())
}

/// What the brokers say of the replay topic: its effective configs, with the fewest replicas a
/// partition has (`replicas`, from the metadata already read). `Ok(Err(why))` when its
/// configuration cannot be read (brokers without DescribeConfigs, a principal not allowed to
/// describe it).
pub(crate) fn topic_settings(
    admin: &AdminClient<Watch>,
    topic: &str,
    replicas: Option<i32>,
) -> std::result::Result<super::topic::Settings, String> {
    describe(admin, ResourceSpecifier::Topic(topic)).map(|configs| super::topic::Settings {
        configs,
        replication_factor: replicas,
    })
}

/// A created topic is usable once every partition has a leader; brokers take a moment.
fn wait_for_leaders(
    admin: &AdminClient<Watch>,
    plan: &TopicPlan,
    origin: &Origin,
) -> Result<Option<i32>> {
    let brokers = origin.brokers.as_str();
    let start = Instant::now();
    loop {
        let metadata = fetch_metadata(admin, origin)?;
        let ready = metadata
            .iter()
            .flat_map(|m| m.topics())
            .find(|t| t.name() == plan.topic)
            .filter(|t| {
                t.error().is_none()
                    && t.partitions().len() >= plan.needed as usize
                    && t.partitions()
                        .iter()
                        .all(|p| p.error().is_none() && p.leader() >= 0)
            });
        if let Some(topic) = ready {
            tracing::debug!(topic = %plan.topic, "every partition has a leader");
            return Ok(fewest_replicas(topic));
        }
        if start.elapsed() > ADMIN_TIMEOUT {
            bail!(
                "replay topic {} at {brokers} was created (or found in ZooKeeper) but its \
                 partitions have no leader after {:?}; nothing was sent. A broker restarting, or a \
                 cluster without an active controller, serves no metadata yet: run again once it \
                 does",
                plan.topic,
                ADMIN_TIMEOUT
            );
        }
        // Leaders are elected within milliseconds on a healthy cluster; metadata is cheap to ask.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A topic's partitions and the fewest replicas any of them has, as the metadata shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub partitions: i32,
    pub replicas: Option<i32>,
}

fn fewest_replicas(topic: &rdkafka::metadata::MetadataTopic) -> Option<i32> {
    topic
        .partitions()
        .iter()
        .map(|p| p.replicas().len() as i32)
        .min()
}

/// The topic's partition count, or `None` when it does not exist.
pub(crate) fn partition_count(
    admin: &AdminClient<Watch>,
    topic: &str,
    origin: &Origin,
) -> Result<Option<i32>> {
    Ok(shape(admin, topic, origin)?.map(|found| found.partitions))
}

/// The topic's [`Shape`], or `None` when it does not exist.
///
/// Asks for every topic's metadata rather than this one's: a metadata request naming a missing
/// topic makes brokers with `auto.create.topics.enable` create it with their default partitions.
pub(crate) fn shape(
    admin: &AdminClient<Watch>,
    topic: &str,
    origin: &Origin,
) -> Result<Option<Shape>> {
    let brokers = origin.brokers.as_str();
    let Some(metadata) = fetch_metadata(admin, origin)? else {
        return Ok(None);
    };
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    match found.error() {
        None => Ok(Some(Shape {
            partitions: found.partitions().len() as i32,
            replicas: fewest_replicas(found),
        })),
        Some(error) => {
            let code = RDKafkaErrorCode::from(error);
            if code == RDKafkaErrorCode::UnknownTopicOrPartition {
                Ok(None)
            } else {
                bail!("cannot read the metadata of replay topic {topic} at {brokers}: {code}")
            }
        }
    }
}

/// Every topic's metadata; `None` from a cluster without topics (0.8 brokers then answer with
/// nothing at all, [`kafka::is_empty_cluster`]).
fn fetch_metadata(admin: &AdminClient<Watch>, origin: &Origin) -> Result<Option<Metadata>> {
    match admin.inner().fetch_metadata(None, ADMIN_TIMEOUT) {
        Ok(metadata) => Ok(Some(metadata)),
        Err(e) if kafka::is_empty_cluster(&e) => Ok(None),
        Err(e) => Err(e),
    }
    .map_err(|e| kafka::explain(e, admin.inner().context(), origin))
    .with_context(|| {
        format!(
            "cannot reach the Kafka brokers {} (metadata request)",
            origin.brokers
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(sink: &str) -> Pipeline {
        let yaml = format!("topic: PAGE_VIEWS\nsource: {{ dest_dir: /nowhere }}\nsink: {sink}\n");
        let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        Pipeline::from_document(&doc).unwrap()
    }

    fn facts(partitions: &[u32]) -> SourceFacts {
        SourceFacts {
            partitions: partitions.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn default_partitions_are_highest_source_partition_plus_one() {
        let plan = plan_topic(&pipeline("{ brokers: b }"), &facts(&[0, 2, 5])).unwrap();
        assert_eq!(plan.topic, "PAGE_VIEWS_REPLAY");
        assert_eq!(
            (plan.partitions, plan.needed, plan.replication_factor),
            (6, 6, None)
        );
        assert_eq!(plan.configs["retention.ms"], "-1");
    }

    #[test]
    fn no_known_source_partition_means_one_partition() {
        let plan = plan_topic(&pipeline("{ brokers: b }"), &facts(&[])).unwrap();
        assert_eq!((plan.partitions, plan.needed), (1, 1));
    }

    #[test]
    fn single_and_key_need_one_partition_whatever_the_source() {
        for mode in ["single", "key"] {
            let p = pipeline(&format!(
                "{{ brokers: b, partitioning: {mode}, partitions: 2 }}"
            ));
            let plan = plan_topic(&p, &facts(&[0, 7])).unwrap();
            assert_eq!((plan.partitions, plan.needed), (2, 1), "{mode}");
        }
    }

    #[test]
    fn too_few_configured_partitions_for_source_partitioning_is_an_error() {
        let p = pipeline("{ brokers: b, partitions: 3, topic: R }");
        let error = plan_topic(&p, &facts(&[0, 4])).unwrap_err().to_string();
        assert!(
            error.contains("sink.partitions is 3") && error.contains("at least 5"),
            "{error}"
        );
    }
}
