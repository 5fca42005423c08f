//! The refusals: every error on which `c2k` stops to keep its promise ("every archived record in
//! the replay topic once, and the consumers resumed at the right place") rather than break it,
//! each with its own exit code, so that scripts and schedulers can tell them apart. Any other
//! failure exits with 1; a refusal anywhere in an error's chain decides the code.

/// The group already has offsets for the topic: nothing was written. Exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("consumer group already has offsets at {location}: left untouched, nothing written")]
pub(crate) struct AlreadyCommitted {
    /// The ZooKeeper path or Kafka group/topic that already has offsets.
    pub location: String,
}

/// The replay topic holds messages the run will not publish over. Exit code 4.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TopicRefused(pub String);

/// The archive is not consistent with its Camus history. Exit code 5.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Inconsistent(pub String);

/// The live cluster does not allow the hand-off: nothing was committed. Exit code 6.
#[derive(Debug, thiserror::Error)]
#[error(
    "the hand-off to the live topic {topic} on {cluster} is refused, nothing committed for group \
     {group}: {}",
    .reasons.join("; ")
)]
pub(crate) struct HandOffRefused {
    pub topic: String,
    /// The cluster asked, as [`crate::offsets::live::Cluster`] describes it, or what was tried.
    pub cluster: String,
    pub group: String,
    pub reasons: Vec<String>,
}

/// Some replay partition of a sharded replay does not hold all its messages yet: nothing was
/// committed. Exit code 7.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Incomplete(pub String);

/// The replay topic's settings would lose or reject this replay (or already lost part of it):
/// nothing was sent, or nothing committed. Exit code 8.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TopicUnsafe(pub String);

/// The process exit code for an error: the code of the refusal in its chain, 1 for anything else.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    let is = |code: u8| -> bool {
        error.chain().any(|e| match code {
            3 => e.is::<AlreadyCommitted>(),
            4 => e.is::<TopicRefused>(),
            5 => e.is::<Inconsistent>(),
            6 => e.is::<HandOffRefused>(),
            7 => e.is::<Incomplete>(),
            8 => e.is::<TopicUnsafe>(),
            _ => false,
        })
    };
    // The order of precedence when a chain holds several: the archive's state first, then the
    // replay topic's, the live topic's, the group's, the shards', the topic's settings.
    [5, 4, 6, 3, 7, 8]
        .into_iter()
        .find(|&code| is(code))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_code_wherever_it_is_in_the_chain() {
        let cases: Vec<(anyhow::Error, u8)> = vec![
            (anyhow::anyhow!("plain"), 1),
            (
                AlreadyCommitted {
                    location: "g".into(),
                }
                .into(),
                3,
            ),
            (TopicRefused("t".into()).into(), 4),
            (Inconsistent("a".into()).into(), 5),
            (
                HandOffRefused {
                    topic: "t".into(),
                    cluster: "c".into(),
                    group: "g".into(),
                    reasons: vec![],
                }
                .into(),
                6,
            ),
            (Incomplete("i".into()).into(), 7),
            (TopicUnsafe("u".into()).into(), 8),
        ];
        for (error, code) in cases {
            let wrapped = error.context("an outer context");
            assert_eq!(exit_code(&wrapped), code, "{wrapped:#}");
        }
    }
}
