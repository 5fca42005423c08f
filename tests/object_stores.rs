//! Camus archives on a real S3 server (SeaweedFS, `tests/support/s3.rs`): a tree and its Camus
//! history uploaded there replay byte-identical to the same tree on local disk, with credentials
//! from the environment, the pipeline or an AWS profile; `c2k verify` reads them alike; wrong
//! credentials and a missing bucket fail before anything is read, naming them; and a server
//! killed mid-read is waited for (the run completes, identical) or, past
//! `storage.retry_timeout`, fails naming the object, leaving no output.
//!
//! The sharded replay staged on S3 is in `sharded.rs`, beside the one staged on HDFS.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::c2k::{write_pipeline, C2k, Run};
use crate::support::process::Running;
use crate::support::s3::{S3Server, ACCESS_KEY, SECRET_KEY};

const T: Duration = Duration::from_secs(300);

/// `c2k sample` into `dir/camus`.
pub(crate) fn sample(dir: &Path, records: u64, hours: u32, partitions: u32) {
    let camus = dir.join("camus");
    C2k::new(&[
        "sample",
        camus.to_str().expect("utf-8"),
        "--records",
        &records.to_string(),
        "--hours",
        &hours.to_string(),
        "--partitions",
        &partitions.to_string(),
    ])
    .dir(dir)
    .timeout(T)
    .run()
    .assert_ok();
}

/// A file-sink pipeline over the tree at `root` (`camus` on disk, or an `s3://` URL), with its
/// history, writing plain JSON lines to `out`.
pub(crate) fn pipeline(dir: &Path, name: &str, root: &str, out: &str) -> String {
    write_pipeline(
        dir,
        name,
        &format!(
            "topic: PAGE_VIEWS\n\
             source: {{dest_dir: {root}/destination, schema: {root}/page_view.avsc}}\n\
             key: {{plugin: time-field, config: {{field: header.time}}}}\n\
             sort: {{memory: 16MiB, tmp_dir: tmp}}\n\
             format: {{plugin: json, config: {{encoding: plain}}}}\n\
             sink: {{type: file, path: {out}}}\n\
             offsets: {{exec_dir: {root}/execution, commit: none}}\n"
        ),
    )
}

/// `c2k ARGS` in `dir` with `env`.
pub(crate) fn c2k(dir: &Path, args: &[&str], env: &[(String, String)]) -> C2k {
    let mut command = C2k::new(args).dir(dir).timeout(T);
    for (key, value) in env {
        command = command.env(key, value);
    }
    command
}

/// The server, a bucket `archive` holding the sample tree of `dir/camus` under `camus/`, and the
/// same tree replayed from disk into `dir/local.jsonl`; `None` when the server cannot run here.
fn archive_on_s3(dir: &Path, records: u64, hours: u32, partitions: u32) -> Option<S3Server> {
    let s3 = S3Server::start()?;
    sample_replayed_from_disk(dir, records, hours, partitions, |tree| {
        s3.create_bucket("archive");
        s3.upload_dir(tree, "archive", "camus")
    });
    Some(s3)
}

/// The sample tree in `dir/camus`, handed to `upload` (which returns what it uploaded), and
/// replayed from disk into `dir/local.jsonl`, the output every store's replay must equal.
pub(crate) fn sample_replayed_from_disk(
    dir: &Path,
    records: u64,
    hours: u32,
    partitions: u32,
    upload: impl FnOnce(&Path) -> Vec<String>,
) {
    sample(dir, records, hours, partitions);
    std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
    let uploaded = upload(&dir.join("camus"));
    assert!(uploaded.len() > 10, "the tree was uploaded: {uploaded:?}");
    let local = pipeline(dir, "local.yaml", "camus", "local.jsonl");
    c2k(dir, &["run", &local], &[]).run().assert_ok();
}

/// `dir/replayed` is byte for byte the replay of the same tree from disk.
pub(crate) fn assert_same_output(dir: &Path, replayed: &str) {
    let local = std::fs::read(dir.join("local.jsonl")).expect("the local replay");
    let remote = std::fs::read(dir.join(replayed)).expect("the replay from the store");
    assert!(!local.is_empty());
    assert!(
        local == remote,
        "{replayed} ({} bytes) differs from the replay of the same tree on disk ({} bytes)",
        remote.len(),
        local.len()
    );
}

#[test]
fn a_tree_on_s3_replays_and_verifies_exactly_as_on_disk_with_each_way_of_giving_credentials() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let Some(s3) = archive_on_s3(dir, 30_000, 6, 4) else {
        return;
    };

    // Credentials and endpoint from the environment, as AWS's own tools take them.
    let from_env = pipeline(dir, "env.yaml", "s3://archive/camus", "env.jsonl");
    let run = c2k(dir, &["run", &from_env], &s3.env()).run();
    run.assert_ok();
    assert!(run.stderr.contains("30000 records in"), "{}", run.stderr);
    assert_same_output(dir, "env.jsonl");

    // `c2k verify` reconciles the names on S3 with the history on S3.
    let verified = c2k(dir, &["verify", &from_env], &s3.env()).run();
    verified.assert_ok();
    assert!(
        verified.stdout.contains("consistent"),
        "{}",
        verified.stdout
    );

    // The pipeline's keys alone: endpoint, region and keys in `storage`; the secret never shown.
    let keyed = pipeline(dir, "keys.yaml", "s3://archive/camus", "keys.jsonl");
    let endpoint = format!("storage.endpoint={}", s3.endpoint());
    let key_id = format!("storage.options.aws_access_key_id={ACCESS_KEY}");
    let secret = format!("storage.options.aws_secret_access_key={SECRET_KEY}");
    let sets = [
        "run",
        &keyed,
        "--set",
        &endpoint,
        "--set",
        "storage.region=us-east-1",
        "--set",
        &key_id,
        "--set",
        &secret,
    ];
    let run = c2k(dir, &sets, &[]).env("RUST_LOG", "debug").run();
    run.assert_ok();
    assert!(
        !run.stdout_and_stderr().contains(SECRET_KEY),
        "the secret was printed: {}",
        run.stderr
    );
    assert_same_output(dir, "keys.jsonl");

    // An AWS profile of a shared credentials file, the endpoint from AWS_ENDPOINT_URL.
    std::fs::write(
        dir.join("credentials"),
        format!(
            "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\
             [archive]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        ),
    )
    .expect("credentials file");
    let profiled = pipeline(dir, "profile.yaml", "s3://archive/camus", "profile.jsonl");
    let credentials = dir.join("credentials");
    let env = [
        ("AWS_ENDPOINT_URL".to_string(), s3.endpoint()),
        (
            "AWS_SHARED_CREDENTIALS_FILE".to_string(),
            credentials.to_str().expect("utf-8").to_string(),
        ),
        ("AWS_CONFIG_FILE".to_string(), "/nonexistent".to_string()),
        ("AWS_PROFILE".to_string(), "archive".to_string()),
    ];
    c2k(dir, &["run", &profiled], &env).run().assert_ok();
    assert_same_output(dir, "profile.jsonl");
}

#[test]
fn wrong_credentials_and_a_missing_bucket_fail_before_anything_is_read_naming_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let Some(s3) = archive_on_s3(dir, 2_000, 2, 2) else {
        return;
    };
    let on_s3 = pipeline(dir, "s3.yaml", "s3://archive/camus", "out.jsonl");
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        s3.env()
            .into_iter()
            .map(|(k, v)| {
                if k == name {
                    (k, value.to_string())
                } else {
                    (k, v)
                }
            })
            .collect()
    };

    let wrong_secret = "not-the-secret-at-all";
    let run = c2k(
        dir,
        &["run", &on_s3],
        &with("AWS_SECRET_ACCESS_KEY", wrong_secret),
    )
    .run();
    run.assert_failed_with(&[
        "S3 refused listing in bucket `archive`",
        "static keys (AWS_ACCESS_KEY_ID)",
        "SignatureDoesNotMatch",
        "s3://archive/camus/destination/PAGE_VIEWS",
    ]);
    assert!(!run.stderr.contains(wrong_secret), "{}", run.stderr);
    assert_nothing_written(dir);

    let run = c2k(
        dir,
        &["run", &on_s3],
        &with("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN1234"),
    )
    .run();
    run.assert_failed_with(&["S3 refused", "****1234", "InvalidAccessKeyId"]);
    assert_nothing_written(dir);

    let elsewhere = "source.dest_dir=s3://missing-bucket/camus/destination";
    let run = c2k(dir, &["run", &on_s3, "--set", elsewhere], &s3.env()).run();
    run.assert_failed_with(&["bucket `missing-bucket` does not exist at http://127.0.0.1:"]);
    assert_nothing_written(dir);

    let nowhere = "source.dest_dir=s3://archive/no/such/prefix";
    let run = c2k(dir, &["run", &on_s3, "--set", nowhere], &s3.env()).run();
    run.assert_failed_with(&["s3://archive/no/such/prefix/PAGE_VIEWS: no such folder"]);

    let profile = [("AWS_PROFILE".to_string(), "no-such-profile".to_string())];
    let env: Vec<_> = s3
        .env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .chain(profile)
        .collect();
    let run = c2k(dir, &["run", &on_s3], &env).run();
    run.assert_failed_with(&["AWS profile `no-such-profile` (from AWS_PROFILE) is in neither"]);
}

/// Nothing under `out.jsonl`, partial or whole.
pub(crate) fn assert_nothing_written(dir: &Path) {
    let written: Vec<String> = std::fs::read_dir(dir)
        .expect("read the test folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name == "out.jsonl" || name.starts_with(".out.jsonl"))
        .collect();
    assert!(written.is_empty(), "output was written: {written:?}");
}

/// Starts `c2k run` from S3 into `out`, and returns once it has begun writing (its partial
/// output file exists), the server about to be killed mid-read.
fn replaying(dir: &Path, s3: &S3Server, out: &str, sets: &[&str]) -> Running {
    let yaml = pipeline(dir, &format!("{out}.yaml"), "s3://archive/camus", out);
    let mut args = vec!["run", yaml.as_str()];
    for set in sets {
        args.extend(["--set", set]);
    }
    let mut run = c2k(dir, &args, &s3.env()).spawn();
    let partial = format!(".{out}");
    run.wait_until("the replay's first output", |_| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with(&partial))
        })
    });
    run
}

#[test]
fn a_server_killed_mid_read_is_waited_for_and_past_the_retry_timeout_fails_naming_the_object() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let Some(mut s3) = archive_on_s3(dir, 300_000, 24, 8) else {
        return;
    };

    // Killed for 4 s: the run retries, then completes, byte-identical.
    let mut run = replaying(dir, &s3, "returned.jsonl", &[]);
    s3.kill();
    std::thread::sleep(Duration::from_secs(4));
    run.assert_running("while the S3 server is down, within storage.retry_timeout");
    s3.restart();
    let done: Run = run.wait();
    done.assert_ok();
    assert!(done.stderr.contains("300000 records in"), "{}", done.stderr);
    assert_same_output(dir, "returned.jsonl");

    // Killed for good, with a retry timeout of 3 s: the run fails naming the object it was
    // reading and the timeout, and leaves no output.
    let run = replaying(dir, &s3, "out.jsonl", &["storage.retry_timeout=3s"]);
    s3.kill();
    let started = Instant::now();
    let failed = run.wait();
    failed.assert_failed_with(&[
        "s3://archive/camus/",
        "retried for up to 3s; storage.retry_timeout",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "it gave up after {:?}",
        started.elapsed()
    );
    assert_nothing_written(dir);
}

/// Objects of every size around the reads' boundaries (empty, around the first bytes fetched
/// ahead, across 4 MiB ranges) read back whole through c2k's storage layer, whether they were
/// read ahead in order, out of order or not at all; the write half (create, finish, rename,
/// delete, a folder made) as the staging area uses it.
#[test]
fn objects_of_every_size_read_back_whole_read_ahead_or_not() {
    let Some(s3) = S3Server::start() else {
        return;
    };
    s3.create_bucket("sizes");
    // c2k's storage layer runs in this process here: it reads AWS's environment as c2k does.
    for (key, value) in s3.env() {
        std::env::set_var(key, value);
    }
    const MIB: usize = 1 << 20;
    let sizes = [0, 1, MIB - 1, MIB, MIB + 1, 5 * MIB + 3, 13 * MIB];
    let content = |size: usize| -> Vec<u8> { (0..size).map(|i| (i % 251) as u8).collect() };
    let urls: Vec<String> = sizes
        .iter()
        .map(|size| {
            s3.put("sizes", &format!("f/{size}"), &content(*size));
            format!("s3://sizes/f/{size}")
        })
        .collect();
    let storage = camus2kafka::testing::for_url("s3://sizes/f").expect("the S3 storage");
    let read = |url: &str| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut storage.open(url).expect("open"), &mut bytes)
            .expect("read");
        bytes
    };
    let check = |order: &[usize]| {
        for &i in order {
            assert!(read(&urls[i]) == content(sizes[i]), "{} differs", urls[i]);
        }
    };
    check(&[0, 1, 2, 3, 4, 5, 6]);
    storage.read_ahead(&urls);
    check(&[0, 1, 2, 3, 4, 5, 6]);
    storage.read_ahead(&urls);
    check(&[5, 1, 6, 0, 3]);
    let listed = storage.list_files("s3://sizes/f").expect("list");
    let listed: Vec<(String, u64)> = listed.into_iter().map(|f| (f.url, f.size)).collect();
    let mut expected: Vec<(String, u64)> = urls
        .iter()
        .cloned()
        .zip(sizes.iter().map(|s| *s as u64))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);

    // The write half: a file appears whole only when finished and renamed; a folder made is
    // listed empty; a missing one is an error.
    storage
        .create_dir_all("s3://sizes/staging/shard-0")
        .expect("make a folder");
    assert!(storage
        .list_files("s3://sizes/staging/shard-0")
        .expect("an empty folder lists")
        .is_empty());
    assert!(storage.list_files("s3://sizes/nothing-here").is_err());
    let big = content(9 * MIB + 7);
    let mut file = storage
        .create("s3://sizes/staging/shard-0/.run.partial")
        .expect("create");
    std::io::Write::write_all(&mut file, &big).expect("write");
    file.finish().expect("finish");
    storage
        .rename(
            "s3://sizes/staging/shard-0/.run.partial",
            "s3://sizes/staging/shard-0/run",
        )
        .expect("rename");
    assert!(read("s3://sizes/staging/shard-0/run") == big);
    assert_eq!(
        storage
            .file_size("s3://sizes/staging/shard-0/.run.partial")
            .expect("size"),
        None
    );
    let abandoned = storage
        .create("s3://sizes/staging/shard-0/.abandoned")
        .expect("create");
    drop(abandoned);
    assert_eq!(
        storage
            .file_size("s3://sizes/staging/shard-0/.abandoned")
            .expect("size"),
        None,
        "an unfinished upload never appears"
    );
    storage
        .delete("s3://sizes/staging/shard-0/run")
        .expect("delete");
    storage
        .delete("s3://sizes/staging/shard-0/run")
        .expect("delete again: no error");
}
