//! Writing an object (the staging area's runs and manifests): held in memory up to [`PART`]
//! bytes, then uploaded in parts of that size (a multipart upload). The object appears only when
//! [`FileWrite::finish`] completes the upload; dropped unfinished, the upload is aborted and
//! nothing appears, as a killed process leaves nothing under the final name.

use std::io::{self, Write};
use std::sync::Arc;

use anyhow::Result;
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStoreExt as _, PutPayload};

use super::{errors, runtime, Client};
use crate::storage::FileWrite;

/// The size of an uploaded part (S3 takes 5 MiB to 5 GiB, all but the last).
const PART: usize = 8 << 20;

pub(super) struct ObjectWriter {
    client: Arc<Client>,
    url: String,
    key: Path,
    buffer: Vec<u8>,
    upload: Option<Box<dyn MultipartUpload>>,
}

impl ObjectWriter {
    pub(super) fn new(client: Arc<Client>, url: String, key: Path) -> ObjectWriter {
        ObjectWriter {
            client,
            url,
            key,
            buffer: Vec::new(),
            upload: None,
        }
    }

    fn failed(&self, operation: &str, e: object_store::Error) -> io::Error {
        io::Error::other(format!(
            "{:#}",
            errors::describe(&self.client, &self.url, operation, e)
        ))
    }

    /// Uploads the buffer as the next part.
    fn upload_part(&mut self) -> io::Result<()> {
        let part = PutPayload::from(std::mem::take(&mut self.buffer));
        if self.upload.is_none() {
            let started = runtime::block_on(self.client.store.put_multipart(&self.key))
                .map_err(|e| io::Error::other(format!("{}: {e:#}", self.url)))?
                .map_err(|e| self.failed("starting an upload", e))?;
            self.upload = Some(started);
        }
        let upload = self.upload.as_mut().expect("started above");
        let sent = runtime::block_on(upload.put_part(part))
            .map_err(|e| io::Error::other(format!("{}: {e:#}", self.url)))?;
        sent.map_err(|e| self.failed("uploading a part", e))
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= PART {
            self.upload_part()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FileWrite for ObjectWriter {
    fn finish(mut self: Box<Self>) -> Result<()> {
        match self.upload.take() {
            None => {
                let payload = PutPayload::from(std::mem::take(&mut self.buffer));
                let put = runtime::block_on(self.client.store.put(&self.key, payload))?;
                put.map_err(|e| errors::describe(&self.client, &self.url, "uploading", e))?;
            }
            Some(upload) => {
                self.upload = Some(upload);
                if !self.buffer.is_empty() {
                    self.upload_part()?;
                }
                let mut upload = self.upload.take().expect("put back above");
                let completed = runtime::block_on(upload.complete())?;
                completed.map_err(|e| {
                    errors::describe(&self.client, &self.url, "completing the upload", e)
                })?;
            }
        }
        Ok(())
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if let Some(mut upload) = self.upload.take() {
            // Unfinished: nothing must appear. Best effort; a store's lifecycle rule removes
            // what an abort that fails leaves.
            let _ = runtime::block_on(upload.abort());
        }
    }
}
