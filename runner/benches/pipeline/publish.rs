//! Kafka publish against a bare rdkafka producer: runs the `publish_bench` example (against the
//! given broker, or a `tansu` it starts itself) and reads its `mean: ... ratio R` line. A single round swings by ±20% on a shared
//! two-core machine (broker, producer and librdkafka threads compete for the cores), so the ratio is
//! the mean over several rounds, alternating which producer goes first.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::child;

pub struct PublishComparison {
    pub messages: u64,
    pub rounds: u32,
    pub bare_msgs_per_s: f64,
    pub sink_msgs_per_s: f64,
    pub ratio: f64,
}

pub fn compare(
    example: &Path,
    messages: u64,
    rounds: u32,
    brokers: Option<&str>,
    scratch: &Path,
) -> Result<PublishComparison> {
    let mut command = Command::new(example);
    command
        .arg(messages.to_string())
        .args(["--rounds", &rounds.to_string()]);
    // Without a broker, the example starts tansu itself.
    if let Some(brokers) = brokers {
        command.args(["--brokers", brokers]);
    }
    let measured = child::run(command, scratch, "publish-bench")
        .with_context(|| format!("cannot run {}", example.display()))?;
    if !measured.success {
        bail!(
            "publish_bench failed: {}",
            child::last_line(&measured.stderr)
        );
    }
    let line = measured
        .stdout
        .lines()
        .find(|l| l.starts_with("mean: "))
        .with_context(|| {
            format!(
                "publish_bench printed no `mean:` line; stdout: {}",
                measured.stdout.trim()
            )
        })?;
    parse_mean(line)
        .with_context(|| format!("cannot parse publish_bench's line `{line}`"))
        .map(|(bare, sink, ratio)| PublishComparison {
            messages,
            rounds,
            bare_msgs_per_s: bare,
            sink_msgs_per_s: sink,
            ratio,
        })
}

/// `mean: bare rdkafka 123 msgs/s, KafkaSink 110 msgs/s, ratio 0.89`
fn parse_mean(line: &str) -> Option<(f64, f64, f64)> {
    let bare = line
        .split("bare rdkafka ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let sink = line
        .split("KafkaSink ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let ratio = line.split("ratio ").nth(1)?.trim().parse().ok()?;
    Some((bare, sink, ratio))
}
