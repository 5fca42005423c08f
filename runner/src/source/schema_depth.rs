//! Parsing a schema, and decoding a datum, as deep as Avro data may nest without running out of
//! stack.
//!
//! The checks are `c2k_avro::schema_text`'s, shared with the plugins: the text's JSON nesting
//! bounded by a scan, the JSON parsed without serde_json's 128-level limit, the Avro depth
//! within [`c2k_avro::MAX_DEPTH`]. What the host adds is the stack: up to
//! [`c2k_avro::schema_text::MAX_JSON_DEPTH`] levels of serde_json and [`c2k_avro::MAX_DEPTH`]
//! of apache-avro's parser, which a decoding thread's default 2 MiB may not hold.

use anyhow::{anyhow, Context, Result};

/// The stack of every thread that parses schemas or decodes datums with apache-avro: its
/// decoder takes ~34 KiB of stack per level of nesting (measured), ~9 MiB for a datum
/// [`c2k_avro::MAX_DEPTH`] levels deep, where a thread has 2 MiB by default (the main thread
/// 8 MiB). Only what is touched is ever committed.
pub(crate) const STACK_BYTES: usize = 64 << 20;

/// Runs `work` on a thread with a stack of [`STACK_BYTES`].
pub(crate) fn on_large_stack<T: Send>(work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("c2k-schema".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, work)
            .context("cannot start a thread to parse a schema")?
            .join()
            .map_err(|_| anyhow!("the schema parser panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::super::schemas::parse_schema;

    /// `levels` records, each the type of the one field of the record around it.
    fn nested(levels: usize) -> String {
        let mut text = r#""long""#.to_string();
        for i in (0..levels).rev() {
            text = format!(
                r#"{{"type":"record","name":"R{i}","fields":[{{"name":"f","type":{text}}}]}}"#
            );
        }
        text
    }

    #[test]
    fn a_schema_within_avros_limit_parses_and_a_deeper_one_is_refused_saying_how_deep() {
        for levels in [100, 256] {
            assert!(parse_schema(&nested(levels)).is_ok(), "{levels} levels");
        }
        let error = format!("{:#}", parse_schema(&nested(300)).unwrap_err());
        assert!(error.contains("nests 300 levels deep"), "{error}");
        assert!(error.contains("256"), "{error}");
    }
}
