//! Reading a Camus tree from a Kerberized HDFS: a local MIT KDC, a Hadoop 2.7.3 NameNode and
//! DataNode with `hadoop.security.authentication=kerberos` and block access tokens
//! (`tests/env/hdfs-start-kerberos.sh`), the tree uploaded by Hadoop's own client. `c2k` verifies
//! and replays it with a ticket cache and with a keytab; no ticket, a principal not in the keytab
//! and an expired ticket each fail saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::c2k::{C2k, Run};
use crate::support::hdfs::{hadoop_jars, HdfsCluster};
use crate::support::kerberos::{Kdc, REALM};
use crate::support::process::run_with_timeout;

const LIMIT: Duration = Duration::from_secs(120);

/// `kinit` with `keytab` into the cache file `cache`, for `lifetime` (e.g. `1h`).
fn kinit(kdc: &Kdc, keytab: &Path, principal: &str, cache: &Path, lifetime: &str) {
    let output = run_with_timeout(
        Command::new("kinit")
            .env("KRB5_CONFIG", kdc.krb5_conf())
            .args(["-l", lifetime, "-k", "-t"])
            .arg(keytab)
            .arg("-c")
            .arg(format!("FILE:{}", cache.display()))
            .arg(format!("{principal}@{REALM}")),
        LIMIT,
    );
    assert!(
        output.status.success(),
        "kinit {principal}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Uploads `local` to `hdfs_path` with Hadoop's FsShell, logged in as the superuser.
fn upload(kdc: &Kdc, cluster: &HdfsCluster, local: &Path, hdfs_path: &str) {
    let cache = kdc.dir().join("cc-hdfs");
    kinit(
        kdc,
        &kdc.dir().join("hdfs_localhost.keytab"),
        "hdfs/localhost",
        &cache,
        "1h",
    );
    let jopts = std::fs::read_to_string(cluster.workdir.join("jopts")).unwrap();
    let output = run_with_timeout(
        Command::new("java")
            .args(jopts.split_whitespace())
            .arg("-cp")
            .arg(format!(
                "{}:{}/*",
                cluster.workdir.join("conf").display(),
                hadoop_jars().display()
            ))
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
            .args(["org.apache.hadoop.fs.FsShell", "-put"])
            .arg(local)
            .arg(format!("{}{hdfs_path}", cluster.authority_url())),
        LIMIT,
    );
    assert!(
        output.status.success(),
        "FsShell -put: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `c2k ARGS` as a Kerberos client of the cluster: its Hadoop configuration, the realm's
/// krb5.conf, and `env`.
fn c2k(kdc: &Kdc, cluster: &HdfsCluster, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut command = C2k::new(args)
        .env("KRB5_CONFIG", kdc.krb5_conf())
        .env("HADOOP_CONF_DIR", cluster.workdir.join("conf"))
        .env(
            "KRB5CCNAME",
            format!("FILE:{}", kdc.dir().join("no-cache").display()),
        )
        .env("C2K_HDFS_CONNECT_TIMEOUT", "20")
        .timeout(LIMIT);
    for (name, value) in env {
        command = command.env(name, value);
    }
    command.run()
}

#[test]
fn a_kerberized_hdfs_is_read_with_a_ticket_cache_or_a_keytab_and_refused_without() {
    let Some(kdc) = Kdc::start() else {
        return;
    };
    let cluster = HdfsCluster::start_kerberos(&kdc);
    let client_keytab = kdc.keytab_for("c2k");

    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    let made = C2k::new(&["sample", "--records", "3000", sample.to_str().unwrap()]).run();
    assert!(made.status.success());
    upload(&kdc, &cluster, &sample, "/camus");

    let out: PathBuf = dir.path().join("out.jsonl");
    let pipeline = dir.path().join("pipeline.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "topic: PAGE_VIEWS\nsource:\n  dest_dir: {url}/camus/destination\nkey:\n  config: \
             {{field: header.time}}\nformat:\n  plugin: json\nsink:\n  type: file\n  path: {}\noffsets:\n  exec_dir: \
             {url}/camus/execution\n",
            out.display(),
            url = cluster.authority_url()
        ),
    )
    .unwrap();
    let pipeline = pipeline.to_str().unwrap();

    // A ticket cache, as `kinit` leaves it.
    let cache = dir.path().join("cc-c2k");
    kinit(&kdc, &client_keytab, "c2k", &cache, "1h");
    let with_cache = [("KRB5CCNAME", format!("FILE:{}", cache.display()))];
    let verified = c2k(&kdc, &cluster, &["verify", pipeline], &with_cache);
    assert!(
        verified.status.success(),
        "{}",
        verified.stdout_and_stderr()
    );
    assert!(
        verified.stdout_and_stderr().contains("consistent"),
        "{}",
        verified.stdout_and_stderr()
    );

    // A keytab and principal, no ticket cache at all.
    let with_keytab = [
        (
            "C2K_HDFS_KERBEROS_KEYTAB",
            client_keytab.display().to_string(),
        ),
        ("C2K_HDFS_KERBEROS_PRINCIPAL", format!("c2k@{REALM}")),
    ];
    let replayed = c2k(&kdc, &cluster, &["run", pipeline], &with_keytab);
    assert!(
        replayed.status.success(),
        "{}",
        replayed.stdout_and_stderr()
    );
    let lines = std::fs::read_to_string(&out).unwrap().lines().count();
    assert_eq!(lines, 3000);

    // No ticket: the Kerberos failure is named, with what to do.
    let none = c2k(&kdc, &cluster, &["verify", pipeline], &[]);
    assert!(!none.status.success());
    assert!(
        none.stdout_and_stderr().contains("No Kerberos credentials")
            && none.stdout_and_stderr().contains("klist"),
        "{}",
        none.stdout_and_stderr()
    );

    // A principal the keytab does not hold.
    let wrong = c2k(
        &kdc,
        &cluster,
        &["verify", pipeline],
        &[
            (
                "C2K_HDFS_KERBEROS_KEYTAB",
                client_keytab.display().to_string(),
            ),
            ("C2K_HDFS_KERBEROS_PRINCIPAL", format!("nobody@{REALM}")),
        ],
    );
    assert!(!wrong.status.success());
    assert!(
        wrong.stdout_and_stderr().contains("authentication failed"),
        "{}",
        wrong.stdout_and_stderr()
    );

    // An expired ticket.
    let short = dir.path().join("cc-short");
    kinit(&kdc, &client_keytab, "c2k", &short, "2s");
    std::thread::sleep(Duration::from_secs(4));
    let expired = c2k(
        &kdc,
        &cluster,
        &["verify", pipeline],
        &[("KRB5CCNAME", format!("FILE:{}", short.display()))],
    );
    assert!(!expired.status.success());
    assert!(
        expired
            .stdout_and_stderr()
            .to_lowercase()
            .contains("expired"),
        "{}",
        expired.stdout_and_stderr()
    );
}
