//! `c2k`: the command line. Thin glue over the library; every flag is defined (and documented) once,
//! here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use camus2kafka::Pipeline;

#[global_allocator]
static ALLOCATOR: camus2kafka::Allocator = camus2kafka::Allocator;

/// Replay a Kafka topic archived on HDFS by Camus back into Kafka, sorted by time, then commit the
/// original topic's cut-off offsets for a consumer group.
#[derive(Parser)]
#[command(name = "c2k", version = camus2kafka::VERSION_TEXT, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by the commands that read a pipeline.
#[derive(clap::Args)]
struct PipelineArgs {
    /// The pipeline YAML file.
    pipeline: PathBuf,
    /// Override a pipeline key by its dotted path, e.g. `--set sort.memory=1GiB` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole job: read, key, sort, format, publish, then commit offsets. A replay topic
    /// whose settings would delete, reject or rewrite the replay (retention judged on the
    /// messages' timestamps, compaction, a timestamp window, LogAppendTime, more in-sync replicas
    /// required than it has) is refused before anything is sent, with exit code 8.
    Run(RunArgs),
    /// List the archive once and assign its source partitions to N shards, balanced by bytes,
    /// for a replay spread over many machines (`partitioning: source`): writes PLAN.json with the
    /// replay's identity, the files and their sizes, the Camus cut-off and each shard's
    /// partitions. Run each shard with `c2k run PIPELINE --plan PLAN.json --shard i`, then
    /// `c2k offsets commit PIPELINE --plan PLAN.json`.
    Plan {
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// How many shards.
        #[arg(long)]
        shards: usize,
        /// Where the plan is written.
        #[arg(long, value_name = "PLAN.json")]
        out: PathBuf,
    },
    /// Reconcile the archive with the Camus execution history, partition by partition and run
    /// by run: duplicates, gaps and stray files, with the files concerned; and read every data
    /// file. Exit code 5 when `c2k run` would refuse the archive, 0 when not (warnings, such as
    /// identical copies read once, are printed).
    Verify {
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// `text` (a table and the findings) or `json` (everything, for machines).
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
        /// Check names against the history only; do not read the data files to check that each
        /// holds the records its name says (for archives too large to read twice).
        #[arg(long, conflicts_with = "records")]
        names_only: bool,
        /// Also decode every record of every file against its writer schema, as `c2k run`
        /// does: finds truncated records, bad union branches, bytes left after a block's
        /// records, naming the file, block and record.
        #[arg(long)]
        records: bool,
    },
    /// Check a pipeline and report every problem at once, each with what the key means.
    Validate {
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// The offsets step alone: show the latest Camus run's offsets beside the live topic, or
    /// commit them.
    Offsets {
        #[command(subcommand)]
        action: OffsetsAction,
    },
    /// Tools for plugin authors.
    Plugin {
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Print the records of an Avro container file or a Hadoop SequenceFile as JSON lines, or
    /// those of a text file of an archive (Camus' text writer with its codecs, a Kafka Connect
    /// sink's .json, .bin, .txt) as one JSON string a line.
    Inspect {
        /// A path, or a file://, hdfs://, s3://, gs:// or az:// URL.
        file: String,
    },
    /// Write a realistic Camus tree (data and execution history) for demos and tests.
    Sample {
        /// The directory to write (`DIR/destination`, `DIR/execution`, `DIR/page_view.avsc`).
        dir: PathBuf,
        /// Records to write in all.
        #[arg(long, default_value_t = 20_000)]
        records: u64,
        /// Kafka partitions of the sample topic.
        #[arg(long, default_value_t = 4)]
        partitions: u32,
        /// Hourly folders.
        #[arg(long, default_value_t = 6)]
        hours: u32,
        /// The sample topic's name.
        #[arg(long, default_value = "PAGE_VIEWS")]
        topic: String,
        /// Seed of the generator: the same seed writes the same tree.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// One codec for every file (null, deflate, snappy, zstandard, bzip2, xz); by default
        /// the files cycle through all six.
        #[arg(long)]
        codec: Option<String>,
        /// Put late events in the hourly folder of their own event time, as Camus' partitioner
        /// does (a second file of that hour, written by the later pull); by default every record
        /// of an hour's pull stays in that hour's folder.
        #[arg(long)]
        by_event_time: bool,
        /// With --by-event-time: the bucket size in minutes (Camus'
        /// etl.output.file.time.partition.mins); 1440 writes daily folders.
        #[arg(long, default_value_t = 60)]
        bucket_minutes: u32,
        /// Which of Camus' record writers the files imitate: avro (AvroRecordWriterProvider),
        /// text, text-gzip, text-deflate, text-snappy (StringRecordWriterProvider: JSON lines,
        /// uncompressed or through the Hadoop codec), sequencefile
        /// (SequenceFileRecordWriterProvider: LongWritable event time → Text).
        #[arg(long, value_enum, default_value_t = camus2kafka::SampleLayout::Avro)]
        layout: camus2kafka::SampleLayout,
    },
}

// `c2k run`'s flags. Which go together is clap's to enforce (and `--help`'s to say): a shard
// needs its plan; a map stage its shard, a reduce its partition, both the staging area; a stage
// commits nothing, so it takes neither --dry-run nor --accept-loss.
#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// Go through everything but the send and the commit, and say what would be sent where.
    #[arg(long)]
    dry_run: bool,
    /// Continue a replay that was interrupted: the messages of this same replay already in
    /// the replay topic are skipped and the rest is published (without it, a non-empty replay
    /// topic is refused with exit code 4).
    #[arg(long)]
    resume: bool,
    /// Commit the offsets even where the live topic no longer holds the messages after the
    /// cut-off (retention deleted them): the log start is committed there and the loss is
    /// printed. Without it such a hand-off is refused with exit code 6.
    #[arg(long)]
    accept_loss: bool,
    /// Run one shard of a sharded replay planned by `c2k plan` (with --shard): only the
    /// shard's source partitions are published, resuming where an earlier attempt stopped,
    /// and no offsets are committed. The archive must still be the planned one. For
    /// `partitioning: key` and `single`, with --stage: map shards (--shard), then one reduce
    /// per replay partition (--partition).
    #[arg(long, value_name = "PLAN.json", requires = "task")]
    plan: Option<PathBuf>,
    /// Which shard of the plan (0 to N-1).
    #[arg(
        long,
        requires = "plan",
        group = "task",
        required_if_eq("stage", "map")
    )]
    shard: Option<usize>,
    /// The stage of a `key` or `single` plan: `map` (shard i reads, keys, sorts and formats
    /// its files into sorted runs under --staging) or `reduce` (merges every shard's run of
    /// one replay partition and publishes it, resuming). A stage commits nothing, so it takes
    /// neither --dry-run nor --accept-loss (`c2k offsets commit --plan --staging` does).
    #[arg(
        long,
        value_enum,
        requires_all = ["plan", "staging"],
        conflicts_with_all = ["dry_run", "accept_loss"]
    )]
    stage: Option<StageName>,
    /// The replay partition a reduce publishes (0 to the plan's replay partitions - 1).
    #[arg(
        long,
        requires = "stage",
        group = "task",
        required_if_eq("stage", "reduce")
    )]
    partition: Option<i32>,
    /// The staging area of the map and reduce stages: a local path or file:// URL every task
    /// sees (one per plan).
    #[arg(long, value_name = "DIR", requires = "stage")]
    staging: Option<String>,
}

#[derive(Subcommand)]
enum PluginAction {
    /// Write a plugin crate of its own (Cargo.toml, src/lib.rs with a working example and a
    /// native unit test, a sample pipeline, a README), built with one
    /// `cargo build --release --target wasm32-wasip2`.
    New {
        /// The crate's name (lowercase letters, digits, - and _).
        name: String,
        /// A key extractor or an output format.
        #[arg(long, value_enum)]
        kind: NewKind,
        /// Where the crate's folder is made (the current folder by default).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The plugin SDK's folder (plugin-sdk/ of a camus2kafka checkout); by default the one
        /// this c2k was built from.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Run a key or format plugin (its kind detected) over real records and print what it
    /// makes as JSON lines: for a key plugin the key (hex), timestamp and record; for a format
    /// plugin the key, headers, timestamp and value (text, or {"base64": ...}).
    Test {
        /// A bundled plugin's name or a path to a .wasm component.
        plugin: String,
        /// An Avro file, or a folder of them (a path, or a file://, hdfs:// or object-store URL).
        #[arg(long)]
        input: String,
        /// The plugin's configuration as JSON (`{}` by default).
        #[arg(long)]
        config: Option<String>,
        /// At most this many records.
        #[arg(short = 'n', long)]
        limit: Option<u64>,
        /// A reader schema (.avsc) every record is resolved to, as source.schema does.
        #[arg(long)]
        schema: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum NewKind {
    Key,
    Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum OffsetsAction {
    /// Print, per partition, the latest Camus run's cut-off, the live topic's log start and high
    /// watermark, and the messages consumers will read from it after the switch; then every
    /// problem a commit would meet.
    Show {
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Commit them for the consumer group, never overwriting offsets it already has (exit code
    /// 3), after checking the live topic: messages gone after the cut-off, an archive ahead of the
    /// topic, missing partitions or running group members refuse the hand-off (exit code 6).
    Commit {
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// Print what would be written and what the live topic says, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Commit even where the live topic no longer holds the messages after the cut-off: the
        /// log start is committed there and the loss is printed.
        #[arg(long)]
        accept_loss: bool,
        /// The plan of a sharded replay: commit only once the replay topic holds every message
        /// the plan expects in every partition (exit code 7 otherwise), and the archive and the
        /// Camus history are still the planned ones.
        #[arg(long, value_name = "PLAN.json")]
        plan: Option<PathBuf>,
        /// For a `key` or `single` plan: the map stage's staging area, whose manifests say how
        /// many messages each replay partition must hold.
        #[arg(long, value_name = "DIR", requires = "plan")]
        staging: Option<String>,
    },
}

/// The stages of a sharded `key` or `single` replay.
#[derive(Clone, Copy, clap::ValueEnum)]
enum StageName {
    Map,
    Reduce,
}

fn main() -> ExitCode {
    camus2kafka::init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Plan {
            pipeline,
            shards,
            out,
        } => plan(&pipeline, shards, &out),
        Command::Verify {
            pipeline,
            format,
            names_only,
            records,
        } => verify(&pipeline, format, names_only, records),
        Command::Validate { pipeline } => validate(&pipeline),
        Command::Offsets { action } => offsets(action),
        Command::Plugin { action } => plugin(action),
        Command::Inspect { file } => camus2kafka::inspect(&file, &mut std::io::stdout()),
        Command::Sample {
            dir,
            records,
            partitions,
            hours,
            topic,
            seed,
            codec,
            by_event_time,
            bucket_minutes,
            layout,
        } => camus2kafka::write_sample(
            &dir,
            &camus2kafka::SampleOptions {
                records,
                partitions,
                hours,
                topic,
                seed,
                codec,
                by_event_time,
                bucket_minutes,
                layout,
            },
        ),
    };
    exit(result)
}

/// The process's exit: 0, or the error (scrubbed of secrets) and its code
/// ([`camus2kafka::exit_code`]).
fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `c2k inspect FILE | head`: the reader has seen enough; that is not a failure.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // The last line of defence: no secret of the pipeline in what is printed, and no
            // path whose name holds a newline or a control character printed raw.
            let text = format!("{error:#}");
            let text = camus2kafka::scrub(&text);
            eprintln!("c2k: error: {}", camus2kafka::printable(&text));
            ExitCode::from(camus2kafka::exit_code(&error))
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

impl PipelineArgs {
    fn load(&self) -> anyhow::Result<Pipeline> {
        Pipeline::load(&self.pipeline, &self.sets)
    }
}

/// `c2k run`: the whole job, one shard of a plan, or a map or reduce stage (clap enforces which
/// flags go together).
fn run(run_args: RunArgs) -> anyhow::Result<()> {
    let RunArgs {
        pipeline: args,
        dry_run,
        resume,
        accept_loss,
        plan,
        shard,
        stage,
        partition,
        staging,
    } = run_args;
    let pipeline = args.load()?;
    camus2kafka::install_signal_handlers().context("cannot install the signal handlers")?;
    if plan.is_some() {
        // A shard or stage must never outlive the task that runs it: its retry would publish
        // beside it.
        camus2kafka::stop_with_parent()
            .context("cannot ask to be stopped with the parent process")?;
    }
    if let (Some(stage), Some(plan_file), Some(staging)) = (stage, &plan, &staging) {
        let plan = camus2kafka::Plan::load(plan_file)?;
        let staging = camus2kafka::Staging::open(staging)?;
        return match (stage, shard, partition) {
            (StageName::Map, Some(index), _) => {
                camus2kafka::map_stage(&pipeline, &plan, index, &staging)
            }
            (StageName::Reduce, _, Some(partition)) => {
                camus2kafka::reduce_stage(&pipeline, &plan, partition, &staging)
            }
            _ => unreachable!("clap requires --shard for a map and --partition for a reduce"),
        };
    }
    let shard = match (plan, shard) {
        (Some(plan_file), Some(index)) => Some(camus2kafka::ShardRun {
            plan: camus2kafka::Plan::load(&plan_file)?,
            plan_file,
            index,
        }),
        _ => None,
    };
    let options = camus2kafka::RunOptions {
        dry_run,
        resume,
        accept_loss,
        pipeline_file: Some(args.pipeline.clone()),
        shard,
    };
    camus2kafka::run(&pipeline, &options)
}

/// `c2k plan`: writes PLAN.json and says what each shard gets.
fn plan(args: &PipelineArgs, shards: usize, out: &std::path::Path) -> anyhow::Result<()> {
    let plan = camus2kafka::make_plan(&args.load()?, shards)?;
    plan.write(out)?;
    println!(
        "{}: {} shards over {} files ({} records) of {}",
        out.display(),
        plan.shards.len(),
        plan.files.len(),
        plan.files.iter().map(|f| f.records).sum::<u64>(),
        plan.topic
    );
    for shard in &plan.shards {
        if plan.is_map_reduce() {
            println!(
                "  map shard {}: {} files, {} bytes, {} records",
                shard.index,
                shard.files.len(),
                shard.bytes,
                shard.records
            );
        } else {
            println!(
                "  shard {}: partitions {:?}, {} bytes, {} records",
                shard.index, shard.partitions, shard.bytes, shard.records
            );
        }
    }
    if let Some(partitions) = plan.replay_partitions {
        println!(
            "  then one reduce per replay partition: {partitions} (--stage reduce --partition 0 \
             to {})",
            partitions - 1
        );
    }
    Ok(())
}

/// `c2k verify`.
fn verify(
    args: &PipelineArgs,
    format: ReportFormat,
    names_only: bool,
    records: bool,
) -> anyhow::Result<()> {
    let depth = match (names_only, records) {
        (true, _) => camus2kafka::VerifyDepth::NamesOnly,
        (false, true) => camus2kafka::VerifyDepth::Records,
        (false, false) => camus2kafka::VerifyDepth::Blocks,
    };
    camus2kafka::verify(&args.load()?, matches!(format, ReportFormat::Json), depth)
}

/// `c2k validate`: every problem at once, then the plugins with their config.
fn validate(args: &PipelineArgs) -> anyhow::Result<()> {
    camus2kafka::validate(&args.pipeline, &args.sets)?;
    println!("{}: ok", args.pipeline.display());
    Ok(())
}

/// `c2k offsets show | commit`.
fn offsets(action: OffsetsAction) -> anyhow::Result<()> {
    match action {
        OffsetsAction::Show { pipeline } => camus2kafka::show_offsets(&pipeline.load()?),
        OffsetsAction::Commit {
            pipeline,
            dry_run,
            accept_loss,
            plan,
            staging,
        } => {
            let pipeline = pipeline.load()?;
            let step = camus2kafka::StepOptions {
                dry_run,
                accept_loss,
            };
            match plan {
                Some(plan) => camus2kafka::commit_sharded(
                    &pipeline,
                    &camus2kafka::Plan::load(&plan)?,
                    staging
                        .map(|s| camus2kafka::Staging::open(&s))
                        .transpose()?
                        .as_ref(),
                    step,
                ),
                None => {
                    let history = camus2kafka::read_history(&pipeline)?;
                    // Never a cut-off beyond what the archive holds, whoever commits it.
                    camus2kafka::check_cutoff(&pipeline, history.as_ref())?;
                    camus2kafka::commit_step(&pipeline, history.as_ref(), step)
                }
            }
        }
    }
}

/// `c2k plugin new | test`.
fn plugin(action: PluginAction) -> anyhow::Result<()> {
    match action {
        PluginAction::New {
            name,
            kind,
            dir,
            sdk,
        } => {
            let kind = match kind {
                NewKind::Key => camus2kafka::PluginKind::Key,
                NewKind::Format => camus2kafka::PluginKind::Format,
            };
            let root = camus2kafka::new_plugin(&name, kind, &dir, sdk.as_deref())?;
            println!(
                "wrote {}: cd there, then `cargo test` and `cargo build --release --target \
                 wasm32-wasip2` (its README says how to try it)",
                root.display()
            );
            Ok(())
        }
        PluginAction::Test {
            plugin,
            input,
            config,
            limit,
            schema,
        } => camus2kafka::try_out(
            &camus2kafka::TryOut {
                plugin: &plugin,
                input: &input,
                config: config.as_deref(),
                limit,
                schema: schema.as_deref(),
            },
            &mut std::io::stdout().lock(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `c2k run`'s flag rules, as clap enforces them.
    #[test]
    fn run_flags_go_together_as_documented() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["c2k", "run", "p.yaml"];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let stage = ["--plan", "P", "--staging", "S", "--stage"];
        for ok in [
            vec![],
            vec!["--resume", "--dry-run", "--accept-loss"],
            vec!["--plan", "P", "--shard", "1"],
            [&stage[..], &["map", "--shard", "0"]].concat(),
            [&stage[..], &["reduce", "--partition", "2"]].concat(),
        ] {
            assert_eq!(parse(&ok), Ok(()), "{ok:?}");
        }
        for (bad, says) in [
            (vec!["--shard", "1"], "--plan"),
            (vec!["--plan", "P"], "--shard"),
            (vec!["--staging", "S"], "--stage"),
            (vec!["--partition", "1"], "--stage"),
            (
                vec!["--plan", "P", "--stage", "map", "--shard", "0"],
                "--staging",
            ),
            ([&stage[..], &["map"]].concat(), "--shard"),
            ([&stage[..], &["reduce"]].concat(), "--partition"),
            (
                [&stage[..], &["map", "--shard", "0", "--partition", "1"]].concat(),
                "--partition",
            ),
            (
                [&stage[..], &["map", "--shard", "0", "--dry-run"]].concat(),
                "--dry-run",
            ),
            (
                [&stage[..], &["reduce", "--partition", "0", "--accept-loss"]].concat(),
                "--accept-loss",
            ),
        ] {
            let error = parse(&bad).expect_err(&format!("{bad:?} is refused"));
            assert!(error.contains(says), "{bad:?}: {error}");
        }
    }

    #[test]
    fn a_staging_area_goes_with_a_plan_in_offsets_commit() {
        let error = Cli::try_parse_from(["c2k", "offsets", "commit", "p.yaml", "--staging", "S"])
            .map(|_| ())
            .expect_err("--staging without --plan is refused");
        assert!(error.to_string().contains("--plan"), "{error}");
    }
}
