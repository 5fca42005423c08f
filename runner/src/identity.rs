//! The replay's identity: a hash of everything that decides what the replay topic holds and in
//! which order — the original topic, the input files (relative path and size, in read order), the
//! reader schema, both plugins (name or path, the component's own bytes, their configuration),
//! the partitioning and the replay topic's partition count.
//!
//! Every Kafka message carries it (`c2k-replay`), so a later run can tell its own earlier,
//! interrupted attempt (same identity: resume where it stopped) from anything else in the topic
//! (another archive, another pipeline, another tool: refuse). Settings that change neither content
//! nor order — memory, batch sizes, timeouts, rates — are deliberately left out.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::config::{Partitioning, Pipeline, PluginConfig, SortMode};
use crate::source::SourceFile;
use crate::storage;

/// The part of the identity known before the replay topic is looked at: what the records are and
/// how they are ordered and formatted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContentDigest(pub [u8; 32]);

/// Hashes the pipeline's inputs. `files` are the source's files in read order; their paths are
/// taken relative to `input_dir`, so the same archive copied elsewhere keeps its identity.
pub(crate) fn content_digest(
    pipeline: &Pipeline,
    input_dir: &str,
    files: &[SourceFile],
) -> Result<ContentDigest> {
    let mut hash = Sha256::new();
    field(&mut hash, "topic", pipeline.topic.as_bytes());
    field(&mut hash, "files", &(files.len() as u64).to_le_bytes());
    for file in files {
        field(
            &mut hash,
            "file",
            relative_path(input_dir, &file.url).as_bytes(),
        );
        field(&mut hash, "size", &file.size.to_le_bytes());
    }
    match &pipeline.source.schema {
        Some(url) => {
            let text = storage::for_url(url)?
                .read_all(url)
                .with_context(|| format!("source.schema {url}: cannot read it"))?;
            field(&mut hash, "schema", &text);
        }
        None => field(&mut hash, "schema", b""),
    }
    plugin(&mut hash, "key", &pipeline.key)?;
    plugin(&mut hash, "format", &pipeline.format)?;
    // Both orders are the same when a replay completes, but a streamed replay stops where a
    // record breaks its order: a resume must never continue it with the other.
    match pipeline.sort.mode {
        SortMode::External => {}
        SortMode::Auto => field(&mut hash, "order", b"auto"),
        SortMode::Buckets => field(&mut hash, "order", b"buckets"),
    }
    Ok(ContentDigest(hash.finalize().into()))
}

/// The whole identity, once the replay topic's partitioning and partition count are known: 32
/// hex digits (128 bits), the value of every message's `c2k-replay` header.
pub(crate) fn replay_identity(
    content: &ContentDigest,
    partitioning: Partitioning,
    partitions: i32,
) -> String {
    let mut hash = Sha256::new();
    field(&mut hash, "content", &content.0);
    field(
        &mut hash,
        "partitioning",
        format!("{partitioning:?}").as_bytes(),
    );
    field(&mut hash, "partitions", &partitions.to_le_bytes());
    let digest = hash.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// `url` relative to `input_dir` (the `c2k-source-file` header), or `url` itself when it is not
/// under it.
pub(crate) fn relative_path(input_dir: &str, url: &str) -> String {
    let dir = input_dir.trim_end_matches('/');
    match url.strip_prefix(dir) {
        Some(rest) if rest.starts_with('/') => rest.trim_start_matches('/').to_owned(),
        _ => url.to_owned(),
    }
}

fn plugin(hash: &mut Sha256, role: &str, config: &PluginConfig) -> Result<()> {
    field(hash, role, config.plugin.as_bytes());
    let component: Vec<u8> = if let Some(bytes) = crate::bundled::bundled(&config.plugin) {
        bytes.to_vec()
    } else if crate::plugin::native::native_name(&config.plugin).is_some() {
        // Compiled into this binary: its name is all there is to hash.
        Vec::new()
    } else {
        std::fs::read(&config.plugin)
            .with_context(|| format!("{role}.plugin {}: cannot read it", config.plugin))?
    };
    field(hash, "component", &Sha256::digest(&component));
    field(hash, "config", config.config.to_string().as_bytes());
    Ok(())
}

/// Length-prefixed, so that no two different inputs hash the same bytes.
fn field(hash: &mut Sha256, name: &str, value: &[u8]) {
    hash.update((name.len() as u64).to_le_bytes());
    hash.update(name.as_bytes());
    hash.update((value.len() as u64).to_le_bytes());
    hash.update(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(extra: &str) -> Pipeline {
        let yaml = format!("topic: T\nsource: {{dest_dir: /d}}\nsink: {{brokers: b}}\n{extra}");
        Pipeline::from_document(&serde_yaml::from_str(&yaml).unwrap()).unwrap()
    }

    fn file(url: &str, size: u64) -> SourceFile {
        SourceFile {
            url: url.into(),
            size,
            name: None,
        }
    }

    #[test]
    fn the_identity_follows_content_and_order_but_not_tuning() {
        let files = vec![file("/d/T/a.avro", 10), file("/d/T/b.avro", 20)];
        let base = content_digest(&pipeline(""), "/d/T", &files).unwrap();
        let id = replay_identity(&base, Partitioning::Source, 4);
        assert_eq!(id.len(), 32);

        let tuned = pipeline("sort: {memory: 1GiB}\nkey: {batch_size: 10}");
        assert_eq!(base, content_digest(&tuned, "/d/T", &files).unwrap());
        let moved = vec![file("/elsewhere/a.avro", 10), file("/elsewhere/b.avro", 20)];
        assert_eq!(
            base,
            content_digest(&pipeline(""), "/elsewhere", &moved).unwrap()
        );

        let grown = vec![file("/d/T/a.avro", 10), file("/d/T/b.avro", 21)];
        assert_ne!(base, content_digest(&pipeline(""), "/d/T", &grown).unwrap());
        let added = vec![files[0].clone(), files[1].clone(), file("/d/T/c.avro", 1)];
        assert_ne!(base, content_digest(&pipeline(""), "/d/T", &added).unwrap());
        let keyed = pipeline("key: {config: {field: header.time}}");
        assert_ne!(base, content_digest(&keyed, "/d/T", &files).unwrap());
        let json = pipeline("format: {plugin: json}");
        assert_ne!(base, content_digest(&json, "/d/T", &files).unwrap());

        assert_ne!(id, replay_identity(&base, Partitioning::Key, 4));
        assert_ne!(id, replay_identity(&base, Partitioning::Source, 5));
    }

    #[test]
    fn source_files_are_named_relative_to_the_input_directory() {
        assert_eq!(
            relative_path(
                "hdfs://nn:8020/camus/T/",
                "hdfs://nn:8020/camus/T/hourly/2024/a.avro"
            ),
            "hourly/2024/a.avro"
        );
        assert_eq!(relative_path("/d/T", "/d/TT/a.avro"), "/d/TT/a.avro");
    }
}
