//! `c2k inspect FILE`: an Avro container file's (or SequenceFile's) records as JSON lines.

use std::io::Write;

use anyhow::{bail, Result};

pub fn inspect(file: &str, _out: &mut dyn Write) -> Result<()> {
    bail!("{file}: inspect is not implemented yet")
}
