//! Which replay partition each message goes to (`sink.partitioning`).
//!
//! The sink sets the partition of every record itself, so librdkafka's own partitioner is never
//! consulted and the choice is a pure function of the message and the partition count: the dry run
//! can say where each message would go without a broker.

use crate::config::Partitioning;
use crate::record::OutMessage;

/// Kafka's `Utils.murmur2`: the hash Java producers' default partitioner applies to a key, so
/// keyed consumers of the replay see each key on the same partition as in the live topic.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java does this arithmetic on `int` with wrap-around; u32 wrapping ops give the same bits.
    let mut h: u32 = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if tail.len() == 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on `i32::MIN`).
pub(crate) fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Java's default partitioner gives a keyed record:
/// `toPositive(murmur2(key)) % partitions`.
pub(crate) fn key_partition(key: &[u8], partitions: i32) -> i32 {
    to_positive(murmur2(key)) % partitions.max(1)
}

/// The replay partition of a message.
///
/// - `source`: the record's source partition, unchanged. A record whose source partition is
///   unknown (a Camus file name without one) goes where `key` would put it if it has a key, and to
///   partition 0 otherwise — deterministic, so a re-run sends it to the same place.
/// - `single`: partition 0, one total order.
/// - `key`: `toPositive(murmur2(key)) % partitions`, as Java clients; a keyless message goes to
///   partition 0 (not librdkafka's random or sticky choice), again so that re-runs are identical
///   and keyless records keep their sorted order among themselves.
///
/// A source partition beyond the topic's partitions is returned as is: the sink checks the topic
/// has enough partitions before sending, and the broker would reject the record otherwise rather
/// than have it silently land elsewhere.
pub fn partition_for(partitioning: Partitioning, message: &OutMessage, partitions: i32) -> i32 {
    let by_key = || {
        message
            .key
            .as_deref()
            .map_or(0, |key| key_partition(key, partitions))
    };
    match partitioning {
        Partitioning::Single => 0,
        Partitioning::Key => by_key(),
        Partitioning::Source => match message.source_partition {
            Some(p) => i32::try_from(p).unwrap_or(i32::MAX),
            None => by_key(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected values are those of Kafka's own `UtilsTest.testMurmur2` (Java).
    #[test]
    fn murmur2_matches_kafka_java_utils() {
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(
                murmur2(data),
                *expected,
                "murmur2({:?})",
                String::from_utf8_lossy(data)
            );
        }
    }

    /// Values Java clients compute for short keys (published alongside Kafka's implementation).
    #[test]
    fn murmur2_matches_java_for_every_tail_length() {
        let cases: &[(&str, i32)] = &[
            ("1", -1_993_445_489),
            ("12", 126_087_238),
            ("123", -267_702_483),
            ("1234", -1_614_185_708),
            ("12345", -1_188_365_604),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key.as_bytes()), *expected, "murmur2({key:?})");
        }
    }

    #[test]
    fn to_positive_clears_the_sign_bit_without_overflow() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(42), 42);
    }

    fn message(key: Option<&str>, source_partition: Option<u32>) -> OutMessage {
        OutMessage {
            key: key.map(|k| k.as_bytes().to_vec()),
            value: b"v".to_vec().into(),
            source_partition,
            origin: None,
            ..OutMessage::default()
        }
    }

    #[test]
    fn key_partitioning_is_java_default_partitioner() {
        // toPositive(murmur2("foobar")) = toPositive(-790332482) = 1357151166; 1357151166 % 5 = 1
        assert_eq!(
            partition_for(Partitioning::Key, &message(Some("foobar"), Some(3)), 5),
            1
        );
        assert_eq!(
            partition_for(Partitioning::Key, &message(None, Some(3)), 5),
            0
        );
    }

    #[test]
    fn source_partitioning_keeps_the_source_partition_and_falls_back_on_the_key() {
        assert_eq!(
            partition_for(Partitioning::Source, &message(Some("foobar"), Some(3)), 5),
            3
        );
        assert_eq!(
            partition_for(Partitioning::Source, &message(Some("foobar"), None), 5),
            1
        );
        assert_eq!(
            partition_for(Partitioning::Source, &message(None, None), 5),
            0
        );
    }

    #[test]
    fn single_partitioning_is_always_partition_zero() {
        assert_eq!(
            partition_for(Partitioning::Single, &message(Some("foobar"), Some(3)), 7),
            0
        );
    }
}
