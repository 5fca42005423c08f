//! Feedback on stderr: logging, progress bars for read, sort and write (only when stderr is a
//! terminal, so logs and CI output stay clean), and the closing summary.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sink::SinkReport;

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings), with the pipeline's secrets
/// scrubbed ([`crate::config::secrets`]).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::config::secrets::ScrubbedStderr)
        .try_init();
}

/// The run's progress bar: one bar, restyled per phase.
pub(crate) struct Progress {
    bar: ProgressBar,
    /// Reading and writing at once: the bar counts what is written.
    streaming: std::sync::atomic::AtomicBool,
}

impl Progress {
    /// A bar over the input's compressed bytes; hidden unless stderr is a terminal.
    pub(crate) fn new(input_bytes: u64) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(Some(input_bytes), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(style(
            "read  {bar:40} {decimal_bytes}/~{decimal_total_bytes} {msg} ({elapsed})",
        ));
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress {
            bar,
            streaming: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Records and (uncompressed) bytes read. The bar tracks uncompressed bytes against the
    /// compressed total, so it is an estimate, hence the `~`.
    pub(crate) fn read(&self, _records: u64, bytes: u64) {
        if !self.streaming.load(std::sync::atomic::Ordering::Relaxed) {
            self.bar.inc(bytes);
        }
    }

    /// Reading and writing at once (Camus' buckets streamed): the bar counts records written.
    pub(crate) fn streaming(&self, records: u64) {
        self.streaming
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.writing(records);
    }

    pub(crate) fn sorting(&self) {
        self.bar.set_style(style(
            "sort  {spinner} merging spilled segments ({elapsed})",
        ));
    }

    pub(crate) fn writing(&self, records: u64) {
        self.bar.set_length(records);
        self.bar.set_position(0);
        self.bar.set_style(style(
            "write {bar:40} {human_pos}/{human_len} records, {per_sec} ({elapsed})",
        ));
    }

    pub(crate) fn wrote(&self, records: u64) {
        self.bar.inc(records);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The closing summary, printed to stderr.
pub(crate) struct Summary {
    pub records_in: u64,
    pub report: SinkReport,
    pub spilled_bytes: u64,
    pub elapsed: Duration,
    /// Identical copies of data files the integrity check left out (each read once).
    pub copies_skipped: usize,
}

impl Summary {
    pub(crate) fn print(&self) {
        eprintln!("{}", self.text());
    }

    pub(crate) fn text(&self) -> String {
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        format!(
            "c2k: {} records in, {} out to {} ({}), {} spilled, {:.1}s, {:.0} records/s",
            self.records_in,
            self.report.delivered,
            self.report.destination,
            human_bytes(self.report.bytes),
            human_bytes(self.spilled_bytes),
            seconds,
            self.records_in as f64 / seconds
        ) + &match self.copies_skipped {
            0 => String::new(),
            1 => ", 1 identical copy of a data file read once".to_string(),
            n => format!(", {n} identical copies of data files read once"),
        }
    }
}

/// `1.5 MiB`
pub(crate) fn human_bytes(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}
