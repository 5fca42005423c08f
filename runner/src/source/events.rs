//! The lazy stream of [`SourceEvent`]s: files in order, blocks in order, records in order, cut
//! into batches of `source.batch_size` records (a batch never spans two files).

use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use c2k_avro::{CompiledSchema, Validate};

use super::container::ContainerReader;
use super::schemas::{Plan, Registry};
use super::text::{open_records, PlainFile};
use super::{CamusSource, SourceEvent, SourceFile};
use crate::record::{FileId, SourceBatch};
use crate::storage::Storage;

/// A batch is cut early when its data reaches this size, so that huge records cannot make one
/// batch unbounded (and record ends, `u32`, cannot overflow).
const MAX_BATCH_BYTES: usize = 64 << 20;

/// The most records reserved for at once (`source.batch_size` is validated to this too).
const MAX_BATCH_RECORDS: usize = 1 << 20;

pub(crate) struct Events<'a> {
    source: &'a CamusSource,
    storage: Arc<dyn Storage>,
    registry: Registry,
    next_file: usize,
    current: Option<Reading>,
    /// A batch waiting behind the schema announcement that must precede it.
    pending: Option<SourceBatch>,
    /// After an error the stream ends: the caller fails the run.
    failed: bool,
}

impl<'a> Events<'a> {
    pub(crate) fn new(
        source: &'a CamusSource,
        storage: Arc<dyn Storage>,
        registry: Registry,
    ) -> Self {
        Events {
            source,
            storage,
            registry,
            next_file: 0,
            current: None,
            pending: None,
            failed: false,
        }
    }

    fn next_event(&mut self) -> Result<Option<SourceEvent>> {
        if let Some(batch) = self.pending.take() {
            return Ok(Some(SourceEvent::Batch(batch)));
        }
        loop {
            if self.current.is_none() {
                let Some(file) = self.source.files.get(self.next_file) else {
                    return Ok(None);
                };
                let id = self.next_file as FileId;
                self.next_file += 1;
                let storage = self.storage.as_ref();
                let reading = match self.source.format.encoding() {
                    None => {
                        let reader =
                            open_container(storage, &file.url, self.source.max_block_bytes())?;
                        let (schema_id, plan) = self.registry.plan_for(
                            &file.url,
                            &reader.header.schema,
                            &reader.header.schema_json,
                        )?;
                        Reading::Avro(Box::new(OpenFile::new(id, file, reader, plan, schema_id)?))
                    }
                    Some(encoding) => {
                        let records = open_records(
                            storage,
                            file,
                            &self.source.format,
                            self.source.max_block_bytes(),
                        )?;
                        let schema_id = self.registry.id_for(encoding, encoding);
                        Reading::Plain(PlainFile::open(id, file, records, schema_id))
                    }
                };
                self.current = Some(reading);
            }
            let Some(open) = self.current.as_mut() else {
                continue;
            };
            let batch = open.next_checked(self.source.batch_size)?;
            if open.done() {
                self.current = None;
            }
            if let Some(batch) = batch {
                return Ok(Some(self.registry.hand_on(batch, &mut self.pending)));
            }
        }
    }
}

impl Iterator for Events<'_> {
    type Item = Result<SourceEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_event() {
            Ok(Some(event)) => Some(Ok(event)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Opens a file and reads its container header; its blocks may take `max_block_bytes` each.
pub(crate) fn open_container(
    storage: &dyn Storage,
    url: &str,
    max_block_bytes: u64,
) -> Result<ContainerReader> {
    ContainerReader::open(url, storage.open(url)?, max_block_bytes)
}

/// One file being read, whatever Camus writer made it.
pub(crate) enum Reading {
    /// Boxed: a file is opened once, and the Avro state is several times the text one.
    Avro(Box<OpenFile>),
    /// Text or SequenceFile records.
    Plain(PlainFile),
}

impl Reading {
    /// The next batch of at most `batch_size` records, or `None` at the end of the file (the
    /// record count then checked against the name).
    pub(crate) fn next_checked(&mut self, batch_size: usize) -> Result<Option<SourceBatch>> {
        match self {
            Reading::Avro(open) => open.next_checked(batch_size),
            Reading::Plain(open) => open.next_checked(batch_size),
        }
    }

    pub(crate) fn done(&self) -> bool {
        match self {
            Reading::Avro(open) => open.done,
            Reading::Plain(open) => open.done,
        }
    }
}

/// One Avro file being read.
pub(crate) struct OpenFile {
    file: FileId,
    reader: ContainerReader,
    /// The writer schema, walked strictly: a record passes on as bytes only once every value in
    /// it has been checked.
    writer: CompiledSchema,
    plan: Plan,
    schema_id: u32,
    /// What the file's name tells (partition, offsets, count), when it has such a name.
    name: Option<super::CamusFileName>,
    /// Index in the file of the next record.
    next_index: u64,
    /// Where the next record starts in the current block.
    pos: usize,
    /// Records left in the current block.
    remaining: u64,
    pub(super) done: bool,
    /// Bytes of the previous batch, to size the next one.
    last_batch_bytes: usize,
}

impl OpenFile {
    /// Starts reading `file` (the `id`-th of the source) whose header `reader` has read; its
    /// records are read according to `plan` and tagged `schema_id`.
    pub(crate) fn new(
        id: FileId,
        file: &SourceFile,
        reader: ContainerReader,
        plan: Plan,
        schema_id: u32,
    ) -> Result<OpenFile> {
        let writer = CompiledSchema::compile(&reader.header.schema)
            .map_err(|e| anyhow!("{}: the writer schema is incomplete: {e}", file.url))?;
        Ok(OpenFile {
            file: id,
            reader,
            writer,
            plan,
            schema_id,
            name: file.name.clone(),
            next_index: 0,
            pos: 0,
            remaining: 0,
            done: false,
            last_batch_bytes: 0,
        })
    }

    /// The next batch of at most `batch_size` records, or `None` at the end of the file. Once
    /// the end is reached ([`OpenFile::done`]) the record count has been checked against the name.
    pub(crate) fn next_checked(&mut self, batch_size: usize) -> Result<Option<SourceBatch>> {
        if self.done {
            return Ok(None);
        }
        let batch = self.next_batch(batch_size)?;
        if self.done {
            self.check_count()?;
        }
        Ok(batch)
    }

    fn next_batch(&mut self, batch_size: usize) -> Result<Option<SourceBatch>> {
        let batch_size = batch_size.max(1);
        let mut batch = SourceBatch {
            file: self.file,
            first_index: self.next_index,
            partition: self.name.as_ref().map(|n| n.partition),
            first_offset: self
                .name
                .as_ref()
                .and_then(|n| n.first_offset())
                .map(|o| o + self.next_index),
            schema_id: self.schema_id,
            // Sized like the previous batch: no regrowth on the pass-through path. Never more
            // than a full batch, whatever `batch_size` a caller gave.
            data: Vec::with_capacity(
                self.last_batch_bytes
                    .max(batch_size.saturating_mul(64))
                    .min(MAX_BATCH_BYTES),
            ),
            ends: Vec::with_capacity(batch_size.min(MAX_BATCH_RECORDS)),
        };
        while batch.len() < batch_size && batch.data.len() < MAX_BATCH_BYTES {
            if self.remaining == 0 {
                match self.reader.next_block()? {
                    None => {
                        self.done = true;
                        break;
                    }
                    Some(count) => {
                        self.remaining = count;
                        self.pos = 0;
                        self.check_block_end()?;
                        continue;
                    }
                }
            }
            let block = self.reader.block();
            let end = self
                .writer
                .datum_end(block, self.pos, Validate::Strict)
                .map_err(|e| {
                anyhow!(
                    "{}: record {} (in block {}) is not decodable with the file's writer schema: {e}",
                    self.reader.url(),
                    self.next_index,
                    self.reader.block_index()
                )
            })?;
            let datum = &block[self.pos..end];
            let plan = &self.plan;
            batch
                .push_with(|data| plan.write(datum, data))
                .with_context(|| {
                    format!(
                        "{}: record {} cannot be resolved to the reader schema",
                        self.reader.url(),
                        self.next_index
                    )
                })?;
            self.pos = end;
            self.remaining -= 1;
            self.next_index += 1;
            self.check_block_end()?;
        }
        self.last_batch_bytes = batch.data.len();
        Ok((!batch.is_empty()).then_some(batch))
    }

    /// A block's records must use exactly its bytes: leftovers mean the count or the data is
    /// corrupt.
    fn check_block_end(&self) -> Result<()> {
        let len = self.reader.block().len();
        if self.remaining == 0 && self.pos != len {
            anyhow::bail!(
                "{}: corrupt block {}: {} bytes are left after its records",
                self.reader.url(),
                self.reader.block_index(),
                len - self.pos
            );
        }
        Ok(())
    }

    /// The count in a Camus name is exactly how many records Camus wrote to the file. Fewer means
    /// the file was cut at a block boundary (which the container format cannot otherwise detect)
    /// and records would silently be lost, so it is an error, as is more.
    fn check_count(&self) -> Result<()> {
        super::check_count(
            self.reader.url(),
            self.name.as_ref(),
            self.next_index,
            false,
        )
    }
}
