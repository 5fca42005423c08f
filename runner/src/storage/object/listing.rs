//! Listing a Camus tree on an object store, fast at a year of hourly folders.
//!
//! A flat listing of a prefix is paginated (1,000 keys a page on S3) and each page waits for the
//! one before it: a year of hourly folders of 16 partitions, 140,000 files, would be 140 round
//! trips in a row. So the tree is first walked folder by folder (listings with a delimiter,
//! [`CONCURRENCY`] at once) until there are [`ENOUGH_PREFIXES`] folders to split the work, or
//! [`MAX_DEPTH`] levels; then each of those is listed flat, again [`CONCURRENCY`] at once. Split
//! no finer than that: every listing is a round trip, and a folder of a few files costs as much
//! as a page of 1,000. A Camus tree (`topic/hourly/YYYY/MM/DD/HH`) splits at its months (a year:
//! 12 flat listings of ~12 pages side by side) or, for a month or less, at its days.

use anyhow::Result;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectMeta;

use super::{errors, runtime, Client, MARKER};
use crate::storage::FileEntry;

/// Listings in flight at once.
const CONCURRENCY: usize = 16;
/// Folders enough to list flat in parallel.
const ENOUGH_PREFIXES: usize = 8;
/// Levels walked folder by folder at most.
const MAX_DEPTH: usize = 5;

/// Every object below `prefix` except folder markers, and whether a marker was there (the
/// folder exists though empty).
pub(super) fn list_files(
    client: &Client,
    dir: &str,
    prefix: &Path,
) -> Result<(Vec<FileEntry>, bool)> {
    let store = client.store.clone();
    let walk = async move {
        let mut found: Vec<ObjectMeta> = Vec::new();
        let mut frontier = vec![prefix.clone()];
        for _ in 0..MAX_DEPTH {
            if frontier.is_empty() || frontier.len() >= ENOUGH_PREFIXES {
                break;
            }
            let listed: Vec<_> = futures::stream::iter(frontier)
                .map(|folder| {
                    let store = store.clone();
                    async move { store.list_with_delimiter(Some(&folder)).await }
                })
                .buffer_unordered(CONCURRENCY)
                .try_collect()
                .await?;
            frontier = Vec::new();
            for level in listed {
                found.extend(level.objects);
                frontier.extend(level.common_prefixes);
            }
        }
        let rest: Vec<Vec<ObjectMeta>> = futures::stream::iter(frontier)
            .map(|folder| {
                let store = store.clone();
                async move { store.list(Some(&folder)).try_collect::<Vec<_>>().await }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        found.extend(rest.into_iter().flatten());
        Ok::<_, object_store::Error>(found)
    };
    let found =
        runtime::block_on(walk)?.map_err(|e| errors::describe(client, dir, "listing", e))?;
    let mut marked = false;
    let mut files = Vec::with_capacity(found.len());
    for object in found {
        if object.location.filename() == Some(MARKER) {
            marked = true;
            continue;
        }
        files.push(FileEntry {
            url: client.url.url_of(&object.location),
            size: object.size,
            not_regular: None,
        });
    }
    Ok((files, marked))
}

/// The names of the folders directly below `prefix`, sorted, and whether anything at all (an
/// object, a folder) is below it.
pub(super) fn list_dirs(client: &Client, dir: &str, prefix: &Path) -> Result<(Vec<String>, bool)> {
    let listed = runtime::block_on(client.store.list_with_delimiter(Some(prefix)))?
        .map_err(|e| errors::describe(client, dir, "listing", e))?;
    let anything = !listed.objects.is_empty() || !listed.common_prefixes.is_empty();
    let mut dirs: Vec<String> = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_string))
        .collect();
    dirs.sort();
    Ok((dirs, anything))
}
