//! The sort's own thread. `extsort` sorts and writes a full segment inside the `push` that fills
//! it, which stalled the keying side (and, behind it, the source) for the whole sort and write of
//! every segment. Fed through a bounded channel from a thread of its own, the sorter sorts and
//! writes one segment while the next one is read, keyed and queued: the budget is split between
//! the segment being sorted and the records queued behind it.

use std::thread::JoinHandle;

use super::{Pushed, SortItem};

/// Records per message to the sort thread: a channel operation per record would cost more than
/// the push itself.
const BATCH: usize = 1024;

/// Pushes records into a [`Pushed`] sorter on another thread.
pub struct Feeder {
    batch: Vec<SortItem>,
    sender: Option<crossbeam_channel::Sender<Vec<SortItem>>>,
    thread: Option<JoinHandle<std::io::Result<Pushed>>>,
}

impl Feeder {
    /// Starts the thread; at most about `queued_records` records wait for it.
    pub fn start(mut pushed: Pushed, queued_records: usize) -> std::io::Result<Feeder> {
        let (sender, receiver) =
            crossbeam_channel::bounded::<Vec<SortItem>>((queued_records / BATCH).max(1));
        let thread = std::thread::Builder::new()
            .name("c2k-sort".into())
            .spawn(move || {
                for batch in receiver {
                    for item in batch {
                        pushed.push(item)?;
                    }
                }
                Ok(pushed)
            })?;
        Ok(Feeder {
            batch: Vec::with_capacity(BATCH),
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    pub fn push(&mut self, item: SortItem) -> std::io::Result<()> {
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

    /// Hands over the last records and waits for the thread: the sorter, with every record.
    pub fn finish(mut self) -> std::io::Result<Pushed> {
        if !self.batch.is_empty() {
            self.send()?;
        }
        self.join()
    }

    fn join(&mut self) -> std::io::Result<Pushed> {
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
