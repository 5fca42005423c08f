//! One run per replay at a time. Two runs publishing the same replay at once would each send
//! every record: the exactly-once guard reads what the topic holds before sending, and both read
//! it empty. So before it reads what the topic holds, a run takes the replay's lock, and a second
//! run refuses (exit 4), naming the run that holds it, before it sends anything.
//!
//! The lock is a consumer group of its own, `c2k-lock:<topic>` (`:p<partitions>` for the part of a
//! sharded replay a task publishes; `:` cannot appear in a topic name). Kafka's group
//! coordinator knows who is in it: every member is a live run, named by its client id (host,
//! pid, start). A run joins, waits until it is a member, and refuses when it sees anyone else in
//! a lock group of the same partitions — the whole replay's conflicts with every part. Of two runs
//! that start together both may refuse; two never both go on. The member takes no partitions
//! (it assigns itself nothing), so it reads nothing; a thread keeps it in the group. A run killed
//! with `kill -9` stops heartbeating and the coordinator drops it after `session.timeout.ms`
//! ([`SESSION_TIMEOUT_MS`]), so a dead run's lock outlives it by at most that.
//!
//! On brokers older than 0.11 (0.8 has no group coordinator) the lock is an ephemeral ZooKeeper
//! node, `/c2k/locks/<topic>/<whole | p<partitions>>` under `sink.zookeeper`, gone with a killed
//! run's session (15 s): a newcomer waits that long for a node to go before it refuses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, TopicPartitionList};

use crate::config::KafkaSinkConfig;

/// How long a killed run's lock outlives it: the coordinator drops a member it has not heard from
/// for this long. Kafka's brokers accept 6 s to 30 min by default.
pub(crate) const SESSION_TIMEOUT_MS: u64 = 10_000;

/// The session timeout of the ZooKeeper client that holds a lock node on old clusters (the sink's
/// ZooKeeper clients all use it): a killed run's node goes after this long.
const ZOOKEEPER_SESSION: Duration = super::zookeeper::TIMEOUT;

/// How often a run holding a ZooKeeper lock node rewrites it, so that a newcomer can tell it lives.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long listing or describing the groups may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long joining may take: the first member of a group waits for
/// `group.initial.rebalance.delay.ms` (3 s by default), a rebalance for every member to rejoin.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Which part of a replay a run publishes: every partition, or some (a shard or a reduce task
/// of a sharded replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Whole,
    Partitions(Vec<i32>),
}

impl Part {
    /// The lock group's name for `topic`: `c2k-lock:<topic>`, or `c2k-lock:<topic>:p<list>`
    /// with the partitions as ranges (`0-3,7`).
    pub(crate) fn group(&self, topic: &str) -> String {
        match self {
            Part::Whole => format!("c2k-lock:{topic}"),
            Part::Partitions(partitions) => {
                format!("c2k-lock:{topic}:p{}", ranges(partitions))
            }
        }
    }

    /// Whether a run holding lock group `name` publishes partitions this part publishes too
    /// (`None`: `name` is not a lock group of `topic`).
    fn overlaps(&self, topic: &str, name: &str) -> Option<bool> {
        let rest = name.strip_prefix(&format!("c2k-lock:{topic}"))?;
        if rest.is_empty() {
            return Some(true);
        }
        let theirs = parse_ranges(rest.strip_prefix(":p")?)?;
        Some(match self {
            Part::Whole => true,
            Part::Partitions(mine) => mine.iter().any(|p| theirs.contains(p)),
        })
    }
}

/// `[0, 1, 2, 3, 7]` as `0-3,7`.
fn ranges(partitions: &[i32]) -> String {
    let mut sorted = partitions.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let first = sorted[i];
        let mut last = first;
        while i + 1 < sorted.len() && sorted[i + 1] == last + 1 {
            i += 1;
            last = sorted[i];
        }
        parts.push(if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
        i += 1;
    }
    parts.join(",")
}

/// The partitions of a [`ranges`] text, or `None` when it is not one.
fn parse_ranges(text: &str) -> Option<Vec<i32>> {
    let mut partitions = Vec::new();
    for range in text.split(',') {
        match range.split_once('-') {
            Some((first, last)) => {
                let (first, last): (i32, i32) = (first.parse().ok()?, last.parse().ok()?);
                if last < first || last - first > 100_000 {
                    return None;
                }
                partitions.extend(first..=last);
            }
            None => partitions.push(range.parse().ok()?),
        }
    }
    Some(partitions)
}

/// Who this run is, as other runs read it: `c2k host=H pid=P started=T`.
pub(crate) fn owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".to_string());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    format!(
        "c2k host={host} pid={} started={}",
        std::process::id(),
        crate::utc::text(started)
    )
}

/// Another run holds the replay's lock.
#[derive(Debug, thiserror::Error)]
#[error(
    "another c2k run is publishing this replay into {topic}: {other} (it holds lock group \
     {group}); nothing was sent. Two runs at once would publish every record twice: wait for it \
     to end, or stop it (a run killed with kill -9 lets go within {timeout_s} s)"
)]
pub(crate) struct HeldElsewhere {
    pub(crate) topic: String,
    pub(crate) other: String,
    pub(crate) group: String,
    pub(crate) timeout_s: u64,
}

/// Takes the lock of the part of the replay `facts` describe, into `topic`: through the group
/// coordinator, or on old brokers through `sink.zookeeper`. Old brokers without it: said once,
/// and `None`.
pub(crate) fn take(
    sink: &KafkaSinkConfig,
    topic: &str,
    facts: &crate::sink::SourceFacts,
    legacy: bool,
) -> Result<Option<RunLock>> {
    let part = match &facts.only_partitions {
        None => Part::Whole,
        Some(partitions) => Part::Partitions(partitions.clone()),
    };
    if !legacy {
        return RunLock::take(sink, topic, &part).map(Some);
    }
    match &sink.zookeeper {
        Some(connect) => RunLock::take_in_zookeeper(connect, topic, &part).map(Some),
        None => {
            eprintln!(
                "c2k: warning: nothing keeps a second run from publishing this replay at the same \
                 time: brokers older than 0.11 are told apart by sink.zookeeper, which is not set"
            );
            Ok(None)
        }
    }
}

impl HeldElsewhere {
    /// The refusal it is (exit 4, as every refusal over what the replay topic is doing).
    fn refusal(self) -> anyhow::Error {
        crate::refusal::TopicRefused(self.to_string()).into()
    }
}

/// The brokers would not list or describe the lock groups (a principal without Describe on
/// groups, a Kafka-protocol broker without the requests).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GroupsUnreadable(String);

/// The replay's lock, held until dropped.
pub(crate) struct RunLock {
    lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    keeper: Option<std::thread::JoinHandle<()>>,
    group: String,
}

impl RunLock {
    /// Takes the lock of `part` of the replay into `topic`, or refuses naming who holds it.
    pub(crate) fn take(sink: &KafkaSinkConfig, topic: &str, part: &Part) -> Result<RunLock> {
        let group = part.group(topic);
        let me = owner();
        let origin = super::config::origin(sink, "the replay's lock (a consumer group)")?;
        let config = lock_config(sink, &group, &me)?;
        let context = LockContext::default();
        let joined = Arc::clone(&context.joined);
        let lost = Arc::clone(&context.lost);
        let consumer: BaseConsumer<LockContext> = crate::kafka::create(&config, context, &origin)?;
        consumer
            .subscribe(&[topic])
            .with_context(|| format!("cannot join lock group {group}"))?;
        let other = match verdict(&consumer, &joined, topic, part, &me) {
            Err(e) if e.is::<GroupsUnreadable>() => {
                // Joined, but blind: this run is seen by others that can look, it cannot see
                // them. Said, not hidden.
                eprintln!(
                    "c2k: warning: cannot tell whether another c2k run publishes this replay \
                     now ({e}): the brokers do not describe consumer groups to this client; do \
                     not start a second run of it until this one ends"
                );
                None
            }
            verdict => verdict?,
        };
        if let Some(other) = other {
            crate::kafka::close_aside(consumer);
            return Err(HeldElsewhere {
                topic: topic.to_string(),
                other,
                group,
                timeout_s: SESSION_TIMEOUT_MS / 1000,
            }
            .refusal());
        }
        tracing::debug!(group, "holding the replay's lock");
        let stop = Arc::new(AtomicBool::new(false));
        let keeper = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("c2k-lock".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let _ = consumer.poll(Duration::from_millis(200));
                    }
                    drop(consumer);
                })
                .context("cannot start the thread that keeps the replay's lock")?
        };
        Ok(RunLock {
            lost,
            stop,
            keeper: Some(keeper),
            group,
        })
    }

    /// Takes the lock as an ephemeral node `/c2k/locks/<topic>/<part>` in `connect` (the node
    /// holds this run's name), after checking no node of an overlapping part is there; the node
    /// lives as long as this run's ZooKeeper session, kept by a thread of its own.
    fn take_in_zookeeper(connect: &str, topic: &str, part: &Part) -> Result<RunLock> {
        let group = part.group(topic);
        let node = format!("/c2k/locks/{topic}/{}", node_name(part));
        let me = owner();
        let stop = Arc::new(AtomicBool::new(false));
        let (taken_out, taken_in) = std::sync::mpsc::channel::<Result<()>>();
        let keeper = {
            let (connect, topic, part, stop) = (
                connect.to_string(),
                topic.to_string(),
                part.clone(),
                Arc::clone(&stop),
            );
            std::thread::Builder::new()
                .name("c2k-lock".into())
                .spawn(move || {
                    let held = |taken: Result<()>| {
                        let ok = taken.is_ok();
                        let _ = taken_out.send(taken);
                        ok
                    };
                    keep_in_zookeeper(&connect, &topic, &part, &node, &me, &stop, held);
                })
                .context("cannot start the thread that keeps the replay's lock")?
        };
        match taken_in.recv_timeout(JOIN_TIMEOUT) {
            Ok(Ok(())) => Ok(RunLock {
                lost: Arc::new(AtomicBool::new(false)),
                stop,
                keeper: Some(keeper),
                group,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                stop.store(true, Ordering::SeqCst);
                anyhow::bail!(
                    "cannot take the replay's lock in ZooKeeper {connect} (sink.zookeeper) within \
                     {} s",
                    JOIN_TIMEOUT.as_secs()
                )
            }
        }
    }

    /// An error once the coordinator dropped this run from its lock group (it was not heard
    /// from within the session timeout): another run may have taken the lock since, so nothing
    /// more may be sent.
    pub(crate) fn check(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            anyhow::bail!(
                "this run lost the replay's lock (lock group {}): it was not heard from for \
                 {} s, so another run may be publishing; stopped before sending more. `c2k run \
                 --resume` continues once no other run is",
                self.group,
                SESSION_TIMEOUT_MS / 1000
            );
        }
        Ok(())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(keeper) = self.keeper.take() {
            // Leaving the group takes a round trip: not worth holding the run's exit for.
            std::thread::spawn(move || keeper.join());
        }
    }
}

/// A part's node name under `/c2k/locks/<topic>`: `whole`, or `p<ranges>`.
fn node_name(part: &Part) -> String {
    match part {
        Part::Whole => "whole".to_string(),
        Part::Partitions(partitions) => format!("p{}", ranges(partitions)),
    }
}

/// The ZooKeeper lock's thread: creates the node, checks the other parts' nodes, tells `held`
/// the outcome and, when taken, keeps the session (and so the node) until `stop`.
fn keep_in_zookeeper(
    connect: &str,
    topic: &str,
    part: &Part,
    node: &str,
    me: &str,
    stop: &AtomicBool,
    held: impl FnOnce(Result<()>) -> bool,
) {
    use zookeeper_client::{Acls, CreateMode, Error as ZkError};
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            held(Err(anyhow::anyhow!(
                "cannot start the async runtime for ZooKeeper: {e}"
            )));
            return;
        }
    };
    runtime.block_on(async {
        let taken = async {
            let client = super::zookeeper::client(connect).await?;
            let parent = format!("/c2k/locks/{topic}");
            client
                .mkdir(
                    &parent,
                    &CreateMode::Persistent.with_acls(Acls::anyone_all()),
                )
                .await
                .map_err(|e| {
                    anyhow::anyhow!("sink.zookeeper {connect}: cannot create {parent}: {e}")
                })?;
            let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
            // A node whose run was killed lasts until its session expires: wait that long for
            // it to go before calling its run alive.
            let deadline = Instant::now() + ZOOKEEPER_SESSION + Duration::from_secs(5);
            loop {
                let holder = match client.create(node, me.as_bytes(), &ephemeral).await {
                    Ok(_) => {
                        let children = client.list_children(&parent).await.map_err(|e| {
                            anyhow::anyhow!("sink.zookeeper {connect}: cannot list {parent}: {e}")
                        })?;
                        let other = children.into_iter().find(|child| {
                            format!("{parent}/{child}") != node
                                && (child == "whole"
                                    || part.overlaps(topic, &format!("c2k-lock:{topic}:{child}"))
                                        == Some(true))
                        });
                        match other {
                            None => break,
                            Some(child) => {
                                let _ = client.delete(node, None).await;
                                format!("{parent}/{child}")
                            }
                        }
                    }
                    Err(ZkError::NodeExists) => node.to_string(),
                    Err(e) => anyhow::bail!("sink.zookeeper {connect}: cannot create {node}: {e}"),
                };
                // A live holder rewrites its node every second (below): a node that changed
                // while we looked is a live run, refused at once; one that did not may be a
                // killed run's, until its session expires.
                let refuse = |data: Vec<u8>| {
                    HeldElsewhere {
                        topic: topic.to_string(),
                        other: String::from_utf8_lossy(&data).into_owned(),
                        group: format!("ZooKeeper node {holder}"),
                        timeout_s: ZOOKEEPER_SESSION.as_secs(),
                    }
                    .refusal()
                };
                let before = match client.get_data(&holder).await {
                    Ok((_, stat)) => stat.version,
                    Err(ZkError::NoNode) => continue,
                    Err(e) => anyhow::bail!("sink.zookeeper {connect}: cannot read {holder}: {e}"),
                };
                tokio::time::sleep(HEARTBEAT * 5 / 2).await;
                match client.get_data(&holder).await {
                    Ok((data, stat)) if stat.version != before || Instant::now() > deadline => {
                        return Err(refuse(data));
                    }
                    Ok(_) | Err(ZkError::NoNode) => {}
                    Err(e) => anyhow::bail!("sink.zookeeper {connect}: cannot read {holder}: {e}"),
                }
            }
            Ok(client)
        }
        .await;
        match taken {
            Ok(client) => {
                if held(Ok(())) {
                    while !stop.load(Ordering::SeqCst) {
                        tokio::time::sleep(HEARTBEAT).await;
                        // The heartbeat newcomers look for (a failed one is retried next time;
                        // the node itself lives as long as the session).
                        let _ = client.set_data(node, me.as_bytes(), None).await;
                    }
                    let _ = client.delete(node, None).await;
                }
            }
            Err(e) => {
                held(Err(e));
            }
        }
    });
}

/// The lock member's configuration: the sink's connection settings (security above all), a
/// short session, and no commits.
fn lock_config(sink: &KafkaSinkConfig, group: &str, me: &str) -> Result<rdkafka::ClientConfig> {
    let mut config = super::config::admin_config(sink)?;
    config
        .set("group.id", group)
        .set("client.id", me)
        .set("session.timeout.ms", SESSION_TIMEOUT_MS.to_string())
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    Ok(config)
}

/// Joins the lock group and says who else publishes the same partitions, once that is known: the
/// first other run's name, or `None`.
fn verdict(
    consumer: &BaseConsumer<LockContext>,
    joined: &AtomicBool,
    topic: &str,
    part: &Part,
    me: &str,
) -> Result<Option<String>> {
    let group = part.group(topic);
    let started = Instant::now();
    let mut next_look = started + Duration::from_millis(200);
    let mut last_seen: Option<String> = None;
    loop {
        // Settled: everyone in the group now has rejoined, a dead run's member is gone.
        if joined.load(Ordering::SeqCst) {
            return others(consumer, topic, part, me);
        }
        // A member is known to the coordinator (and to every other run) as soon as its join
        // is received, before the group settles: alone there, the run need not wait for
        // the group of its first member (group.initial.rebalance.delay.ms, 3 s on
        // production brokers). Not alone, it waits for the group to settle: a run killed
        // with kill -9 is still listed until its session times out.
        if Instant::now() >= next_look {
            if is_member(consumer, &group, me) {
                let seen = others(consumer, topic, part, me)?;
                if seen.is_none() {
                    return Ok(None);
                }
                last_seen = seen;
            }
            next_look = Instant::now() + Duration::from_millis(250);
        }
        if started.elapsed() > JOIN_TIMEOUT {
            if last_seen.is_some() {
                return Ok(last_seen);
            }
            anyhow::bail!(
                "cannot take the replay's lock: lock group {group} did not take this run in \
                 within {} s (can the brokers' group coordinator be reached, and may \
                 sink.producer's principal join groups named c2k-lock:*?)",
                JOIN_TIMEOUT.as_secs()
            );
        }
        let _ = consumer.poll(Duration::from_millis(100));
    }
}

/// Whether the coordinator of `group` lists this run among its members.
fn is_member(consumer: &BaseConsumer<LockContext>, group: &str, me: &str) -> bool {
    consumer
        .fetch_group_list(Some(group), Duration::from_secs(5))
        .is_ok_and(|list| {
            list.groups()
                .iter()
                .any(|g| g.members().iter().any(|m| m.client_id() == me))
        })
}

/// The members of the lock groups this run conflicts with, other than itself: the first one's
/// client id and address, if any.
fn others(
    consumer: &BaseConsumer<LockContext>,
    topic: &str,
    part: &Part,
    me: &str,
) -> Result<Option<String>> {
    // Every group, to find the parts that overlap; a broker that cannot list them (some
    // Kafka-protocol brokers) is asked for the two groups this run surely conflicts with.
    let lists = match consumer.fetch_group_list(None, LIST_TIMEOUT) {
        Ok(all) => vec![all],
        Err(e) => {
            tracing::debug!(error = %e, "cannot list the consumer groups: asking for two by name");
            let mut named = vec![part.group(topic)];
            if *part != Part::Whole {
                named.push(Part::Whole.group(topic));
            }
            named
                .iter()
                .map(|group| {
                    consumer
                        .fetch_group_list(Some(group), LIST_TIMEOUT)
                        .map_err(|e| GroupsUnreadable(format!("lock group {group}: {e}")))
                })
                .collect::<std::result::Result<_, _>>()?
        }
    };
    for group in lists.iter().flat_map(|list| list.groups()) {
        if part.overlaps(topic, group.name()) != Some(true) {
            continue;
        }
        if let Some(member) = group.members().iter().find(|m| m.client_id() != me) {
            return Ok(Some(format!(
                "{} (connected from {})",
                member.client_id(),
                member.client_host().trim_start_matches('/')
            )));
        }
    }
    Ok(None)
}

/// What the lock member hears from its group.
#[derive(Default)]
struct LockContext {
    /// It is a member: the coordinator gave it an assignment.
    joined: Arc<AtomicBool>,
    /// The coordinator dropped it.
    lost: Arc<AtomicBool>,
}

impl ClientContext for LockContext {}

impl ConsumerContext for LockContext {
    /// Every assignment is taken as nothing: the member holds the group, it reads no partition.
    fn rebalance(
        &self,
        base_consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        _partitions: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let _ = base_consumer.assign(&TopicPartitionList::new());
                self.joined.store(true, Ordering::SeqCst);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                if base_consumer.assignment_lost() {
                    self.lost.store(true, Ordering::SeqCst);
                }
                let _ = base_consumer.unassign();
            }
            other => tracing::debug!(?other, "lock group rebalance error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_name_their_partitions_as_ranges_and_overlap_as_sets() {
        let part = Part::Partitions(vec![7, 0, 2, 1, 3]);
        assert_eq!(part.group("T"), "c2k-lock:T:p0-3,7");
        assert_eq!(Part::Whole.group("T"), "c2k-lock:T");
        assert_eq!(part.overlaps("T", "c2k-lock:T"), Some(true));
        assert_eq!(part.overlaps("T", "c2k-lock:T:p4-6"), Some(false));
        assert_eq!(part.overlaps("T", "c2k-lock:T:p5-8"), Some(true));
        assert_eq!(Part::Whole.overlaps("T", "c2k-lock:T:p4"), Some(true));
        assert_eq!(Part::Whole.overlaps("T", "c2k-lock:T2"), None);
        assert_eq!(Part::Whole.overlaps("T", "c2k-lock:T:pX"), None);
        assert_eq!(Part::Whole.overlaps("T", "other"), None);
    }
}
