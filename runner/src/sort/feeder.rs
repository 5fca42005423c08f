//! The sort's own thread. `extsort` sorts and writes a full segment inside the `push` that fills
//! it, which stalled the keying side (and, behind it, the source) for the whole sort and write of
//! every segment. Fed through a bounded channel from a thread of its own, the sorter sorts and
//! writes one segment while the next one is read, keyed and queued: the budget is split between
//! the segment being sorted and the records queued behind it.
//!
//! Until the records outgrow one segment, the thread holds them itself, in a vector reserved once
//! (only the pages used are ever touched): a replay that fits `sort.memory` is then sorted in
//! place on every core ([`Gathered::InMemory`]), where `extsort` would grow its buffer by copying
//! it and sort it on one thread while the other cores wait. Once they outgrow it, they go to
//! `extsort`, which spills.
//!
//! `extsort` 0.5 loses every spilled record when the last push is the one that spilled (its
//! buffer is then empty, and `done` reads it as "everything fitted in memory"): one record in
//! `segment + 1` would make that push. So the thread keeps the last record back, and when pushing
//! it would be that push, hands it over on its own instead ([`Gathered::Spilling`]'s `last`).

use std::thread::JoinHandle;

use super::{Pushed, SortItem};

/// Records per message to the sort thread: a channel operation per record would cost more than
/// the push itself.
const BATCH: usize = 1024;

/// Every record the thread was given.
pub(super) enum Gathered {
    /// They fitted one segment: held here, unsorted.
    InMemory(Vec<SortItem>),
    /// They did not: in `extsort`, which spilled the segments before the last, and `last`, when
    /// pushing it would have lost the spilled ones.
    Spilling {
        pushed: Pushed,
        last: Option<SortItem>,
    },
}

/// What has gone into `extsort`, to know which push spills: it writes its buffer out as soon as
/// it holds more than a segment, so every `segment + 1`-th push empties it.
struct Spilling {
    pushed: Pushed,
    segment: usize,
    count: u64,
    /// Received, not pushed yet: it may be the last one.
    held_back: Option<SortItem>,
}

impl Spilling {
    fn push(&mut self, item: SortItem) -> std::io::Result<()> {
        if let Some(previous) = self.held_back.replace(item) {
            self.pushed.push(previous)?;
            self.count += 1;
        }
        Ok(())
    }

    /// Pushes the held records from the end (the order is total: push order does not matter),
    /// giving their array back as it empties, so that it and `extsort`'s growing buffer never
    /// both hold about a segment.
    fn take_over(&mut self, mut held: Vec<SortItem>) -> std::io::Result<()> {
        while let Some(item) = held.pop() {
            self.push(item)?;
            if held.len() < held.capacity() / 4 {
                held.shrink_to_fit();
            }
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Gathered> {
        let last = match self.held_back.take() {
            Some(last) if (self.count + 1) % (self.segment as u64 + 1) == 0 => Some(last),
            Some(last) => {
                self.pushed.push(last)?;
                None
            }
            None => None,
        };
        Ok(Gathered::Spilling {
            pushed: self.pushed,
            last,
        })
    }
}

/// The sort thread: holds what it is sent until that outgrows a segment, then hands everything
/// to `extsort`.
fn gather(
    pushed: Pushed,
    segment: usize,
    batches: crossbeam_channel::Receiver<Vec<SortItem>>,
) -> std::io::Result<Gathered> {
    let mut held = Vec::with_capacity(segment);
    let mut batches = batches.into_iter();
    for batch in batches.by_ref() {
        if held.len() + batch.len() <= segment {
            held.extend(batch);
            continue;
        }
        // `extsort` spills once it holds more than a segment: it gets the held records and this
        // batch, then everything else as it comes.
        let mut spilling = Spilling {
            pushed,
            segment,
            count: 0,
            held_back: None,
        };
        spilling.take_over(held)?;
        for item in batch.into_iter().chain(batches.flatten()) {
            spilling.push(item)?;
        }
        return spilling.finish();
    }
    Ok(Gathered::InMemory(held))
}

/// Pushes records into a [`Pushed`] sorter on another thread.
pub(super) struct Feeder {
    batch: Vec<SortItem>,
    sender: Option<crossbeam_channel::Sender<Vec<SortItem>>>,
    thread: Option<JoinHandle<std::io::Result<Gathered>>>,
}

impl Feeder {
    /// Starts the thread; at most about `segment` records wait for it, and it holds up to
    /// `segment` records itself before handing them all to `pushed`.
    pub(super) fn start(pushed: Pushed, segment: usize) -> std::io::Result<Feeder> {
        let (sender, receiver) =
            crossbeam_channel::bounded::<Vec<SortItem>>((segment / BATCH).max(1));
        let thread = std::thread::Builder::new()
            .name("c2k-sort".into())
            .spawn(move || gather(pushed, segment, receiver))?;
        Ok(Feeder {
            batch: Vec::with_capacity(BATCH),
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    pub(super) fn push(&mut self, item: SortItem) -> std::io::Result<()> {
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> std::io::Result<()> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let sent = match &self.sender {
            Some(sender) => sender.send(batch).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The thread stopped: on an error of its own, which is the one to report.
            Err(self.join().err().unwrap_or_else(stopped))
        }
    }

    /// Hands over the last records and waits for the thread: every record, held or in the sorter.
    pub(super) fn finish(mut self) -> std::io::Result<Gathered> {
        if !self.batch.is_empty() {
            self.send()?;
        }
        self.join()
    }

    fn join(&mut self) -> std::io::Result<Gathered> {
        self.sender = None;
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| Err(stopped())),
            None => Err(stopped()),
        }
    }
}

/// Dropped unfinished (the run failed elsewhere): the thread is stopped and waited for, so it
/// does not write spill files into a directory that is being removed.
impl Drop for Feeder {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.join();
        }
    }
}

fn stopped() -> std::io::Error {
    std::io::Error::other("the sort thread stopped")
}
