//! The staging area between the map and the reduce stage (`partitioning: key` and `single`):
//! per map shard, one sorted run per replay partition and a manifest written last.
//!
//! ```text
//! STAGING/shard-<i>/run-<r>.c2k     sorted run of shard i for replay partition r
//! STAGING/shard-<i>/done.json       the manifest: the plan's content, and per run its messages
//!                                   and bytes; present only once every run is complete
//! ```
//!
//! Every file is written under a temporary name (`.partial-<pid>`) and renamed when complete, the
//! manifest after every run, so a reader that finds the manifest finds complete runs of the sizes
//! it names. A map stage is deterministic, so a retried one that finds its manifest is done, and
//! one that finds a killed attempt's runs without a manifest writes them again over them.
//!
//! A run holds formatted messages, each in the sort's own item encoding (`SortItem`'s spill
//! format): the sort key and tie-breakers (plugin key, source partition, source offset, input
//! order) exactly as the sort compared them, the origin (file, index) and the timestamp in the
//! item's metadata, and the message (key, value, headers) as its datum. The reduce stage merges
//! runs by that same order.
//!
//! Local disk only, for now (a path or `file://`): an `hdfs://` staging area is refused by
//! [`Staging::open`], saying so.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use extsort::Sortable;
use serde::{Deserialize, Serialize};

use crate::record::{Origin, OutMessage};
use crate::sort::SortItem;

/// Version of the manifest and run format; another is refused.
const VERSION: u32 = 1;
/// The first bytes of every run file.
const MAGIC: &[u8; 8] = b"C2KRUN1\n";

/// Bytes buffered per run being written (a map holds one per replay partition) or read.
const RUN_BUFFER: usize = 64 << 10;

/// The staging area of one sharded replay.
#[derive(Debug, Clone)]
pub struct Staging {
    root: PathBuf,
    /// As given, for messages.
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
    /// The staging area at `url` (a local path or `file://` URL).
    pub fn open(url: &str) -> Result<Staging> {
        match url.split_once("://").map(|(scheme, _)| scheme) {
            None | Some("file") => {}
            Some(scheme) => bail!(
                "--staging {url}: a {scheme}:// staging area is not supported by this c2k yet; \
                 give a local path or file:// URL on a file system every map and reduce task \
                 sees (a shared mount)"
            ),
        }
        Ok(Staging {
            root: crate::storage::local::local_path(url),
            url: url.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn shard_dir(&self, shard: usize) -> PathBuf {
        self.root.join(format!("shard-{shard}"))
    }

    pub fn run_path(&self, shard: usize, partition: i32) -> PathBuf {
        self.shard_dir(shard).join(format!("run-{partition}.c2k"))
    }

    fn manifest_path(&self, shard: usize) -> PathBuf {
        self.shard_dir(shard).join("done.json")
    }

    /// Shard `shard`'s manifest, if its map stage completed (for the plan of `content`). A
    /// manifest of another plan is an error: the staging area is another replay's.
    pub fn manifest(&self, shard: usize, content: &str) -> Result<Option<Manifest>> {
        let path = self.manifest_path(shard);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let manifest: Manifest = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a manifest written by c2k's map stage",
                path.display()
            )
        })?;
        if manifest.version != VERSION {
            bail!(
                "{} has version {}; this c2k reads version {VERSION}: run the map stage again \
                 with this c2k into an empty staging area",
                path.display(),
                manifest.version
            );
        }
        if manifest.content != content || manifest.shard != shard {
            bail!(
                "{} was written for another plan (or shard): the staging area {} belongs to \
                 another replay; give every plan a staging area of its own",
                path.display(),
                self.url
            );
        }
        Ok(Some(manifest))
    }

    /// Prepares shard `shard`'s folder for a new attempt: partial files of attempts that are no
    /// longer running are removed.
    pub fn prepare(&self, shard: usize) -> Result<()> {
        let dir = self.shard_dir(shard);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("--staging: cannot create {}", dir.display()))?;
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((_, pid)) = name.rsplit_once(".partial-") else {
                continue;
            };
            let running = pid
                .parse::<u32>()
                .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if !running {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Writes the manifest under a temporary name and renames it: the last step of a map stage.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let path = self.manifest_path(manifest.shard);
        let partial = partial_name(&path);
        let text = serde_json::to_string_pretty(manifest)? + "\n";
        let mut file = File::create(&partial)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, &path)
            .with_context(|| format!("cannot rename {} to {}", partial.display(), path.display()))
    }
}

/// `path` with this process's temporary suffix.
fn partial_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    PathBuf::from(name)
}

/// One sorted run being written, under its temporary name until [`RunWriter::finish`].
pub struct RunWriter {
    path: PathBuf,
    partial: PathBuf,
    out: BufWriter<File>,
    facts: RunFacts,
}

impl RunWriter {
    pub fn create(path: PathBuf) -> Result<RunWriter> {
        let partial = partial_name(&path);
        let file = File::create(&partial)
            .with_context(|| format!("--staging: cannot create {}", partial.display()))?;
        // A map shard holds one writer per replay partition at once: a small buffer each.
        let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
        out.write_all(MAGIC)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        Ok(RunWriter {
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
            .with_context(|| format!("cannot write {}", self.partial.display()))?;
        self.facts.bytes += counting.bytes;
        self.facts.messages += 1;
        Ok(())
    }

    /// Flushes, syncs and renames the run into place.
    pub fn finish(self) -> Result<RunFacts> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", self.partial.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot write {}", self.partial.display()))?;
        std::fs::rename(&self.partial, &self.path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.partial.display(),
                self.path.display()
            )
        })?;
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
    path: PathBuf,
    input: BufReader<File>,
    left: u64,
}

impl RunReader {
    /// Opens a run the manifest says is complete, checking its size and header.
    pub fn open(path: PathBuf, facts: RunFacts) -> Result<RunReader> {
        let file = File::open(&path).with_context(|| {
            format!(
                "{}: the map stage's manifest lists this run, but it cannot be opened",
                path.display()
            )
        })?;
        let size = file.metadata()?.len();
        if size != facts.bytes {
            bail!(
                "{} has {size} bytes, its manifest says {}: the staging area was changed; run \
                 the map stage of this shard again",
                path.display(),
                facts.bytes
            );
        }
        let mut input = BufReader::with_capacity(RUN_BUFFER, file);
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if &magic != MAGIC {
            bail!(
                "{} is not a sorted run written by c2k's map stage",
                path.display()
            );
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
            .with_context(|| format!("cannot read a message of {}", self.path.display()))?;
        Ok(Some(item))
    }

    pub fn path(&self) -> &Path {
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
pub fn message_of(item: &SortItem, path: &Path) -> Result<OutMessage> {
    let mut message = decode_message(item.datum())
        .with_context(|| format!("{}: a damaged message", path.display()))?;
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
        value,
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
            value: b"value".to_vec(),
            headers: vec![("h".into(), b"x".to_vec())],
            timestamp_ms: Some(123),
            source_partition: Some(3),
            origin: Some(Origin { file: 4, index: 9 }),
        };
        let path = staging.run_path(2, 0);
        let mut writer = RunWriter::create(path.clone()).unwrap();
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
        let mut reader = RunReader::open(path.clone(), facts).unwrap();
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
        assert!(RunReader::open(path, wrong).is_err());
    }

    #[test]
    fn hdfs_staging_is_refused_saying_so() {
        let text = Staging::open("hdfs://nn:8020/staging")
            .unwrap_err()
            .to_string();
        assert!(text.contains("not supported by this c2k yet"), "{text}");
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
