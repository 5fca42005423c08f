//! The Spark driver (`deploy/spark/c2k_spark.py`) on a real Spark (PyPI's `pyspark`, a
//! `local-cluster[2,1,1024]` master: two worker JVMs, executors in processes of their own), over
//! an archive on a real HDFS, into a real broker (tansu), committing to a real ZooKeeper:
//! - three shards, the first attempt of shard 1 killed with `kill -9` mid-publish and its task
//!   retried by Spark: the replay topic holds exactly the single-machine run's messages, each
//!   partition in its order, and the group gets its offsets, once;
//! - a shard that always fails, in `local[2]` mode: tried `spark.task.maxFailures` times, the job
//!   fails, the driver says so and nothing is committed (the plan's own commit check still finds
//!   the replay incomplete).
//!
//! - `partitioning: single` from the same HDFS archive, staged on that HDFS too: three map tasks,
//!   then one reduce task per replay partition, the first attempt of reduce 0 killed with `kill -9` mid-publish and retried:
//!   the replay equals the single-machine run and the offsets are committed once.
//!
//! Skipped, saying so, when `pyspark` is not installed (`scripts/setup.sh` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::sharded::{self, Tree};
use crate::support::c2k::{c2k_path, C2k};
use crate::support::hdfs::HdfsTarget;
use crate::support::servers;

/// One spark-submit: Spark's start (~15 s), three shards of a debug c2k, the commit.
const SUBMIT_LIMIT: Duration = Duration::from_secs(420);

/// pyspark's folder (its `bin/spark-submit` and `jars/`), or `None` when it is not installed.
fn spark_home() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let home = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    (output.status.success() && home.join("bin/spark-submit").exists()).then_some(home)
}

fn driver_script() -> PathBuf {
    crate::support::repo().join("deploy/spark/c2k_spark.py")
}

/// What the executors run as `c2k`: a shell stand-in that runs the real binary, except where
/// `special` (shell, with `$REAL` the real binary) decides otherwise for some shard.
fn stand_in(dir: &Path, special: &str) -> PathBuf {
    let path = dir.join("c2k");
    let script = format!(
        "#!/bin/sh\n\
         # A test stand-in for c2k, shipped with --files in its place.\n\
         REAL='{real}'\n\
         {special}\n\
         exec \"$REAL\" \"$@\"\n",
        real = c2k_path().display()
    );
    std::fs::write(&path, script).expect("write the stand-in");
    let status = Command::new("chmod")
        .args(["+x", path.to_str().unwrap()])
        .status()
        .expect("chmod");
    assert!(status.success());
    path
}

/// The first attempt of shard 1 publishes slowly and is killed with `kill -9` two seconds after
/// its write side started; its marker folder says it was.
fn kill_shard_1_once(mark: &Path) -> String {
    format!(
        "MARK='{mark}'\n\
         case \" $* \" in *' --shard 1 '*)\n\
         \x20 if mkdir \"$MARK\" 2>/dev/null; then\n\
         \x20   RUST_LOG=camus2kafka=debug \"$REAL\" \"$@\" --set sink.max_messages_per_sec=100 2> \"$MARK/stderr\" &\n\
         \x20   pid=$!; i=0\n\
         \x20   until grep -q 'read, keyed and sorted' \"$MARK/stderr\"; do\n\
         \x20     i=$((i+1)); [ $i -gt 3000 ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.1\n\
         \x20   done\n\
         \x20   sleep 2; kill -9 $pid && echo killed > \"$MARK/killed\"; exit 137\n\
         \x20 fi;;\n\
         esac",
        mark = mark.display()
    )
}

const SHARD_2_ALWAYS_FAILS: &str = "case \" $* \" in *' --shard 2 '*) \
     echo 'c2k stand-in: shard 2 fails' >&2; exit 1;; esac";

/// `spark-submit --master MASTER ... c2k_spark.py --pipeline replay.yaml
/// --shards N --set ...` in `dir`, with `ship/` holding the stand-in and the pipeline. Killed
/// (its whole process group) after [`SUBMIT_LIMIT`].
fn submit(
    home: &Path,
    master: &str,
    dir: &Path,
    ship: &Path,
    shards: usize,
    sets: &[String],
    driver_args: &[&str],
) -> Output {
    let files = format!(
        "{},{}",
        ship.join("c2k").display(),
        ship.join("replay.yaml").display()
    );
    let plan_dir = dir.join("plan");
    std::fs::create_dir_all(&plan_dir).expect("plan dir");
    let home = home_in(home, dir);
    let mut command = Command::new(home.join("bin/spark-submit"));
    command
        .args(["--master", master])
        .args(["--conf", "spark.speculation=false"])
        .args(["--conf", "spark.ui.enabled=false"])
        .args(["--conf", "spark.task.maxFailures=3"])
        .args(["--driver-memory", "512m"])
        .args(["--files", &files])
        .arg(driver_script())
        .args(["--pipeline", "replay.yaml", "--shards", &shards.to_string()])
        .args(["--plan-dir", plan_dir.to_str().unwrap()])
        .args(driver_args);
    for set in sets {
        command.args(["--set", set]);
    }
    command
        .current_dir(dir)
        .env("SPARK_HOME", &home)
        .env("PYSPARK_PYTHON", "python3")
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("submit.out")).expect("stdout file"))
        .stderr(std::fs::File::create(dir.join("submit.err")).expect("stderr file"));
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().expect("start spark-submit");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for spark-submit") {
            break status;
        }
        if started.elapsed() > SUBMIT_LIMIT {
            let _ = Command::new("kill")
                .args(["-9", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "spark-submit did not finish within {SUBMIT_LIMIT:?}:\n{}",
                tail(&dir.join("submit.err"))
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!(
        "spark-submit ({shards} shards) took {:?}",
        started.elapsed()
    );
    Output {
        status,
        stdout: std::fs::read(dir.join("submit.out")).unwrap_or_default(),
        stderr: std::fs::read(dir.join("submit.err")).unwrap_or_default(),
    }
}

/// A SPARK_HOME of links to pyspark's own entries, in `dir`: local-cluster workers keep their
/// executors' folders (copies of the files, stderr logs) under `SPARK_HOME/work`, whatever
/// SPARK_WORKER_DIR says, and those belong in the test's temp folder, not in site-packages.
fn home_in(pyspark: &Path, dir: &Path) -> PathBuf {
    let home = dir.join("spark-home");
    std::fs::create_dir_all(&home).expect("spark home");
    for entry in std::fs::read_dir(pyspark)
        .expect("read pyspark's folder")
        .flatten()
    {
        let link = home.join(entry.file_name());
        if entry.file_name() != "work" && !link.exists() {
            std::os::unix::fs::symlink(entry.path(), link).expect("link into spark home");
        }
    }
    home
}

fn tail(path: &Path) -> String {
    crate::support::process::tail(&std::fs::read_to_string(path).unwrap_or_default())
}

/// Everything the executors wrote to their stderr (the c2k shards' own messages).
fn executor_logs(dir: &Path) -> String {
    let mut text = String::new();
    let Ok(apps) = std::fs::read_dir(dir.join("spark-home/work")) else {
        return text;
    };
    for app in apps.flatten() {
        for executor in std::fs::read_dir(app.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            text.push_str(
                &std::fs::read_to_string(executor.path().join("stderr")).unwrap_or_default(),
            );
        }
    }
    text
}

#[test]
fn spark_replays_from_hdfs_with_a_shard_killed_once_exactly_once_and_fails_without_committing() {
    let Some(home) = spark_home() else {
        crate::support::missing("pyspark is not installed (scripts/setup.sh installs it)");
        return;
    };
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let (reference, reference_offsets) = sharded::reference(&tree, &brokers, &zookeeper);

    // The same archive and history on HDFS, uploaded by Hadoop's own client.
    let hdfs = HdfsTarget::local();
    for part in ["destination", "execution"] {
        hdfs.upload_tree(&tree.dir.path().join(part), &format!("camus/{part}"));
    }
    hdfs.upload(
        &tree.dir.path().join("page_view.avsc"),
        "camus/page_view.avsc",
    );
    let root = hdfs.url("camus");

    let dir = tempfile::tempdir().expect("temp dir");
    let ship = dir.path().join("ship");
    std::fs::create_dir_all(&ship).expect("ship dir");
    std::fs::write(
        ship.join("replay.yaml"),
        sharded::pipeline_yaml(&root, &brokers, &zookeeper),
    )
    .expect("the HDFS pipeline");

    // Three shards; shard 1's first attempt is killed mid-publish and Spark retries its task.
    let mark = dir.path().join("killed-once");
    stand_in(&ship, &kill_shard_1_once(&mark));
    let run_dir = dir.path().join("killed");
    std::fs::create_dir_all(&run_dir).unwrap();
    let sets = [
        "sink.topic=SPARK_KILLED".to_string(),
        "offsets.group=spark-killed".to_string(),
    ];
    let output = submit(
        &home,
        "local-cluster[2,1,1024]",
        &run_dir,
        &ship,
        3,
        &sets,
        &[],
    );
    let logs = executor_logs(&run_dir);
    assert!(
        output.status.success(),
        "the Spark job failed:\n{}\nexecutors:\n{logs}",
        tail(&run_dir.join("submit.err"))
    );
    assert!(
        mark.join("killed").exists(),
        "shard 1's first attempt was not killed:\n{}",
        std::fs::read_to_string(mark.join("stderr")).unwrap_or_default()
    );
    assert!(
        logs.contains("already there from an earlier attempt"),
        "the retried shard 1 did not resume from what its killed attempt had published:\n{logs}"
    );
    let driver = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(driver.contains("offsets committed once"), "{driver}");
    sharded::assert_same_replay(&brokers, "SPARK_KILLED", &reference);
    assert_eq!(
        sharded::committed(&zookeeper, "spark-killed"),
        reference_offsets,
        "the group's offsets"
    );

    // A shard that always fails: the job fails after Spark's retries; nothing is committed. In
    // local mode this time (driver and tasks in one JVM, the files in the driver's folder), which
    // the driver makes retry tasks as the cluster managers do.
    stand_in(&ship, SHARD_2_ALWAYS_FAILS);
    let run_dir = dir.path().join("failing");
    std::fs::create_dir_all(&run_dir).unwrap();
    let sets = [
        "sink.topic=SPARK_FAILING".to_string(),
        "offsets.group=spark-failing".to_string(),
    ];
    let output = submit(&home, "local[2]", &run_dir, &ship, 3, &sets, &[]);
    let driver = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a job with a failing shard succeeded"
    );
    assert!(driver.contains("running as local[2,3]"), "{driver}");
    assert_eq!(
        driver.matches("c2k stand-in: shard 2 fails").count(),
        3,
        "shard 2 was not tried spark.task.maxFailures times"
    );
    assert!(
        driver.contains("shard 0 of 3 is complete") && driver.contains("shard 1 of 3 is complete"),
        "the other shards did not run in local mode:\n{driver}"
    );
    assert!(
        driver.contains("the shards did not all complete")
            && driver.contains("no offsets were committed"),
        "{}",
        tail(&run_dir.join("submit.err"))
    );
    assert!(sharded::committed(&zookeeper, "spark-failing").is_empty());
    // The plan's commit check agrees: shard 2's partitions are missing.
    let plan = run_dir.join("plan/c2k-plan.json");
    let pipeline = ship.join("replay.yaml");
    let check = C2k::new(&[
        "offsets",
        "commit",
        pipeline.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--set",
        "sink.topic=SPARK_FAILING",
        "--set",
        "offsets.group=spark-failing",
    ])
    .dir(dir.path())
    .timeout(Duration::from_secs(120))
    .run();
    assert_eq!(check.code, Some(7), "{}", check.stderr);
    assert!(check.stderr.contains("(shard 2)"), "{}", check.stderr);
    assert!(sharded::committed(&zookeeper, "spark-failing").is_empty());
}

/// The first attempt of reduce 0 publishes slowly and is killed with `kill -9` after 6 s.
fn kill_reduce_0_once(mark: &Path) -> String {
    format!(
        "MARK='{mark}'\n\
         case \" $* \" in *' --partition 0 '*)\n\
         \x20 if mkdir \"$MARK\" 2>/dev/null; then\n\
         \x20   \"$REAL\" \"$@\" --set sink.max_messages_per_sec=100 2> \"$MARK/stderr\" &\n\
         \x20   pid=$!; sleep 6; kill -9 $pid && echo killed > \"$MARK/killed\"; exit 137\n\
         \x20 fi;;\n\
         esac",
        mark = mark.display()
    )
}

#[test]
fn spark_replays_single_partitioning_through_map_and_reduce_with_a_reduce_killed_once() {
    let Some(home) = spark_home() else {
        crate::support::missing("pyspark is not installed (scripts/setup.sh installs it)");
        return;
    };
    let tansu = servers::Tansu::start();
    let zk = servers::ZooKeeper::start();
    let (brokers, zookeeper) = (tansu.brokers(), zk.connect_string());
    let tree = Tree::new(&brokers, &zookeeper);
    let single = ["--set", "sink.partitioning=single"];
    let mut args = vec!["run", tree.path()];
    args.extend(single);
    tree.c2k(&args, "SPARK_REF_SINGLE", "spark-ref-single")
        .assert_ok();
    let reference = sharded::by_partition(&crate::support::kafka::read_topic(
        &brokers,
        "SPARK_REF_SINGLE",
        sharded::RECORDS as usize,
        Duration::from_secs(120),
    ));
    let reference_offsets = sharded::committed(&zookeeper, "spark-ref-single");

    let hdfs = HdfsTarget::local();
    for part in ["destination", "execution"] {
        hdfs.upload_tree(&tree.dir.path().join(part), &format!("camus/{part}"));
    }
    hdfs.upload(
        &tree.dir.path().join("page_view.avsc"),
        "camus/page_view.avsc",
    );
    let root = hdfs.url("camus");
    let dir = tempfile::tempdir().expect("temp dir");
    let ship = dir.path().join("ship");
    std::fs::create_dir_all(&ship).expect("ship dir");
    std::fs::write(
        ship.join("replay.yaml"),
        sharded::pipeline_yaml(&root, &brokers, &zookeeper),
    )
    .expect("the HDFS pipeline");
    let mark = dir.path().join("killed-once");
    stand_in(&ship, &kill_reduce_0_once(&mark));
    let run_dir = dir.path().join("single");
    std::fs::create_dir_all(&run_dir).unwrap();
    // Staged on HDFS, as a cluster without a shared mount does it.
    let staging = hdfs.url("staging");
    let sets = [
        "sink.partitioning=single".to_string(),
        "sink.topic=SPARK_SINGLE".to_string(),
        "offsets.group=spark-single".to_string(),
    ];
    let output = submit(
        &home,
        "local-cluster[2,1,1024]",
        &run_dir,
        &ship,
        3,
        &sets,
        &["--staging", &staging],
    );
    let logs = executor_logs(&run_dir);
    assert!(
        output.status.success(),
        "the Spark job failed:\n{}\nexecutors:\n{logs}",
        tail(&run_dir.join("submit.err"))
    );
    assert!(
        mark.join("killed").exists(),
        "reduce 0's first attempt was not killed:\n{}",
        std::fs::read_to_string(mark.join("stderr")).unwrap_or_default()
    );
    for index in 0..3 {
        assert!(
            logs.contains(&format!("map shard {index} of 3 is complete")),
            "map shard {index} did not run:\n{logs}"
        );
    }
    assert!(
        logs.contains("already there from an earlier attempt"),
        "the retried reduce 0 did not resume from what its killed attempt had published:\n{logs}"
    );
    sharded::assert_same_replay(&brokers, "SPARK_SINGLE", &reference);
    assert_eq!(
        sharded::committed(&zookeeper, "spark-single"),
        reference_offsets,
        "the group's offsets"
    );
}
