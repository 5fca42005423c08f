//! The Kafka sink on rdkafka (issue 3 fills this in).

use anyhow::{bail, Result};

use super::{Sink, SourceFacts};
use crate::pipeline::Pipeline;

pub struct KafkaSink;

impl KafkaSink {
    pub fn open(_pipeline: &Pipeline, _facts: &SourceFacts) -> Result<Box<dyn Sink>> {
        bail!("sink.type: kafka is not supported yet")
    }
}
