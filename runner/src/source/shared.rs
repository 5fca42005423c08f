//! Files whose offsets interleave ([`super::SharedCount`]), counted together as they are read.
//!
//! Kafka Connect's field partitioner (or its time partitioner on record time) keeps one file
//! open per folder and commits them all at a rotation, so one partition's offsets alternate
//! between files: `field=a/t+0+0000000000+0000000008` may hold 0, 2, 4, 8 and
//! `field=b/t+0+0000000001+0000000007` hold 1, 3, 5, 6, 7. No file's count can be told from its
//! name, but together they hold every offset of the span once, so their records must add up to
//! it. The stream of batches is watched and, once it ends, each such group's records are
//! compared with its span: a missing file or a record twice is an error naming the files. A
//! Kafka Connect archive is always sorted whole, so the error comes before anything is sent.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};

use super::{SharedCount, SourceEvent, SourceFile};

/// The events of `files`, with the shared counts checked at their end.
pub(crate) struct SharedCheck<'a, I> {
    inner: I,
    files: &'a [SourceFile],
    /// Records read per group, by (partition, first offset).
    read: BTreeMap<(u32, u64), u64>,
    ended: bool,
}

impl<'a, I> SharedCheck<'a, I> {
    pub(crate) fn new(inner: I, files: &'a [SourceFile]) -> Self {
        SharedCheck {
            inner,
            files,
            read: BTreeMap::new(),
            ended: false,
        }
    }

    fn group_of(&self, file: usize) -> Option<(u32, &SharedCount)> {
        let name = self.files.get(file)?.name.as_ref()?;
        Some((name.partition, name.shared.as_ref()?))
    }

    /// The first group whose records do not add up to its span, or that this source holds only
    /// part of.
    fn verdict(&self) -> Result<()> {
        let mut groups: BTreeMap<(u32, u64), (&SharedCount, Vec<&str>)> = BTreeMap::new();
        for (i, file) in self.files.iter().enumerate() {
            if let Some((partition, shared)) = self.group_of(i) {
                let entry = groups
                    .entry((partition, shared.first))
                    .or_insert_with(|| (shared, Vec::new()));
                entry.1.push(&file.url);
            }
        }
        for ((partition, first), (shared, urls)) in groups {
            let span = shared.next - shared.first;
            if urls.len() != shared.files {
                return Err(anyhow!(
                    "partition {partition}: offsets {first} to {} are interleaved over {} files, \
                     but this read holds {} of them ({}): their records can only be counted \
                     together; nothing was sent",
                    shared.next - 1,
                    shared.files,
                    urls.len(),
                    urls.join(", ")
                ));
            }
            let read = self.read.get(&(partition, first)).copied().unwrap_or(0);
            if read != span {
                return Err(anyhow!(
                    "partition {partition}: the {} files whose offsets interleave over {first} to \
                     {} ({}) hold {read} records, not the {span} their offsets span: {} — \
                     nothing was sent",
                    urls.len(),
                    shared.next - 1,
                    urls.join(", "),
                    if read < span {
                        "a file is missing, or the topic is compacted or holds transaction \
                         markers (offsets without a record), which c2k cannot prove complete"
                    } else {
                        "records are there twice"
                    }
                ));
            }
        }
        Ok(())
    }
}

impl<I: Iterator<Item = Result<SourceEvent>>> Iterator for SharedCheck<'_, I> {
    type Item = Result<SourceEvent>;

    fn next(&mut self) -> Option<Result<SourceEvent>> {
        if self.ended {
            return None;
        }
        match self.inner.next() {
            Some(Ok(SourceEvent::Batch(batch))) => {
                if let Some((partition, shared)) = self.group_of(batch.file as usize) {
                    let key = (partition, shared.first);
                    *self.read.entry(key).or_default() += batch.len() as u64;
                }
                Some(Ok(SourceEvent::Batch(batch)))
            }
            None => {
                self.ended = true;
                self.verdict().err().map(Err)
            }
            other => other,
        }
    }
}

/// Whether any of `files` shares a count.
pub(crate) fn any(files: &[SourceFile]) -> bool {
    files
        .iter()
        .any(|f| f.name.as_ref().is_some_and(|n| n.shared.is_some()))
}

/// How many records the names of `files` say there are, when every file has a name: each
/// group of interleaved files counted once, by its span.
pub(crate) fn records_named(files: &[SourceFile]) -> Option<u64> {
    let mut groups = std::collections::BTreeSet::new();
    let mut total = 0u64;
    for file in files {
        let name = file.name.as_ref()?;
        match &name.shared {
            None => total += name.count,
            Some(shared) => {
                if groups.insert((name.partition, shared.first)) {
                    total += shared.next - shared.first;
                }
            }
        }
    }
    Some(total)
}
