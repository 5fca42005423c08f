//! `c2k validate`: every problem of the pipeline document at once, each with what its key means;
//! then the two plugins loaded with their config, which they read only when loaded, so that one
//! rejecting it is found here and not at the start of a run.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::config::{self, Pipeline};
use crate::plugin::{FormatPlugin, KeyPlugin};

/// Checks the pipeline at `path` with `sets` applied.
pub fn validate(path: &Path, sets: &[String]) -> Result<()> {
    let doc = config::load_document(path, sets)?;
    let problems = config::validate::problems(&doc);
    if !problems.is_empty() {
        bail!("{}", config::validate::report(path, &problems));
    }
    let pipeline = Pipeline::load(path, sets)?;
    KeyPlugin::load(&pipeline.key).context("key.plugin cannot be loaded with key.config")?;
    FormatPlugin::load(&pipeline.format)
        .context("format.plugin cannot be loaded with format.config")?;
    Ok(())
}
