//! Running the real `c2k` binary from tests: pipelines written to temp dirs, a timeout on every
//! run, and the peak memory of the child measured by the kernel.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
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
    let stdout_path = dir.join(format!(".c2k-stdout-{}", std::process::id()));
    let stderr_path = dir.join(format!(".c2k-stderr-{}", std::process::id()));
    let mut child = Command::new(c2k_path())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start c2k");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for c2k") {
            break status;
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
        peak_rss: children_peak_rss(),
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

/// The largest peak RSS of any waited-for child so far (getrusage). Tests that measure memory run
/// their child alone in their own test process (nextest) so this is that child's peak.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) == 0 {
            usage.ru_maxrss as u64 * 1024
        } else {
            0
        }
    }
}

/// Writes a pipeline file into `dir` and returns its path as text.
pub fn write_pipeline(dir: &Path, name: &str, yaml: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write pipeline");
    path.to_string_lossy().into_owned()
}
