//! Everything a replay decides before a record is read, built once per command: the archive
//! listed, the Camus history read (once: the integrity gate and the offsets step share it), the
//! offsets step's pre-flight, the gate's verdict and what the sink is told about the source (the
//! replay's identity). `c2k run` and `c2k plan` build it over the whole archive
//! ([`ReplayPlan::build`]); a shard, a map, a reduce and the sharded commit build it and check it
//! against PLAN.json ([`crate::shard::open_as_planned`]). The stages ([`crate::stages`]) and the
//! offsets step take what they need from it.

use anyhow::Result;

use crate::config::Pipeline;
use crate::integrity::{self, Gate};
use crate::offsets::{self, history::History, history::RunOffsets, StepOptions};
use crate::sink::SourceFacts;
use crate::source::CamusSource;

/// What a replay knows before it reads a record.
pub(crate) struct ReplayPlan {
    /// The files to read: the archive less the identical copies the gate left out (and, for a
    /// shard, less the other shards' partitions).
    pub source: CamusSource,
    /// The pipeline's Camus history, read once, when it names one.
    pub history: Option<History>,
    /// What the integrity gate decided beyond letting the replay go on.
    pub gate: Gate,
    /// What the sink is told about the source: partitions, files, identity, record count.
    pub facts: SourceFacts,
}

impl ReplayPlan {
    /// The archive as it is now, for `c2k run` and `c2k plan`: listed, its history read, the
    /// offsets step checked (a replay is never published only to find its hand-off cannot be
    /// made), then gated (duplicates, gaps and strays found from names and the history).
    pub(crate) fn build(pipeline: &Pipeline, step: StepOptions) -> Result<ReplayPlan> {
        ReplayPlan::assemble(pipeline, Some(step))
    }

    /// The archive listed, its history read and gated, with no pre-flight: for the commands
    /// that check it against a plan whose making did the pre-flight.
    pub(crate) fn gated(pipeline: &Pipeline) -> Result<ReplayPlan> {
        ReplayPlan::assemble(pipeline, None)
    }

    fn assemble(pipeline: &Pipeline, preflight: Option<StepOptions>) -> Result<ReplayPlan> {
        let mut source = CamusSource::open(pipeline)?;
        let history = match offsets::history_of_names(pipeline, &source.files) {
            Some(names) => Some(names),
            None => offsets::read_history(pipeline)?,
        };
        if let Some(step) = preflight {
            offsets::preflight(pipeline, history.as_ref(), step)?;
        }
        let gate = integrity::gate(pipeline, history.as_ref(), &source.files)?;
        source.leave_out(&gate.copies);
        let facts = source_facts(pipeline, &source)?;
        Ok(ReplayPlan {
            source,
            history,
            gate,
            facts,
        })
    }

    /// The cut-off the offsets step commits: the newest run of the history read for this plan.
    pub(crate) fn cutoff(&self, pipeline: &Pipeline) -> Result<RunOffsets> {
        offsets::cutoff(pipeline, self.history.as_ref())
    }
}

/// What the sink is told about the source before anything is read: partitions, file names, the
/// replay's content identity and, when every file has a Camus name, how many records there are.
fn source_facts(pipeline: &Pipeline, source: &CamusSource) -> Result<SourceFacts> {
    let input_dir = pipeline.input_dir();
    let records = crate::source::shared::records_named(&source.files);
    Ok(SourceFacts {
        partitions: source.partitions(),
        files: source
            .files
            .iter()
            .map(|file| crate::identity::relative_path(&input_dir, &file.url))
            .collect(),
        content: crate::identity::content_digest(pipeline, &input_dir, &source.files)?,
        records,
        only_partitions: None,
        oldest_bucket_ms: SourceFacts::oldest_bucket(&source.files),
    })
}
