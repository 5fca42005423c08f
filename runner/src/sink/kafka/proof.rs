//! Proof that the replay is still in the topic: every message acknowledged is not enough when
//! the brokers may delete it the next moment (retention, a `DeleteRecords`, the topic deleted and
//! created again under the run). Before the replay is reported complete — and before any offset
//! is committed — each partition's log start and end offsets are read again and compared with
//! where this replay's messages sit.
//!
//! Rules only: the partitions' ends are read by [`super::guard::read_ends`], which reads each
//! partition to its end: some brokers' end offsets lag what they acknowledged (tansu answers the
//! last batch's base offset + 1), the last message read does not.

/// Where this replay's messages sit in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// The offset of its first message (`c2k-seq` 0), or the partition's log start when the run
    /// began, where offsets are not countable (transactions).
    pub first: i64,
    /// How many messages of the replay the partition holds from there (at least).
    pub count: u64,
    /// Whether offsets are one per message from `first` (no transaction markers).
    pub dense: bool,
}

/// One [`Span`] per partition: this replay's first offset there and how many of its messages
/// follow.
pub(crate) fn spans(first: &[i64], counts: &[u64], dense: bool) -> Vec<Option<Span>> {
    first
        .iter()
        .zip(counts)
        .map(|(&first, &count)| {
            Some(Span {
                first,
                count,
                dense,
            })
        })
        .collect()
}

/// The partitions that lost part of the replay, each said in words. `marks[p]` = `(low, high)`.
pub(crate) fn losses(spans: &[Option<Span>], marks: &[(i64, i64)]) -> Vec<String> {
    let mut lost = Vec::new();
    for (partition, (span, &(low, high))) in spans.iter().zip(marks).enumerate() {
        let Some(span) = span.filter(|s| s.count > 0) else {
            continue;
        };
        if low > span.first {
            let gone = (low - span.first).min(span.count as i64);
            lost.push(format!(
                "partition {partition}: its log now starts at offset {low}, after this replay's \
                 first message at {} — {gone} message(s) already deleted",
                span.first
            ));
        } else if span.dense && high < span.first + span.count as i64 {
            lost.push(format!(
                "partition {partition}: its end offset is {high}, but this replay's last message \
                 is at {} — the topic was truncated or created again under the run",
                span.first + span.count as i64 - 1
            ));
        }
    }
    lost
}

/// Each partition's `(log start, end)`, the end being one past the last message read when that is
/// further than the end offset the broker answered.
pub(crate) fn marks_of(ends: &[super::guard::PartitionEnd]) -> Vec<(i64, i64)> {
    ends.iter()
        .map(|end| {
            let read = end.last.as_ref().map_or(end.high, |last| last.offset + 1);
            (end.low, end.high.max(read))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(first: i64, count: u64) -> Option<Span> {
        Some(Span {
            first,
            count,
            dense: true,
        })
    }

    #[test]
    fn a_partition_whose_log_start_moved_past_the_replay_lost_messages() {
        let lost = losses(&[span(0, 10), span(5, 10)], &[(0, 10), (8, 15)]);
        assert_eq!(lost.len(), 1);
        assert!(lost[0].starts_with("partition 1:") && lost[0].contains("3 message(s)"));
    }

    #[test]
    fn a_topic_created_again_under_the_run_is_caught_by_its_end() {
        let lost = losses(&[span(100, 10)], &[(0, 40)]);
        assert!(lost[0].contains("created again"), "{lost:?}");
    }

    #[test]
    fn an_intact_replay_and_partitions_it_never_wrote_are_fine() {
        assert!(losses(&[span(0, 10), None, span(3, 0)], &[(0, 10), (7, 9), (9, 9)]).is_empty());
    }
}
