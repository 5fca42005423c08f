//! The file and stdout sinks (values framed as lines or length-prefixed, or whole messages as
//! JSON envelopes), and the dry-run sink that counts what would be sent.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::kafka::{partition_for, plan_topic};
use super::write_behind::WriteBehind;
use super::{Sink, SinkReport, SourceFacts};
use crate::config::{FileSinkConfig, Framing, Partitioning, Pipeline, SinkConfig};
use crate::record::OutMessage;

/// Writes one message, framed: its value alone (lines, length-prefixed), or the whole message as
/// one JSON line (envelope).
fn write_framed(
    out: &mut impl Write,
    framing: Framing,
    message: &OutMessage,
) -> std::io::Result<()> {
    let value = &message.value;
    match framing {
        Framing::Lines => {
            out.write_all(value)?;
            out.write_all(b"\n")
        }
        Framing::Envelope => {
            out.write_all(&super::envelope::envelope_line(message))?;
            out.write_all(b"\n")
        }
        Framing::LengthPrefixed => {
            let len = u32::try_from(value.len()).map_err(|_| {
                std::io::Error::other("message larger than 4 GiB cannot be length-prefixed")
            })?;
            out.write_all(&len.to_be_bytes())?;
            out.write_all(value)
        }
    }
}

/// A file written under a temporary name in the same directory and renamed when complete, so a
/// reader never sees half a replay; the temporary file is removed if the run fails or is stopped
/// by a signal, and by the next run if this one is killed ([`crate::cleanup`]).
pub(crate) struct FileSink {
    path: PathBuf,
    temp: Option<tempfile::NamedTempFile>,
    /// Declared after `temp`: unregistered once the file is renamed or removed.
    _cleanup: crate::cleanup::Registration,
    out: BufWriter<WriteBehind>,
    framing: Framing,
    report: SinkReport,
}

impl FileSink {
    pub(crate) fn create(sink: &FileSinkConfig) -> Result<FileSink> {
        let path = sink
            .path
            .as_deref()
            .context("sink.path is required for sink.type: file")?;
        let path = crate::storage::local::local_path(path);
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).with_context(|| {
            format!("sink.path {}: cannot create its directory", path.display())
        })?;
        crate::cleanup::remove_stale(&dir);
        let (prefix, suffix) = crate::cleanup::partial_affixes(&file_name(&path));
        // The mode any Unix tool gives a new file, 0666 less the umask: tempfile's own 0600
        // would leave the replay readable by its writer alone.
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(suffix)
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(&dir)
            .with_context(|| {
                format!(
                    "sink.path {}: cannot create a file in {}",
                    path.display(),
                    dir.display()
                )
            })?;
        let cleanup = crate::cleanup::register(temp.path());
        let out = BufWriter::with_capacity(1 << 20, WriteBehind::new(temp.as_file().try_clone()?));
        let report = SinkReport {
            destination: format!("file {}", path.display()),
            ..SinkReport::default()
        };
        Ok(FileSink {
            path,
            temp: Some(temp),
            _cleanup: cleanup,
            out,
            framing: sink.framing,
            report,
        })
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned())
}

impl Sink for FileSink {
    fn send(&mut self, batch: Vec<OutMessage>) -> Result<()> {
        for message in &batch {
            write_framed(&mut self.out, self.framing, message)
                .with_context(|| format!("cannot write {}", self.path.display()))?;
            self.report.bytes += message.value.len() as u64;
        }
        self.report.delivered += batch.len() as u64;
        super::count_delivered(batch.len() as u64);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<SinkReport> {
        let context = || format!("cannot write {}", self.path.display());
        self.out.flush().with_context(context)?;
        let temp = self.temp.take().context("file sink finished twice")?;
        temp.as_file().sync_all().with_context(context)?;
        temp.persist(&self.path).with_context(context)?;
        Ok(self.report.clone())
    }
}

/// Messages on stdout, framed.
pub(crate) struct StdoutSink {
    out: BufWriter<std::io::Stdout>,
    framing: Framing,
    report: SinkReport,
}

impl StdoutSink {
    pub(crate) fn new(framing: Framing) -> StdoutSink {
        let report = SinkReport {
            destination: "stdout".into(),
            ..SinkReport::default()
        };
        StdoutSink {
            out: BufWriter::with_capacity(1 << 16, std::io::stdout()),
            framing,
            report,
        }
    }
}

impl Sink for StdoutSink {
    fn send(&mut self, batch: Vec<OutMessage>) -> Result<()> {
        for message in &batch {
            write_framed(&mut self.out, self.framing, message).context("cannot write to stdout")?;
            self.report.bytes += message.value.len() as u64;
        }
        self.report.delivered += batch.len() as u64;
        super::count_delivered(batch.len() as u64);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<SinkReport> {
        self.out.flush().context("cannot write to stdout")?;
        Ok(self.report.clone())
    }
}

/// Sends nothing; counts what would be sent, and where, and says so when finished. For Kafka it
/// plans the replay topic, counts messages per replay partition and reads (never writes) what the
/// topic already holds, to say whether a run would publish, resume or be refused.
pub(crate) struct DryRunSink {
    destination: String,
    /// For Kafka: the properties its clients connect with, secrets redacted.
    settings: Option<String>,
    /// For Kafka: what the replay topic holds and what a run would do with it.
    topic_state: Option<String>,
    /// `(partitioning, partitions)` when the sink is Kafka.
    kafka: Option<(Partitioning, i32)>,
    by_partition: BTreeMap<i32, u64>,
    report: SinkReport,
}

impl DryRunSink {
    pub(crate) fn new(pipeline: &Pipeline, facts: &SourceFacts) -> Result<DryRunSink> {
        let (destination, kafka) = match &pipeline.sink {
            SinkConfig::Kafka(sink) => {
                let plan = plan_topic(pipeline, facts)?;
                let destination = format!(
                    "kafka topic {} ({} partitions if created, partitioning: {:?}) at {}",
                    plan.topic,
                    plan.partitions,
                    sink.partitioning,
                    sink.brokers.as_deref().unwrap_or("?")
                );
                (destination, Some((sink.partitioning, plan.partitions)))
            }
            SinkConfig::File(sink) => (
                format!("file {}", sink.path.as_deref().unwrap_or("?")),
                None,
            ),
            SinkConfig::Stdout(_) => ("stdout".into(), None),
        };
        let topic_state = match &pipeline.sink {
            SinkConfig::Kafka(_) => Some(super::kafka::KafkaSink::look(pipeline, facts)?),
            _ => None,
        };
        let settings = match &pipeline.sink {
            SinkConfig::Kafka(sink) => Some(format!(
                "the Kafka clients connect with sink.producer: {}",
                sink.producer.redacted()
            )),
            _ => None,
        };
        Ok(DryRunSink {
            destination,
            settings,
            topic_state,
            kafka,
            by_partition: BTreeMap::new(),
            report: SinkReport::default(),
        })
    }
}

impl Sink for DryRunSink {
    fn send(&mut self, batch: Vec<OutMessage>) -> Result<()> {
        for message in &batch {
            if let Some((partitioning, partitions)) = self.kafka {
                *self
                    .by_partition
                    .entry(partition_for(partitioning, message, partitions))
                    .or_default() += 1;
            }
            self.report.bytes +=
                (message.value.len() + message.key.as_ref().map_or(0, Vec::len)) as u64;
        }
        self.report.delivered += batch.len() as u64;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<SinkReport> {
        let per_partition: Vec<String> = self
            .by_partition
            .iter()
            .map(|(p, n)| format!("partition {p}: {n}"))
            .collect();
        eprintln!(
            "c2k: dry run: would send {} messages ({} bytes) to {}{}",
            self.report.delivered,
            self.report.bytes,
            self.destination,
            if per_partition.is_empty() {
                String::new()
            } else {
                format!(" [{}]", per_partition.join(", "))
            }
        );
        if let Some(settings) = &self.settings {
            eprintln!("c2k: dry run: {settings}");
        }
        if let Some(state) = &self.topic_state {
            eprintln!("c2k: dry run: {state}");
        }
        Ok(SinkReport {
            destination: format!("dry run ({})", self.destination),
            ..self.report
        })
    }
}
