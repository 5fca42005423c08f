//! Provenance headers: where every replay message came from, so that a later run can account for
//! what the topic holds ([`super::guard`]) and a consumer can trace a message to its archived
//! record. Values are UTF-8 text (numbers in decimal). Consumers may ignore them.

use crate::record::OutMessage;

/// The replay's identity ([`crate::identity::replay_identity`]).
pub const REPLAY_HEADER: &str = "c2k-replay";
/// The message's position in its replay partition: 0, 1, 2, …
pub const SEQ_HEADER: &str = "c2k-seq";
/// The original Kafka partition of the record, when its file name tells it.
pub const SOURCE_PARTITION_HEADER: &str = "c2k-source-partition";
/// The record's file, relative to the source's input directory.
pub const SOURCE_FILE_HEADER: &str = "c2k-source-file";
/// The record's index in that file (0 for its first record).
pub const SOURCE_INDEX_HEADER: &str = "c2k-source-index";

/// The headers c2k adds to every message, after the format plugin's own.
pub struct Provenance {
    identity: String,
    /// Source file names by [`crate::record::FileId`].
    files: Vec<String>,
}

impl Provenance {
    pub fn new(identity: String, files: Vec<String>) -> Provenance {
        Provenance { identity, files }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The provenance headers of `message`, the `seq`-th of its replay partition.
    pub fn headers(&self, message: &OutMessage, seq: u64) -> Vec<(&'static str, Vec<u8>)> {
        let mut headers = Vec::with_capacity(5);
        headers.push((REPLAY_HEADER, self.identity.as_bytes().to_vec()));
        headers.push((SEQ_HEADER, seq.to_string().into_bytes()));
        if let Some(partition) = message.source_partition {
            headers.push((SOURCE_PARTITION_HEADER, partition.to_string().into_bytes()));
        }
        if let Some(origin) = message.origin {
            if let Some(file) = self.files.get(origin.file as usize) {
                headers.push((SOURCE_FILE_HEADER, file.as_bytes().to_vec()));
            }
            headers.push((SOURCE_INDEX_HEADER, origin.index.to_string().into_bytes()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Origin;

    #[test]
    fn every_message_says_which_replay_position_and_record_it_is() {
        let provenance = Provenance::new("abc".into(), vec!["hourly/a.avro".into()]);
        let message = OutMessage {
            source_partition: Some(3),
            origin: Some(Origin { file: 0, index: 41 }),
            ..OutMessage::default()
        };
        let headers: Vec<(&str, String)> = provenance
            .headers(&message, 7)
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(
            headers,
            vec![
                ("c2k-replay", "abc".into()),
                ("c2k-seq", "7".into()),
                ("c2k-source-partition", "3".into()),
                ("c2k-source-file", "hourly/a.avro".into()),
                ("c2k-source-index", "41".into()),
            ]
        );
    }
}
