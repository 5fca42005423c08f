//! Running the real `c2k` binary from tests: pipelines written to temp dirs, a timeout on every
//! run, and the peak memory of the child measured by the kernel.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The `c2k` binary cargo built for these tests.
pub fn c2k_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_c2k"))
}

/// What one `c2k` run did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory of the child, in bytes.
    pub peak_rss: u64,
}

impl Run {
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "c2k failed:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn assert_failed_with(&self, needles: &[&str]) -> &Self {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "c2k should have failed:\n{}",
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
            "c2k panicked:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs `c2k ARGS` in `dir`, killing it after `timeout`.
pub fn c2k(dir: &Path, args: &[&str], timeout: Duration) -> Run {
    c2k_env(dir, args, &[], timeout)
}

/// [`c2k`] with more environment variables (`RUST_LOG`, ...).
#[expect(
    clippy::zombie_processes,
    reason = "try_wait_with_peak_rss reaps the child with wait4"
)]
pub fn c2k_env(dir: &Path, args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Run {
    let stdout_path = dir.join(format!(".c2k-stdout-{}", std::process::id()));
    let stderr_path = dir.join(format!(".c2k-stderr-{}", std::process::id()));
    let mut child = Command::new(c2k_path())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start c2k");
    let start = Instant::now();
    let (status, peak_rss) = loop {
        if let Some(exited) = try_wait_with_peak_rss(&child) {
            break exited;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("c2k {args:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.code(),
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
        peak_rss,
    };
    let _ = std::fs::remove_file(stdout_path);
    let _ = std::fs::remove_file(stderr_path);
    run
}

/// Runs `c2k ARGS` and returns stdout as raw output (for byte comparisons).
pub fn c2k_output(dir: &Path, args: &[&str]) -> Output {
    Command::new(c2k_path())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run c2k")
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
                    "wait for c2k: {error}"
                );
            }
        }
    }
}

/// Writes a pipeline file into `dir` and returns its path as text.
pub fn write_pipeline(dir: &Path, name: &str, yaml: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write pipeline");
    path.to_string_lossy().into_owned()
}
