//! PLAN.json: the facts every shard and the final commit work from — the archive's files with
//! their sizes and record counts, the replay's content identity, the Camus cut-off and which
//! source partitions each shard publishes. Written once by `c2k plan`; a shard or the commit that
//! finds the archive, the pipeline or the history changed since refuses.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::{Partitioning, Pipeline};
use crate::identity::ContentDigest;

/// The plan format's version; a plan of another version is refused, never guessed at.
pub(crate) const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    /// The original topic.
    pub topic: String,
    pub replay_topic: String,
    /// The input directory the files are relative to.
    pub input_dir: String,
    /// `source` (each replay partition is one source partition, shards own partitions), or `key`
    /// or `single` (shards own files and go through the map and reduce stages).
    pub partitioning: String,
    /// The replay topic's partition count the map stage splits its runs by (`key` and `single`;
    /// `None` for `source`). A reduce that finds the topic with another count refuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_partitions: Option<i32>,
    /// The replay's content digest (`identity::content_digest`), hex.
    pub content: String,
    /// The archive as listed (after identical copies were left out), in read order.
    pub files: Vec<PlannedFile>,
    /// The newest Camus run's offsets, which the final commit hands over; `None` without an
    /// offsets step (`offsets.commit: none`).
    pub cutoff: Option<Cutoff>,
    pub shards: Vec<Shard>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedFile {
    /// Relative to `input_dir`.
    pub path: String,
    pub size: u64,
    pub partition: u32,
    /// Records, as the Camus file name counts them.
    pub records: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cutoff {
    /// The history folder of the newest Camus run.
    pub run_dir: String,
    /// Next offset to read, per partition of the original topic.
    pub offsets: BTreeMap<i32, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub index: usize,
    /// The source partitions it publishes (= its replay partitions); empty for `key` and
    /// `single`, whose shards are given files.
    pub partitions: Vec<u32>,
    /// For `key` and `single`: the files its map stage reads, as indexes into [`Plan::files`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<usize>,
    pub bytes: u64,
    pub records: u64,
}

impl Plan {
    /// Reads a plan written by `c2k plan`, refusing one of another version.
    pub fn load(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the plan {}", path.display()))?;
        let plan: Plan = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a plan written by `c2k plan`", path.display()))?;
        if plan.version != VERSION {
            bail!(
                "the plan {} has version {}; this c2k reads version {VERSION}: plan again with \
                 this c2k",
                path.display(),
                plan.version
            );
        }
        Ok(plan)
    }

    /// Writes the plan under a temporary name, renamed when complete: a half-written plan is
    /// never read.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, text + "\n")
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, path)
            .with_context(|| format!("cannot rename {} to {}", partial.display(), path.display()))
    }

    /// Shard `index`, or an error saying how many there are.
    pub fn shard(&self, index: usize) -> Result<&Shard> {
        self.shards.get(index).with_context(|| {
            format!(
                "--shard {index}: the plan has {} shards (0 to {})",
                self.shards.len(),
                self.shards.len().saturating_sub(1)
            )
        })
    }

    /// Records expected in each replay partition (= source partition).
    pub fn expected(&self) -> BTreeMap<u32, u64> {
        let mut expected = BTreeMap::new();
        for file in &self.files {
            *expected.entry(file.partition).or_insert(0) += file.records;
        }
        expected
    }

    /// Every source partition the archive holds, sorted.
    pub fn partitions(&self) -> Vec<u32> {
        self.expected().into_keys().collect()
    }

    /// The shard that publishes source partition `partition`.
    pub fn shard_of(&self, partition: u32) -> Option<usize> {
        self.shards
            .iter()
            .find(|s| s.partitions.contains(&partition))
            .map(|s| s.index)
    }

    /// Refuses a pipeline that is not the one planned (another topic or replay topic).
    pub fn check_pipeline(&self, pipeline: &Pipeline) -> Result<()> {
        let sink = pipeline.kafka_sink()?;
        let mut differences = Vec::new();
        if self.topic != pipeline.topic {
            differences.push(format!(
                "topic {} (planned: {})",
                pipeline.topic, self.topic
            ));
        }
        if self.replay_topic != pipeline.replay_topic() {
            differences.push(format!(
                "replay topic {} (planned: {})",
                pipeline.replay_topic(),
                self.replay_topic
            ));
        }
        if partitioning_name(sink.partitioning) != self.partitioning {
            differences.push(format!(
                "sink.partitioning {} (planned: {})",
                partitioning_name(sink.partitioning),
                self.partitioning
            ));
        }
        if differences.is_empty() {
            return Ok(());
        }
        bail!(
            "the pipeline is not the one the plan was made for: {}; plan again (`c2k plan`)",
            differences.join(", ")
        )
    }
}

impl Plan {
    /// Whether the plan's shards are map tasks (`key`, `single`) rather than publishers of their
    /// own source partitions (`source`).
    pub fn is_map_reduce(&self) -> bool {
        self.partitioning != "source"
    }
}

/// The name `sink.partitioning` gives a mode, as the plan records it.
pub(crate) fn partitioning_name(partitioning: Partitioning) -> &'static str {
    match partitioning {
        Partitioning::Source => "source",
        Partitioning::Key => "key",
        Partitioning::Single => "single",
    }
}

pub(crate) fn to_hex(digest: &ContentDigest) -> String {
    digest.0.iter().map(|b| format!("{b:02x}")).collect()
}
