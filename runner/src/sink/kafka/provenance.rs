//! Provenance headers: where every replay message came from, so that a later run can account for
//! what the topic holds ([`super::guard`]) and a consumer can trace a message to its archived
//! record. Values are UTF-8 text (numbers in decimal). Consumers may ignore them.

use crate::record::OutMessage;

/// The replay's identity ([`crate::identity::replay_identity`]).
pub(crate) const REPLAY_HEADER: &str = "c2k-replay";
/// The message's position in its replay partition: 0, 1, 2, …
pub(crate) const SEQ_HEADER: &str = "c2k-seq";
/// The original Kafka partition of the record, when its file name tells it.
pub(crate) const SOURCE_PARTITION_HEADER: &str = "c2k-source-partition";
/// The record's file, relative to the source's input directory.
pub(crate) const SOURCE_FILE_HEADER: &str = "c2k-source-file";
/// The record's index in that file (0 for its first record).
pub(crate) const SOURCE_INDEX_HEADER: &str = "c2k-source-index";

/// The headers c2k adds to every message, after the format plugin's own.
pub(crate) struct Provenance {
    identity: String,
    /// Source file names by [`crate::record::FileId`].
    files: Vec<String>,
}

impl Provenance {
    pub(crate) fn new(identity: String, files: Vec<String>) -> Provenance {
        Provenance { identity, files }
    }

    pub(crate) fn identity(&self) -> &str {
        &self.identity
    }

    /// The provenance headers of `message`, the `seq`-th of its replay partition. Borrowed, and
    /// the numbers formatted into `numbers`: nothing is allocated per message (the publish loop
    /// runs once per record, and librdkafka copies what it is given anyway).
    pub(crate) fn headers<'a>(
        &'a self,
        message: &OutMessage,
        seq: u64,
        numbers: &'a mut Numbers,
    ) -> Headers<'a> {
        let mut headers = Headers::default();
        headers.push(REPLAY_HEADER, self.identity.as_bytes());
        headers.push(SEQ_HEADER, numbers.seq.format(seq).as_bytes());
        if let Some(partition) = message.source_partition {
            headers.push(
                SOURCE_PARTITION_HEADER,
                numbers.partition.format(partition).as_bytes(),
            );
        }
        if let Some(origin) = message.origin {
            if let Some(file) = self.files.get(origin.file as usize) {
                headers.push(SOURCE_FILE_HEADER, file.as_bytes());
            }
            headers.push(
                SOURCE_INDEX_HEADER,
                numbers.index.format(origin.index).as_bytes(),
            );
        }
        headers
    }
}

/// Where one message's provenance numbers are formatted; kept by the sink across messages.
#[derive(Default)]
pub(crate) struct Numbers {
    seq: itoa::Buffer,
    partition: itoa::Buffer,
    index: itoa::Buffer,
}

/// One message's provenance headers, in order: at most five, on the stack.
#[derive(Default)]
pub(crate) struct Headers<'a> {
    items: [(&'static str, &'a [u8]); 5],
    len: usize,
}

impl<'a> Headers<'a> {
    fn push(&mut self, key: &'static str, value: &'a [u8]) {
        self.items[self.len] = (key, value);
        self.len += 1;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &'a [u8])> + '_ {
        self.items[..self.len].iter().copied()
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
        let mut numbers = Numbers::default();
        let headers: Vec<(&str, String)> = provenance
            .headers(&message, 7, &mut numbers)
            .iter()
            .map(|(k, v)| (k, String::from_utf8(v.to_vec()).unwrap()))
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
