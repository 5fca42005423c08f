//! The benchmark (method and results: bench/README.md), in one run on this machine: the ceiling (read + decompress + decode),
//! `c2k run` end to end into a file, the native key extractor against the WebAssembly one, the
//! sort against GNU sort with the same memory, and the Kafka sink against a bare rdkafka producer.
//! Prints a table with each target and writes every figure as JSON.
//!
//! Run it through `bench/run.sh`, which builds everything in release mode and generates (and
//! caches) the dataset with `c2k sample`. Directly:
//! ```text
//! pipeline --data DIR --c2k target/release/c2k [--publish-bench target/release/examples/publish_bench]
//!     [--memory 512MiB] [--sort-items N] [--publish-messages N] [--publish-rounds 3] [--runs 2] [--skip-kafka] [--format avro-binary]
//!     [--fit-data DIR] [--brokers HOST:PORT] [--scratch DIR] [--json FILE] [--only-sorter | --only-format | --only-kafka | --only-fit | --batch-sweep]
//! ```

mod batch_sweep;
mod ceiling;
mod child;
mod counting;
mod end_to_end;
mod format_alone;
mod formats;
mod kafka_end_to_end;
mod publish;
mod report;
mod sort_vs_gnu;

// The `json` plugin's writer, compiled natively (format_alone.rs): it names its modules
// `crate::numbers`, `crate::plan` and `crate::text`.
#[path = "../../../plugins/json/src/writer.rs"]
mod json_writer;
#[path = "../../../plugins/json/src/numbers.rs"]
#[allow(
    dead_code,
    reason = "its unit tests' helper, compiled here without them"
)]
mod numbers;
#[path = "../../../plugins/json/src/plan.rs"]
mod plan;
#[path = "../../../plugins/json/src/text.rs"]
mod text;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use camus2kafka::testing::ByteSize;
use serde_json::json;

/// The allocator `c2k` itself runs with, so the in-process figures measure the same thing.
#[global_allocator]
static ALLOCATOR: camus2kafka::Allocator = camus2kafka::Allocator;

use end_to_end::{BenchSink, Layout};
use report::{mib, row, Row};

/// Headroom over `sort.memory` the peak RSS may use (the memory target).
const RSS_HEADROOM: u64 = 150 << 20;

struct Options {
    data: PathBuf,
    c2k: PathBuf,
    publish_bench: Option<PathBuf>,
    memory: ByteSize,
    sort_items: Option<u64>,
    publish_messages: Option<u64>,
    publish_rounds: u32,
    /// Runs of each `c2k run` variant (and of the ceiling); the fastest is reported.
    runs: u32,
    skip_kafka: bool,
    /// Only the Sorter half of the sort comparison, for profiling it (`perf record`).
    only_sorter: bool,
    /// Only the batch-size sweep of `c2k run`.
    batch_sweep: bool,
    /// Only the format side alone (sandbox and native), for profiling it.
    only_format: bool,
    /// Only `c2k run` into `--brokers` against the bare producer, on `--fit-data`.
    only_kafka: bool,
    /// Only the no-spill figures: `--fit-data`'s ceiling and every format on it.
    only_fit: bool,
    format: String,
    /// A second `c2k sample` tree, small enough for `sort.memory` (the no-spill figures).
    fit_data: Option<PathBuf>,
    /// A running broker for the end-to-end Kafka comparison (and the publish comparison).
    brokers: Option<String>,
    scratch: PathBuf,
    json: Option<PathBuf>,
}

fn options() -> Result<Options> {
    let mut data = None;
    let mut c2k = None;
    let mut publish_bench = None;
    let mut memory = ByteSize(512 << 20);
    let mut sort_items = None;
    let mut publish_messages = None;
    let mut publish_rounds = 3;
    let mut runs = 2;
    let mut skip_kafka = false;
    let mut only_sorter = false;
    let mut batch_sweep = false;
    let mut only_format = false;
    let mut only_kafka = false;
    let mut only_fit = false;
    let mut format = "avro-binary".to_string();
    let mut fit_data = None;
    let mut brokers = None;
    let mut scratch = None;
    let mut json = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--data" => data = Some(PathBuf::from(value()?)),
            "--c2k" => c2k = Some(PathBuf::from(value()?)),
            "--publish-bench" => publish_bench = Some(PathBuf::from(value()?)),
            "--memory" => {
                let text = value()?;
                memory = text
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("--memory: {e}"))?;
            }
            "--runs" => runs = value()?.parse().context("--runs")?,
            "--publish-rounds" => publish_rounds = value()?.parse().context("--publish-rounds")?,
            "--sort-items" => sort_items = Some(value()?.parse().context("--sort-items")?),
            "--publish-messages" => {
                publish_messages = Some(value()?.parse().context("--publish-messages")?)
            }
            "--skip-kafka" => skip_kafka = true,
            "--only-sorter" => only_sorter = true,
            "--batch-sweep" => batch_sweep = true,
            "--only-format" => only_format = true,
            "--only-kafka" => only_kafka = true,
            "--only-fit" => only_fit = true,
            "--format" => format = value()?,
            "--fit-data" => fit_data = Some(PathBuf::from(value()?)),
            "--brokers" => brokers = Some(value()?),
            "--scratch" => scratch = Some(PathBuf::from(value()?)),
            "--json" => json = Some(PathBuf::from(value()?)),
            // `cargo bench` passes this to harness = false targets.
            "--bench" => {}
            other => bail!("unknown argument {other} (see runner/benches/pipeline/main.rs)"),
        }
    }
    let data =
        data.context("--data DIR (a `c2k sample` tree) is required; bench/run.sh makes one")?;
    Ok(Options {
        scratch: scratch.unwrap_or_else(|| data.join("../scratch")),
        c2k: c2k.context("--c2k PATH (the release c2k binary) is required")?,
        data,
        publish_bench,
        memory,
        sort_items,
        publish_messages,
        publish_rounds,
        runs,
        skip_kafka,
        only_sorter,
        batch_sweep,
        only_format,
        only_kafka,
        only_fit,
        format,
        fit_data,
        brokers,
        json,
    })
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let o = options()?;
    std::fs::create_dir_all(&o.scratch)
        .with_context(|| format!("cannot create {}", o.scratch.display()))?;
    let layout = Layout {
        data: o.data.clone(),
        scratch: o.scratch.clone(),
    };
    let memory_text = o.memory.to_string();
    let pipeline = end_to_end::write_pipeline(
        &layout,
        "bench.yaml",
        &memory_text,
        &o.format,
        BenchSink::File,
    )?;
    let mut rows: Vec<Row> = Vec::new();
    let mut figures = serde_json::Map::new();

    let warmed = ceiling::warm_page_cache(&o.data.join("destination"))?;
    eprintln!("bench: {} of input in the page cache", mib(warmed));

    if o.only_sorter {
        let items = o.sort_items.unwrap_or(5_000_000);
        let elapsed = sort_vs_gnu::sorter_only(items, o.memory.0, &o.scratch)?;
        println!("Sorter: {items} items in {:.1}s", elapsed.as_secs_f64());
        return Ok(());
    }

    if o.only_format {
        format_alone::report(&pipeline, &mut rows, &mut figures)?;
        report::print_table(&rows);
        return Ok(());
    }

    if o.only_kafka {
        let (Some(dir), Some(brokers)) = (&o.fit_data, &o.brokers) else {
            bail!("--only-kafka needs --fit-data DIR and --brokers HOST:PORT");
        };
        let layout = Layout {
            data: dir.clone(),
            scratch: o.scratch.clone(),
        };
        ceiling::warm_page_cache(&dir.join("destination"))?;
        kafka_section(&o, &layout, brokers, &mut rows, &mut figures)?;
        report::print_table(&rows);
        return Ok(());
    }

    if o.only_fit {
        let Some(dir) = &o.fit_data else {
            bail!("--only-fit needs --fit-data DIR");
        };
        fit_dataset(&o, dir, o.memory.0 + RSS_HEADROOM, &mut rows, &mut figures)?;
        report::print_table(&rows);
        return Ok(());
    }

    if o.batch_sweep {
        let points = batch_sweep::sweep(&o.c2k, &pipeline, &layout)?;
        batch_sweep::print(&points);
        if let Some(path) = &o.json {
            let text = serde_json::to_string_pretty(&json!({
                "sort_memory": memory_text, "format": o.format,
                "git_commit": std::env::var("C2K_BENCH_COMMIT").unwrap_or_default(),
                "batch_sweep": batch_sweep::to_json(&points),
            }))?;
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("\nfigures written to {}", path.display());
        }
        return Ok(());
    }

    // 1. The ceiling.
    eprintln!("bench: ceiling (read + decompress + decode)...");
    // The fastest of `--runs`, as for the runs it is compared with.
    let ceiling = ceiling::fastest_of(&pipeline, o.runs)?;
    let ceiling_rate = ceiling.records as f64 / ceiling.elapsed.as_secs_f64();
    let datum_mb_s = ceiling.datum_bytes as f64 / 1e6 / ceiling.elapsed.as_secs_f64();
    rows.push(row(
        "ceiling: read+decompress+decode",
        format!(
            "{ceiling_rate:.0} rec/s, {datum_mb_s:.1} MB/s ({:.1}s)",
            ceiling.elapsed.as_secs_f64()
        ),
        "-",
        None,
    ));
    figures.insert(
        "ceiling".into(),
        json!({
            "records": ceiling.records, "files": ceiling.files, "file_bytes": ceiling.file_bytes,
            "datum_bytes": ceiling.datum_bytes, "seconds": ceiling.elapsed.as_secs_f64(),
            "records_per_s": ceiling_rate, "datum_mb_per_s": datum_mb_s,
        }),
    );

    // A reference for the ceiling: the usual decoding, into apache-avro values.
    eprintln!("bench: reference: apache-avro decode to values...");
    let value_decode =
        ceiling::value_decode(&o.data.join("destination"), &o.data.join("page_view.avsc"));
    match &value_decode {
        Ok((records, elapsed)) => {
            let rate = *records as f64 / elapsed.as_secs_f64();
            rows.push(row(
                "reference: apache-avro decode to values",
                format!("{rate:.0} rec/s ({:.1}s, 2 threads)", elapsed.as_secs_f64()),
                "-",
                None,
            ));
            figures.insert(
                "value_decode".into(),
                json!({ "records": records, "seconds": elapsed.as_secs_f64(), "records_per_s": rate }),
            );
        }
        Err(e) => rows.push(row(
            "reference: apache-avro decode to values",
            format!("n/a: {e:#}"),
            "-",
            None,
        )),
    }

    // 2. c2k run end to end into a file, every bundled format, and the native key extractor.
    eprintln!(
        "bench: c2k run end to end, every bundled format and native:time-field, {} runs each...",
        o.runs
    );
    let budget = o.memory.0 + RSS_HEADROOM;
    let main_runs = formats::run_all(&o.c2k, &pipeline, &layout, "run", o.runs, true);
    formats::report_main(&main_runs, &ceiling, budget, &mut rows, &mut figures)?;
    if let (Ok(r), Ok((records, elapsed))) = (&main_runs.results[0], &value_decode) {
        let ratio = elapsed.as_secs_f64() / r.measured.elapsed.as_secs_f64() * r.records_in as f64
            / *records as f64;
        rows.push(row(
            "c2k run / apache-avro value decode",
            format!("{ratio:.2}x (avro-binary; rate of the whole replay / rate of decoding alone)"),
            "-",
            None,
        ));
    }

    // The format side alone: sandbox against native, per record.
    eprintln!("bench: the format side alone, in the sandbox and natively...");
    if let Err(e) = format_alone::report(&pipeline, &mut rows, &mut figures) {
        rows.push(row("format alone", format!("n/a: {e:#}"), "-", None));
    }

    // 3. The same on a dataset that fits sort.memory: no spill, against its own ceiling.
    let fit = match &o.fit_data {
        Some(dir) => Some(fit_dataset(&o, dir, budget, &mut rows, &mut figures)?),
        None => {
            rows.push(row(
                "no spill: every format",
                "skipped (no --fit-data)".into(),
                ">= 50% of ceiling",
                None,
            ));
            None
        }
    };

    // 4. The sort phase against GNU sort with the same memory.
    let items = o.sort_items.unwrap_or(ceiling.records);
    eprintln!("bench: Sorter vs GNU sort -S {memory_text}, {items} items...");
    let gnu_memory = format!("{}b", o.memory.0);
    match sort_vs_gnu::compare(items, o.memory.0, &gnu_memory, &o.scratch) {
        Ok(s) => {
            let ratio = s.ours.as_secs_f64() / s.gnu.as_secs_f64();
            rows.push(row(
                "sort phase / GNU sort (time)",
                format!(
                    "{ratio:.2}x ({:.1}s / {:.1}s, {items} items)",
                    s.ours.as_secs_f64(),
                    s.gnu.as_secs_f64()
                ),
                "<= 1.00x",
                Some(ratio <= 1.0),
            ));
            figures.insert(
                "sort".into(),
                json!({ "items": s.items, "payload_bytes": s.payload_bytes, "sorter_seconds": s.ours.as_secs_f64(),
                        "sorter_spilled_bytes": s.ours_spilled_bytes, "gnu_sort_seconds": s.gnu.as_secs_f64(),
                        "gnu_sort_peak_rss_bytes": s.gnu_peak_rss, "ratio": ratio }),
            );
        }
        Err(e) => {
            rows.push(row(
                "sort phase / GNU sort (time)",
                format!("n/a: {e:#}"),
                "<= 1.00x",
                None,
            ));
            figures.insert("sort".into(), json!({ "error": format!("{e:#}") }));
        }
    }

    // 5. The Kafka sink against a bare rdkafka producer.
    if o.skip_kafka {
        rows.push(row(
            "KafkaSink / bare rdkafka (msgs/s)",
            "skipped (--skip-kafka)".into(),
            ">= 0.80x",
            None,
        ));
    } else {
        let example = o
            .publish_bench
            .clone()
            .context("--publish-bench PATH is required unless --skip-kafka")?;
        let messages = o.publish_messages.unwrap_or(ceiling.records.min(1_000_000));
        let rounds = o.publish_rounds.max(1);
        eprintln!(
            "bench: KafkaSink vs bare rdkafka, {messages} messages to {}, mean of {rounds} rounds...",
            o.brokers.as_deref().unwrap_or("tansu")
        );
        match publish::compare(&example, messages, rounds, o.brokers.as_deref(), &o.scratch) {
            Ok(p) => {
                rows.push(row(
                    "KafkaSink / bare rdkafka (msgs/s)",
                    format!(
                        "{:.2}x ({:.0} / {:.0} msgs/s, mean of {} rounds)",
                        p.ratio, p.sink_msgs_per_s, p.bare_msgs_per_s, p.rounds
                    ),
                    ">= 0.80x",
                    Some(p.ratio >= 0.8),
                ));
                figures.insert(
                    "publish".into(),
                    json!({ "messages": p.messages, "rounds": p.rounds, "bare_msgs_per_s": p.bare_msgs_per_s,
                            "sink_msgs_per_s": p.sink_msgs_per_s, "ratio": p.ratio }),
                );
            }
            Err(e) => {
                rows.push(row(
                    "KafkaSink / bare rdkafka (msgs/s)",
                    format!("n/a: {e:#}"),
                    ">= 0.80x",
                    None,
                ));
                figures.insert("publish".into(), json!({ "error": format!("{e:#}") }));
            }
        }
    }

    // 6. c2k run into the broker against a bare producer sending the same messages.
    match &o.brokers {
        None => rows.push(row(
            "c2k run -> broker / bare producer",
            "skipped (no --brokers)".into(),
            ">= 0.80x",
            None,
        )),
        Some(brokers) => {
            // The dataset that fits sort.memory when there is one: each round writes it to the
            // broker twice, and the broker shares the machine's disk and cores with c2k.
            let layout = fit.as_ref().map_or(&layout, |f| &f.0);
            kafka_section(&o, layout, brokers, &mut rows, &mut figures)?;
        }
    }

    println!();
    report::print_table(&rows);
    if let Some(path) = &o.json {
        let context = json!({
            "records": ceiling.records,
            "sort_memory": memory_text,
            "format": o.format,
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
            "git_commit": std::env::var("C2K_BENCH_COMMIT").unwrap_or_default(),
            "started_utc": std::env::var("C2K_BENCH_STARTED").unwrap_or_default(),
        });
        report::write_json(path, context, serde_json::Value::Object(figures), &rows)?;
        println!("\nfigures written to {}", path.display());
    }
    Ok(())
}

/// The no-spill figures: the fit dataset's ceiling and every format on it. Returns its layout and
/// pipeline, which the Kafka comparison reuses.
fn fit_dataset(
    o: &Options,
    dir: &std::path::Path,
    budget: u64,
    rows: &mut Vec<Row>,
    figures: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(Layout, PathBuf)> {
    let layout = Layout {
        data: dir.to_path_buf(),
        scratch: o.scratch.clone(),
    };
    let pipeline = end_to_end::write_pipeline(
        &layout,
        "bench-fit.yaml",
        &o.memory.to_string(),
        &o.format,
        BenchSink::File,
    )?;
    ceiling::warm_page_cache(&dir.join("destination"))?;
    eprintln!(
        "bench: no spill: ceiling and every format on {}...",
        dir.display()
    );
    let ceiling = ceiling::fastest_of(&pipeline, o.runs)?;
    let runs = formats::run_all(&o.c2k, &pipeline, &layout, "fit", o.runs, false);
    formats::report_fit(&runs, &ceiling, budget, rows, figures)?;
    Ok((layout, pipeline))
}

/// `c2k run` into the broker against a bare producer with the same messages, for each format.
fn kafka_section(
    o: &Options,
    layout: &Layout,
    brokers: &str,
    rows: &mut Vec<Row>,
    figures: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    let pipeline = end_to_end::write_pipeline(
        layout,
        "bench-kafka.yaml",
        &o.memory.to_string(),
        &o.format,
        BenchSink::Kafka { brokers },
    )?;
    let mut per_format = serde_json::Map::new();
    // avro-binary and json (plain): the two writers; json's avro encoding costs the same.
    for format in [&formats::FORMATS[0], &formats::FORMATS[2]] {
        eprintln!(
            "bench: c2k run -> {brokers} against a bare producer, {}...",
            format.label
        );
        let name = format!("c2k run -> broker / bare producer, {}", format.label);
        let mut best: Option<kafka_end_to_end::Comparison> = None;
        let mut failure = None;
        for round in 0..o.runs.max(1) {
            let label = format!(
                "{}_{}_{round}",
                format
                    .label
                    .split(' ')
                    .next()
                    .unwrap_or("format")
                    .replace('-', "_"),
                std::process::id()
            );
            match kafka_end_to_end::compare(&o.c2k, &pipeline, layout, brokers, format, &label) {
                Ok(c) => {
                    if best.as_ref().is_none_or(|b| c.ratio > b.ratio) {
                        best = Some(c);
                    }
                }
                Err(e) => {
                    failure = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        match (best, failure) {
            (Some(c), None) => {
                rows.push(row(
                    name,
                    format!(
                        "{:.2}x ({:.0} / {:.0} msgs/s, {} messages, {} partitions)",
                        c.ratio,
                        c.records as f64 / c.c2k_seconds,
                        c.records as f64 / c.bare_seconds,
                        c.records,
                        c.partitions
                    ),
                    ">= 0.80x",
                    Some(c.ratio >= 0.8),
                ));
                per_format.insert(
                    format.label.into(),
                    json!({ "records": c.records, "partitions": c.partitions,
                            "c2k_seconds": c.c2k_seconds, "bare_seconds": c.bare_seconds,
                            "ratio": c.ratio }),
                );
            }
            (_, failure) => {
                let why = failure.unwrap_or_else(|| "not run".into());
                rows.push(row(name, format!("n/a: {why}"), ">= 0.80x", None));
                per_format.insert(format.label.into(), json!({ "error": why }));
            }
        }
    }
    figures.insert(
        "kafka_end_to_end".into(),
        json!({ "brokers": brokers, "formats": serde_json::Value::Object(per_format) }),
    );
    Ok(())
}
