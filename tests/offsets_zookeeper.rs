//! `c2k offsets commit` with `offsets.commit: zookeeper` against a real ZooKeeper started by the
//! test: paths and values read back with a separate client, an existing group left untouched
//! (exit code 3), chroot, the node-partition layout, `/consumers` ACLs, and a fast failure when
//! no server answers.

use camus2kafka::testing::write_sample_history;
use std::path::Path;
use std::time::{Duration, Instant};

use camus2kafka::testing::SampleCutoff;
use zookeeper_client::{Acl, Acls, AuthId, Client, CreateMode, Permission};

use crate::support::c2k::{C2k, Run};
use crate::support::{offsets, servers};

const LIMIT: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A quick history (our own writer) whose newest run resumes partitions 0..3 at 100, 201, 302.
fn quick_history(exec: &Path) {
    let cutoffs: Vec<SampleCutoff> = (0..3)
        .map(|p| SampleCutoff {
            partition: p,
            leader: 7,
            first_offset: 0,
            last_offset: 99 + 101 * p as u64,
            time_ms: 1_705_312_800_000,
            file_ends: Vec::new(),
        })
        .collect();
    write_sample_history(exec, "PAGE_VIEWS", &cutoffs).unwrap();
}

fn commit(pipeline: &Path, sets: &[&str]) -> Run {
    let mut args = vec!["offsets", "commit", pipeline.to_str().unwrap()];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    C2k::new(&args).timeout(LIMIT).run()
}

#[test]
fn commits_hadoop_written_offsets_and_leaves_an_existing_group_untouched() {
    let zk = servers::ZooKeeper::start();
    let dir = tempfile::tempdir().unwrap();
    let exec = dir.path().join("execution");
    offsets::hadoop_history(&exec);
    let pipeline =
        offsets::zookeeper_pipeline(dir.path(), &exec, &zk.connect_string(), "replayers");

    let dry = C2k::new(&["offsets", "commit", pipeline.to_str().unwrap(), "--dry-run"])
        .timeout(LIMIT)
        .run();
    dry.assert_ok();
    let first = commit(&pipeline, &[]);
    first.assert_ok();
    let expected: Vec<(String, String)> = offsets::EXPECTED
        .iter()
        .map(|(p, o, _)| (p.to_string(), o.to_string()))
        .collect();
    let path = "/consumers/replayers/offsets/PAGE_VIEWS";
    assert_eq!(
        offsets::read_zookeeper_tree(&zk.connect_string(), path),
        expected
    );
    assert!(first.stdout.contains(&format!("{path}/3 = 4000000000")));

    // A newer Camus run appears; the group already has offsets: nothing is written.
    offsets::write_with_hadoop(&[offsets::HadoopFile {
        path: exec.join("base/history/2024-01-15-11-00-00/offsets-m-00000"),
        compression: "block",
        codec: offsets::DEFAULT_CODEC,
        layout: "map",
        keys: vec![
            offsets::key("PAGE_VIEWS", "1", 0, 0, 555),
            offsets::key("PAGE_VIEWS", "1", 9, 0, 9),
        ],
    }]);
    offsets::archive_for_history(dir.path(), &exec);
    let second = commit(&pipeline, &[]);
    assert_eq!(second.status.code(), Some(3), "stderr: {}", second.stderr);
    let stderr = second.stderr.clone();
    assert!(
        stderr.contains(path) && stderr.contains("untouched"),
        "{stderr}"
    );
    assert_eq!(
        offsets::read_zookeeper_tree(&zk.connect_string(), path),
        expected
    );
}

#[test]
fn dry_run_prints_the_writes_and_writes_nothing() {
    let zk = servers::ZooKeeper::start();
    let dir = tempfile::tempdir().unwrap();
    let exec = dir.path().join("execution");
    quick_history(&exec);
    let pipeline = offsets::zookeeper_pipeline(dir.path(), &exec, &zk.connect_string(), "g");
    let out = C2k::new(&["offsets", "commit", pipeline.to_str().unwrap(), "--dry-run"])
        .timeout(LIMIT)
        .run();
    out.assert_ok();
    let stdout = out.stdout.clone();
    assert!(
        stdout.contains("/consumers/g/offsets/PAGE_VIEWS/2 = 302"),
        "{stdout}"
    );
    let exists = runtime().block_on(async {
        let client = Client::connect(&zk.connect_string()).await.unwrap();
        client.check_stat("/consumers").await.unwrap()
    });
    assert!(exists.is_none(), "a dry run created /consumers");
}

#[test]
fn chroot_is_created_and_node_partition_layout_names_children_by_leader() {
    let zk = servers::ZooKeeper::start();
    let dir = tempfile::tempdir().unwrap();
    let exec = dir.path().join("execution");
    quick_history(&exec);
    let pipeline = offsets::zookeeper_pipeline(
        dir.path(),
        &exec,
        &format!("{}/kafka/prod", zk.connect_string()),
        "g",
    );
    let out = commit(&pipeline, &["offsets.layout=node-partition"]);
    out.assert_ok();
    assert_eq!(
        offsets::read_zookeeper_tree(
            &zk.connect_string(),
            "/kafka/prod/consumers/g/offsets/PAGE_VIEWS"
        ),
        vec![
            ("7-0".to_string(), "100".to_string()),
            ("7-1".to_string(), "201".to_string()),
            ("7-2".to_string(), "302".to_string())
        ]
    );
    // The same tree seen through the chroot by another client.
    assert_eq!(
        offsets::read_zookeeper_tree(
            &format!("{}/kafka/prod", zk.connect_string()),
            "/consumers/g/offsets/PAGE_VIEWS"
        )
        .len(),
        3
    );
}

#[test]
fn new_nodes_get_the_acl_of_consumers() {
    let zk = servers::ZooKeeper::start();
    let acl = vec![Acl::new(
        Permission::READ | Permission::WRITE | Permission::CREATE | Permission::DELETE,
        AuthId::anyone(),
    )];
    runtime().block_on(async {
        let client = Client::connect(&zk.connect_string()).await.unwrap();
        client
            .create(
                "/consumers",
                b"",
                &CreateMode::Persistent.with_acls(Acls::new(&acl)),
            )
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let exec = dir.path().join("execution");
    quick_history(&exec);
    let pipeline = offsets::zookeeper_pipeline(dir.path(), &exec, &zk.connect_string(), "g");
    let out = commit(&pipeline, &[]);
    out.assert_ok();
    let acls = runtime().block_on(async {
        let client = Client::connect(&zk.connect_string()).await.unwrap();
        let mut all = Vec::new();
        for path in [
            "/consumers/g",
            "/consumers/g/offsets/PAGE_VIEWS",
            "/consumers/g/offsets/PAGE_VIEWS/0",
        ] {
            all.push(client.get_acl(path).await.unwrap().0);
        }
        all
    });
    for got in acls {
        assert_eq!(got, acl);
    }
}

#[test]
fn unreachable_zookeeper_fails_fast_naming_the_connect_string() {
    let dir = tempfile::tempdir().unwrap();
    let exec = dir.path().join("execution");
    quick_history(&exec);
    let connect = format!("127.0.0.1:{}", servers::free_port());
    let pipeline = offsets::pipeline(
        dir.path(),
        &exec,
        &format!("commit: zookeeper\nzookeeper: {connect}\ngroup: g\nsession_timeout: 2s"),
    );
    let start = Instant::now();
    let out = commit(&pipeline, &[]);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = out.stderr.clone();
    assert!(stderr.contains(&connect), "{stderr}");
}
