"""A sharded camus2kafka replay on Apache Spark: Spark schedules, `c2k` does the work.

    spark-submit --master yarn --deploy-mode cluster \\
        --conf spark.speculation=false \\
        --files /path/to/c2k,replay.yaml \\
        deploy/spark/c2k_spark.py --pipeline replay.yaml --shards 64

On the driver it runs `c2k plan` (the archive listed once, its source partitions assigned to the
shards, balanced by bytes), then one Spark task per shard, each running
`c2k run PIPELINE --plan PLAN.json --shard i` (its source partitions only; a retried task resumes
exactly where its first attempt stopped, from what the replay topic holds), and finally, on the
driver, `c2k offsets commit PIPELINE --plan PLAN.json`, which commits the original topic's
offsets only once the replay topic holds every message of every partition.

For `partitioning: key` and `single` (a replay partition draws on every source partition) the
shards are map tasks and a reduce stage follows (give `--staging DIR`, a folder every executor
and the driver see: an hdfs:// URL or a shared mount): N tasks run `c2k run ... --plan PLAN.json --shard i
--stage map --staging DIR` (each sorts and formats its files into one sorted run per replay
partition), then one task per replay partition runs `--stage reduce --partition r` (merges the
runs and publishes the partition, resuming), then the driver commits with `--staging DIR`.

Two Spark defaults would break the guarantees and are refused or overridden here:
- `RDD.pipe` ignores a failed command unless `checkCode=True`: a shard that failed would look done;
- speculative execution runs a second copy of a slow task beside the first: two shards publishing
  the same partitions at once. `spark.speculation` must be false.

The `c2k` binary, the pipeline file and the plan reach each executor's working directory through
`--files` and `SparkContext.addFile`. Paths inside the pipeline (source.dest_dir, source.schema,
offsets.exec_dir, a plugin's .wasm) must be reachable from every executor: hdfs:// URLs, or files
shipped with `--files` and named by their bare name.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

from pyspark import SparkConf, SparkContext, SparkFiles

PLAN_NAME = "c2k-plan.json"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="c2k_spark.py",
        description="Replay a Camus archive into Kafka as N shards on Spark, then commit once.",
    )
    parser.add_argument("--pipeline", required=True,
                        help="the pipeline YAML, shipped with --files (its bare name) or a path")
    parser.add_argument("--shards", type=int, required=True,
                        help="how many shards (Spark tasks) the replay is split into")
    parser.add_argument("--c2k", default="c2k",
                        help="the c2k binary, shipped with --files (its bare name, default c2k)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a pipeline override passed to every c2k command (repeatable)")
    parser.add_argument("--staging", default=None,
                        help="partitioning key or single: the map stage's staging folder, seen by "
                             "every executor and the driver, e.g. hdfs://nn:8020/c2k/staging (one per replay)")
    parser.add_argument("--plan-dir", default=None,
                        help="where the driver writes the plan (a temporary folder by default)")
    return parser.parse_args(argv)


def shipped(name):
    """The driver's copy of a file given with --files, or `name` itself as a path."""
    if os.path.isabs(name) or os.path.exists(name):
        return os.path.abspath(name)
    try:
        path = SparkFiles.get(os.path.basename(name))
    except Exception:  # no SparkContext files root: not shipped
        path = None
    if path and os.path.exists(path):
        return path
    sys.exit(f"c2k_spark: {name} is neither a file here nor one shipped with --files")


def make_executable(path):
    mode = os.stat(path).st_mode
    if not mode & stat.S_IXUSR:
        os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def run_on_driver(what, command):
    """Runs a c2k command on the driver, its output passed through; exits with its code."""
    print(f"c2k_spark: {what}: {shlex.join(command)}", file=sys.stderr, flush=True)
    code = subprocess.call(command)
    if code != 0:
        sys.exit(f"c2k_spark: {what} failed (exit code {code}): no offsets were committed")


def shard_command(c2k, pipeline, sets, stage=None, staging=None):
    """The command each task pipes "INDEX FILES_DIR" into. It runs in FILES_DIR, where --files
    and addFile put the binary, the pipeline and the plan: the executor's working directory on
    YARN, Kubernetes and standalone workers, the driver's files folder in local mode. INDEX is
    the shard (no stage, or the map stage) or the replay partition (the reduce stage)."""
    run = ["./" + c2k, "run", shlex.quote(pipeline), "--plan", PLAN_NAME]
    if stage == "reduce":
        run += ["--stage", "reduce", "--partition", '"$index"']
    else:
        run += ["--shard", '"$index"']
        if stage == "map":
            run += ["--stage", "map"]
    if stage:
        run += ["--staging", shlex.quote(staging)]
    for override in sets:
        run += ["--set", shlex.quote(override)]
    script = (
        'read -r index dir || exit 2; cd "$dir" || exit 2; '
        f'[ -x ./{c2k} ] || chmod +x ./{c2k}; '
        f'exec {" ".join(run)}'
    )
    return shlex.join(["sh", "-c", script])


def run_tasks(sc, count, command, what, description, plan):
    """One piped task per index 0..count-1; exits (nothing committed) when the stage failed."""
    # Each task learns where its files are where it runs (SparkFiles on the executor).
    tasks = sc.parallelize(range(count), count).map(
        lambda i: f"{i} {SparkFiles.getRootDirectory()}")
    sc.setJobDescription(description)
    try:
        # checkCode=True: a task whose c2k exits non-zero fails (retried by Spark, up to
        # spark.task.maxFailures), and the job when it keeps failing.
        tasks.pipe(command, checkCode=True).collect()
    except Exception as error:  # Py4JJavaError: the job failed
        first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        sys.exit(f"c2k_spark: the {what} did not all complete ({first}); no offsets were "
                 f"committed. Rerun the job: every task resumes where it stopped (the plan "
                 f"is kept in {plan})")


def retrying_local_master(conf):
    """`local[N]` never retries a failed task (one failure fails the job), unlike every cluster
    manager: it becomes `local[N,F]` with F = spark.task.maxFailures (4 by default), so that a
    killed shard is retried and resumes there too."""
    master = conf.get("spark.master", "")
    match = re.fullmatch(r"local\[(\d+|\*)\]", master)
    if match:
        failures = conf.get("spark.task.maxFailures", "4")
        conf.setMaster(f"local[{match.group(1)},{failures}]")
        print(f"c2k_spark: master {master} retries no task: running as {conf.get('spark.master')}",
              file=sys.stderr)


def main(argv):
    args = parse_args(argv)
    if args.shards < 1:
        sys.exit("c2k_spark: --shards must be at least 1")
    # The JVM first: only then does SparkConf() see what spark-submit was given (--master,
    # --conf); a SparkConf made before it holds nothing but what this script sets.
    SparkContext._ensure_initialized()
    conf = SparkConf().setAppName(f"c2k replay of {os.path.basename(args.pipeline)}")
    if conf.get("spark.speculation", "false").lower() == "true":
        sys.exit("c2k_spark: spark.speculation is true: a speculative copy of a shard would "
                 "publish the same partitions beside the original. Run with "
                 "--conf spark.speculation=false")
    conf.set("spark.speculation", "false")
    retrying_local_master(conf)
    sc = SparkContext(conf=conf)
    if sc.getConf().get("spark.speculation", "false").lower() == "true":
        sc.stop()
        sys.exit("c2k_spark: spark.speculation is true: refusing to run the shards")
    try:
        c2k_local = shipped(args.c2k)
        make_executable(c2k_local)
        pipeline_local = shipped(args.pipeline)
        sets = [item for override in args.sets for item in ("--set", override)]

        plan_dir = args.plan_dir or tempfile.mkdtemp(prefix="c2k-spark-")
        plan = os.path.join(plan_dir, PLAN_NAME)
        run_on_driver("planning", [c2k_local, "plan", pipeline_local,
                                   "--shards", str(args.shards), "--out", plan] + sets)
        sc.addFile(plan)

        c2k_name = os.path.basename(args.c2k)
        pipeline_name = os.path.basename(args.pipeline)
        with open(plan) as planned:
            planned = json.load(planned)
        commit = [c2k_local, "offsets", "commit", pipeline_local, "--plan", plan]
        if planned["partitioning"] == "source":
            run_tasks(sc, args.shards, shard_command(c2k_name, pipeline_name, args.sets),
                      "shards", f"c2k: {args.shards} shards of {pipeline_name}", plan)
        else:
            if not args.staging:
                sys.exit(f"c2k_spark: partitioning: {planned['partitioning']} needs --staging "
                         "DIR (a folder every executor and the driver see) for its map stage")
            maps = shard_command(c2k_name, pipeline_name, args.sets, "map", args.staging)
            run_tasks(sc, args.shards, maps, "map shards",
                      f"c2k: {args.shards} map shards of {pipeline_name}", plan)
            partitions = planned["replay_partitions"]
            reduces = shard_command(c2k_name, pipeline_name, args.sets, "reduce", args.staging)
            run_tasks(sc, partitions, reduces, "reduces",
                      f"c2k: {partitions} reduces of {pipeline_name}", plan)
            commit += ["--staging", args.staging]
        run_on_driver("committing", commit + sets)
        print(f"c2k_spark: done: {args.shards} shards published, offsets committed once",
              file=sys.stderr)
        if not args.plan_dir:
            shutil.rmtree(plan_dir, ignore_errors=True)
    finally:
        sc.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
