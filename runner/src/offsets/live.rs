//! What the live cluster says about the original topic and the consumer group, read just before
//! the hand-off: every partition's log start offset and high watermark, and the group's running
//! members. It only reads; [`super::handoff`] judges what it read against the cut-off.
//!
//! Which cluster: `offsets.brokers`, else `sink.brokers` (`commit: kafka` commits there too);
//! for `commit: zookeeper` without `offsets.brokers`, the brokers registered in that same ZooKeeper
//! (`<chroot>/brokers/ids/<id>`: `endpoints`, or `host`/`port` in old registrations). A
//! registration of version 1 (Kafka 0.8) or 2 (0.9) means brokers that cannot answer
//! ApiVersions: librdkafka is then given `api.version.request=false` and the matching
//! `broker.version.fallback`. `offsets.consumer` properties come after c2k's and win.
//!
//! Group members: with `commit: kafka` the group coordinator's (ListGroups, DescribeGroups); with
//! `commit: zookeeper` the children of `<chroot>/consumers/<group>/ids`, where old consumers
//! register while they run.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaRespErr;
use serde_json::Value;
use zookeeper_client::{Client, Error as ZkError};

use crate::config::{CommitMode, Pipeline, Properties};
use crate::kafka::{self, Origin, Watch};

/// The live cluster, as c2k talks to it.
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    /// `host:port[,host:port...]`
    pub brokers: String,
    /// Where the broker list came from: `offsets.brokers`, `sink.brokers`, or the ZooKeeper
    /// path the brokers are registered under.
    pub origin: String,
    /// The `broker.version.fallback` c2k set for an old cluster's registrations, if it did.
    pub fallback: Option<&'static str>,
    /// librdkafka properties: c2k's, then `offsets.consumer` (shown only redacted).
    pub properties: Properties,
    /// `offsets.consumer` alone, as the user gave it (for hints in errors).
    pub given: Properties,
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "brokers {} ({}", self.brokers, self.origin)?;
        if let Some(version) = self.fallback {
            write!(
                f,
                "; old registrations: api.version.request=false, broker.version.fallback={version}"
            )?;
        }
        write!(f, ")")
    }
}

/// One partition of the live topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Watermarks {
    pub partition: i32,
    /// The oldest offset still in the log.
    pub log_start: i64,
    /// The offset the next message will get.
    pub high_watermark: i64,
}

/// The group's members running now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Members {
    /// Where they were looked up: the group on the coordinator, or the ZooKeeper path.
    pub location: String,
    /// One description per member (member or consumer id, client, host).
    pub members: Vec<String>,
}

/// What the live cluster said.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub cluster: Cluster,
    /// By partition; `None` when the topic does not exist there.
    pub partitions: Option<Vec<Watermarks>>,
    /// `None` when no group was looked up (no `offsets.group`, or `commit: none`).
    pub members: Option<Members>,
}

/// Reads the live topic (and, given a group, its members). An error names what was tried: the
/// brokers and where they came from, or the ZooKeeper path.
pub(crate) fn read(pipeline: &Pipeline, topic: &str, group: Option<&str>) -> Result<Snapshot> {
    let offsets = &pipeline.offsets;
    let timeout = offsets.session_timeout.duration();
    let (cluster, zookeeper_members) = match offsets.commit {
        CommitMode::Zookeeper => {
            let connect = offsets
                .zookeeper
                .as_deref()
                .context("offsets.zookeeper is not set")?;
            let auth = crate::zookeeper::ZkAuth::from_config(offsets)?;
            let view = read_zookeeper(connect, &auth, group, offsets.brokers.is_none(), timeout)?;
            let cluster = match &offsets.brokers {
                Some(brokers) => Cluster::new(brokers, "offsets.brokers", None, pipeline),
                None => view.cluster(connect, pipeline)?,
            };
            (cluster, view.members)
        }
        CommitMode::Kafka | CommitMode::None => {
            let cluster = match (&offsets.brokers, pipeline.offsets_brokers()) {
                (Some(brokers), _) => Cluster::new(brokers, "offsets.brokers", None, pipeline),
                (None, Some(brokers)) => Cluster::new(&brokers, "sink.brokers", None, pipeline),
                (None, None) => bail!(
                    "no live cluster to read: neither offsets.brokers nor sink.brokers is set"
                ),
            };
            (cluster, None)
        }
    };
    let consumer = cluster.consumer(timeout)?;
    let partitions = watermarks(&consumer, &cluster, topic, timeout)?;
    let members = match (offsets.commit, group) {
        (CommitMode::Kafka, Some(group)) => {
            Some(coordinator_members(&consumer, &cluster, group, timeout)?)
        }
        (CommitMode::Zookeeper, _) => zookeeper_members,
        _ => None,
    };
    Ok(Snapshot {
        cluster,
        partitions,
        members,
    })
}

impl Cluster {
    fn new(
        brokers: &str,
        origin: &str,
        fallback: Option<&'static str>,
        pipeline: &Pipeline,
    ) -> Cluster {
        let mut properties = BTreeMap::new();
        if let Some(version) = fallback {
            properties.insert("api.version.request".to_string(), "false".to_string());
            properties.insert("broker.version.fallback".to_string(), version.to_string());
        }
        // Passed through untouched, after ours: a user's setting always wins.
        for (name, value) in &pipeline.offsets.consumer {
            properties.insert(name.clone(), value.clone());
        }
        Cluster {
            brokers: brokers.to_string(),
            origin: origin.to_string(),
            fallback,
            properties: properties.into(),
            given: pipeline.offsets.consumer.clone(),
        }
    }

    /// A consumer outside any group: it reads metadata, watermarks and group descriptions, and
    /// never joins, commits or fetches. Probed: a TLS or SASL mistake fails here, naming it.
    fn consumer(&self, timeout: Duration) -> Result<BaseConsumer<Watch>> {
        let config = kafka::ClientConfigBuilder::new(&self.brokers)
            .role(&[
                ("enable.auto.commit", "false"),
                ("allow.auto.create.topics", "false"),
            ])
            .user(self.properties.iter());
        let origin = self.client_origin();
        let consumer: BaseConsumer<Watch> = kafka::create(&config, Watch::default(), &origin)?;
        kafka::probe(
            consumer.client(),
            |wait| kafka::serve_consumer(&consumer, wait),
            &config,
            &origin,
            timeout,
        )?;
        Ok(consumer)
    }

    fn client_origin(&self) -> Origin {
        Origin {
            role: "the live-topic check".to_string(),
            key: "offsets.consumer",
            brokers: self.brokers.clone(),
            brokers_from: self.origin.clone(),
            properties: self.given.clone(),
        }
    }
}

fn watermarks(
    consumer: &BaseConsumer<Watch>,
    cluster: &Cluster,
    topic: &str,
    timeout: Duration,
) -> Result<Option<Vec<Watermarks>>> {
    // The metadata of every topic: asking for one by name would create it on a broker with
    // auto.create.topics.enable (Metadata requests before v4 cannot say not to).
    let metadata = consumer
        .fetch_metadata(None, timeout)
        .with_context(|| format!("cannot read the metadata of {cluster} within {timeout:?}"))?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    match found.error() {
        None => {}
        Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) => return Ok(None),
        Some(error) => bail!("{cluster}: the metadata of topic {topic} is an error: {error:?}"),
    }
    let mut partitions: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    partitions.sort_unstable();
    partitions
        .into_iter()
        .map(|partition| {
            let (log_start, high_watermark) = consumer
                .fetch_watermarks(topic, partition, timeout)
                .with_context(|| {
                    format!(
                        "cannot read the log start and high watermark of {topic}/{partition} \
                         from {cluster} within {timeout:?}"
                    )
                })?;
            Ok(Watermarks {
                partition,
                log_start,
                high_watermark,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn coordinator_members(
    consumer: &BaseConsumer<Watch>,
    cluster: &Cluster,
    group: &str,
    timeout: Duration,
) -> Result<Members> {
    let list = consumer
        .fetch_group_list(Some(group), timeout)
        .with_context(|| {
            format!("cannot describe consumer group {group} on {cluster} within {timeout:?}")
        })?;
    let members = list
        .groups()
        .iter()
        .filter(|g| g.name() == group)
        .flat_map(|g| g.members())
        .map(|m| {
            format!(
                "{} (client {} on {})",
                m.id(),
                m.client_id(),
                m.client_host()
            )
        })
        .collect();
    Ok(Members {
        location: format!("group {group} on {}", cluster.brokers),
        members,
    })
}

/// What ZooKeeper holds about the live cluster and the group.
struct ZooKeeperView {
    /// Where the registrations are (`<chroot>/brokers/ids`).
    ids_path: String,
    registrations: Vec<Registration>,
    members: Option<Members>,
}

/// One broker's registration under `/brokers/ids`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Registration {
    /// The registration format: 1 is Kafka 0.8, 2 is 0.9, 3 and later 0.10 and later.
    version: i64,
    /// `host:port` to bootstrap from.
    address: String,
}

impl ZooKeeperView {
    /// The cluster the registrations describe; its fallback is the oldest registration's.
    fn cluster(&self, connect: &str, pipeline: &Pipeline) -> Result<Cluster> {
        if self.registrations.is_empty() {
            bail!(
                "no brokers are registered in ZooKeeper {connect} under {}",
                self.ids_path
            );
        }
        let oldest = self.registrations.iter().map(|r| r.version).min();
        let fallback = match oldest {
            Some(1) => Some("0.8.2.2"),
            Some(2) => Some("0.9.0.1"),
            _ => None,
        };
        let brokers: Vec<&str> = self
            .registrations
            .iter()
            .map(|r| r.address.as_str())
            .collect();
        Ok(Cluster::new(
            &brokers.join(","),
            &format!("registered in ZooKeeper {connect} under {}", self.ids_path),
            fallback,
            pipeline,
        ))
    }
}

fn read_zookeeper(
    connect: &str,
    auth: &crate::zookeeper::ZkAuth,
    group: Option<&str>,
    with_brokers: bool,
    timeout: Duration,
) -> Result<ZooKeeperView> {
    crate::zookeeper::run_bounded(connect, timeout, async {
        let client = crate::zookeeper::connect_client(connect, auth, timeout).await?;
        let (_, chroot) = crate::zookeeper::split_connect_string(connect);
        let root = chroot.unwrap_or("");
        let ids_path = format!("{root}/brokers/ids");
        let registrations = if with_brokers {
            registrations(&client, connect, &ids_path).await?
        } else {
            Vec::new()
        };
        let members = match group {
            Some(group) => {
                let path = format!("{root}/consumers/{group}/ids");
                let members = children(&client, connect, &path).await?;
                Some(Members {
                    location: format!("ZooKeeper {connect}, {path}"),
                    members,
                })
            }
            None => None,
        };
        Ok(ZooKeeperView {
            ids_path,
            registrations,
            members,
        })
    })
}

/// The children of `path`, sorted; none when it does not exist.
async fn children(client: &Client, connect: &str, path: &str) -> Result<Vec<String>> {
    match client.list_children(path).await {
        Ok(mut children) => {
            children.sort();
            Ok(children)
        }
        Err(ZkError::NoNode) => Ok(Vec::new()),
        Err(e) => bail!("ZooKeeper {connect}: cannot list {path}: {e}"),
    }
}

async fn registrations(
    client: &Client,
    connect: &str,
    ids_path: &str,
) -> Result<Vec<Registration>> {
    let mut found = Vec::new();
    for id in children(client, connect, ids_path).await? {
        let path = format!("{ids_path}/{id}");
        let data = match client.get_data(&path).await {
            Ok((data, _)) => data,
            // The broker went away between the listing and the read.
            Err(ZkError::NoNode) => continue,
            Err(e) => bail!("ZooKeeper {connect}: cannot read {path}: {e}"),
        };
        found.push(
            parse_registration(&data)
                .with_context(|| format!("ZooKeeper {connect}: the broker registration {path}"))?,
        );
    }
    Ok(found)
}

/// A `/brokers/ids/<id>` node: `{"version":1,"host":"h","port":9092,...}` (0.8) or with
/// `"endpoints":["PLAINTEXT://h:9092",...]` and, from 0.10.2, a
/// `listener_security_protocol_map`. The address is a PLAINTEXT endpoint's, else `host:port`.
fn parse_registration(data: &[u8]) -> Result<Registration> {
    let json: Value = serde_json::from_slice(data).with_context(|| {
        format!(
            "is not JSON: {:?}",
            String::from_utf8_lossy(&data[..data.len().min(200)])
        )
    })?;
    let version = json.get("version").and_then(Value::as_i64).unwrap_or(0);
    let protocols = json.get("listener_security_protocol_map");
    let endpoints: Vec<&str> = json
        .get("endpoints")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let plaintext = endpoints.iter().find_map(|endpoint| {
        let (listener, address) = endpoint.split_once("://")?;
        let protocol = protocols
            .and_then(|map| map.get(listener))
            .and_then(Value::as_str)
            .unwrap_or(listener);
        protocol
            .eq_ignore_ascii_case("PLAINTEXT")
            .then(|| address.to_string())
    });
    let host_port = match (
        json.get("host").and_then(Value::as_str),
        json.get("port").and_then(Value::as_i64),
    ) {
        (Some(host), Some(port)) if !host.is_empty() && port > 0 => Some(format!("{host}:{port}")),
        _ => None,
    };
    let Some(address) = plaintext.or(host_port) else {
        bail!(
            "names no PLAINTEXT endpoint (endpoints: {}): set offsets.brokers, and the security \
             properties in offsets.consumer",
            if endpoints.is_empty() {
                "none".to_string()
            } else {
                endpoints.join(", ")
            }
        );
    };
    Ok(Registration { version, address })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_of_every_kafka_generation_give_a_plaintext_address() {
        let v08 = br#"{"jmx_port":-1,"timestamp":"1700000000000","host":"10.0.0.1","version":1,"port":9092}"#;
        assert_eq!(
            parse_registration(v08).unwrap(),
            Registration {
                version: 1,
                address: "10.0.0.1:9092".into()
            }
        );
        let v09 = br#"{"jmx_port":-1,"timestamp":"1","endpoints":["PLAINTEXT://k9:9093"],"host":"k9","version":2,"port":9093}"#;
        assert_eq!(parse_registration(v09).unwrap().address, "k9:9093");
        // A named listener mapped to PLAINTEXT, next to a TLS one; host/port null as Kafka writes
        // them when the first listener is not PLAINTEXT.
        let v4 = br#"{"listener_security_protocol_map":{"SECURE":"SSL","INTERNAL":"PLAINTEXT"},
            "endpoints":["SECURE://k:9094","INTERNAL://k:9095"],"jmx_port":-1,"host":null,
            "timestamp":"1","port":-1,"version":4}"#;
        let r = parse_registration(v4).unwrap();
        assert_eq!((r.version, r.address.as_str()), (4, "k:9095"));
    }

    #[test]
    fn a_registration_without_a_plaintext_address_names_its_endpoints() {
        let tls = br#"{"endpoints":["SSL://k:9094"],"host":null,"port":-1,"version":4}"#;
        let error = format!("{:#}", parse_registration(tls).unwrap_err());
        assert!(
            error.contains("SSL://k:9094") && error.contains("offsets.brokers"),
            "{error}"
        );
        let error = format!("{:#}", parse_registration(b"not json").unwrap_err());
        assert!(error.contains("not JSON"), "{error}");
    }

    fn view(versions: &[i64]) -> ZooKeeperView {
        ZooKeeperView {
            ids_path: "/kafka/brokers/ids".into(),
            registrations: versions
                .iter()
                .enumerate()
                .map(|(i, &version)| Registration {
                    version,
                    address: format!("h{i}:9092"),
                })
                .collect(),
            members: None,
        }
    }

    fn pipeline(consumer: &str) -> Pipeline {
        let yaml = format!(
            "topic: T\nsource: {{dest_dir: /d}}\nsink: {{type: stdout}}\n\
             offsets: {{commit: zookeeper, zookeeper: 'z:1/kafka', group: g, consumer: {consumer}}}"
        );
        Pipeline::from_document(&serde_yaml::from_str(&yaml).unwrap()).unwrap()
    }

    #[test]
    fn old_registrations_set_the_version_fallback_and_offsets_consumer_wins() {
        let cluster = view(&[3, 1]).cluster("z:1/kafka", &pipeline("{}")).unwrap();
        assert_eq!(cluster.brokers, "h0:9092,h1:9092");
        assert_eq!(cluster.fallback, Some("0.8.2.2"));
        assert_eq!(cluster.properties["api.version.request"], "false");
        assert_eq!(cluster.properties["broker.version.fallback"], "0.8.2.2");
        assert!(
            cluster.to_string().contains("/kafka/brokers/ids"),
            "{cluster}"
        );

        let cluster = view(&[2])
            .cluster("z:1", &pipeline("{broker.version.fallback: 0.9.0.0}"))
            .unwrap();
        assert_eq!(cluster.properties["broker.version.fallback"], "0.9.0.0");
        assert_eq!(cluster.properties["api.version.request"], "false");

        let cluster = view(&[4, 5]).cluster("z:1", &pipeline("{}")).unwrap();
        assert_eq!(cluster.fallback, None);
        assert!(cluster.properties.is_empty());
    }

    #[test]
    fn no_registered_broker_is_an_error_naming_the_path() {
        let error = view(&[]).cluster("z:1/kafka", &pipeline("{}")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("z:1/kafka under /kafka/brokers/ids"),
            "{error}"
        );
    }
}
