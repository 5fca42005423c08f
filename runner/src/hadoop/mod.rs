//! Hadoop's on-disk formats, as far as Camus uses them: SequenceFiles ([`sequencefile`]), the
//! `Writable` encodings inside them ([`writable`]) and Hadoop's compression codecs
//! ([`compression`]). A library: it knows nothing of Camus, Kafka or the pipeline.

pub(crate) mod compression;
pub(crate) mod sequencefile;
pub(crate) mod stream;
pub(crate) mod writable;
