//! Running a child process and measuring it the way the kernel sees it: wall time, and peak
//! resident memory from `wait4`'s `rusage` (the child alone, not this harness).

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// What one child run cost.
pub struct Measured {
    pub elapsed: Duration,
    /// `ru_maxrss` of the child, in bytes.
    pub peak_rss: u64,
    pub success: bool,
    /// Everything the child wrote to stderr (its summary line, or its error).
    pub stderr: String,
    pub stdout: String,
}

/// Runs `command` to completion with stdout and stderr captured in files under `scratch` (pipes
/// could fill up and stall the child while we wait), then reaps it with `wait4`.
pub fn run(mut command: Command, scratch: &Path, label: &str) -> Result<Measured> {
    let out_path = scratch.join(format!("{label}.stdout"));
    let err_path = scratch.join(format!("{label}.stderr"));
    let out =
        File::create(&out_path).with_context(|| format!("cannot create {}", out_path.display()))?;
    let err =
        File::create(&err_path).with_context(|| format!("cannot create {}", err_path.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    let start = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("{label}: cannot start {:?}", command.get_program()))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data, fully written by wait4 on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: pid is our own child, status and usage point to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let elapsed = start.elapsed();
    // The child is reaped by wait4; dropping the handle neither waits nor kills.
    drop(child);
    if reaped != pid {
        bail!("{label}: wait4 failed: {}", std::io::Error::last_os_error());
    }
    let success = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok(Measured {
        elapsed,
        // Linux reports ru_maxrss in KiB.
        peak_rss: usage.ru_maxrss as u64 * 1024,
        success,
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
    })
}

/// The last non-empty line of a child's stderr: its error, when it failed.
pub fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no output)")
        .trim()
        .to_string()
}
