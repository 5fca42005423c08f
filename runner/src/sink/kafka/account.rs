//! What the replay topic holds of one replay, per partition, read back from the topic itself (the
//! guard's reading, without a producer): for the final step of a sharded replay, which commits
//! only once every partition holds all its messages.

use anyhow::{Context, Result};

use super::{admin, config, guard};
use crate::config::Pipeline;
use crate::identity::ContentDigest;

/// The replay topic as found.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub topic: String,
    /// `None` when the topic does not exist.
    pub partitions: Option<i32>,
    /// Messages of this replay in each partition (by `c2k-seq`); anything else in the topic is
    /// refused ([`guard::TopicRefused`]).
    pub present: Vec<u64>,
    /// Partitions that no longer hold all of the replay (their log starts after its first
    /// message: retention, a `DeleteRecords`), each said in words ([`super::proof`]).
    pub lost: Vec<String>,
}

/// Reads the last message of every partition of the replay topic and counts this replay's.
pub(crate) fn account(pipeline: &Pipeline, content: &ContentDigest) -> Result<Account> {
    let sink = pipeline.kafka_sink()?;
    let topic = pipeline.replay_topic();
    let origin = config::origin(sink, "the reader of the replay topic")?;
    let admin_client = admin::connect(&config::admin_config(sink)?, &origin)?;
    let partitions = admin::partition_count(&admin_client, &topic, &origin)?;
    drop(admin_client);
    let Some(count) = partitions else {
        return Ok(Account {
            topic,
            partitions: None,
            present: Vec::new(),
            lost: Vec::new(),
        });
    };
    let identity = crate::identity::replay_identity(content, sink.partitioning, count);
    let ends = guard::read_ends(
        config::admin_config(sink)?,
        &origin,
        &topic,
        count,
        sink.transactions,
        super::BROKER_TIMEOUT,
    )
    .with_context(|| format!("cannot read what replay topic {topic} holds"))?;
    let resume = guard::decide(&topic, &identity, &ends, true, !sink.transactions)?;
    // Where each partition's `c2k-seq` 0 sits, from its last message (offsets are one per
    // message without transactions; with them, markers make it uncountable).
    let spans: Vec<Option<super::proof::Span>> = ends
        .iter()
        .map(|end| {
            let last = end.last.as_ref()?;
            let seq = last.seq?;
            (!sink.transactions).then(|| super::proof::Span {
                first: last.offset - seq as i64,
                count: seq + 1,
                dense: true,
            })
        })
        .collect();
    let marks = super::proof::marks_of(&ends);
    Ok(Account {
        topic,
        partitions: Some(count),
        present: resume.present,
        lost: super::proof::losses(&spans, &marks),
    })
}
