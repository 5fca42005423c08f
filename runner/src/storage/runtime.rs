//! The one tokio runtime behind every HDFS and object-store call, and the bridge from the
//! synchronous [`crate::storage::Storage`] trait into it.
//!
//! `hdfs-native` and `object_store` are async while the source runs on plain threads. One small
//! process-wide runtime (two workers: the work is network waiting, not computing) serves every
//! client and every open file, so that opening files from many threads costs no extra threads.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, Result};
use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

/// The shared runtime, created on first use.
pub(super) fn handle() -> Result<Handle> {
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("c2k-storage")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match runtime {
        Ok(runtime) => Ok(runtime.handle().clone()),
        Err(e) => Err(anyhow!(
            "cannot start the storage clients' I/O runtime: {e}"
        )),
    }
}

/// Runs `future` to completion from synchronous code. Works from any thread, including one that is
/// itself inside a tokio runtime (where `block_on` would panic): the wait then moves to a scoped
/// helper thread.
pub(super) fn block_on<F>(future: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let handle = handle()?;
    if Handle::try_current().is_err() {
        return Ok(handle.block_on(future));
    }
    std::thread::scope(|scope| {
        scope
            .spawn(move || handle.block_on(future))
            .join()
            .map_err(|_| anyhow!("a storage call panicked"))
    })
}

/// Runs `future` with a time limit; `Err(())` when the limit passed first.
pub(super) async fn within<F: Future>(
    limit: Duration,
    future: F,
) -> std::result::Result<F::Output, ()> {
    tokio::time::timeout(limit, future).await.map_err(|_| ())
}
