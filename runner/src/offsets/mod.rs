//! The offsets step: read where the latest Camus run stopped and commit those offsets of the
//! original topic for a consumer group, so that consumers that finished the replay topic switch
//! to the live topic at the exact cut-off.
//!
//! `etlkey` decodes Camus's keys (read from Hadoop SequenceFiles by [`crate::hadoop`]), `history`
//! finds the newest run and each partition's resume offset (the cut-off), `live` reads what the
//! live cluster says about the original topic and the group, `handoff` judges whether the cut-off
//! can be handed over ([`HandOffRefused`], exit code 6), and `zookeeper` / `kafka` commit — never
//! over offsets the group already has ([`AlreadyCommitted`], exit code 3).

pub(crate) mod etlkey;
pub(crate) mod handoff;
pub(crate) mod history;
pub(crate) mod kafka;
pub(crate) mod live;
pub(crate) mod zookeeper;

use std::io::Write;

use anyhow::{Context, Result};

use crate::config::{CommitMode, LiveCheck, Pipeline, SourceType};
pub(crate) use crate::refusal::{AlreadyCommitted, HandOffRefused};
use handoff::Decision;
use history::{History, PartitionOffset, RunOffsets};

/// `c2k offsets show`: prints the newest run's cut-offs beside what the live cluster says (log
/// start, high watermark, messages left to read after the switch), then a line per problem the
/// commit would meet. When the live cluster cannot be read, the cut-offs are printed alone and
/// stderr says why.
pub fn show(pipeline: &Pipeline) -> Result<()> {
    let run = latest_run(pipeline)?;
    let group = pipeline.offsets.group.as_deref();
    let live = match live::read(pipeline, &pipeline.topic, group) {
        Ok(snapshot) => Some(snapshot),
        Err(error) => {
            eprintln!(
                "c2k: the live columns are missing: cannot read the live topic {}: {error:#}",
                pipeline.topic
            );
            None
        }
    };
    let mut out = std::io::stdout().lock();
    print_table(&run, live.as_ref(), &mut out)?;
    if let Some(live) = &live {
        let mut meanings = Vec::new();
        for finding in handoff::findings(&run.partitions, live) {
            let kind = if finding.refuses(false) {
                "refused"
            } else {
                "warning"
            };
            writeln!(
                out,
                "{kind}: {}",
                finding.describe(&pipeline.topic, group.unwrap_or("-"))
            )?;
            if let Some(meaning) = finding.meaning() {
                if !meanings.contains(&meaning) {
                    meanings.push(meaning);
                }
            }
        }
        for meaning in meanings {
            writeln!(out, "  ({meaning})")?;
        }
    }
    Ok(())
}

/// The table `show` prints: one line per partition, of the cut-offs and of the live topic.
pub(crate) fn print_table(
    run: &RunOffsets,
    live: Option<&live::Snapshot>,
    out: &mut dyn Write,
) -> Result<()> {
    match run.from_names {
        true => writeln!(out, "# cut-off from the file names below: {}", run.run_dir)?,
        false => writeln!(out, "# latest Camus run: {}", run.run_dir)?,
    }
    let watermarks: &[live::Watermarks] = match live {
        Some(snapshot) => {
            writeln!(out, "# live topic on {}", snapshot.cluster)?;
            snapshot.partitions.as_deref().unwrap_or(&[])
        }
        None => {
            writeln!(out, "# live topic: not read (stderr says why)")?;
            &[]
        }
    };
    writeln!(
        out,
        "{:>9}  {:>12}  {:>12}  {:>14}  {:>12}  {:>6}  file",
        "partition", "cut-off", "log-start", "high-watermark", "to-read", "node"
    )?;
    let number = |n: Option<i64>| n.map_or("-".to_string(), |n| n.to_string());
    let mut partitions: Vec<i32> = run.partitions.iter().map(|p| p.partition).collect();
    partitions.extend(watermarks.iter().map(|w| w.partition));
    partitions.sort_unstable();
    partitions.dedup();
    let mut total = Some(0);
    for partition in partitions {
        let cut = run.partitions.iter().find(|p| p.partition == partition);
        let w = watermarks.iter().find(|w| w.partition == partition);
        // What the consumers read after the switch: from the cut-off, or from the log start when
        // messages after the cut-off are gone; nothing when the archive is ahead.
        let to_read = match (cut, w) {
            (Some(c), Some(w)) if c.offset <= w.high_watermark => {
                Some(w.high_watermark - c.offset.max(w.log_start))
            }
            _ => None,
        };
        if cut.is_some() {
            total = total.zip(to_read).map(|(t, n)| t + n);
        }
        let (node, file) = match cut {
            Some(c) if !c.node.is_empty() => (c.node.as_str(), c.file.as_str()),
            Some(c) => ("-", c.file.as_str()),
            None => ("-", "-"),
        };
        writeln!(
            out,
            "{:>9}  {:>12}  {:>12}  {:>14}  {:>12}  {:>6}  {}",
            partition,
            number(cut.map(|c| c.offset)),
            number(w.map(|w| w.log_start)),
            number(w.map(|w| w.high_watermark)),
            number(to_read),
            node,
            file
        )?;
    }
    if let (Some(total), Some(_)) = (total, live.and_then(|l| l.partitions.as_ref())) {
        writeln!(
            out,
            "# after the switch consumers will read {total} messages of the live topic"
        )?;
    }
    Ok(())
}

const NO_HISTORY: &str = "offsets.exec_dir (or offsets.history_dir) is not set: the offsets \
     step needs the Camus execution directory";

/// The offsets of the configured topic in the newest Camus run, read alone (`c2k offsets show`).
fn latest_run(pipeline: &Pipeline) -> Result<RunOffsets> {
    if pipeline.source.kind == SourceType::KafkaConnect {
        return cutoff(pipeline, read_history(pipeline)?.as_ref());
    }
    let history_dir = pipeline.history_dir().context(NO_HISTORY)?;
    history::latest_run(&history_dir, &pipeline.topic)
}

/// The pipeline's Camus history, every run of it, when the pipeline names one: read once per
/// command, for the integrity check and the offsets step alike. A Kafka Connect archive's
/// history is what its file names say ([`History::of_connect_names`]), so it is listed.
pub fn read_history(pipeline: &Pipeline) -> Result<Option<History>> {
    if pipeline.source.kind == SourceType::KafkaConnect {
        let (listing, _) = crate::source::list_pipeline(pipeline)?;
        return Ok(history_of_names(pipeline, &listing.files));
    }
    pipeline
        .history_dir()
        .map(|dir| {
            History::read(&dir, &pipeline.topic)
                .with_context(|| format!("cannot read the Camus history {dir}"))
        })
        .transpose()
}

/// A Kafka Connect archive's history, from the names of its `files` (already listed); `None`
/// for a Camus archive, whose history is its own ([`read_history`]).
pub(crate) fn history_of_names(
    pipeline: &Pipeline,
    files: &[crate::source::SourceFile],
) -> Option<History> {
    (pipeline.source.kind == SourceType::KafkaConnect).then(|| {
        let mine: Vec<_> = files
            .iter()
            .filter(|f| f.name.as_ref().is_some_and(|n| n.topic == pipeline.topic))
            .cloned()
            .collect();
        History::of_connect_names(&pipeline.input_dir(), &crate::source::connect::spans(&mine))
    })
}

/// The cut-off the offsets step commits: the newest run's resume points in `history`.
pub(crate) fn cutoff(pipeline: &Pipeline, history: Option<&History>) -> Result<RunOffsets> {
    history.context(NO_HISTORY)?.cutoff(&pipeline.topic)
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

/// Reads (never writes) what the group has where the step would commit `plan`.
fn existing(pipeline: &Pipeline, plan: &[PartitionOffset]) -> Result<Existing> {
    let offsets = &pipeline.offsets;
    let group = group_of(pipeline)?;
    let topic = &pipeline.topic;
    let timeout = offsets.session_timeout.duration();
    match offsets.commit {
        CommitMode::None => Ok(Existing::None),
        CommitMode::Zookeeper => {
            let connect = zookeeper_connect(pipeline)?;
            let auth = crate::zookeeper::ZkAuth::from_config(offsets)?;
            let found = zookeeper::existing(connect, &auth, group, topic, timeout)?;
            let planned = zookeeper::planned_children(offsets.layout, plan);
            let (_, chroot) = crate::zookeeper::split_connect_string(connect);
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
                &coordinator(pipeline)?,
                group,
                topic,
                &offsets.consumer,
                plan,
                timeout,
            )?;
            let mut planned: Vec<(i32, i64)> =
                plan.iter().map(|p| (p.partition, p.offset)).collect();
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

/// The group coordinator's brokers for `commit: kafka`, and the key they come from.
fn coordinator(pipeline: &Pipeline) -> Result<kafka::Brokers> {
    Ok(kafka::Brokers {
        list: kafka_brokers(pipeline)?,
        from: if pipeline.offsets.brokers.is_some() {
            "offsets.brokers"
        } else {
            "sink.brokers"
        },
    })
}

fn kafka_brokers(pipeline: &Pipeline) -> Result<String> {
    pipeline.offsets_brokers().context(
        "offsets.brokers (or sink.brokers) is not set: brokers are needed for offsets.commit: kafka",
    )
}

/// How the offsets step was asked to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepOptions {
    /// Read and report, write nothing, never fail because of the live topic.
    pub dry_run: bool,
    /// Commit even when messages after the cut-off are gone from the live topic (`--accept-loss`).
    pub accept_loss: bool,
}

/// Checks, before anything is published, what the offsets step will need: the newest Camus run
/// readable with offsets for the topic and, unless `dry_run`, the ZooKeeper ensemble or the group
/// coordinator reachable, the group free (no offsets, or exactly these) and the live topic
/// consistent with the cut-off ([`handoff`]). A replay is never published only to find that its
/// hand-off cannot be made. A dry run reads the live topic too and says what it found, without
/// failing on it.
pub(crate) fn preflight(
    pipeline: &Pipeline,
    history: Option<&History>,
    options: StepOptions,
) -> Result<()> {
    if pipeline.offsets.commit == CommitMode::None {
        return Ok(());
    }
    let context = "checked before publishing anything: the offsets step could not be made";
    let group = group_of(pipeline).context(context)?;
    let run = cutoff(pipeline, history).context(context)?;
    if options.dry_run {
        let decision = decide_live(pipeline, group, &run, options);
        report_dry_run(pipeline, &decision);
        return Ok(());
    }
    match prepare(pipeline, group, &run, options) {
        Ok(_) => Ok(()),
        Err(error) if error.is::<AlreadyCommitted>() => Err(error.context(
            "checked before publishing anything: nothing was sent; the group must be new for the \
             replay's hand-off",
        )),
        Err(error) if error.is::<HandOffRefused>() => {
            Err(error.context("checked before publishing anything: nothing was sent"))
        }
        Err(error) => Err(error.context(context)),
    }
}

/// The offsets step of `c2k run`, and `c2k offsets commit`. The live topic is checked again right
/// before writing (it may have moved on during a long replay). With `dry_run`, prints what would
/// be written where and writes nothing. Offsets identical to those already committed (an earlier,
/// interrupted attempt) are not written again and the step succeeds. The cut-off is the newest
/// run of `history`, the history the command read before anything was sent.
pub fn commit_step(
    pipeline: &Pipeline,
    history: Option<&History>,
    options: StepOptions,
) -> Result<()> {
    let offsets = &pipeline.offsets;
    if offsets.commit == CommitMode::None {
        return Ok(());
    }
    let group = group_of(pipeline)?;
    let run = cutoff(pipeline, history)?;
    let topic = &pipeline.topic;
    let timeout = offsets.session_timeout.duration();
    let mut out = std::io::stdout().lock();
    let decision = if options.dry_run {
        let decision = decide_live(pipeline, group, &run, options);
        report_dry_run(pipeline, &decision);
        decision
    } else {
        match prepare(pipeline, group, &run, options)? {
            Prepared::AlreadyDone => {
                writeln!(
                    out,
                    "offsets of {topic} for group {group} are already committed, identical to \
                     those this step commits (from {}): nothing written",
                    run.run_dir
                )?;
                return Ok(());
            }
            Prepared::Commit(decision) => decision,
        }
    };
    let plan = &decision.plan;
    match offsets.commit {
        CommitMode::None => return Ok(()),
        CommitMode::Zookeeper => {
            let connect = zookeeper_connect(pipeline)?;
            let writes = if options.dry_run {
                writeln!(
                    out,
                    "dry run: would write in ZooKeeper {connect} (from {}):",
                    run.run_dir
                )?;
                zookeeper::planned_writes(connect, group, topic, offsets.layout, plan)
            } else {
                let auth = crate::zookeeper::ZkAuth::from_config(offsets)?;
                let written =
                    zookeeper::commit(connect, &auth, group, topic, offsets.layout, plan, timeout)?;
                writeln!(
                    out,
                    "committed {} offsets of {topic} for group {group} in ZooKeeper {connect} \
                     (from {}):",
                    written.len(),
                    run.run_dir
                )?;
                written
            };
            for w in &writes {
                writeln!(out, "  {} = {}", w.path, w.value)?;
            }
        }
        CommitMode::Kafka => {
            let brokers = kafka_brokers(pipeline)?;
            if options.dry_run {
                writeln!(
                    out,
                    "dry run: would commit for group {group} on {brokers} (from {}):",
                    run.run_dir
                )?;
            } else {
                kafka::commit(
                    &coordinator(pipeline)?,
                    group,
                    topic,
                    &offsets.consumer,
                    plan,
                    timeout,
                )?;
                writeln!(
                    out,
                    "committed {} offsets of {topic} for group {group} on {brokers} (from {}):",
                    plan.len(),
                    run.run_dir
                )?;
            }
            for p in plan {
                writeln!(out, "  {topic}/{} = {}", p.partition, p.offset)?;
            }
        }
    }
    if !options.dry_run {
        if let Some(to_read) = decision.to_read {
            writeln!(
                out,
                "after the switch, consumers of group {group} will read {to_read} messages of \
                 the live topic {topic}"
            )?;
        }
    }
    Ok(())
}

/// What [`prepare`] found the step has to do.
enum Prepared {
    /// The group already has exactly these offsets.
    AlreadyDone,
    /// Commit [`Decision::plan`].
    Commit(Decision),
}

/// Everything short of writing: the group's existing offsets, then the live topic. Fails with
/// [`AlreadyCommitted`] (other offsets) or [`HandOffRefused`]; with `offsets.live_check: warn`
/// the refusals are printed instead and the commit goes ahead.
fn prepare(
    pipeline: &Pipeline,
    group: &str,
    run: &RunOffsets,
    options: StepOptions,
) -> Result<Prepared> {
    let warn_only = pipeline.offsets.live_check == LiveCheck::Warn;
    // Where messages are gone the plan commits the log start, which an earlier accepted commit
    // may have written: only then is the live topic needed to tell.
    let may_differ = options.accept_loss || warn_only;
    let found = existing(pipeline, &run.partitions)?;
    let earlier = match found {
        Existing::Same => return Ok(Prepared::AlreadyDone),
        Existing::Different(already) if !may_differ => return Err(already.into()),
        Existing::Different(already) => Some(already),
        Existing::None => None,
    };
    let decision = decide_live(pipeline, group, run, options);
    if let Some(already) = earlier {
        if decision.plan != run.partitions {
            if let Existing::Same = existing(pipeline, &decision.plan)? {
                return Ok(Prepared::AlreadyDone);
            }
        }
        return Err(already.into());
    }
    if !decision.refusals.is_empty() {
        if !warn_only {
            return Err(HandOffRefused {
                topic: pipeline.topic.clone(),
                cluster: decision
                    .cluster
                    .unwrap_or_else(|| live_cluster_name(pipeline)),
                group: group.to_string(),
                reasons: decision.refusals,
            }
            .into());
        }
        for refusal in &decision.refusals {
            eprintln!("c2k: warning: {refusal} (offsets.live_check: warn: committing anyway)");
        }
    }
    for loss in &decision.losses {
        eprintln!("c2k: LOSS ACCEPTED (--accept-loss): {loss}");
    }
    for warning in &decision.warnings {
        eprintln!("c2k: warning: {warning}");
    }
    Ok(Prepared::Commit(decision))
}

/// Reads the live cluster and decides; never fails (an unreadable cluster is a refusal).
fn decide_live(
    pipeline: &Pipeline,
    group: &str,
    run: &RunOffsets,
    options: StepOptions,
) -> Decision {
    let snapshot = live::read(pipeline, &pipeline.topic, Some(group));
    let decision = handoff::decide(
        &pipeline.topic,
        group,
        &run.partitions,
        &snapshot,
        options.accept_loss,
    );
    tracing::debug!(?decision, "live topic checked");
    decision
}

/// The live cluster in refusals: the brokers when configured, else where they are looked up.
fn live_cluster_name(pipeline: &Pipeline) -> String {
    match (&pipeline.offsets.brokers, pipeline.offsets.commit) {
        (Some(brokers), _) => format!("brokers {brokers}"),
        (None, CommitMode::Zookeeper) => format!(
            "brokers registered in ZooKeeper {}",
            pipeline.offsets.zookeeper.as_deref().unwrap_or("")
        ),
        (None, _) => match pipeline.offsets_brokers() {
            Some(brokers) => format!("brokers {brokers}"),
            None => "no brokers configured".to_string(),
        },
    }
}

/// A dry run says what the live topic would do to the commit, and never fails on it.
fn report_dry_run(pipeline: &Pipeline, decision: &Decision) {
    eprintln!(
        "c2k: dry run: the offsets step's Kafka clients connect with offsets.consumer: {}",
        pipeline.offsets.consumer.redacted()
    );
    for refusal in &decision.refusals {
        let outcome = match pipeline.offsets.live_check {
            LiveCheck::Fail => "the commit would be refused",
            LiveCheck::Warn => "offsets.live_check: warn would commit anyway",
        };
        eprintln!("c2k: dry run: {outcome}: {refusal}");
    }
    for loss in &decision.losses {
        eprintln!("c2k: dry run: the commit would accept a loss (--accept-loss): {loss}");
    }
    for warning in &decision.warnings {
        eprintln!("c2k: dry run: warning: {warning}");
    }
    if decision.refusals.is_empty() {
        if let Some(to_read) = decision.to_read {
            eprintln!(
                "c2k: dry run: the live topic {} takes the hand-off; consumers would read {to_read} \
                 of its messages after the switch",
                pipeline.topic
            );
        }
    }
}
