//! The Camus source: every Avro object container file of one topic under the Camus destination
//! directory, read in batches, resolved to the reader schema.
//!
//! - [`names`]: which files are data files and what a Camus file name tells (partition, offsets);
//! - [`container`] and [`codec`]: the container format, streamed one block at a time;
//! - datum boundaries without decoding, so records pass through as bytes, come from
//!   `camus2kafka-avro` (the walker the plugins use too);
//! - [`schemas`]: schema ids, and resolution to the reader schema when it differs;
//!   [`schema_depth`]: schemas nested as deep as Avro data may be, parsed without overflowing
//!   (the checks are `c2k_avro::schema_text`'s, which the plugins share);
//! - [`transcode`]: that resolution compiled into a byte-to-byte rewrite, for the pairs it is
//!   sure of;
//! - [`events`]: all of it as one lazy stream of schemas and batches;
//! - [`parallel`]: the same stream with several files decoded at once, merged back in file order.
//!
//! Everything goes through [`crate::storage`], so local paths, HDFS and object stores all work.

pub(crate) mod codec;
pub(crate) mod connect;
pub(crate) mod container;
pub(crate) mod events;
pub(crate) mod format;
pub(crate) mod names;
pub(crate) mod parallel;
pub(crate) mod schema_depth;
pub(crate) mod schemas;
pub(crate) mod shared;
pub(crate) mod text;
pub(crate) mod transcode;

use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::config::{Pipeline, SourceType};
use crate::record::SourceBatch;
use crate::storage::{self, Storage};
pub(crate) use format::{FormatChoice, SourceFormat};
use schemas::{ReaderSchema, Registry};

/// What a Camus file name (`<topic>.<leader>.<partition>.<count>.<offset>...avro`) tells.
/// See [`names`] for how `last_offset` follows from the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CamusFileName {
    pub topic: String,
    pub leader: String,
    pub partition: u32,
    pub count: u64,
    /// The offset of the file's last record (the name holds the next offset, one more).
    pub last_offset: u64,
    /// The start of the time bucket the file's records were written into, in epoch milliseconds
    /// (the name's last field, whatever the folder's time zone), when the name has one.
    pub bucket_start_ms: Option<i64>,
    /// Set when the file's offsets interleave with other files' (see [`SharedCount`]): its own
    /// record count is then unknown, and `count` is its name's range.
    pub shared: Option<SharedCount>,
    /// The name gives no end (a Kafka Connect S3 sink's): `count` runs to where the partition's
    /// next file starts.
    pub end_from_next: bool,
}

/// Kafka Connect files of one partition whose offset ranges interleave, each in its own folder
/// (a field partitioner, or a time partitioner on record time, writing several folders at once
/// until a rotation commits them all): together they hold every offset of `[first, next)` once,
/// none of them a contiguous part. Their records are counted together as they are read
/// ([`shared::SharedCounts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCount {
    pub first: u64,
    pub next: u64,
    /// How many files share it.
    pub files: usize,
}

/// One input file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub url: String,
    pub size: u64,
    /// `None` when the name is not a Camus name (the file still loads).
    pub name: Option<CamusFileName>,
}

/// What the source yields, in order: a schema is announced before the first batch that uses it.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    Schema { id: u32, json: String },
    Batch(SourceBatch),
}

/// The input files of one topic and how to read them.
pub struct CamusSource {
    /// Sorted by URL: the order records are read in.
    pub files: Vec<SourceFile>,
    storage: Arc<dyn Storage>,
    reader_schema: Option<ReaderSchema>,
    /// Which of Camus' writers made the files (`source.format`).
    pub format: SourceFormat,
    batch_size: usize,
    /// The most bytes one block may take, stored or decompressed (`source.max_block_bytes`).
    max_block_bytes: u64,
}

impl CamusSource {
    /// Lists the topic's files (skipping hidden and `_`-prefixed ones) and loads the reader schema.
    /// An entry that is not a regular file (a FIFO, a socket, a device, a broken link) where data
    /// files are is an error: it would otherwise be passed over, and its records silently lost.
    pub fn open(pipeline: &Pipeline) -> Result<Self> {
        let input_dir = pipeline.input_dir();
        let storage = storage::for_url(&input_dir)?;
        let (listing, format) = list_pipeline(pipeline)?;
        listing.refuse_not_regular()?;
        if let Some(said) = listing.side_files_said() {
            eprintln!("c2k: warning: {}", crate::storage::shown::printable(&said));
        }
        let files = listing.files;
        if files.is_empty() {
            bail!(
                "no data files under {input_dir} ({}): check source.dest_dir, source.input_dir \
                 and topic",
                match pipeline.source.kind {
                    SourceType::Camus =>
                        "Avro files, or files Camus' text and SequenceFile \
                                          writers named",
                    SourceType::KafkaConnect =>
                        "files Kafka Connect's sinks named \
                                                 <topic>+<partition>+<offset>….avro|json|bin",
                }
            );
        }
        if format != SourceFormat::Avro && pipeline.source.schema.is_some() {
            bail!(
                "source.schema is set, but the archive holds {} records, not Avro: a reader \
                 schema applies to Avro files only (unset it)",
                format.describe()
            );
        }
        let reader_schema = match &pipeline.source.schema {
            Some(url) => Some(ReaderSchema::parse(
                url,
                &storage::for_url(url)?.read_all(url)?,
            )?),
            None => None,
        };
        Ok(CamusSource {
            files,
            storage,
            reader_schema,
            format,
            batch_size: pipeline.source.batch_size.max(1),
            max_block_bytes: pipeline.source.max_block_bytes.0,
        })
    }

    /// A source over files already chosen (tests, tools), with an optional reader schema; blocks
    /// are limited to the default `source.max_block_bytes`.
    pub fn from_files(
        files: Vec<SourceFile>,
        storage: Arc<dyn Storage>,
        reader_schema: Option<ReaderSchema>,
        batch_size: usize,
    ) -> Self {
        CamusSource {
            files,
            storage,
            reader_schema,
            format: SourceFormat::Avro,
            batch_size: batch_size.max(1),
            max_block_bytes: codec::DEFAULT_MAX_BLOCK_BYTES,
        }
    }

    /// The most bytes one block may take, stored or decompressed.
    pub(crate) fn max_block_bytes(&self) -> u64 {
        self.max_block_bytes
    }

    /// Leaves out the files whose URL is in `urls` (identical copies the integrity gate found).
    pub fn leave_out(&mut self, urls: &[String]) {
        let skip: std::collections::HashSet<&str> = urls.iter().map(String::as_str).collect();
        self.files.retain(|file| !skip.contains(file.url.as_str()));
    }

    /// Keeps only the files of the source `partitions` (a shard's share).
    pub fn keep_partitions(&mut self, partitions: &[u32]) {
        self.files.retain(|file| {
            file.name
                .as_ref()
                .is_some_and(|name| partitions.contains(&name.partition))
        });
    }

    /// Keeps only the files at these positions of the listing, in this order (a map shard's
    /// share); a position past the listing is an error naming it.
    pub fn keep_positions(&mut self, positions: &[usize]) -> Result<()> {
        let all = std::mem::take(&mut self.files);
        self.files = positions
            .iter()
            .map(|&i| {
                all.get(i).cloned().with_context(|| {
                    format!(
                        "file {i} is not in the archive's listing of {} files",
                        all.len()
                    )
                })
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// The same source reading its files in another order: the files at `positions`, in that
    /// order (Camus' time buckets streamed oldest first).
    pub(crate) fn reordered(&self, positions: &[usize]) -> CamusSource {
        CamusSource {
            files: positions.iter().map(|&i| self.files[i].clone()).collect(),
            storage: Arc::clone(&self.storage),
            reader_schema: self.reader_schema.clone(),
            format: self.format.clone(),
            batch_size: self.batch_size,
            max_block_bytes: self.max_block_bytes,
        }
    }

    /// Distinct source partitions seen in file names, sorted.
    pub fn partitions(&self) -> Vec<u32> {
        let mut partitions: Vec<u32> = self
            .files
            .iter()
            .filter_map(|f| f.name.as_ref().map(|n| n.partition))
            .collect();
        partitions.sort_unstable();
        partitions.dedup();
        partitions
    }

    /// Every record of every file, in file order then record order, as schemas and batches.
    /// Files are decoded by one worker thread per core, a few at a time, and merged back in
    /// order (see [`parallel`]); the first error ends the stream.
    pub fn events(&self) -> Box<dyn Iterator<Item = Result<SourceEvent>> + Send + '_> {
        self.events_with_workers(parallel::default_workers())
    }

    /// [`CamusSource::events`] with `workers` decoding threads. With one worker (or one file)
    /// files are read on the caller's thread, one at a time, as the iteration reaches them: the
    /// reference the parallel stream must equal.
    pub fn events_with_workers(
        &self,
        workers: usize,
    ) -> Box<dyn Iterator<Item = Result<SourceEvent>> + Send + '_> {
        let events = self.events_unchecked(workers);
        match shared::any(&self.files) {
            true => Box::new(shared::SharedCheck::new(events, &self.files)),
            false => events,
        }
    }

    /// [`CamusSource::events_with_workers`] without the check of interleaved files' counts.
    fn events_unchecked(
        &self,
        workers: usize,
    ) -> Box<dyn Iterator<Item = Result<SourceEvent>> + Send + '_> {
        if workers > 1 && self.files.len() > 1 {
            // Only failing to start any thread lands here; reading on this thread still works.
            if let Ok(events) = parallel::ParallelEvents::start(
                self.files.clone(),
                self.storage.clone(),
                self.reader_schema.clone(),
                self.format.clone(),
                self.batch_size,
                self.max_block_bytes,
                workers,
            ) {
                return Box::new(events);
            }
        }
        Box::new(events::Events::new(
            self,
            self.storage.clone(),
            Registry::new(self.reader_schema.clone()),
        ))
    }
}

/// The refusal of a file (`text`: of Camus' text writer) whose record count, read to its end
/// (`held`), disagrees with what its `name` says, when it has a name that tells.
pub(crate) fn check_count(
    url: &str,
    name: Option<&CamusFileName>,
    held: u64,
    text: bool,
) -> Result<()> {
    let end_from_next = name.is_some_and(|n| n.end_from_next);
    match name.and_then(CamusFileName::expected_count) {
        Some(expected) if expected != held && end_from_next => bail!(
            "{url}: it holds {held} records, but its name (a Kafka Connect S3 sink's, with no \
             end offset) makes it end where its partition's next file starts, {expected} \
             offsets on: a file between them is missing, or files in several folders interleave \
             their offsets (a field or record-time partitioner), which names without an end \
             cannot prove{}",
            if held < expected {
                ""
            } else {
                " (or it holds records twice)"
            }
        ),
        Some(expected) if expected != held => bail!(
            "{url}: its name says {expected} records but the file holds {held}: it is \
             truncated{}, or it was not written as its name says (Kafka Connect skips the \
             offsets of a compacted topic and of transaction markers, which c2k cannot prove \
             complete)",
            if text {
                ", a record held the delimiter (source.text_delimiter)"
            } else {
                ""
            }
        ),
        _ => Ok(()),
    }
}

/// What is below a topic's directory: the data files, and the entries where data files would be
/// that are not regular files.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Sorted by URL, with what their names tell.
    pub files: Vec<SourceFile>,
    /// `(url, what it is)` of each FIFO, socket, device or broken link among the data.
    pub not_regular: Vec<(String, &'static str)>,
    /// Files beside the data that are not replayed: the Kafka Connect S3 sink's keys and
    /// headers files (`store.kafka.keys`, `store.kafka.headers`).
    pub side_files: Vec<String>,
}

impl Listing {
    /// What is said of [`Listing::side_files`], if there are any.
    pub(crate) fn side_files_said(&self) -> Option<String> {
        let first = self.side_files.first()?;
        Some(format!(
            "{} of Kafka Connect's record keys or headers (the S3 sink's store.kafka.keys \
             and store.kafka.headers, e.g. {first}) {} not replayed: each message carries the \
             key and headers the format plugin gives it",
            match self.side_files.len() {
                1 => "1 file".to_string(),
                n => format!("{n} files"),
            },
            if self.side_files.len() == 1 {
                "is"
            } else {
                "are"
            }
        ))
    }
}

impl Listing {
    /// An error naming every non-regular entry, if there is any.
    pub fn refuse_not_regular(&self) -> Result<()> {
        if self.not_regular.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = self
            .not_regular
            .iter()
            .map(|(url, kind)| format!("{url} is {kind}"))
            .collect();
        Err(crate::integrity::Inconsistent(format!(
            "{} entr{} of the archive {} not a regular file, so {} records cannot be read: {} \
             (`c2k verify` lists everything it finds); nothing was sent",
            listed.len(),
            if listed.len() == 1 { "y" } else { "ies" },
            if listed.len() == 1 { "is" } else { "are" },
            if listed.len() == 1 { "its" } else { "their" },
            listed.join("; ")
        ))
        .into())
    }
}

/// The data files below `dir`, sorted by URL, with what their names tell, and the entries that
/// are not regular files.
pub fn list_archive(storage: &dyn Storage, dir: &str, topic: Option<&str>) -> Result<Listing> {
    list_with(storage, dir, names::is_data_file, |file_name| {
        CamusFileName::parse(file_name, topic)
    })
}

/// The data files below `dir` (relative paths `is_data` accepts), sorted by URL, each named as
/// `name_of` reads its file name, and the entries that are not regular files.
pub(crate) fn list_with(
    storage: &dyn Storage,
    dir: &str,
    is_data: fn(&str) -> bool,
    name_of: impl Fn(&str) -> Option<CamusFileName>,
) -> Result<Listing> {
    let prefix = dir.trim_end_matches('/');
    let mut listing = Listing::default();
    for entry in storage.list_files(dir)? {
        let relative = entry
            .url
            .strip_prefix(prefix)
            .unwrap_or(&entry.url)
            .trim_start_matches('/');
        if let Some(kind) = entry.not_regular {
            // Whatever its name: a pipe named `x.avro` or not, it is no file a writer made.
            if names::is_visible(relative) {
                listing.not_regular.push((entry.url, kind));
            }
            continue;
        }
        if !is_data(relative) {
            continue;
        }
        let file_name = relative.rsplit('/').next().unwrap_or(relative);
        listing.files.push(SourceFile {
            name: name_of(file_name),
            url: entry.url,
            size: entry.size,
        });
    }
    listing.files.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(listing)
}

/// The archive of `pipeline` as its `source.type` lists it, and how its records are written.
pub(crate) fn list_pipeline(pipeline: &Pipeline) -> Result<(Listing, SourceFormat)> {
    let input_dir = pipeline.input_dir();
    let storage = storage::for_url(&input_dir)?;
    match pipeline.source.kind {
        SourceType::KafkaConnect => connect::list(pipeline, storage.as_ref(), &input_dir),
        SourceType::Camus => {
            let listing = list_archive(storage.as_ref(), &input_dir, Some(&pipeline.topic))?;
            let format = SourceFormat::of_pipeline(pipeline, &listing.files, storage.as_ref())?;
            Ok((listing, format))
        }
    }
}
