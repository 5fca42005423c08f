//! The offsets step: read where the latest Camus run stopped and commit those offsets of the
//! original topic for a consumer group, so that consumers that finished the replay topic switch
//! to the live topic at the exact cut-off.
//!
//! `etlkey` decodes Camus's keys (read from Hadoop SequenceFiles by [`crate::hadoop`]), `history` finds the newest run and each partition's resume offset, and `zookeeper` /
//! `kafka` commit them — never over offsets the group already has ([`AlreadyCommitted`], exit
//! code 3).

pub mod etlkey;
pub mod history;
pub(crate) mod kafka;
pub(crate) mod zookeeper;

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

/// What the group already has for the topic, compared with what the newest Camus run says.
enum Existing {
    None,
    /// Exactly the offsets the step would commit (an earlier attempt committed them).
    Same,
    /// Other offsets: the step must not touch them.
    Different(AlreadyCommitted),
}

fn group_of(pipeline: &Pipeline) -> Result<&str> {
    pipeline
        .offsets
        .group
        .as_deref()
        .context("offsets.group is not set: which consumer group should get the offsets?")
}

/// Reads (never writes) what the group has where the step would commit.
fn existing(pipeline: &Pipeline, run: &RunOffsets) -> Result<Existing> {
    let offsets = &pipeline.offsets;
    let group = group_of(pipeline)?;
    let topic = &pipeline.topic;
    let timeout = offsets.session_timeout.duration();
    match offsets.commit {
        CommitMode::None => Ok(Existing::None),
        CommitMode::Zookeeper => {
            let connect = zookeeper_connect(pipeline)?;
            let found = zookeeper::existing(connect, group, topic, timeout)?;
            let planned = zookeeper::planned_children(offsets.layout, &run.partitions);
            let (_, chroot) = zookeeper::split_connect_string(connect);
            Ok(compare(&found, &planned, |listed| {
                format!(
                    "{}{} in ZooKeeper {connect} ({} existing: {listed})",
                    chroot.unwrap_or(""),
                    zookeeper::topic_path(group, topic),
                    found.len(),
                )
            }))
        }
        CommitMode::Kafka => {
            let brokers = kafka_brokers(pipeline)?;
            let found = kafka::existing(
                &brokers,
                group,
                topic,
                &offsets.consumer,
                &run.partitions,
                timeout,
            )?;
            let mut planned: Vec<(i32, i64)> = run
                .partitions
                .iter()
                .map(|p| (p.partition, p.offset))
                .collect();
            planned.sort();
            Ok(compare(&found, &planned, |listed| {
                format!("Kafka group {group} on {brokers}, topic {topic} (committed: {listed})")
            }))
        }
    }
}

/// `found` (sorted `(where, offset)` pairs) against what the step would write; `location` turns
/// the `where=offset` listing into the text an [`AlreadyCommitted`] shows.
fn compare<K: std::fmt::Display + PartialEq, V: std::fmt::Display + PartialEq>(
    found: &[(K, V)],
    planned: &[(K, V)],
    location: impl FnOnce(String) -> String,
) -> Existing {
    if found == planned {
        Existing::Same
    } else if found.is_empty() {
        Existing::None
    } else {
        let listed: Vec<String> = found.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Existing::Different(AlreadyCommitted {
            location: location(listed.join(", ")),
        })
    }
}

fn zookeeper_connect(pipeline: &Pipeline) -> Result<&str> {
    pipeline.offsets.zookeeper.as_deref().context(
        "offsets.zookeeper is not set: the ZooKeeper connect string is needed for offsets.commit: zookeeper",
    )
}

fn kafka_brokers(pipeline: &Pipeline) -> Result<String> {
    pipeline.offsets_brokers().context(
        "offsets.brokers (or sink.brokers) is not set: brokers are needed for offsets.commit: kafka",
    )
}

/// Checks, before anything is published, what the offsets step will need: the newest Camus run
/// readable with offsets for the topic and, unless `dry_run`, the ZooKeeper ensemble or the group
/// coordinator reachable and the group free (no offsets, or exactly these). A replay is never
/// published only to find that its hand-off cannot be made.
pub fn preflight(pipeline: &Pipeline, dry_run: bool) -> Result<()> {
    if pipeline.offsets.commit == CommitMode::None {
        return Ok(());
    }
    let context = "checked before publishing anything: the offsets step could not be made";
    group_of(pipeline).context(context)?;
    let run = latest_run(pipeline).context(context)?;
    if dry_run {
        return Ok(());
    }
    match existing(pipeline, &run).context(context)? {
        Existing::None | Existing::Same => Ok(()),
        Existing::Different(already) => Err(anyhow::Error::new(already).context(
            "checked before publishing anything: nothing was sent; the group must be new for the \
             replay's hand-off",
        )),
    }
}

/// The offsets step of `c2k run`, and `c2k offsets commit`. With `dry_run`, prints what would be
/// written where and writes nothing. Offsets identical to those already committed (an earlier,
/// interrupted attempt) are not written again and the step succeeds.
pub fn commit_step(pipeline: &Pipeline, dry_run: bool) -> Result<()> {
    let offsets = &pipeline.offsets;
    if offsets.commit == CommitMode::None {
        return Ok(());
    }
    let group = group_of(pipeline)?;
    let run = latest_run(pipeline)?;
    let topic = &pipeline.topic;
    let timeout = offsets.session_timeout.duration();
    let mut out = std::io::stdout().lock();
    if !dry_run {
        if let Existing::Same = existing(pipeline, &run)? {
            writeln!(
                out,
                "offsets of {topic} for group {group} are already committed, identical to the newest \
                 Camus run's ({}): nothing written",
                run.run_dir
            )?;
            return Ok(());
        }
    }
    match offsets.commit {
        CommitMode::None => Ok(()),
        CommitMode::Zookeeper => {
            let connect = zookeeper_connect(pipeline)?;
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
            let brokers = kafka_brokers(pipeline)?;
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
