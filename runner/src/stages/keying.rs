//! Records keyed by the key plugin, batch by batch, and handed to a [`KeyTarget`]: the sort of
//! the whole archive, or a window of time buckets.
//!
//! Invariant: every record carries its input order (a counter over the archive, or, when some
//! files only are read, the archive-wide file id and the index in the file), so equal keys come
//! out in the archive's order whatever was read and however.

use std::borrow::Cow;

use anyhow::{bail, Context, Result};

use super::file_url;
use crate::config::Pipeline;
use crate::plugin::{KeyPlugin, PluginBatch, PluginError};
use crate::progress::Progress;
use crate::record::{FileId, SourceBatch};
use crate::sort::{SortItem, Sorter};
use crate::source::{SourceEvent, SourceFile};

/// Where keyed records go: the sort of the whole archive, or a window of time buckets.
pub(crate) trait KeyTarget {
    /// A batch of the source's file at `position` follows (before its records are keyed).
    fn batch_of(&mut self, position: u32, key: &mut KeyPlugin) -> Result<()> {
        let _ = (position, key);
        Ok(())
    }
    fn push(&mut self, item: SortItem) -> Result<()>;
}

impl KeyTarget for Sorter {
    fn push(&mut self, item: SortItem) -> Result<()> {
        Sorter::push(self, item)
    }
}

/// Keys every record the source announces and hands it to `target`; returns how many schemas
/// the source announced.
#[allow(clippy::too_many_arguments)]
pub(crate) fn key_records(
    pipeline: &Pipeline,
    files: &[SourceFile],
    events: crossbeam_channel::Receiver<Result<SourceEvent>>,
    key: &mut KeyPlugin,
    progress: &Progress,
    global_ids: Option<&[FileId]>,
    on_schema: &mut dyn FnMut(u32, &str) -> Result<()>,
    target: &mut dyn KeyTarget,
) -> Result<usize> {
    let mut seq = 0u64;
    let mut schema_ids = Vec::new();
    let mut schemas = 0usize;
    for event in events {
        match event? {
            SourceEvent::Schema { id, json } => {
                key.register_schema(id, &json)?;
                on_schema(id, &json)?;
                schemas += 1;
            }
            SourceEvent::Batch(batch) => {
                progress.read(batch.len() as u64, batch.data.len() as u64);
                target.batch_of(batch.file, key)?;
                for chunk in split(&batch, pipeline.key.batch_size.max(1)) {
                    schema_ids.clear();
                    schema_ids.resize(chunk.len(), chunk.schema_id);
                    let keys = key
                        .extract_keys(&PluginBatch {
                            data: &chunk.data,
                            ends: &chunk.ends,
                            schema_ids: &schema_ids,
                        })
                        .map_err(|e| name_record(e, files, &chunk))?;
                    if keys.ends.len() != chunk.len() {
                        bail!(
                            "key plugin {} returned {} keys for a batch of {} records from {}",
                            pipeline.key.plugin,
                            keys.ends.len(),
                            chunk.len(),
                            file_url(files, chunk.file)
                        );
                    }
                    let file = match global_ids {
                        None => chunk.file,
                        Some(ids) => ids.get(chunk.file as usize).copied().with_context(|| {
                            format!("{}: not a planned file", file_url(files, chunk.file))
                        })?,
                    };
                    let mut start = 0usize;
                    for i in 0..chunk.len() {
                        let end = keys.ends[i] as usize;
                        let timestamp = keys.timestamps_ms.get(i).copied().flatten();
                        let offset = chunk.first_offset.map(|o| o + i as u64);
                        let index = chunk.first_index + i as u64;
                        // The input order: a map stage reads some files only, so it numbers each
                        // record by (archive-wide file id, index in file), which orders exactly
                        // as the single-machine run's counter over every file does.
                        let input_order = match global_ids {
                            None => seq,
                            Some(_) => (u64::from(file) << 40) | index,
                        };
                        target.push(SortItem::new(
                            &keys.data[start..end],
                            chunk.datum(i),
                            chunk.partition,
                            offset,
                            input_order,
                            timestamp,
                            chunk.schema_id,
                            file,
                            index,
                        ))?;
                        start = end;
                        seq += 1;
                    }
                }
            }
        }
    }
    Ok(schemas)
}

/// Splits a source batch into plugin calls of at most `size` records.
/// A batch that fits (the usual case: both sizes default to the same) is handed on as it is,
/// not copied.
fn split(batch: &SourceBatch, size: usize) -> Vec<Cow<'_, SourceBatch>> {
    if batch.len() <= size {
        return vec![Cow::Borrowed(batch)];
    }
    let mut chunks = Vec::new();
    for first in (0..batch.len()).step_by(size) {
        let last = (first + size).min(batch.len());
        let mut chunk = SourceBatch {
            file: batch.file,
            first_index: batch.first_index + first as u64,
            partition: batch.partition,
            first_offset: batch.first_offset.map(|o| o + first as u64),
            schema_id: batch.schema_id,
            data: Vec::new(),
            ends: Vec::with_capacity(last - first),
        };
        for i in first..last {
            chunk.push(batch.datum(i));
        }
        chunks.push(Cow::Owned(chunk));
    }
    chunks
}

/// A key-plugin error with the file and record it concerns.
fn name_record(error: PluginError, files: &[SourceFile], batch: &SourceBatch) -> anyhow::Error {
    let url = file_url(files, batch.file);
    match error.index {
        Some(i) => anyhow::anyhow!("{error} (record {} of {url})", batch.first_index + i as u64),
        None => anyhow::anyhow!(
            "{error} (in a batch of records {}..{} of {url})",
            batch.first_index,
            batch.first_index + batch.len() as u64
        ),
    }
}
