//! Local disk: plain paths and `file://` URLs.

use std::fs::File;
use std::io::ErrorKind::NotFound;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{FileEntry, FileWrite, Storage};

pub struct LocalStorage;

/// The local path of a plain path or `file://` URL.
pub(crate) fn local_path(url: &str) -> PathBuf {
    PathBuf::from(url.strip_prefix("file://").unwrap_or(url))
}

impl Storage for LocalStorage {
    fn list_files(&self, dir: &str) -> Result<Vec<FileEntry>> {
        let root = local_path(dir);
        let prefix = dir.strip_suffix('/').unwrap_or(dir);
        let mut found = Vec::new();
        walk(&root, prefix, &mut found)?;
        let mut entries: Vec<FileEntry> = found
            .into_iter()
            .map(|(path, size, not_regular)| {
                let relative = path
                    .strip_prefix(&root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                let url = format!("{prefix}/{relative}");
                super::shown::remember(&url);
                FileEntry {
                    url,
                    size,
                    not_regular,
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
                let name = entry.file_name().to_string_lossy().into_owned();
                super::shown::remember(&format!("{}/{name}", dir.trim_end_matches('/')));
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, url: &str) -> Result<Box<dyn Read + Send>> {
        let file = File::open(local_path(url)).with_context(|| format!("cannot open {url}"))?;
        Ok(Box::new(BufReader::with_capacity(256 << 10, file)))
    }

    fn file_size(&self, url: &str) -> Result<Option<u64>> {
        match std::fs::metadata(local_path(url)) {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(e) if e.kind() == NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read the size of {url}")),
        }
    }

    fn create_dir_all(&self, dir: &str) -> Result<()> {
        std::fs::create_dir_all(local_path(dir)).with_context(|| format!("cannot create {dir}"))
    }

    fn create(&self, url: &str) -> Result<Box<dyn FileWrite>> {
        let file =
            File::create_new(local_path(url)).with_context(|| format!("cannot create {url}"))?;
        Ok(Box::new(file))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        std::fs::rename(local_path(from), local_path(to))
            .with_context(|| format!("cannot rename {from} to {to}"))
    }

    fn delete(&self, url: &str) -> Result<()> {
        match std::fs::remove_file(local_path(url)) {
            Err(e) if e.kind() != NotFound => {
                Err(e).with_context(|| format!("cannot remove {url}"))
            }
            _ => Ok(()),
        }
    }
}

impl FileWrite for File {
    fn finish(self: Box<Self>) -> Result<()> {
        Ok(self.sync_all()?)
    }
}

/// One listed entry: path, size, and what it is when not a regular file.
type Found = (PathBuf, u64, Option<&'static str>);

/// Lists `dir` (shown as `shown`, the URL it has in messages) into `found`, recursively. A folder
/// that cannot be read is an error naming that folder, not the root of the walk: an unreadable
/// hour folder deep in a topic is found where it is.
fn walk(dir: &Path, shown: &str, found: &mut Vec<Found>) -> Result<()> {
    super::shown::remember(shown);
    let cannot_list = || format!("cannot list {shown}");
    for entry in std::fs::read_dir(dir).with_context(cannot_list)? {
        let entry = entry.with_context(cannot_list)?;
        let kind = entry.file_type().with_context(|| {
            format!(
                "cannot read what {shown}/{} is",
                entry.file_name().to_string_lossy()
            )
        })?;
        if kind.is_dir() {
            let name = entry.file_name();
            let below = format!("{shown}/{}", name.to_string_lossy());
            walk(&entry.path(), &below, found)?;
        } else if kind.is_symlink() {
            // A link is what it points to: its target's size and kind (a link into a directory
            // is not followed, so a loop cannot make the walk endless).
            match std::fs::metadata(entry.path()) {
                Ok(target) if target.is_file() => found.push((entry.path(), target.len(), None)),
                Ok(target) if target.is_dir() => {
                    found.push((entry.path(), 0, Some("a symbolic link to a directory")))
                }
                Ok(target) => {
                    found.push((entry.path(), 0, Some(special_kind(&target.file_type()))))
                }
                Err(_) => found.push((entry.path(), 0, Some("a broken symbolic link"))),
            }
        } else if kind.is_file() {
            let metadata = entry.metadata().with_context(|| {
                format!(
                    "cannot read the size of {shown}/{}",
                    entry.file_name().to_string_lossy()
                )
            })?;
            found.push((entry.path(), metadata.len(), None));
        } else {
            found.push((entry.path(), 0, Some(special_kind(&kind))));
        }
    }
    Ok(())
}

/// What a non-regular, non-directory entry is.
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_char_device() {
        "a character device"
    } else {
        "not a regular file"
    }
}
