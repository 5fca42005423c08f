//! The HDFS storage backend against a real Hadoop NameNode + DataNode (see `support/hdfs.rs`):
//! listing, sizes, streaming across blocks, `read_all`, the write half the staging area uses
//! (create, finish, atomic rename over a file, delete; the same on local disk), and every error path a user meets —
//! a missing path, a forbidden one, a refused port, an unknown host, a namenode that never
//! answers, a DataNode that dies mid-read — each failing fast with a message naming the URL.
//!
//! Opt-in: `C2K_TEST_HDFS=hdfs://host:port/dir cargo test -p camus2kafka --test integration --
//! --ignored hdfs_storage::` runs the same storage scenario against that cluster (uploading with
//! the Hadoop client from the cached jars; `HADOOP_CONF_DIR`, if set, is on its classpath).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use camus2kafka::testing::LocalStorage;
use camus2kafka::testing::Storage;
use camus2kafka::testing::{HdfsOptions, HdfsStorage};
use rand::{RngCore, SeedableRng};

use crate::support::hdfs;
use crate::support::hdfs::{HdfsTarget, BLOCK_SIZE};

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

fn options(connect_timeout: Duration) -> HdfsOptions {
    HdfsOptions {
        connect_timeout,
        ..HdfsOptions::default()
    }
}

/// A small Camus-like tree: two hourly directories, a file of several blocks, an empty file and
/// the hidden/underscore files Hadoop jobs leave behind (listed: filtering is the source's job).
fn write_local_tree(root: &Path) -> Vec<u8> {
    let big = random_bytes(3 * BLOCK_SIZE + 12_345, 1);
    let hour0 = root.join("hourly/2024/01/01/00");
    let hour1 = root.join("hourly/2024/01/01/01");
    std::fs::create_dir_all(&hour0).unwrap();
    std::fs::create_dir_all(&hour1).unwrap();
    std::fs::write(
        hour0.join("PAGE_VIEWS.1.0.10.100.avro"),
        random_bytes(1000, 2),
    )
    .unwrap();
    std::fs::write(hour1.join("PAGE_VIEWS.1.0.20.200.avro"), &big).unwrap();
    std::fs::write(hour1.join("empty.avro"), b"").unwrap();
    std::fs::write(root.join(".hidden"), b"0123456789").unwrap();
    std::fs::write(root.join("_SUCCESS"), b"").unwrap();
    big
}

/// (path relative to `dir`, size) of every listed file.
fn relative_listing(storage: &dyn Storage, dir: &str) -> Vec<(String, u64)> {
    storage
        .list_files(dir)
        .unwrap_or_else(|e| panic!("list {dir}: {e:#}"))
        .into_iter()
        .map(|entry| {
            let relative = entry
                .url
                .strip_prefix(&format!("{}/", dir.trim_end_matches('/')))
                .unwrap_or_else(|| panic!("{} is not below {dir}", entry.url))
                .to_string();
            (relative, entry.size)
        })
        .collect()
}

/// Reads `reader` to the end with an odd buffer size, so reads straddle chunk and block ends.
fn read_in_odd_pieces(mut reader: impl Read) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer = vec![0u8; 7777];
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            return Ok(out);
        }
        assert!(n <= buffer.len());
        out.extend_from_slice(&buffer[..n]);
    }
}

fn assert_error(result: anyhow::Result<impl Sized>, url: &str, words: &str) {
    let Err(error) = result else {
        panic!("expected an error for {url}")
    };
    let text = format!("{error:#}");
    eprintln!("expected error: {text}");
    assert!(text.contains(url), "the error should name {url}: {text}");
    assert!(
        text.contains(words),
        "the error should say `{words}`: {text}"
    );
}

/// Everything a Camus tree needs from storage, against `target` (a local cluster or an external one).
fn storage_scenario(target: &HdfsTarget) {
    let local = tempfile::tempdir().unwrap();
    let tree = local.path().join("PAGE_VIEWS");
    let big = write_local_tree(&tree);
    let url = target.upload_tree(&tree, "destination/PAGE_VIEWS");
    let storage = HdfsStorage::connect(&url).expect("connect");

    // Listing: same relative paths and sizes as the local backend sees in the original tree.
    let expected = relative_listing(&LocalStorage, &tree.to_string_lossy());
    assert_eq!(expected.len(), 5);
    assert_eq!(relative_listing(&storage, &url), expected);
    assert_eq!(
        relative_listing(&storage, &format!("{url}/")),
        expected,
        "trailing slash"
    );
    assert!(expected.iter().any(|(path, _)| path == ".hidden"));

    // Directories directly inside.
    assert_eq!(storage.list_dirs(&url).unwrap(), ["hourly"]);
    assert_eq!(
        storage
            .list_dirs(&format!("{url}/hourly/2024/01/01"))
            .unwrap(),
        ["00", "01"]
    );
    assert!(storage
        .list_dirs(&format!("{url}/hourly/2024/01/01/00"))
        .unwrap()
        .is_empty());

    // A file of several blocks streams byte-exactly, from several threads at once.
    let big_url = format!("{url}/hourly/2024/01/01/01/PAGE_VIEWS.1.0.20.200.avro");
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| read_in_odd_pieces(storage.open(&big_url).unwrap()).unwrap()))
            .collect();
        for reader in readers {
            let bytes = reader.join().unwrap();
            assert_eq!(bytes.len(), big.len());
            assert!(
                bytes == big,
                "the bytes read differ from the bytes uploaded"
            );
        }
    });

    // Small files whole; an empty file is empty.
    assert_eq!(
        storage.read_all(&format!("{url}/.hidden")).unwrap(),
        b"0123456789"
    );
    assert!(storage
        .read_all(&format!("{url}/hourly/2024/01/01/01/empty.avro"))
        .unwrap()
        .is_empty());

    // Missing paths and wrong kinds of path.
    let missing = format!("{url}/no/such/dir");
    assert_error(
        storage.list_files(&missing),
        &missing,
        "no such file or directory",
    );
    assert_error(
        storage.list_dirs(&missing),
        &missing,
        "no such file or directory",
    );
    assert_error(
        storage.open(&missing),
        &missing,
        "no such file or directory",
    );
    assert_error(storage.open(&url), &url, "is a directory");
    assert_error(storage.list_files(&big_url), &big_url, "not a directory");
}

/// The write half the staging area uses, against `storage` below `base`: the same outcome on
/// every backend (local disk and HDFS both run it).
fn write_scenario(storage: &dyn Storage, base: &str) {
    let dir = format!("{base}/staging/shard-0");
    storage.create_dir_all(&dir).expect("mkdirs");
    storage
        .create_dir_all(&dir)
        .expect("mkdirs of an existing folder");
    let partial = format!("{dir}/run-0.c2k.partial-1-2");
    let done = format!("{dir}/run-0.c2k");
    assert_eq!(storage.file_size(&partial).unwrap(), None);

    // A file of several blocks, written in odd pieces, reads back byte-exactly once finished.
    let data = random_bytes(3 * BLOCK_SIZE + 7, 9);
    let mut file = storage.create(&partial).expect("create");
    for piece in data.chunks(70_001) {
        file.write_all(piece).expect("write");
    }
    file.finish().expect("finish");
    assert_eq!(
        storage.file_size(&partial).unwrap(),
        Some(data.len() as u64)
    );
    assert!(storage.read_all(&partial).unwrap() == data);
    assert_error(storage.create(&partial), &partial, "cannot create");

    // Renamed into place; a second rename replaces the target in one step.
    storage.rename(&partial, &done).expect("rename");
    assert_eq!(storage.file_size(&partial).unwrap(), None);
    assert!(storage.read_all(&done).unwrap() == data);
    let newer = format!("{dir}/run-0.c2k.partial-3-4");
    let mut file = storage.create(&newer).unwrap();
    file.write_all(b"newer").unwrap();
    file.finish().unwrap();
    storage
        .rename(&newer, &done)
        .expect("rename over an existing file");
    assert_eq!(storage.read_all(&done).unwrap(), b"newer");

    // A file abandoned unfinished (as a killed writer leaves it) is listed and removable.
    let abandoned = format!("{dir}/run-1.c2k.partial-5-6");
    let mut file = storage.create(&abandoned).unwrap();
    file.write_all(&data[..1000]).unwrap();
    drop(file);
    let names: Vec<String> = storage
        .list_files(&dir)
        .unwrap()
        .into_iter()
        .map(|f| f.url)
        .collect();
    assert_eq!(names, [done.clone(), abandoned.clone()]);
    storage
        .delete(&abandoned)
        .expect("delete an unfinished file");
    storage.delete(&done).expect("delete");
    storage
        .delete(&done)
        .expect("delete a missing file is no error");
    assert!(storage.list_files(&dir).unwrap().is_empty());

    // A file in a folder that does not exist is refused, naming it.
    let orphan = format!("{base}/no/such/dir/run-0.c2k");
    assert_error(storage.create(&orphan), &orphan, "cannot create");
}

#[test]
fn writes_renames_and_deletes_alike_on_local_disk_and_hdfs() {
    let local = tempfile::tempdir().unwrap();
    write_scenario(&LocalStorage, local.path().to_str().unwrap());
    let target = HdfsTarget::local();
    let base = target.mkdir("writes");
    let storage = HdfsStorage::connect(&base).expect("connect");
    write_scenario(&storage, &base);
}

#[test]
fn lists_streams_and_reads_a_tree_uploaded_by_hadoop() {
    let target = HdfsTarget::local();
    storage_scenario(&target);

    // Permission denied: a directory only its owner (the superuser) may enter.
    let private = target.mkdir("private");
    let secret = target.upload(Path::new("/etc/hostname"), "private/secret");
    target.fs_shell(&["-chmod", "700", &private]);
    let outsider = HdfsOptions {
        user: Some("c2k-outsider".to_string()),
        ..HdfsOptions::default()
    };
    let storage = HdfsStorage::connect_with(&private, outsider).unwrap();
    assert_error(storage.list_files(&private), &private, "permission denied");
    assert_error(storage.open(&secret), &secret, "permission denied");
    let owner = HdfsStorage::connect(&private).unwrap();
    assert_eq!(owner.list_files(&private).unwrap().len(), 1);
}

#[test]
#[ignore = "opt-in: needs C2K_TEST_HDFS=hdfs://host:port/dir naming a cluster to write to"]
fn lists_streams_and_reads_on_the_cluster_named_by_c2k_test_hdfs() {
    let target = HdfsTarget::external().unwrap_or_else(|| {
        panic!(
            "set {}=hdfs://host:port/dir to run this test",
            hdfs::EXTERNAL_ENV
        )
    });
    storage_scenario(&target);
}

#[test]
fn a_datanode_killed_mid_read_fails_the_read_quickly_naming_the_file() {
    let target = HdfsTarget::local();
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("big.avro");
    std::fs::write(&file, random_bytes(8 * BLOCK_SIZE, 3)).unwrap();
    let url = target.upload(&file, "big.avro");
    let options = HdfsOptions {
        read_timeout: Duration::from_secs(15),
        ..HdfsOptions::default()
    };
    let storage = HdfsStorage::connect_with(&url, options).unwrap();

    let mut reader = storage.open(&url).unwrap();
    let mut start = vec![0u8; 256 << 10];
    reader.read_exact(&mut start).unwrap();
    target.cluster.as_ref().unwrap().kill_datanode();

    let started = Instant::now();
    let error = read_in_odd_pieces(reader).expect_err("reading on after the DataNode died");
    let text = error.to_string();
    eprintln!("expected error after {:?}: {text}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("read failed at byte"), "{text}");
}

#[test]
fn a_refused_port_fails_fast_naming_the_url() {
    let url = format!("hdfs://127.0.0.1:{}/camus/destination", hdfs::free_port());
    let started = Instant::now();
    assert_error(
        HdfsStorage::connect_with(&url, options(Duration::from_secs(5))),
        &url,
        "refused",
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn an_unknown_host_fails_fast_naming_the_url() {
    for url in [
        "hdfs://c2k-no-such-namenode.invalid:8020/camus",
        "hdfs://c2k-no-such-nameservice.invalid/camus",
    ] {
        let started = Instant::now();
        assert_error(
            HdfsStorage::connect_with(url, options(Duration::from_secs(5))),
            url,
            "unknown namenode host",
        );
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_namenode_that_never_answers_times_out_naming_the_url() {
    // Accepts connections (the port is open) but never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("hdfs://{}/camus", silent.local_addr().unwrap());
    let started = Instant::now();
    assert_error(
        HdfsStorage::connect_with(&url, options(Duration::from_millis(1500))),
        &url,
        "did not answer within 1.5s",
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
