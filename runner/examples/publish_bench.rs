//! Publish benchmark: the same messages through `KafkaSink` and through a bare rdkafka
//! `BaseProducer` with the same configuration, to the same broker, in the same run.
//!
//! ```text
//! cargo run --release -p camus2kafka --example publish_bench -- [MESSAGES] [--brokers HOST:PORT]
//!     [--size BYTES] [--partitions N] [--rounds N] [--set librdkafka.property=value]...
//! ```
//! Without `--brokers` it starts `tansu` (in-memory storage) on a free port, as the tests do.
//! Prints msgs/s for both and the ratio sink / bare (the target is at least 0.8).

#[path = "../../tests/support/servers.rs"]
#[allow(
    dead_code,
    reason = "the tests' server helpers: this example starts only tansu"
)]
mod servers;

// The delivery-counting context the benchmark harness uses too.
#[path = "../benches/pipeline/counting.rs"]
mod counting;
use camus2kafka::testing::producer_config;
use counting::Counting;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camus2kafka::testing::KafkaSink;
use camus2kafka::testing::OutMessage;
use camus2kafka::testing::SourceFacts;
use camus2kafka::Pipeline;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// The allocator `c2k` itself runs with, so the in-process figures measure the same thing.
#[global_allocator]
static ALLOCATOR: camus2kafka::Allocator = camus2kafka::Allocator;

struct Options {
    messages: usize,
    size: usize,
    partitions: u32,
    rounds: usize,
    brokers: Option<String>,
    producer: BTreeMap<String, String>,
}

fn options() -> Result<Options> {
    let mut options = Options {
        messages: 1_000_000,
        size: 300,
        partitions: 4,
        rounds: 1,
        brokers: None,
        producer: BTreeMap::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--brokers" => options.brokers = Some(value()?),
            "--size" => options.size = value()?.parse()?,
            "--partitions" => options.partitions = value()?.parse()?,
            "--rounds" => options.rounds = value()?.parse()?,
            "--set" => {
                let set = value()?;
                let (k, v) = set.split_once('=').context("--set takes name=value")?;
                options.producer.insert(k.into(), v.into());
            }
            n if !n.starts_with('-') => options.messages = n.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(options)
}

/// ~`size`-byte messages shaped like a replay: a key, a timestamp, a header on each.
fn messages(options: &Options) -> Vec<OutMessage> {
    (0..options.messages)
        .map(|i| {
            let mut value =
                format!("{{\"seq\":{i},\"page\":\"/p/{}\",\"pad\":\"", i % 977).into_bytes();
            value.resize(options.size.saturating_sub(2).max(value.len()), b'x');
            value.extend_from_slice(b"\"}");
            OutMessage {
                key: Some(format!("user-{}", i % 10_007).into_bytes()),
                value: value.into(),
                headers: vec![("source".into(), b"camus".to_vec())],
                timestamp_ms: Some(1_500_000_000_000 + i as i64),
                source_partition: Some(i as u32 % options.partitions),
                origin: None,
            }
        })
        .collect()
}

fn pipeline(brokers: &str, topic: &str, options: &Options) -> Result<Pipeline> {
    let mut producer = String::new();
    for (k, v) in &options.producer {
        producer.push_str(&format!("'{k}': '{v}', "));
    }
    let yaml = format!(
        "topic: BENCH\nsource: {{ dest_dir: /unused }}\n\
         sink: {{ brokers: '{brokers}', topic: '{topic}', producer: {{ {producer} }} }}\n"
    );
    Pipeline::from_document(&serde_yaml::from_str(&yaml)?)
}

fn facts(options: &Options) -> SourceFacts {
    SourceFacts {
        partitions: (0..options.partitions).collect(),
        ..Default::default()
    }
}

/// Through `KafkaSink`, in batches of 1,000 as the run loop sends them. The topic is created
/// before the clock starts.
fn through_sink(brokers: &str, topic: &str, options: &Options, all: &[OutMessage]) -> Result<f64> {
    let pipeline = pipeline(brokers, topic, options)?;
    let mut sink = KafkaSink::open(&pipeline, &facts(options))?;
    // Batches are made before the clock starts: the run loop hands over owned batches.
    let batches: Vec<Vec<OutMessage>> = all.chunks(1000).map(<[OutMessage]>::to_vec).collect();
    let start = Instant::now();
    for batch in batches {
        sink.send(batch)?;
    }
    let report = sink.finish()?;
    let elapsed = start.elapsed();
    if report.delivered != all.len() as u64 {
        bail!("sink delivered {} of {}", report.delivered, all.len());
    }
    Ok(all.len() as f64 / elapsed.as_secs_f64())
}

/// A bare `BaseProducer` with the same configuration, the same messages and partitions, polled
/// when its queue is full. The topic is created (by a `KafkaSink` that sends nothing) first.
fn bare(brokers: &str, topic: &str, options: &Options, all: &[OutMessage]) -> Result<f64> {
    let pipeline = pipeline(brokers, topic, options)?;
    KafkaSink::open(&pipeline, &facts(options))?.finish()?;
    let producer: BaseProducer<Counting> =
        producer_config(pipeline.kafka_sink()?)?.create_with_context(Counting::default())?;
    let start = Instant::now();
    for (i, message) in all.iter().enumerate() {
        // Serve delivery reports as a well-written producer loop does.
        if i % 256 == 0 {
            producer.poll(Duration::ZERO);
        }
        let mut record = BaseRecord::<[u8], [u8], ()>::to(topic)
            .payload(&message.value[..])
            .key(message.key.as_deref().unwrap_or_default())
            .partition(message.source_partition.unwrap_or(0) as i32)
            .timestamp(message.timestamp_ms.unwrap_or(0));
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
        for (k, v) in &message.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v.as_slice()),
            });
        }
        record = record.headers(headers);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => bail!("bare send: {e}"),
            }
        }
    }
    producer.flush(Duration::from_secs(300))?;
    let elapsed = start.elapsed();
    let delivered = producer.context().delivered();
    if delivered != all.len() as u64 {
        bail!(
            "bare producer delivered {delivered} of {} ({} failed)",
            all.len(),
            producer.context().failed()
        );
    }
    Ok(all.len() as f64 / elapsed.as_secs_f64())
}

fn main() -> Result<()> {
    let options = options()?;
    let _tansu;
    let brokers = match &options.brokers {
        Some(b) => b.clone(),
        None => {
            _tansu = servers::Tansu::start();
            _tansu.brokers()
        }
    };
    let all = messages(&options);
    println!(
        "publishing {} messages of ~{} bytes to {} partitions at {brokers} (producer overrides: {:?})",
        all.len(),
        options.size,
        options.partitions,
        options.producer
    );
    let (mut bare_total, mut sink_total) = (0.0, 0.0);
    for round in 0..options.rounds {
        // Alternate which goes first so that neither always meets a fresher broker.
        let (b, s) = if round % 2 == 0 {
            let b = bare(&brokers, &format!("BENCH_BARE_{round}"), &options, &all)?;
            (
                b,
                through_sink(&brokers, &format!("BENCH_SINK_{round}"), &options, &all)?,
            )
        } else {
            let s = through_sink(&brokers, &format!("BENCH_SINK_{round}"), &options, &all)?;
            (
                bare(&brokers, &format!("BENCH_BARE_{round}"), &options, &all)?,
                s,
            )
        };
        println!("round {round}: bare rdkafka {b:>10.0} msgs/s   KafkaSink {s:>10.0} msgs/s   ratio {:.2}", s / b);
        bare_total += b;
        sink_total += s;
    }
    let rounds = options.rounds as f64;
    println!(
        "mean: bare rdkafka {:.0} msgs/s, KafkaSink {:.0} msgs/s, ratio {:.2}",
        bare_total / rounds,
        sink_total / rounds,
        sink_total / bare_total
    );
    Ok(())
}
