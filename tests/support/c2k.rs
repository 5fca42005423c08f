//! Running the real `c2k` binary from tests, always through [`C2k`]: a timeout on every run
//! ([`DEFAULT_TIMEOUT`] unless told), outputs into files (no pipe to fill up), the child's peak
//! memory measured by the kernel; and the `c2k sample` trees and pipelines many tests share.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use super::process::{Run, Running};

/// How long a `c2k` run may take unless the test says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The `c2k` binary cargo built for these tests. Only for the tests that must hand its path to
/// another program (a shell that is its parent, Spark's executors); the tests themselves run it
/// with [`C2k`].
pub fn c2k_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_c2k"))
}

/// One `c2k ARGS...` command: `C2k::new(&["run", pipeline]).dir(dir).env("RUST_LOG",
/// "debug").timeout(limit)`, then [`C2k::run`] (to completion) or [`C2k::spawn`] (in the
/// background, to watch, signal or kill).
pub struct C2k {
    command: Command,
    args: Vec<String>,
    timeout: Duration,
}

impl C2k {
    pub fn new(args: &[&str]) -> C2k {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut command = Command::new(c2k_path());
        command.args(&args);
        C2k {
            command,
            args,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Runs it in `dir` (the test process's own folder otherwise).
    pub fn dir(mut self, dir: impl AsRef<Path>) -> C2k {
        self.command.current_dir(dir);
        self
    }

    /// One more environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> C2k {
        self.command.env(key, value);
        self
    }

    /// Runs it with this umask, set in the child alone: the tests may be threads of one process,
    /// whose umask they share.
    pub fn umask(mut self, mask: u32) -> C2k {
        use std::os::unix::process::CommandExt;
        // SAFETY: umask is async-signal-safe, and changes only the child's own state.
        unsafe {
            self.command.pre_exec(move || {
                libc::umask(mask as libc::mode_t);
                Ok(())
            });
        }
        self
    }

    /// Runs it as an unprivileged user (`nobody`) when the test runs as root, whom no file mode
    /// stops: for the tests of what c2k says about a folder it cannot read. The files it needs
    /// must be readable by anyone.
    pub fn unprivileged(mut self) -> C2k {
        use std::os::unix::process::CommandExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            self.command.uid(65534).gid(65534);
        }
        self
    }

    /// The run is killed, and the test fails, after `timeout` ([`DEFAULT_TIMEOUT`] otherwise).
    pub fn timeout(mut self, timeout: Duration) -> C2k {
        self.timeout = timeout;
        self
    }

    /// Runs it to completion.
    #[track_caller]
    pub fn run(self) -> Run {
        self.spawn().wait()
    }

    /// Starts it in the background; its waits end at the timeout.
    pub fn spawn(mut self) -> Running {
        let what = format!("c2k {}", self.args.join(" "));
        Running::spawn(&mut self.command, what, self.timeout)
    }
}

/// Writes a pipeline file into `dir` and returns its path as text.
pub fn write_pipeline(dir: &Path, name: &str, yaml: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write pipeline");
    path.to_string_lossy().into_owned()
}

/// Writes a `c2k sample` tree of `records` records over `partitions` partitions into `dir`
/// (`destination/`, `execution/`, `page_view.avsc`), and an empty `dir/tmp` for the sort.
pub fn sample(dir: &Path, records: u64, partitions: u32) {
    let root = dir.to_str().expect("utf-8 temp dir");
    C2k::new(&[
        "sample",
        root,
        "--records",
        &records.to_string(),
        "--partitions",
        &partitions.to_string(),
    ])
    .dir(dir)
    .run()
    .assert_ok();
    std::fs::create_dir_all(dir.join("tmp")).expect("tmp dir");
}

/// The head of a pipeline over the [`sample`] tree in `dir`: `PAGE_VIEWS` keyed by `header.time`
/// (the `time-field` plugin), sorted in 64 MiB with its spill in `dir/tmp`, as plain JSON. A
/// `sink:` (and `offsets:`) section completes it.
pub fn sample_pipeline_head(dir: &Path) -> String {
    format!(
        "topic: PAGE_VIEWS\n\
         source:\n  dest_dir: {d}/destination\n  schema: {d}/page_view.avsc\n\
         key:\n  plugin: time-field\n  config: {{ field: header.time }}\n\
         sort:\n  memory: 64MiB\n  tmp_dir: {d}/tmp\n\
         format:\n  plugin: json\n  config: {{ encoding: plain }}\n",
        d = dir.display()
    )
}

/// `dir/replay.yaml`: the [`sample`] tree replayed into `brokers` (topic `PAGE_VIEWS_REPLAY`),
/// committing no offsets; its path.
pub fn kafka_pipeline(dir: &Path, brokers: &str) -> String {
    let yaml = format!(
        "{}sink:\n  type: kafka\n  brokers: '{brokers}'\noffsets:\n  commit: none\n",
        sample_pipeline_head(dir)
    );
    std::fs::create_dir_all(dir.join("tmp")).expect("tmp dir");
    write_pipeline(dir, "replay.yaml", &yaml)
}
