//! The offsets step: read where the latest Camus run stopped and commit those offsets of the
//! original topic for a consumer group, so that consumers that finished the replay topic switch
//! to the live topic at the exact cut-off.
//!
//! `etlkey` decodes Camus's keys (read from Hadoop SequenceFiles by [`crate::hadoop`]), `history` finds the newest run and each partition's resume offset, and `zookeeper` /
//! `kafka` commit them — never over offsets the group already has ([`AlreadyCommitted`], exit
//! code 3).

pub mod etlkey;
pub mod history;
pub mod kafka;
pub mod zookeeper;

use std::io::Write;

use anyhow::{Context, Result};

use crate::config::{CommitMode, Pipeline};
use history::RunOffsets;

/// `c2k offsets show`: prints the latest run's offsets table.
pub fn show(pipeline: &Pipeline) -> Result<()> {
    let run = latest_run(pipeline)?;
    let mut out = std::io::stdout().lock();
    print_table(&run, &mut out)?;
    Ok(())
}

/// The table `show` prints: one line per partition.
pub fn print_table(run: &RunOffsets, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "# latest Camus run: {}", run.run_dir)?;
    writeln!(
        out,
        "{:>9}  {:>20}  {:>6}  file",
        "partition", "offset", "node"
    )?;
    for p in &run.partitions {
        let node = if p.node.is_empty() {
            "-"
        } else {
            p.node.as_str()
        };
        writeln!(
            out,
            "{:>9}  {:>20}  {:>6}  {}",
            p.partition, p.offset, node, p.file
        )?;
    }
    Ok(())
}

/// The offsets of the configured topic in the newest Camus run.
fn latest_run(pipeline: &Pipeline) -> Result<RunOffsets> {
    let history_dir = pipeline.history_dir().context(
        "offsets.exec_dir (or offsets.history_dir) is not set: the offsets step needs the \
         Camus execution directory",
    )?;
    history::latest_run(&history_dir, &pipeline.topic)
}

/// The offsets step of `c2k run`, and `c2k offsets commit`. With `dry_run`, prints what would be
/// written where and writes nothing.
pub fn commit_step(pipeline: &Pipeline, dry_run: bool) -> Result<()> {
    let offsets = &pipeline.offsets;
    if offsets.commit == CommitMode::None {
        return Ok(());
    }
    let group = offsets
        .group
        .as_deref()
        .context("offsets.group is not set: which consumer group should get the offsets?")?;
    let run = latest_run(pipeline)?;
    let topic = &pipeline.topic;
    let timeout = offsets.session_timeout.duration();
    let mut out = std::io::stdout().lock();
    match offsets.commit {
        CommitMode::None => Ok(()),
        CommitMode::Zookeeper => {
            let connect = offsets
                .zookeeper
                .as_deref()
                .context("offsets.zookeeper is not set: the ZooKeeper connect string is needed for offsets.commit: zookeeper")?;
            let planned =
                zookeeper::planned_writes(connect, group, topic, offsets.layout, &run.partitions);
            if dry_run {
                writeln!(
                    out,
                    "dry run: would write in ZooKeeper {connect} (from {}):",
                    run.run_dir
                )?;
                for w in &planned {
                    writeln!(out, "  {} = {}", w.path, w.value)?;
                }
                return Ok(());
            }
            let written = zookeeper::commit(
                connect,
                group,
                topic,
                offsets.layout,
                &run.partitions,
                timeout,
            )?;
            writeln!(
                out,
                "committed {} offsets of {topic} for group {group} in ZooKeeper {connect} (from {}):",
                written.len(),
                run.run_dir
            )?;
            for w in &written {
                writeln!(out, "  {} = {}", w.path, w.value)?;
            }
            Ok(())
        }
        CommitMode::Kafka => {
            let brokers = pipeline.offsets_brokers().context(
                "offsets.brokers (or sink.brokers) is not set: brokers are needed for offsets.commit: kafka",
            )?;
            if dry_run {
                writeln!(
                    out,
                    "dry run: would commit for group {group} on {brokers} (from {}):",
                    run.run_dir
                )?;
            } else {
                kafka::commit(
                    &brokers,
                    group,
                    topic,
                    &offsets.consumer,
                    &run.partitions,
                    timeout,
                )?;
                writeln!(
                    out,
                    "committed {} offsets of {topic} for group {group} on {brokers} (from {}):",
                    run.partitions.len(),
                    run.run_dir
                )?;
            }
            for p in &run.partitions {
                writeln!(out, "  {topic}/{} = {}", p.partition, p.offset)?;
            }
            Ok(())
        }
    }
}

/// The consumer group already has offsets for the topic: nothing was written. `c2k` exits with
/// code 3 for it.
#[derive(Debug, thiserror::Error)]
#[error("consumer group already has offsets at {location}: left untouched, nothing written")]
pub struct AlreadyCommitted {
    /// The ZooKeeper path or Kafka group/topic that already has offsets.
    pub location: String,
}
