//! Local disk: plain paths and `file://` URLs.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{FileEntry, Storage};

pub struct LocalStorage;

/// The local path of a plain path or `file://` URL.
pub fn local_path(url: &str) -> PathBuf {
    PathBuf::from(url.strip_prefix("file://").unwrap_or(url))
}

impl Storage for LocalStorage {
    fn list_files(&self, dir: &str) -> Result<Vec<FileEntry>> {
        let root = local_path(dir);
        let mut found = Vec::new();
        walk(&root, &mut found).with_context(|| format!("cannot list {dir}"))?;
        let prefix = dir.strip_suffix('/').unwrap_or(dir);
        let mut entries: Vec<FileEntry> = found
            .into_iter()
            .map(|(path, size)| {
                let relative = path
                    .strip_prefix(&root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                FileEntry {
                    url: format!("{prefix}/{relative}"),
                    size,
                }
            })
            .collect();
        entries.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(entries)
    }

    fn list_dirs(&self, dir: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in
            std::fs::read_dir(local_path(dir)).with_context(|| format!("cannot list {dir}"))?
        {
            let entry = entry.with_context(|| format!("cannot list {dir}"))?;
            if entry.file_type()?.is_dir() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, url: &str) -> Result<Box<dyn Read + Send>> {
        let file = File::open(local_path(url)).with_context(|| format!("cannot open {url}"))?;
        Ok(Box::new(BufReader::with_capacity(256 << 10, file)))
    }
}

fn walk(dir: &Path, found: &mut Vec<(PathBuf, u64)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), found)?;
        } else if kind.is_file() || kind.is_symlink() {
            found.push((entry.path(), entry.metadata()?.len()));
        }
    }
    Ok(())
}
