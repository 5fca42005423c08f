//! `c2k run`: the plan ([`ReplayPlan`]: listing, history, pre-flight, gate, identity), then the
//! stages ([`crate::stages`]: read + key + sort, merge + format + send), then the offsets step.
//!
//! Invariants (ARCHITECTURE.md, "Invariants"): the count read equals the count the sink
//! acknowledged or the run fails; offsets are committed only after every message is acknowledged,
//! and only the cut-off of the history the plan read.

use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::config::Pipeline;
use crate::plugin::pool::FormatPool;
use crate::plugin::KeyPlugin;
use crate::progress::{Progress, Summary};
use crate::replay_plan::ReplayPlan;
use crate::signals::{self, Stage};
use crate::sink::{self, Opening, Sink};
use crate::stages;

/// How `c2k run` was asked to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Everything but the send and the commit.
    pub dry_run: bool,
    /// Continue a replay the topic already holds part of (`--resume`).
    pub resume: bool,
    /// Commit offsets even when messages after the cut-off are gone from the live topic
    /// (`--accept-loss`).
    pub accept_loss: bool,
    /// The pipeline file, for messages that say which command finishes the job.
    pub pipeline_file: Option<std::path::PathBuf>,
    /// One shard of a sharded replay (`--plan PLAN.json --shard i`).
    pub shard: Option<ShardRun>,
}

/// A shard of a sharded replay: only its source partitions are published, always resuming (a
/// retried task skips exactly what its partitions hold), and nothing is committed — that is
/// `c2k offsets commit --plan`'s, once every shard is complete.
#[derive(Debug, Clone)]
pub struct ShardRun {
    pub plan: crate::shard::Plan,
    pub plan_file: std::path::PathBuf,
    pub index: usize,
}

/// Runs the whole job: the plan, the stages, then the offsets step.
pub fn run(pipeline: &Pipeline, options: &RunOptions) -> Result<()> {
    let started = Instant::now();
    signals::watch(pipeline, options.dry_run, options.pipeline_file.as_deref());
    let replay = match &options.shard {
        None => ReplayPlan::build(pipeline, step_options(options))?,
        // `c2k plan` checked the hand-off; the shard checks the archive is still the planned
        // one (the gate included) and keeps its own partitions.
        Some(shard) => crate::shard::narrow(pipeline, &shard.plan, shard.index)?,
    };
    if let Some(shard) = &options.shard {
        if replay.source.files.is_empty() {
            eprintln!(
                "c2k: shard {} has no source partitions (the plan has more shards than the \
                 archive has partitions): nothing to do",
                shard.index
            );
            return Ok(());
        }
    }
    // A shard always resumes: its partitions may hold what an earlier attempt of it sent.
    let opening = if options.dry_run {
        Opening::DryRun
    } else if options.resume || options.shard.is_some() {
        Opening::Resume
    } else {
        Opening::Fresh
    };
    if (options.resume || options.shard.is_some()) && pipeline.kafka_sink().is_err() {
        eprintln!(
            "c2k: note: --resume continues Kafka replays; sink.type {} is written whole again \
             (and only appears when complete)",
            pipeline.sink.type_name()
        );
    }
    let (sink, plugins) = open_sink_and_plugins(pipeline, &replay, opening)?;
    let sink = sink?;
    let present = sink.already_present();
    if present > 0 && replay.facts.records == Some(present) {
        eprintln!(
            "c2k: the replay is already complete: {present} messages in {} ({} records archived); \
             nothing to send",
            pipeline.destination(),
            present
        );
        if let Some(shard) = &options.shard {
            shard_done(pipeline, shard, present, present);
            return Ok(());
        }
        signals::stage(Stage::Committing);
        return finish_with_offsets(pipeline, options, &replay, present);
    }

    let (mut key, mut format) = plugins?;
    let source = &replay.source;
    let progress = Progress::new(source.files.iter().map(|f| f.size).sum());
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "sink open and plugins loaded"
    );

    let order = stages::choose_order(pipeline, &source.files, &mut key)?;
    let (report, read) = stages::in_order(
        pipeline,
        source,
        order.as_ref(),
        &mut key,
        &mut format,
        &progress,
        None,
        replay.facts.records.unwrap_or(0),
        |items, format, schemas| {
            stages::write_items(
                pipeline,
                &source.files,
                items,
                format,
                sink,
                &progress,
                schemas,
            )
        },
    )?;
    let (records_read, spilled) = (read.records, read.spilled_bytes);
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "merged, formatted and written"
    );
    if report.delivered != records_read {
        bail!(
            "{} records read but {} acknowledged by {}: offsets not committed",
            records_read,
            report.delivered,
            report.destination
        );
    }
    progress.finish();
    let summary = Summary {
        records_in: records_read,
        report,
        spilled_bytes: spilled,
        elapsed: started.elapsed(),
        copies_skipped: replay.gate.copies.len(),
    };
    if let Some(shard) = &options.shard {
        summary.print();
        shard_done(
            pipeline,
            shard,
            summary.report.delivered,
            summary.report.already_present,
        );
        return Ok(());
    }
    signals::stage(Stage::Committing);
    let committed = finish_with_offsets(pipeline, options, &replay, summary.report.delivered);
    summary.print();
    committed
}

/// What the plugins and the sink are once loaded and opened.
type Opened = (Result<Box<dyn Sink>>, Result<(KeyPlugin, FormatPool)>);

/// The plugins load (compile or read from the cache, instantiate), each on a thread of its own,
/// while the sink connects, creates the topic and reads back what it holds: one is CPU, the other
/// waits on brokers. A sink that fails is still reported first, and nothing has been read either
/// way.
fn open_sink_and_plugins(
    pipeline: &Pipeline,
    replay: &ReplayPlan,
    opening: Opening,
) -> Result<Opened> {
    std::thread::scope(|scope| {
        let key = stages::named("c2k-load-key")
            .spawn_scoped(scope, || KeyPlugin::load(&pipeline.key))
            .context("cannot start a thread to load the key plugin")?;
        let format = stages::named("c2k-load-format")
            .spawn_scoped(scope, || FormatPool::load(&pipeline.format))
            .context("cannot start a thread to load the format plugin")?;
        let sink = sink::open(pipeline, &replay.facts, opening);
        let panicked = |_| anyhow::anyhow!("loading the plugins panicked");
        let key = key.join().map_err(panicked)?;
        let format = format.join().map_err(panicked)?;
        Ok((sink, key.and_then(|key| Ok((key, format?)))))
    })
}

/// A shard's last word: what it published, and that the commit is not its job.
fn shard_done(pipeline: &Pipeline, shard: &ShardRun, messages: u64, already_there: u64) {
    let partitions = shard
        .plan
        .shard(shard.index)
        .map(|s| format!("{:?}", s.partitions))
        .unwrap_or_default();
    let resumed = match already_there {
        0 => String::new(),
        n => format!(" ({n} of them already there from an earlier attempt)"),
    };
    eprintln!(
        "c2k: shard {} of {} is complete: {messages} messages{resumed} in partitions {partitions} \
         of {}; no offsets committed: once every shard is complete, `c2k offsets commit PIPELINE --plan \
         {}` checks the replay topic and commits them once",
        shard.index,
        shard.plan.shards.len(),
        pipeline.replay_topic(),
        shard.plan_file.display()
    );
}

/// The offsets step once the replay is complete. A failure here says so, and which command
/// finishes the job without publishing anything again.
fn finish_with_offsets(
    pipeline: &Pipeline,
    options: &RunOptions,
    replay: &ReplayPlan,
    messages: u64,
) -> Result<()> {
    if let Some(why) = &replay.gate.commit_refused {
        if pipeline.offsets.commit != crate::config::CommitMode::None {
            return Err(crate::integrity::Inconsistent(format!(
                "the replay is published ({messages} messages in {}), but {why}: no offsets \
                 were committed (source.integrity: warn publishes a damaged archive, never a \
                 cut-off past it)",
                pipeline.destination()
            ))
            .into());
        }
    }
    crate::offsets::commit_step(pipeline, replay.history.as_ref(), step_options(options))
        .with_context(|| {
            let file = options
                .pipeline_file
                .as_ref()
                .map_or("PIPELINE".to_string(), |f| f.display().to_string());
            // Only a Kafka replay is resumed; a file or stdout would be written whole again.
            let resume = match pipeline.kafka_sink() {
                Ok(_) => format!(" (and `c2k run --resume {file}` would also just commit)"),
                Err(_) => String::new(),
            };
            format!(
                "the replay is complete ({messages} messages in {}), but the offsets step failed; \
                 `c2k offsets commit {file}` finishes the job{resume}",
                pipeline.destination()
            )
        })
}

fn step_options(options: &RunOptions) -> crate::offsets::StepOptions {
    crate::offsets::StepOptions {
        dry_run: options.dry_run,
        accept_loss: options.accept_loss,
    }
}
