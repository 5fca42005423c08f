//! HDFS through the `hdfs-native` crate (issue 5 fills this in).

use std::io::Read;

use anyhow::{bail, Result};

use super::{FileEntry, Storage};

pub struct HdfsStorage;

impl HdfsStorage {
    pub fn connect(url: &str) -> Result<Self> {
        bail!("{url}: HDFS is not supported yet")
    }
}

impl Storage for HdfsStorage {
    fn list_files(&self, dir: &str) -> Result<Vec<FileEntry>> {
        bail!("{dir}: HDFS is not supported yet")
    }
    fn list_dirs(&self, dir: &str) -> Result<Vec<String>> {
        bail!("{dir}: HDFS is not supported yet")
    }
    fn open(&self, url: &str) -> Result<Box<dyn Read + Send>> {
        bail!("{url}: HDFS is not supported yet")
    }
}
