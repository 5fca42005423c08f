//! `sink.zookeeper`: the replay cluster's ZooKeeper, for brokers older than 0.11.
//!
//! - The replay topic is created the way Kafka 0.8's own `kafka-topics.sh` did (`AdminUtils`):
//!   `/config/topics/<topic>` (the replay's topic configs, [`super::topic::LEGACY_CONFIGS`]), then `/brokers/topics/<topic>` with the partition
//!   assignment; the controller, watching that path, makes the partitions and their leaders.
//! - The replay's identity, and where its first message sits in each partition, is kept at
//!   `/c2k/replays/<topic>` (JSON), written before the first message is sent into an empty topic:
//!   messages without headers say nothing of who wrote them, this record does.
//!
//! Only plain `create`/`set_data`/`get_data` are used, which ZooKeeper 3.4 (the 0.8 ensembles)
//! serves.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError};

use super::admin::TopicPlan;
use crate::zookeeper::{connect_client_compatible, run_bounded, split_connect_string, ZkAuth};

/// How long one ZooKeeper conversation may take.
pub(super) const TIMEOUT: Duration = Duration::from_secs(15);

/// What c2k records of a replay it publishes into a topic of an old cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplayRecord {
    pub version: u32,
    /// [`crate::identity::replay_identity`].
    pub identity: String,
    /// Per partition, the offset of the replay's first message (`c2k-seq` 0).
    pub base_offsets: Vec<i64>,
}

/// Where the record of `topic`'s replay lives, inside the chroot.
pub(crate) fn record_path(topic: &str) -> String {
    format!("/c2k/replays/{topic}")
}

pub(super) async fn client(connect: &str) -> Result<Client> {
    let client = connect_client_compatible(connect, &ZkAuth::default(), TIMEOUT)
        .await
        .context("sink.zookeeper")?;
    match split_connect_string(connect).1 {
        None => Ok(client),
        Some(root) => client
            .chroot(root)
            .map_err(|_| anyhow!("sink.zookeeper {connect}: invalid chroot {root}")),
    }
}

/// Creates the replay topic through ZooKeeper, assigning its partitions' replicas round-robin
/// over the registered brokers (as `AdminUtils` did, starting at the first).
pub(crate) fn create_topic(connect: &str, plan: &TopicPlan) -> Result<()> {
    run_bounded(connect, TIMEOUT, async {
        let client = client(connect).await?;
        let mut brokers: Vec<i32> = match client.list_children("/brokers/ids").await {
            Ok(ids) => ids.iter().filter_map(|id| id.parse().ok()).collect(),
            Err(ZkError::NoNode) => Vec::new(),
            Err(e) => bail!("sink.zookeeper {connect}: cannot list /brokers/ids: {e}"),
        };
        brokers.sort_unstable();
        if brokers.is_empty() {
            bail!(
                "sink.zookeeper {connect}: no broker is registered under /brokers/ids — is this \
                 the replay cluster's ZooKeeper, with its chroot?"
            );
        }
        // Brokers this old have no default to ask for: as many copies as there are brokers,
        // up to three.
        let replicas = match plan.replication_factor {
            Some(n) => usize::try_from(n).unwrap_or(0),
            None => brokers.len().min(3),
        };
        if replicas == 0 || replicas > brokers.len() {
            bail!(
                "cannot create replay topic {} through ZooKeeper {connect}: replication factor {} \
                 but {} broker(s) registered (sink.replication_factor)",
                plan.topic,
                replicas,
                brokers.len()
            );
        }
        let assignment: serde_json::Map<String, serde_json::Value> = (0..plan.partitions)
            .map(|p| {
                let ids: Vec<i32> = (0..replicas)
                    .map(|r| brokers[(p as usize + r) % brokers.len()])
                    .collect();
                (p.to_string(), serde_json::json!(ids))
            })
            .collect();
        let topic_node = serde_json::json!({"version": 1, "partitions": assignment});
        let config_node = serde_json::json!({"version": 1, "config": plan.configs});
        let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
        let config_path = format!("/config/topics/{}", plan.topic);
        match client
            .create(&config_path, config_node.to_string().as_bytes(), &options)
            .await
        {
            Ok(_) | Err(ZkError::NodeExists) => {}
            Err(e) => bail!("sink.zookeeper {connect}: cannot create {config_path}: {e}"),
        }
        let topic_path = format!("/brokers/topics/{}", plan.topic);
        match client
            .create(&topic_path, topic_node.to_string().as_bytes(), &options)
            .await
        {
            // Created by someone else meanwhile: the caller checks its partitions.
            Ok(_) | Err(ZkError::NodeExists) => {}
            Err(e) => bail!("sink.zookeeper {connect}: cannot create {topic_path}: {e}"),
        }
        tracing::info!(
            topic = %plan.topic,
            partitions = plan.partitions,
            "replay topic created through ZooKeeper"
        );
        Ok(())
    })
    .with_context(|| {
        format!(
            "cannot create replay topic {} through ZooKeeper",
            plan.topic
        )
    })
}

/// The record of the replay published into `topic`, if c2k wrote one.
pub(crate) fn read_record(connect: &str, topic: &str) -> Result<Option<ReplayRecord>> {
    let path = record_path(topic);
    run_bounded(connect, TIMEOUT, async {
        let client = client(connect).await?;
        match client.get_data(&path).await {
            Ok((data, _)) => serde_json::from_slice(&data).map(Some).with_context(|| {
                format!(
                    "sink.zookeeper {connect}: {path} is not a c2k replay record: {}",
                    String::from_utf8_lossy(&data)
                )
            }),
            Err(ZkError::NoNode) => Ok(None),
            Err(e) => bail!("sink.zookeeper {connect}: cannot read {path}: {e}"),
        }
    })
}

/// Records the replay about to be published into `topic` (replacing the record of a replay
/// whose messages are no longer there).
pub(crate) fn write_record(connect: &str, topic: &str, record: &ReplayRecord) -> Result<()> {
    let path = record_path(topic);
    let data = serde_json::to_vec(record).context("the replay record as JSON")?;
    run_bounded(connect, TIMEOUT, async {
        let client = client(connect).await?;
        let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
        client
            .mkdir("/c2k/replays", &options)
            .await
            .map_err(|e| anyhow!("sink.zookeeper {connect}: cannot create /c2k/replays: {e}"))?;
        match client.create(&path, &data, &options).await {
            Ok(_) => Ok(()),
            Err(ZkError::NodeExists) => client
                .set_data(&path, &data, None)
                .await
                .map(|_| ())
                .map_err(|e| anyhow!("sink.zookeeper {connect}: cannot write {path}: {e}")),
            Err(e) => bail!("sink.zookeeper {connect}: cannot create {path}: {e}"),
        }
    })
    .with_context(|| {
        format!(
            "cannot record the replay of {topic} in ZooKeeper before publishing; nothing was sent"
        )
    })
}
