//! `offsets.commit: zookeeper`: the offsets of old (ZooKeeper-based) Kafka consumers, at
//! `/consumers/<group>/offsets/<topic>/<partition>` = the offset in decimal text (or children
//! named `<node>-<partition>` with `offsets.layout: node-partition`, as the original tool wrote).
//!
//! Never overwrites: when the topic's node already has children, nothing is written and the step
//! fails with [`AlreadyCommitted`]. The partition nodes are created in one ZooKeeper transaction,
//! so a concurrent writer cannot leave a half-written group behind either. New nodes get the ACL
//! of `/consumers` when it exists, else the open ACL. A chroot in the connect string
//! (`zk1:2181,zk2:2181/kafka`) is created when missing.
//!
//! ZooKeeper 3.4 (the ensembles of Kafka 0.8/0.9 clusters) knows neither `create2` nor `create2`
//! inside a transaction: a server that answers "unimplemented" is spoken to as 3.4, and there the
//! partition nodes are created one after the other, the ones made removed again if another fails.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use zookeeper_client::{Acl, Acls, Client, CreateMode, Error as ZkError, MultiWriteError};

use super::history::PartitionOffset;
use super::AlreadyCommitted;
use crate::config::ZkLayout;
use crate::zookeeper::{
    connect_client, connect_client_for, is_unimplemented, run_bounded, split_connect_string,
    Server, ZkAuth,
};

/// One znode to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    /// Path as the server sees it (chroot included).
    pub path: String,
    pub value: String,
}

/// The topic's offsets node, inside the chroot.
pub(crate) fn topic_path(group: &str, topic: &str) -> String {
    format!("/consumers/{group}/offsets/{topic}")
}

fn child_name(layout: ZkLayout, offset: &PartitionOffset) -> String {
    match layout {
        ZkLayout::Partition => offset.partition.to_string(),
        ZkLayout::NodePartition => format!("{}-{}", offset.node, offset.partition),
    }
}

/// What a commit writes, with full server-side paths (for `--dry-run` and reports).
pub(crate) fn planned_writes(
    connect: &str,
    group: &str,
    topic: &str,
    layout: ZkLayout,
    offsets: &[PartitionOffset],
) -> Vec<Write> {
    let (_, chroot) = split_connect_string(connect);
    offsets
        .iter()
        .map(|o| Write {
            path: format!(
                "{}{}/{}",
                chroot.unwrap_or(""),
                topic_path(group, topic),
                child_name(layout, o)
            ),
            value: o.offset.to_string(),
        })
        .collect()
}

/// Commits `offsets` for `group` unless the group already has offsets for `topic`.
pub(crate) fn commit(
    connect: &str,
    auth: &ZkAuth,
    group: &str,
    topic: &str,
    layout: ZkLayout,
    offsets: &[PartitionOffset],
    timeout: Duration,
) -> Result<Vec<Write>> {
    run_bounded(connect, timeout, async {
        let commit = |server| {
            commit_async(
                connect, auth, group, topic, layout, offsets, timeout, server,
            )
        };
        match commit(Server::Current).await {
            // Nothing was written: the first create was refused.
            Err(error) if is_unimplemented(&error) => commit(Server::V3_4).await,
            done => done,
        }
    })
}

#[allow(clippy::too_many_arguments)]
async fn commit_async(
    connect: &str,
    auth: &ZkAuth,
    group: &str,
    topic: &str,
    layout: ZkLayout,
    offsets: &[PartitionOffset],
    timeout: Duration,
    server: Server,
) -> Result<Vec<Write>> {
    let client = connect_client_for(connect, auth, timeout, server).await?;
    let (_, chroot) = split_connect_string(connect);
    let client = match chroot {
        None => client,
        Some(root) => {
            client
                .mkdir(root, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
                .await
                .map_err(|e| {
                    anyhow::Error::new(e).context(format!(
                        "ZooKeeper {connect}: cannot create the chroot {root}"
                    ))
                })?;
            client
                .chroot(root)
                .map_err(|_| anyhow!("ZooKeeper {connect}: invalid chroot {root}"))?
        }
    };
    let root = chroot.unwrap_or("");

    let consumer_acls: Vec<Acl> = match client.get_acl("/consumers").await {
        Ok((acls, _)) => acls,
        Err(ZkError::NoNode) => Vec::new(),
        Err(e) => bail!("ZooKeeper {connect}: cannot read the ACL of {root}/consumers: {e}"),
    };
    let acls = if consumer_acls.is_empty() {
        Acls::anyone_all()
    } else {
        Acls::new(&consumer_acls)
    };
    let options = CreateMode::Persistent.with_acls(acls);

    let topic_node = topic_path(group, topic);
    match client.list_children(&topic_node).await {
        Ok(children) if !children.is_empty() => {
            return Err(AlreadyCommitted {
                location: format!(
                    "{root}{topic_node} in ZooKeeper {connect} ({} existing: {})",
                    children.len(),
                    children.join(", ")
                ),
            }
            .into())
        }
        Ok(_) | Err(ZkError::NoNode) => {}
        Err(e) => bail!("ZooKeeper {connect}: cannot list {root}{topic_node}: {e}"),
    }
    client.mkdir(&topic_node, &options).await.map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "ZooKeeper {connect}: cannot create {root}{topic_node}"
        ))
    })?;

    let concurrently = |index: usize| AlreadyCommitted {
        location: format!(
            "{root}{topic_node}/{} in ZooKeeper {connect} (created concurrently)",
            offsets
                .get(index)
                .map_or(String::new(), |o| child_name(layout, o))
        ),
    };
    if server == Server::V3_4 {
        return create_one_by_one(
            &client,
            connect,
            root,
            &topic_node,
            layout,
            offsets,
            &options,
        )
        .await
        .map_err(|failure| match failure {
            OneByOne::Exists(index) => concurrently(index).into(),
            OneByOne::Failed(error) => error,
        })
        .map(|()| planned_writes(connect, group, topic, layout, offsets));
    }
    let mut writer = client.new_multi_writer();
    for offset in offsets {
        let path = format!("{topic_node}/{}", child_name(layout, offset));
        writer
            .add_create(&path, offset.offset.to_string().as_bytes(), &options)
            .map_err(|e| anyhow!("ZooKeeper: invalid path {root}{path}: {e}"))?;
    }
    match writer.commit().await {
        Ok(_) => Ok(planned_writes(connect, group, topic, layout, offsets)),
        Err(MultiWriteError::OperationFailed {
            source: ZkError::NodeExists,
            index,
        }) => Err(concurrently(index).into()),
        Err(e) => {
            bail!("ZooKeeper {connect}: cannot create the offsets under {root}{topic_node}: {e}")
        }
    }
}

/// Why [`create_one_by_one`] stopped.
enum OneByOne {
    /// The node of `offsets[index]` exists: another writer got there first.
    Exists(usize),
    Failed(anyhow::Error),
}

/// The partition nodes created one after the other (ZooKeeper 3.4 has no `create2` in
/// transactions); when one cannot be, those this call created are removed again, so that a
/// failed commit leaves no half-written group behind.
async fn create_one_by_one(
    client: &Client,
    connect: &str,
    root: &str,
    topic_node: &str,
    layout: ZkLayout,
    offsets: &[PartitionOffset],
    options: &zookeeper_client::CreateOptions<'_>,
) -> std::result::Result<(), OneByOne> {
    let mut created = Vec::with_capacity(offsets.len());
    for (index, offset) in offsets.iter().enumerate() {
        let path = format!("{topic_node}/{}", child_name(layout, offset));
        let failure = match client
            .create(&path, offset.offset.to_string().as_bytes(), options)
            .await
        {
            Ok(_) => {
                created.push(path);
                continue;
            }
            Err(ZkError::NodeExists) => OneByOne::Exists(index),
            Err(e) => OneByOne::Failed(anyhow!(
                "ZooKeeper {connect}: cannot create {root}{path}: {e}"
            )),
        };
        for path in created.iter().rev() {
            if let Err(e) = client.delete(path, None).await {
                return Err(OneByOne::Failed(anyhow!(
                    "ZooKeeper {connect}: creating the offsets under {root}{topic_node} failed \
                     half-way, and {root}{path} could not be removed again ({e}): remove the \
                     offsets this step wrote under {root}{topic_node} by hand"
                )));
            }
        }
        return Err(failure);
    }
    Ok(())
}

/// The offsets the group already has for the topic: `(child name, value)` of every child of the
/// topic's node (none when the node, its parents or the chroot do not exist). Reads only.
pub(crate) fn existing(
    connect: &str,
    auth: &ZkAuth,
    group: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<(String, String)>> {
    run_bounded(
        connect,
        timeout,
        existing_async(connect, auth, group, topic, timeout),
    )
}

async fn existing_async(
    connect: &str,
    auth: &ZkAuth,
    group: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<(String, String)>> {
    let client = connect_client(connect, auth, timeout).await?;
    let (_, chroot) = split_connect_string(connect);
    let root = chroot.unwrap_or("");
    let topic_node = format!("{root}{}", topic_path(group, topic));
    let children = match client.list_children(&topic_node).await {
        Ok(children) => children,
        Err(ZkError::NoNode) => return Ok(Vec::new()),
        Err(e) => bail!("ZooKeeper {connect}: cannot list {topic_node}: {e}"),
    };
    let mut found = Vec::with_capacity(children.len());
    for child in children {
        let path = format!("{topic_node}/{child}");
        match client.get_data(&path).await {
            Ok((data, _)) => found.push((child, String::from_utf8_lossy(&data).into_owned())),
            Err(ZkError::NoNode) => {}
            Err(e) => bail!("ZooKeeper {connect}: cannot read {path}: {e}"),
        }
    }
    found.sort();
    Ok(found)
}

/// The children [`commit`] would create: `(child name, value)`, sorted like [`existing`].
pub(crate) fn planned_children(
    layout: ZkLayout,
    offsets: &[PartitionOffset],
) -> Vec<(String, String)> {
    let mut children: Vec<(String, String)> = offsets
        .iter()
        .map(|o| (child_name(layout, o), o.offset.to_string()))
        .collect();
    children.sort();
    children
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_paths_follow_the_layout_and_chroot() {
        let offsets = [PartitionOffset {
            partition: 3,
            offset: 42,
            node: "7".into(),
            file: "f".into(),
        }];
        let w = planned_writes("h:1/kafka", "g", "T", ZkLayout::Partition, &offsets);
        assert_eq!(w[0].path, "/kafka/consumers/g/offsets/T/3");
        assert_eq!(w[0].value, "42");
        let w = planned_writes("h:1", "g", "T", ZkLayout::NodePartition, &offsets);
        assert_eq!(w[0].path, "/consumers/g/offsets/T/7-3");
    }
}
