//! The staging area between the map and the reduce stage (`partitioning: key` and `single`):
//! per map shard, one sorted run per replay partition and a manifest written last.
//!
//! ```text
//! STAGING/shard-<i>/run-<r>.c2k     sorted run of shard i for replay partition r
//! STAGING/shard-<i>/done.json       the manifest: the plan's content, and per run its messages
//!                                   and bytes; present only once every run is complete
//! ```
//!
//! Every file is written under a temporary name (`.partial-<attempt>`, the attempt being this
//! process's id and start time) and renamed when complete, the manifest after every run, so a
//! reader that finds the manifest finds complete runs of the sizes it names. A map stage is
//! deterministic, so a retried one that finds its manifest is done, and one that finds a killed
//! attempt's runs without a manifest writes them again over them.
//!
//! A new attempt of a shard removes every partial file in the shard's folder, whoever wrote it:
//! one attempt of a shard runs at a time (Spark's speculation is off, a task is retried only
//! after its attempt failed), and on HDFS the writer may have run on another host, where no
//! liveness check is possible. Should a lost attempt still be running, it fails at the latest
//! when it renames a partial file that is gone, or renames identical bytes into place: the stage
//! is deterministic.
//!
//! A run holds formatted messages, each in the sort's own item encoding (`SortItem`'s spill
//! format): the sort key and tie-breakers (plugin key, source partition, source offset, input
//! order) exactly as the sort compared them, the origin (file, index) and the timestamp in the
//! item's metadata, and the message (key, value, headers) as its datum. The reduce stage merges
//! runs by that same order.
//!
//! The area is any [`Storage`]: a local path, an `hdfs://` or an object store's URL, one code
//! path for all.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Context, Result};
use extsort::Sortable;
use serde::{Deserialize, Serialize};

use crate::record::{Origin, OutMessage};
use crate::sort::SortItem;
use crate::storage::{FileWrite, Storage};

/// Version of the manifest and run format; another is refused.
const VERSION: u32 = 1;
/// The first bytes of every run file.
const MAGIC: &[u8; 8] = b"C2KRUN1\n";

/// Bytes buffered per run being written (a map holds one per replay partition).
const RUN_BUFFER: usize = 64 << 10;

/// The staging area of one sharded replay.
#[derive(Clone)]
pub struct Staging {
    storage: Arc<dyn Storage>,
    /// As given (without a trailing `/`): every file's URL starts with it.
    url: String,
}

/// What a map shard wrote: present only once all of it is complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    /// The plan's content digest (hex): runs of another plan are never merged.
    pub content: String,
    pub shard: usize,
    /// Per replay partition: its run's messages and bytes.
    pub runs: BTreeMap<i32, RunFacts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFacts {
    pub messages: u64,
    pub bytes: u64,
}

impl Manifest {
    pub fn messages(&self) -> u64 {
        self.runs.values().map(|r| r.messages).sum()
    }
}

impl Staging {
    /// The staging area at `url` (a local path, an `hdfs://` or an object store's URL); an HDFS
    /// cluster or an object store is checked to be reachable.
    pub fn open(url: &str) -> Result<Staging> {
        let storage = crate::storage::for_url(url).with_context(|| format!("--staging {url}"))?;
        Ok(Staging {
            storage,
            url: url.trim_end_matches('/').to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn shard_dir(&self, shard: usize) -> String {
        format!("{}/shard-{shard}", self.url)
    }

    pub fn run_path(&self, shard: usize, partition: i32) -> String {
        format!("{}/run-{partition}.c2k", self.shard_dir(shard))
    }

    fn manifest_path(&self, shard: usize) -> String {
        format!("{}/done.json", self.shard_dir(shard))
    }

    /// Shard `shard`'s manifest, if its map stage completed (for the plan of `content`). A
    /// manifest of another plan is an error: the staging area is another replay's.
    pub fn manifest(&self, shard: usize, content: &str) -> Result<Option<Manifest>> {
        let path = self.manifest_path(shard);
        if self.storage.file_size(&path)?.is_none() {
            return Ok(None);
        }
        let bytes = self.storage.read_all(&path)?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("{path} is not a manifest written by c2k's map stage"))?;
        if manifest.version != VERSION {
            bail!(
                "{path} has version {}; this c2k reads version {VERSION}: run the map stage again \
                 with this c2k into an empty staging area",
                manifest.version
            );
        }
        if manifest.content != content || manifest.shard != shard {
            bail!(
                "{path} was written for another plan (or shard): the staging area {} belongs to \
                 another replay; give every plan a staging area of its own",
                self.url
            );
        }
        Ok(Some(manifest))
    }

    /// Prepares shard `shard`'s folder for a new attempt: every partial file of an earlier
    /// attempt is removed (one attempt of a shard runs at a time: see the module's comment).
    pub fn prepare(&self, shard: usize) -> Result<()> {
        let dir = self.shard_dir(shard);
        self.storage
            .create_dir_all(&dir)
            .context("--staging: cannot make the shard's folder")?;
        for entry in self.storage.list_files(&dir)? {
            let name = entry.url.rsplit('/').next().unwrap_or(&entry.url);
            if name.contains(PARTIAL) {
                self.storage
                    .delete(&entry.url)
                    .context("--staging: cannot remove a killed attempt's partial file")?;
            }
        }
        Ok(())
    }

    /// Writes the manifest under a temporary name and renames it: the last step of a map stage.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let path = self.manifest_path(manifest.shard);
        let partial = partial_name(&path);
        let text = serde_json::to_string_pretty(manifest)? + "\n";
        let mut file = self.storage.create(&partial)?;
        file.write_all(text.as_bytes())
            .map_err(anyhow::Error::from)
            .and_then(|()| file.finish())
            .with_context(|| format!("cannot write {partial}"))?;
        self.storage.rename(&partial, &path)
    }

    /// Starts shard `shard`'s run for replay partition `partition`.
    pub fn run_writer(&self, shard: usize, partition: i32) -> Result<RunWriter> {
        RunWriter::create(Arc::clone(&self.storage), self.run_path(shard, partition))
    }

    /// Opens shard `shard`'s complete run for replay partition `partition`.
    pub fn run_reader(&self, shard: usize, partition: i32, facts: RunFacts) -> Result<RunReader> {
        RunReader::open(&*self.storage, self.run_path(shard, partition), facts)
    }
}

/// What marks a temporary name.
const PARTIAL: &str = ".partial-";

/// `path` with this attempt's temporary suffix: the process id and its start time, unique across
/// hosts in practice (a pid alone is not, on a cluster).
fn partial_name(path: &str) -> String {
    static ATTEMPT: OnceLock<String> = OnceLock::new();
    let attempt = ATTEMPT.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos}", std::process::id())
    });
    format!("{path}{PARTIAL}{attempt}")
}

/// One sorted run being written, under its temporary name until [`RunWriter::finish`].
pub struct RunWriter {
    storage: Arc<dyn Storage>,
    path: String,
    partial: String,
    out: BufWriter<Box<dyn FileWrite>>,
    facts: RunFacts,
}

impl RunWriter {
    fn create(storage: Arc<dyn Storage>, path: String) -> Result<RunWriter> {
        let partial = partial_name(&path);
        let file = storage.create(&partial).context("--staging")?;
        // A map shard holds one writer per replay partition at once: a small buffer each.
        let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
        out.write_all(MAGIC)
            .with_context(|| format!("cannot write {partial}"))?;
        Ok(RunWriter {
            storage,
            path,
            partial,
            out,
            facts: RunFacts {
                messages: 0,
                bytes: MAGIC.len() as u64,
            },
        })
    }

    /// Appends one formatted message with the sort position of the record it was made from.
    pub fn push(&mut self, sorted: &SortItem, message: &OutMessage) -> Result<()> {
        let item = staged_item(sorted, message)?;
        let mut counting = Counting {
            inner: &mut self.out,
            bytes: 0,
        };
        item.encode(&mut counting)
            .with_context(|| format!("cannot write {}", self.partial))?;
        self.facts.bytes += counting.bytes;
        self.facts.messages += 1;
        Ok(())
    }

    /// Flushes, makes durable and renames the run into place.
    pub fn finish(self) -> Result<RunFacts> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", self.partial))?;
        file.finish()
            .with_context(|| format!("cannot write {}", self.partial))?;
        self.storage.rename(&self.partial, &self.path)?;
        Ok(self.facts)
    }
}

/// Counts the bytes written through it.
struct Counting<'a, W: Write> {
    inner: &'a mut W,
    bytes: u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads a complete run back, item by item: exactly the manifest's count of messages, in the
/// file's order (sorted), each checked.
pub struct RunReader {
    path: String,
    input: Box<dyn Read + Send>,
    left: u64,
}

impl RunReader {
    /// Opens a run the manifest says is complete, checking its size and header. The storage
    /// streams it with its own buffering (local) or read-ahead (HDFS).
    fn open(storage: &dyn Storage, path: String, facts: RunFacts) -> Result<RunReader> {
        let Some(size) = storage.file_size(&path)? else {
            bail!("{path}: the map stage's manifest lists this run, but there is no such file");
        };
        if size != facts.bytes {
            bail!(
                "{path} has {size} bytes, its manifest says {}: the staging area was changed; run \
                 the map stage of this shard again",
                facts.bytes
            );
        }
        let mut input = storage.open(&path)?;
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .with_context(|| format!("cannot read {path}"))?;
        if &magic != MAGIC {
            bail!("{path} is not a sorted run written by c2k's map stage");
        }
        Ok(RunReader {
            path,
            input,
            left: facts.messages,
        })
    }

    /// The next item, `None` after the manifest's count.
    pub fn next_item(&mut self) -> Result<Option<SortItem>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let item = SortItem::decode(&mut self.input)
            .with_context(|| format!("cannot read a message of {}", self.path))?;
        Ok(Some(item))
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The staged form of a formatted message: the record's sort position, its message as the datum.
fn staged_item(sorted: &SortItem, message: &OutMessage) -> Result<SortItem> {
    let origin = message
        .origin
        .context("a formatted message without its origin (file, index)")?;
    Ok(SortItem::new(
        sorted.key(),
        &encode_message(message),
        sorted.partition(),
        sorted.offset(),
        sorted.seq(),
        message.timestamp_ms,
        0,
        origin.file,
        origin.index,
    ))
}

/// The message a staged item carries, as the sink gets it.
pub(crate) fn message_of(item: &SortItem, path: &str) -> Result<OutMessage> {
    let mut message =
        decode_message(item.datum()).with_context(|| format!("{path}: a damaged message"))?;
    message.timestamp_ms = item.timestamp_ms();
    message.source_partition = item.partition();
    message.origin = Some(Origin {
        file: item.file(),
        index: item.index(),
    });
    Ok(message)
}

/// Key (presence byte, length, bytes), value (length, bytes), headers (count, then name and value
/// each with its length); lengths are little-endian u32.
fn encode_message(message: &OutMessage) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(message.value.len() + message.key.as_ref().map_or(0, Vec::len) + 32);
    out.push(message.key.is_some() as u8);
    if let Some(key) = &message.key {
        put(&mut out, key);
    }
    put(&mut out, &message.value);
    out.extend_from_slice(&(message.headers.len() as u32).to_le_bytes());
    for (name, value) in &message.headers {
        put(&mut out, name.as_bytes());
        put(&mut out, value);
    }
    out
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn decode_message(mut bytes: &[u8]) -> Result<OutMessage> {
    let has_key = take(&mut bytes, 1)?[0] == 1;
    let key = if has_key {
        Some(take_sized(&mut bytes)?.to_vec())
    } else {
        None
    };
    let value = take_sized(&mut bytes)?.to_vec();
    let count = u32::from_le_bytes(take(&mut bytes, 4)?.try_into()?);
    let mut headers = Vec::new();
    for _ in 0..count {
        let name = String::from_utf8(take_sized(&mut bytes)?.to_vec())
            .context("a header name that is not UTF-8")?;
        headers.push((name, take_sized(&mut bytes)?.to_vec()));
    }
    if !bytes.is_empty() {
        bail!("{} bytes after the message", bytes.len());
    }
    Ok(OutMessage {
        key,
        value: value.into(),
        headers,
        ..OutMessage::default()
    })
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if bytes.len() < n {
        bail!("the message ends early");
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

fn take_sized<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8]> {
    let n = u32::from_le_bytes(take(bytes, 4)?.try_into()?) as usize;
    take(bytes, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_run_gives_back_the_messages_and_their_sort_positions() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::open(dir.path().to_str().unwrap()).unwrap();
        staging.prepare(2).unwrap();
        let sorted = SortItem::new(b"k", b"datum", Some(3), None, 77, Some(5), 1, 4, 9);
        let message = OutMessage {
            key: Some(b"mk".to_vec()),
            value: b"value".to_vec().into(),
            headers: vec![("h".into(), b"x".to_vec())],
            timestamp_ms: Some(123),
            source_partition: Some(3),
            origin: Some(Origin { file: 4, index: 9 }),
        };
        let path = staging.run_path(2, 0);
        let mut writer = staging.run_writer(2, 0).unwrap();
        writer.push(&sorted, &message).unwrap();
        writer
            .push(
                &sorted,
                &OutMessage {
                    key: None,
                    ..message.clone()
                },
            )
            .unwrap();
        let facts = writer.finish().unwrap();
        assert_eq!(facts.messages, 2);
        assert_eq!(facts.bytes, std::fs::metadata(&path).unwrap().len());
        let mut reader = staging.run_reader(2, 0, facts).unwrap();
        let first = reader.next_item().unwrap().unwrap();
        assert_eq!(first.cmp(&sorted), std::cmp::Ordering::Equal);
        assert_eq!(message_of(&first, &path).unwrap(), message);
        let second = message_of(&reader.next_item().unwrap().unwrap(), &path).unwrap();
        assert_eq!(second.key, None);
        assert!(reader.next_item().unwrap().is_none());
        // A run of another size than its manifest says is refused.
        let wrong = RunFacts {
            messages: 2,
            bytes: facts.bytes + 1,
        };
        assert!(staging.run_reader(2, 0, wrong).is_err());
    }

    #[test]
    fn a_new_attempt_removes_every_partial_file_of_its_shard_only() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::open(dir.path().to_str().unwrap()).unwrap();
        staging.prepare(0).unwrap();
        staging.prepare(1).unwrap();
        let shard0 = dir.path().join("shard-0");
        // A killed attempt's partial run (pid 1 is alive: liveness is not what decides), and a
        // complete run, which stays.
        std::fs::write(shard0.join("run-0.c2k.partial-1-5"), b"half").unwrap();
        std::fs::write(shard0.join("run-1.c2k"), b"whole").unwrap();
        let other = dir.path().join("shard-1").join("run-0.c2k.partial-1-5");
        std::fs::write(&other, b"half").unwrap();
        staging.prepare(0).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(&shard0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["run-1.c2k".to_string()]);
        assert!(other.exists(), "another shard's partial file was removed");
    }

    #[test]
    fn a_manifest_of_another_plan_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::open(dir.path().to_str().unwrap()).unwrap();
        staging.prepare(0).unwrap();
        assert_eq!(staging.manifest(0, "abc").unwrap(), None);
        let manifest = Manifest {
            version: VERSION,
            content: "abc".into(),
            shard: 0,
            runs: BTreeMap::from([(
                0,
                RunFacts {
                    messages: 1,
                    bytes: 9,
                },
            )]),
        };
        staging.write_manifest(&manifest).unwrap();
        assert_eq!(staging.manifest(0, "abc").unwrap(), Some(manifest));
        assert!(staging.manifest(0, "other").is_err());
    }
}
