//! What a failed publish means, and what to do about it. librdkafka retries what retrying can
//! fix and reports the rest; a message that timed out after retries says only "timed out", so the
//! replay topic's partitions are looked at (leaders, in-sync replicas against
//! `min.insync.replicas`) to name the cause the brokers kept answering.
//!
//! The advice must be true for the cause: `--resume` continues a replay exactly, but only once
//! the cause is gone.

use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode;

/// The cluster's state behind a failed publish, read from its metadata: partitions without a
/// leader, partitions with fewer in-sync replicas than `min_insync`. Empty when all is well.
pub(crate) fn partition_trouble(
    metadata: &Metadata,
    topic: &str,
    min_insync: Option<i64>,
) -> Vec<String> {
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return vec![format!("topic {topic} is gone from the cluster's metadata")];
    };
    let mut trouble = Vec::new();
    for partition in found.partitions() {
        let isr = partition.isr();
        if partition.leader() < 0 {
            trouble.push(format!(
                "partition {} has no leader (replicas on brokers {:?}, none in service)",
                partition.id(),
                partition.replicas()
            ));
        } else if let Some(needed) = min_insync.filter(|n| (isr.len() as i64) < *n) {
            trouble.push(format!(
                "partition {} has {} in-sync replica(s) (brokers {isr:?} of {:?}), fewer than \
                 min.insync.replicas={needed}: the brokers answer NOT_ENOUGH_REPLICAS to every \
                 write with acks=all",
                partition.id(),
                isr.len(),
                partition.replicas()
            ));
        }
    }
    trouble
}

/// What to do after a failed publish whose first failure had `code` (`None`: no delivery
/// failed, the reports did not come), given what [`partition_trouble`] found. `resumable`:
/// whether the topic can tell a rerun what was delivered (provenance).
pub(crate) fn advice(
    code: Option<RDKafkaErrorCode>,
    trouble: &[String],
    resumable: bool,
) -> String {
    let resume = if resumable {
        "`c2k run --resume` publishes exactly what is missing"
    } else {
        "delete the replay topic and run again (without provenance headers a rerun cannot tell \
         what was delivered)"
    };
    use RDKafkaErrorCode as E;
    let cause = match code {
        Some(E::MessageSizeTooLarge) | Some(E::MessageBatchTooLarge) => {
            "a message is larger than the replay topic takes: raise the topic's max.message.bytes \
             (kafka-configs.sh --alter --entity-type topics --add-config max.message.bytes=N) and \
             the producer's message.max.bytes (sink.producer), or use a smaller output format"
        }
        Some(E::InvalidTimestamp) => {
            "the broker rejects the messages' timestamps (message.timestamp.difference.max.ms on \
             the topic or log.message.timestamp.difference.max.ms on the brokers): raise it, or \
             --set sink.timestamps=publish"
        }
        Some(E::InvalidRecord) | Some(E::InvalidMessage) => {
            "the broker refuses the records (a compacted topic refuses messages without a key; \
             see the brokers' log): fix the topic (cleanup.policy=delete) or the format"
        }
        Some(E::TopicAuthorizationFailed)
        | Some(E::ClusterAuthorizationFailed)
        | Some(E::TransactionalIdAuthorizationFailed) => {
            "the client's principal may not write to the replay topic: grant it WRITE (and \
             IDEMPOTENT_WRITE on the cluster) with kafka-acls.sh"
        }
        Some(E::NotEnoughReplicas) | Some(E::NotEnoughReplicasAfterAppend) => {
            "too few in-sync replicas for min.insync.replicas: bring the stopped brokers back \
             (or lower the topic's min.insync.replicas)"
        }
        _ if !trouble.is_empty() => {
            "the cluster cannot take the writes now: bring the stopped brokers back"
        }
        _ => "",
    };
    let seen = if trouble.is_empty() {
        String::new()
    } else {
        format!("; the replay topic now: {}", trouble.join("; "))
    };
    if cause.is_empty() {
        format!("{seen}; {resume}")
    } else {
        format!("{seen}. Cause: {cause}; once it is fixed, {resume}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advice_names_the_setting_behind_the_error_and_resumes_only_after_the_fix() {
        let too_large = advice(Some(RDKafkaErrorCode::MessageSizeTooLarge), &[], true);
        assert!(too_large.contains("max.message.bytes"), "{too_large}");
        assert!(
            too_large.contains("once it is fixed, `c2k run --resume`"),
            "{too_large}"
        );
        let replicas = advice(
            Some(RDKafkaErrorCode::MessageTimedOut),
            &["partition 0 has 1 in-sync replica(s)".into()],
            true,
        );
        assert!(
            replicas.contains("bring the stopped brokers back"),
            "{replicas}"
        );
        assert!(replicas.contains("partition 0 has 1 in-sync"), "{replicas}");
        let acl = advice(Some(RDKafkaErrorCode::TopicAuthorizationFailed), &[], false);
        assert!(acl.contains("kafka-acls.sh") && acl.contains("delete the replay topic"));
        assert_eq!(
            advice(None, &[], true),
            "; `c2k run --resume` publishes exactly what is missing"
        );
    }
}
