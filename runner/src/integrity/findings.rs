//! What the reconciliation of an archive with its Camus history found: one row per partition
//! and run, one row per partition, and every finding with the files it concerns.

use serde::Serialize;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// Records would be lost or published twice: `c2k run` stops (`source.integrity: fail`).
    Error,
    /// Something to fix in the archive that `c2k` compensates for (an identical copy, read once).
    Warning,
    /// Information: what could not be checked, or what Camus itself recorded and skipped.
    Note,
}

/// What kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    /// More records than offsets: files whose offset ranges overlap, or runs that read the same
    /// offsets twice.
    Duplicate,
    /// A copy of a data file (same partition, count, last offset and size, and the same bytes):
    /// read once.
    Copy,
    /// Files named for the same records (same partition, count, last offset and size) whose bytes
    /// differ: not copies, and which one holds the archived records cannot be told.
    Conflict,
    /// Offsets a run advanced over that no data file holds.
    Gap,
    /// A file no run accounts for: beyond the cut-off, of another topic, an unparseable name,
    /// not a regular file.
    Stray,
    /// A data file whose content does not match its name (truncated, corrupt, unreadable).
    Damaged,
    /// Messages Camus read and recorded as undecodable (`errors-m-*`): not in the archive.
    Skipped,
    /// camus-sweeper's daily folders: refused, or what their count against the history says.
    Swept,
    /// What could not be reconciled, said plainly (no history, a run's start unknown, files
    /// older than the oldest run kept in the history).
    Unreconciled,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Duplicate => "duplicate",
            Kind::Copy => "copy",
            Kind::Conflict => "conflict",
            Kind::Gap => "gap",
            Kind::Stray => "stray",
            Kind::Damaged => "damaged",
            Kind::Skipped => "skipped",
            Kind::Swept => "swept",
            Kind::Unreconciled => "unreconciled",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub severity: Severity,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// The history run folder it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The offsets concerned, `[from, to)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsets: Option<[i64; 2]>,
    /// How many records (or offsets) are concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// The files concerned, relative to the topic directory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    pub message: String,
}

/// One partition in one run: what the history says it advanced and what the archive holds.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunRow {
    pub partition: u32,
    pub run: String,
    /// Where the run started the partition (`offsets-previous`, or the previous run's end).
    pub start: Option<i64>,
    /// Where it stopped (the next offset to read).
    pub end: i64,
    pub files: usize,
    /// Records in the run's files.
    pub records: u64,
    /// Messages Camus recorded as undecodable.
    pub skipped: u64,
    /// `end - start`, when the start is known.
    pub advanced: Option<u64>,
    /// The smallest first offset and the largest last offset the run's file names tell.
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub status: &'static str,
}

/// One partition of the archive.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PartitionRow {
    pub partition: u32,
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub files: usize,
    /// Records in the partition's files, each identical copy counted once.
    pub records: u64,
    /// Offsets the runs advanced over, when every run's start is known.
    pub advanced: Option<u64>,
    /// Where the newest run stopped: the offset the offsets step commits.
    pub cutoff: Option<i64>,
    pub status: &'static str,
}

/// Everything `c2k verify` prints.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub topic: String,
    /// Who wrote the archive (`source.type`): `camus` or `kafka-connect`.
    pub layout: &'static str,
    pub input_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_dir: Option<String>,
    /// The run folders read, oldest first.
    pub runs: Vec<String>,
    /// Data files found (copies included) and the records their names tell (copies excluded).
    pub files: usize,
    pub records: u64,
    pub partitions: Vec<PartitionRow>,
    pub run_rows: Vec<RunRow>,
    pub findings: Vec<Finding>,
    /// The partitions whose cut-off lies beyond what the archive holds: committing it would
    /// skip records that are in neither the replay nor the live topic's unread part.
    pub cutoff_beyond_data: Vec<u32>,
    /// Identical copies to leave out: each is read once, from the first of its copies.
    #[serde(skip)]
    pub copies_to_skip: Vec<String>,
}

impl Report {
    pub(crate) fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// Nothing to fix: no error and no warning.
    pub(crate) fn is_consistent(&self) -> bool {
        self.count(Severity::Error) == 0 && self.count(Severity::Warning) == 0
    }

    /// What `c2k run` refuses (`source.integrity: fail`) and `c2k verify` fails on: an error, or
    /// a cut-off beyond the data. Warnings alone are what the run compensates for.
    pub(crate) fn refused(&self) -> bool {
        self.count(Severity::Error) > 0 || !self.cutoff_beyond_data.is_empty()
    }
}
