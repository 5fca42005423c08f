//! Child processes of the tests, every one bounded in time: a deadline on each wait (the child is
//! killed and the test fails when it passes), standard input closed, and standard output and error
//! written to temp files rather than pipes, so that a chatty child can never block on a full pipe.
//!
//! [`Running`] is a child started in the background, for the tests that watch, signal or kill it;
//! [`Running::wait`] gives its [`Run`]. [`run_with_timeout`] runs any other program (python, java,
//! openssl, kinit, ...) to completion. `c2k` itself is run through [`super::c2k::C2k`].

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// What one finished child did.
#[derive(Debug)]
pub struct Run {
    /// What was run, for messages (`c2k run replay.yaml`, a command line).
    pub what: String,
    pub status: ExitStatus,
    /// The exit code; `None` when a signal ended the child.
    pub code: Option<i32>,
    /// Standard output as text (invalid UTF-8 replaced); [`Run::stdout_bytes`] holds the bytes.
    pub stdout: String,
    pub stderr: String,
    /// Standard output exactly as written, for byte comparisons.
    pub stdout_bytes: Vec<u8>,
    stderr_bytes: Vec<u8>,
    /// Peak resident memory of the child, in bytes.
    pub peak_rss: u64,
}

impl Run {
    /// Fails the test, with both outputs, unless the child exited with 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "{} failed ({}):\nstdout: {}\nstderr: {}",
            self.what,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Fails the test unless the child exited with a code other than 0, its stderr holding every
    /// one of `needles`, without a panic.
    #[track_caller]
    pub fn assert_failed_with(&self, needles: &[&str]) -> &Self {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "{} should have failed ({}):\n{}",
            self.what,
            self.status,
            self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr lacks `{needle}`:\n{}",
                self.stderr
            );
        }
        assert!(
            // A plugin's own panic is reported as an error naming it; c2k itself never panics.
            !self.stderr.contains("thread '"),
            "{} panicked:\n{}",
            self.what,
            self.stderr
        );
        self
    }

    /// Standard output, then standard error.
    pub fn stdout_and_stderr(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// As `std::process::Command::output` gives it.
    pub fn into_output(self) -> Output {
        Output {
            status: self.status,
            stdout: self.stdout_bytes,
            stderr: self.stderr_bytes,
        }
    }
}

/// A child running in the background. Every wait on it ends at its deadline (the timeout it was
/// started with): then it is killed and the test fails. Dropped while it runs, it is killed.
pub struct Running {
    child: Child,
    what: String,
    stdout: tempfile::NamedTempFile,
    stderr: tempfile::NamedTempFile,
    timeout: Duration,
    started: Instant,
    /// Its exit status and peak memory, once reaped.
    exited: Option<(ExitStatus, u64)>,
}

impl Running {
    /// Starts `command` (named `what` in messages), with standard input closed and its outputs
    /// into temp files; every wait on it ends `timeout` from now.
    pub fn spawn(command: &mut Command, what: impl Into<String>, timeout: Duration) -> Running {
        let what = what.into();
        let stdout = tempfile::NamedTempFile::new().expect("a temp file for stdout");
        let stderr = tempfile::NamedTempFile::new().expect("a temp file for stderr");
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout.as_file().try_clone().expect("stdout file"))
            .stderr(stderr.as_file().try_clone().expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Running {
            child,
            what,
            stdout,
            stderr,
            timeout,
            started: Instant::now(),
            exited: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the child, which must still be running (not reaped).
    pub fn signal(&self, signal: libc::c_int) {
        assert!(
            self.exited.is_none(),
            "{} already ended: no signal sent",
            self.what
        );
        let pid = libc::pid_t::try_from(self.pid()).expect("a pid fits pid_t");
        // SAFETY: kill only sends a signal, to our own child, not reaped yet (so its pid is still
        // its own).
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid}");
    }

    /// Whether the child has ended (it is then reaped, its status kept).
    pub fn has_exited(&mut self) -> bool {
        if self.exited.is_none() {
            self.exited = try_wait_with_peak_rss(&self.child);
        }
        self.exited.is_some()
    }

    /// Fails the test, with what the child said, if it has ended: `context` says what it ended
    /// before (e.g. "before the kill").
    #[track_caller]
    pub fn assert_running(&mut self, context: &str) {
        if self.has_exited() {
            let (status, _) = self.exited.expect("reaped");
            panic!(
                "{} ended ({status}) {context}:\n{}",
                self.what,
                self.stderr_so_far()
            );
        }
    }

    /// Polls `ready` until it holds; fails the test if the child ends first or the deadline
    /// passes (`what` names the awaited moment).
    #[track_caller]
    pub fn wait_until(&mut self, what: &str, mut ready: impl FnMut(&Running) -> bool) {
        while !ready(self) {
            // Ready just before it ended (its last words, say) is ready all the same.
            if self.has_exited() && ready(self) {
                return;
            }
            self.assert_running(&format!("before {what}"));
            assert!(
                self.started.elapsed() < self.timeout,
                "no {what} within {:?} of starting {}",
                self.timeout,
                self.what
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What the child wrote to its standard error so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.stderr.path()).unwrap_or_default()).into_owned()
    }

    /// Waits for the child to end, until its deadline: then it is killed and the test fails.
    #[track_caller]
    pub fn wait(mut self) -> Run {
        while !self.has_exited() {
            if self.started.elapsed() > self.timeout {
                self.kill_and_reap();
                panic!(
                    "{} did not finish within {:?}; its stderr:\n{}",
                    self.what,
                    self.timeout,
                    tail(&self.stderr_so_far())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.collect()
    }

    /// Kills the child (SIGKILL, `kill -9`) unless it has ended already, and returns what it did.
    pub fn kill(mut self) -> Run {
        self.kill_and_reap();
        self.collect()
    }

    fn kill_and_reap(&mut self) {
        if self.has_exited() {
            return;
        }
        // Not reaped yet, so std may still signal it.
        let _ = self.child.kill();
        while !self.has_exited() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn collect(&self) -> Run {
        let (status, peak_rss) = self.exited.expect("the child was reaped");
        let stdout_bytes = std::fs::read(self.stdout.path()).unwrap_or_default();
        let stderr_bytes = std::fs::read(self.stderr.path()).unwrap_or_default();
        Run {
            what: self.what.clone(),
            status,
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
            stderr: String::from_utf8_lossy(&stderr_bytes).into_owned(),
            stdout_bytes,
            stderr_bytes,
            peak_rss,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// Runs a program that is not c2k to completion and returns its output; fails the test if it
/// takes longer than `timeout` (killing it).
#[track_caller]
pub fn run_with_timeout(command: &mut Command, timeout: Duration) -> Output {
    let what = describe(command);
    Running::spawn(command, what, timeout).wait().into_output()
}

/// `timeout --kill-after=5 SECONDS PROGRAM`: coreutils' timeout, for the scripts that start
/// servers (HDFS, Apache Kafka) and the tools run beside them. Where [`run_with_timeout`] kills
/// the one child, it kills the program's whole process group: the daemons a script started too.
pub fn bounded_command(seconds: u32, program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("timeout");
    command
        .arg("--kill-after=5")
        .arg(seconds.to_string())
        .arg(program)
        .stdin(Stdio::null());
    command
}

/// Runs a [`bounded_command`] made with `seconds` to completion (`Command::output` reads both
/// pipes at once) and returns its output; fails the test if the time ran out.
#[track_caller]
pub fn output_bounded(command: &mut Command, seconds: u32) -> Output {
    let what = describe(command);
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.code() != Some(124),
        "{what}: still running after {seconds}s, killed\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `PROGRAM ARG...`, for messages.
pub fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last 60 lines of `text`.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// The child's exit status and its own peak resident memory, in bytes, once it has exited;
/// `None` while it runs. `wait4` reports the usage of that one child, where `getrusage` would
/// give the largest of every child the test process has waited for — under `cargo test` all the
/// tests are threads of one process, and a ZooKeeper or Hadoop JVM is such a child too.
fn try_wait_with_peak_rss(child: &Child) -> Option<(ExitStatus, u64)> {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value; wait4 only writes into `status` and `usage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: as above; `pid` is our own child, not reaped yet (std never waited for it).
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        match reaped {
            0 => return None,
            r if r == pid => {
                let peak_rss = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
                return Some((ExitStatus::from_raw(status), peak_rss));
            }
            _ => {
                let error = std::io::Error::last_os_error();
                assert!(
                    error.kind() == std::io::ErrorKind::Interrupted,
                    "wait for a child: {error}"
                );
            }
        }
    }
}
