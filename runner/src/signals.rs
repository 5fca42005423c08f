//! SIGINT, SIGTERM and SIGHUP during `c2k run`: remove what the run keeps on disk
//! ([`crate::cleanup`]), say in one paragraph what was interrupted, what was delivered so far and
//! how to continue, then exit with 128 + the signal (130, 143, 129).
//!
//! `c2k` calls [`install`]; the run says which stage it is in ([`watch`], [`stage`]) and the sinks
//! count what they delivered ([`crate::sink::count_delivered`]). A second signal while the first is
//! handled ends the process at once. The library never installs anything by itself.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::config::{Pipeline, SinkConfig};

const HANDLED: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// Where a run is, for the message a signal prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Opening the source, the sink and the plugins.
    Preparing,
    /// Reading, keying and sorting; nothing is sent yet.
    Sorting,
    /// Merging, formatting and sending to the sink.
    Writing,
    /// Every message is acknowledged; committing the offsets.
    Committing,
}

/// Where the run's messages go, as the message tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    Kafka { topic: String },
    File { path: String },
    Stdout,
    DryRun,
}

#[derive(Debug, Clone)]
struct Watched {
    stage: Stage,
    destination: Destination,
    pipeline_file: String,
}

static WATCHED: Mutex<Option<Watched>> = Mutex::new(None);

/// Handles the three signals on a thread of its own, for the rest of the process. A signal the
/// process was started with ignored stays ignored (`nohup c2k run` must survive a hang-up).
pub fn install() -> std::io::Result<()> {
    let handled: Vec<i32> = HANDLED.into_iter().filter(|&s| !ignored(s)).collect();
    let again = Arc::new(AtomicBool::new(false));
    for &signal in &handled {
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, again.clone())?;
    }
    let mut signals = Signals::new(&handled)?;
    std::thread::Builder::new()
        .name("c2k-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                again.store(true, Ordering::SeqCst);
                stop(signal);
            }
        })?;
    Ok(())
}

/// Makes the kernel send this process SIGTERM when the process that started it dies (Linux), so
/// that a shard whose task runner was killed (a lost Spark executor or Python worker) stops at
/// once — through the handler of [`install`] — instead of publishing on, unseen, beside the
/// task's retry. Elsewhere it does nothing.
pub fn stop_with_parent() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    // SAFETY: getppid, prctl(PR_SET_PDEATHSIG) and kill on our own pid have no memory effects.
    unsafe {
        let parent = libc::getppid();
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGTERM as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        // The parent may have died before the request: then no signal would ever come.
        if libc::getppid() != parent {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
    }
    Ok(())
}

/// Whether `signal` is ignored (`SIG_IGN`), as a parent such as `nohup` may have left it.
fn ignored(signal: i32) -> bool {
    // SAFETY: a zeroed sigaction is a valid value; with a null new action, sigaction only reads
    // the current one into `current`.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}

/// Records what the message of a signal will need to say about this run.
/// `pipeline_file` is the file the run was given, for the command a message suggests.
pub(crate) fn watch(pipeline: &Pipeline, dry_run: bool, pipeline_file: Option<&std::path::Path>) {
    let destination = match &pipeline.sink {
        _ if dry_run => Destination::DryRun,
        SinkConfig::Kafka(_) => Destination::Kafka {
            topic: pipeline.replay_topic(),
        },
        SinkConfig::File(file) => Destination::File {
            path: file.path.clone().unwrap_or_default(),
        },
        SinkConfig::Stdout(_) => Destination::Stdout,
    };
    let pipeline_file = pipeline_file.map_or("PIPELINE".to_string(), |f| f.display().to_string());
    *WATCHED.lock().unwrap_or_else(PoisonError::into_inner) = Some(Watched {
        stage: Stage::Preparing,
        destination,
        pipeline_file,
    });
}

/// The run entered `stage`.
pub(crate) fn stage(stage: Stage) {
    if let Some(watched) = WATCHED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_mut()
    {
        watched.stage = stage;
    }
}

/// Removes what the run keeps on disk, says what happened, and exits with 128 + `signal`.
fn stop(signal: i32) -> ! {
    let removed = crate::cleanup::remove_registered();
    let watched = WATCHED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let delivered = crate::sink::delivered_so_far();
    eprintln!("{}", message(signal, watched.as_ref(), delivered, &removed));
    std::process::exit(128 + signal)
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// The paragraph printed on a signal: what was interrupted, what was delivered, how to continue.
fn message(signal: i32, watched: Option<&Watched>, delivered: u64, removed: &[PathBuf]) -> String {
    let name = signal_name(signal);
    let Some(watched) = watched else {
        return format!("c2k: interrupted by {name}");
    };
    let file = &watched.pipeline_file;
    let stage = match watched.stage {
        Stage::Preparing => "while preparing the run",
        Stage::Sorting => "while reading and sorting",
        Stage::Writing => "while writing",
        Stage::Committing => "while committing the offsets",
    };
    let cleaned = if removed.is_empty() {
        String::new()
    } else {
        let paths: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
        format!(" Removed {}.", paths.join(", "))
    };
    let what = match (&watched.destination, watched.stage) {
        (_, Stage::Committing) => format!(
            "The replay is complete, but the offsets step may not have finished; \
             `c2k offsets commit {file}` finishes the job."
        ),
        (Destination::Kafka { topic }, Stage::Writing) => format!(
            "{delivered} messages of this run were acknowledged by {topic}; those in flight at \
             that moment may or may not have reached it. The topic is the truth: \
             `c2k run --resume {file}` publishes exactly what is missing. No offsets were \
             committed."
        ),
        (Destination::Kafka { topic }, _) => format!(
            "Nothing was sent to {topic} by this run; `c2k run --resume {file}` continues. No \
             offsets were committed."
        ),
        (Destination::File { path }, Stage::Writing) => format!(
            "{delivered} messages had been written; the partial file was removed and {path} was \
             not created. `c2k run {file}` starts again."
        ),
        (Destination::File { path }, _) => {
            format!("Nothing was written to {path}; `c2k run {file}` starts again.")
        }
        (Destination::Stdout, _) => format!(
            "{delivered} messages had been written to stdout; `c2k run {file}` starts again."
        ),
        (Destination::DryRun, _) => "This was a dry run: nothing was sent.".into(),
    };
    format!("c2k: interrupted by {name} {stage}. {what}{cleaned}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(stage: Stage, destination: Destination) -> Watched {
        Watched {
            stage,
            destination,
            pipeline_file: "p.yaml".into(),
        }
    }

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(
            HANDLED.map(|s| 128 + s),
            [130, 143, 129],
            "SIGINT, SIGTERM, SIGHUP"
        );
    }

    #[test]
    fn an_interrupted_kafka_replay_says_what_was_acknowledged_and_that_resume_continues() {
        let kafka = Destination::Kafka {
            topic: "PV_REPLAY".into(),
        };
        let text = message(SIGTERM, Some(&watched(Stage::Writing, kafka)), 1234, &[]);
        assert!(
            text.starts_with("c2k: interrupted by SIGTERM while writing"),
            "{text}"
        );
        assert!(text.contains("1234 messages"), "{text}");
        assert!(text.contains("may or may not"), "{text}");
        assert!(text.contains("`c2k run --resume p.yaml`"), "{text}");
        assert!(text.contains("No offsets were committed"), "{text}");
    }

    #[test]
    fn an_interrupted_file_replay_says_the_partial_file_is_gone_and_a_rerun_starts_again() {
        let file = Destination::File {
            path: "out.jsonl".into(),
        };
        let text = message(SIGINT, Some(&watched(Stage::Writing, file.clone())), 7, &[]);
        assert!(text.contains("SIGINT while writing"), "{text}");
        assert!(text.contains("7 messages had been written"), "{text}");
        assert!(text.contains("partial file was removed"), "{text}");
        assert!(text.contains("`c2k run p.yaml` starts again"), "{text}");
        let removed = [
            PathBuf::from("tmp/c2k-sort-7-abcdef"),
            PathBuf::from("x.c2k-partial"),
        ];
        let sorting = message(SIGHUP, Some(&watched(Stage::Sorting, file)), 0, &removed);
        assert!(
            sorting.contains("SIGHUP while reading and sorting"),
            "{sorting}"
        );
        assert!(
            sorting.contains("Nothing was written to out.jsonl"),
            "{sorting}"
        );
        assert!(
            sorting.ends_with(" Removed tmp/c2k-sort-7-abcdef, x.c2k-partial."),
            "{sorting}"
        );
    }
}
