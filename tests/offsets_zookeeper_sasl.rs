//! `commit: zookeeper` against ZooKeeper servers that require SASL from every client
//! (`enforce.auth`): DIGEST-MD5 with inline keys and with a JAAS file, and Kerberos (GSSAPI)
//! against a throwaway MIT KDC with a keytab. The commit works with the right credentials and is
//! refused without them or with wrong ones, writing nothing; secrets are never printed.

use camus2kafka::testing::write_sample_history;
use std::path::Path;
use std::time::Duration;

use camus2kafka::testing::SampleCutoff;
use zookeeper_client::{Client, SaslOptions};

use crate::support::c2k::{C2k, Run};
use crate::support::kerberos::{Kdc, REALM};
use crate::support::offsets;
use crate::support::servers::ZooKeeper;

const LIMIT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "right-horse-battery";
const OFFSETS: &str = "/consumers/secured/offsets/PAGE_VIEWS";

/// A history whose newest run resumes partitions 0..2 at 10, 11, 12, its archive, and a pipeline
/// committing to `connect` (no live topic here: that check is tests/offsets_live.rs's).
fn setup(dir: &Path, connect: &str) -> String {
    let exec = dir.join("execution");
    let cutoffs: Vec<SampleCutoff> = (0..3)
        .map(|p| SampleCutoff {
            partition: p,
            leader: 1,
            first_offset: 0,
            last_offset: 9 + p as u64,
            time_ms: 1_705_312_800_000,
            file_ends: Vec::new(),
        })
        .collect();
    write_sample_history(&exec, "PAGE_VIEWS", &cutoffs).unwrap();
    offsets::pipeline(
        dir,
        &exec,
        &format!("commit: zookeeper\nzookeeper: {connect}\ngroup: secured\nlive_check: warn\nsession_timeout: 5s"),
    )
    .to_string_lossy()
    .into_owned()
}

fn commit(pipeline: &str, sets: &[String], krb5: Option<&Path>) -> Run {
    let mut args = vec!["offsets", "commit", pipeline];
    for set in sets {
        args.extend(["--set", set]);
    }
    let mut command = C2k::new(&args).timeout(LIMIT);
    if let Some(krb5) = krb5 {
        command = command
            .env("KRB5_CONFIG", krb5)
            .env("KRB5CCNAME", "FILE:/nonexistent/c2k-test");
    }
    command.run()
}

/// The committed offsets, read by a client that authenticates with DIGEST-MD5.
fn committed_digest(connect: &str) -> Vec<(String, String)> {
    offsets::read_zookeeper_tree_as(
        Client::connector().with_sasl(SaslOptions::digest_md5("c2k", PASSWORD)),
        connect,
        OFFSETS,
    )
}

#[test]
fn digest_md5_commits_with_the_right_password_and_writes_nothing_otherwise() {
    let zk = ZooKeeper::start_sasl(
        &format!(
            "Server {{\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  \
             user_c2k=\"{PASSWORD}\";\n}};\n"
        ),
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let pipeline = setup(dir.path(), &zk.connect_string());

    // No SASL: the server closes the session; nothing is written.
    let refused = commit(&pipeline, &[], None);
    assert!(!refused.status.success(), "{}", refused.stdout_and_stderr());
    assert!(
        refused.stdout_and_stderr().contains("ZooKeeper"),
        "{}",
        refused.stdout_and_stderr()
    );

    // A wrong password: said as such, never printed.
    let wrong = commit(
        &pipeline,
        &[
            "offsets.zookeeper_sasl=digest-md5".into(),
            "offsets.zookeeper_username=c2k".into(),
            "offsets.zookeeper_password=not-the-password".into(),
        ],
        None,
    );
    assert!(!wrong.status.success());
    let said = wrong.stdout_and_stderr();
    assert!(
        said.contains("refused the authentication") && said.contains("DIGEST-MD5 as c2k"),
        "{said}"
    );
    assert!(!said.contains("not-the-password"), "{said}");
    assert!(committed_digest(&zk.connect_string()).is_empty());

    // The right one, inline.
    let done = commit(
        &pipeline,
        &[
            "offsets.zookeeper_sasl=digest-md5".into(),
            "offsets.zookeeper_username=c2k".into(),
            format!("offsets.zookeeper_password={PASSWORD}"),
        ],
        None,
    );
    assert!(done.status.success(), "{}", done.stdout_and_stderr());
    assert!(!done.stdout_and_stderr().contains(PASSWORD));
    let want: Vec<(String, String)> = (0..3)
        .map(|p| (p.to_string(), (10 + p).to_string()))
        .collect();
    assert_eq!(committed_digest(&zk.connect_string()), want);

    // The same credentials from a JAAS file: the offsets are found identical, nothing written.
    let jaas = dir.path().join("client.jaas");
    std::fs::write(
        &jaas,
        format!(
            "Client {{\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  \
             username=\"c2k\"\n  password=\"{PASSWORD}\";\n}};\n"
        ),
    )
    .unwrap();
    let again = commit(
        &pipeline,
        &[format!("offsets.zookeeper_jaas={}", jaas.display())],
        None,
    );
    assert!(again.status.success(), "{}", again.stdout_and_stderr());
    assert!(
        again
            .stdout_and_stderr()
            .contains("already committed, identical"),
        "{}",
        again.stdout_and_stderr()
    );
}

#[test]
fn kerberos_commits_with_a_keytab_and_refuses_a_principal_not_in_it() {
    let Some(kdc) = Kdc::start() else {
        return;
    };
    let server_keytab = kdc.keytab_for("zookeeper/localhost");
    let client_keytab = kdc.keytab_for("c2k");
    let zk = ZooKeeper::start_sasl(
        &format!(
            "Server {{\n  com.sun.security.auth.module.Krb5LoginModule required\n  \
             useKeyTab=true\n  storeKey=true\n  keyTab=\"{}\"\n  \
             principal=\"zookeeper/localhost@{REALM}\";\n}};\n",
            server_keytab.display()
        ),
        Some(&kdc.krb5_conf()),
    );
    // The service principal is zookeeper/<the host in the connect string>.
    let connect = format!("localhost:{}", zk.port);
    let dir = tempfile::tempdir().unwrap();
    let pipeline = setup(dir.path(), &connect);
    let krb5 = kdc.krb5_conf();

    // No ticket and no keytab: refused, nothing written.
    let none = commit(
        &pipeline,
        &["offsets.zookeeper_sasl=gssapi".into()],
        Some(&krb5),
    );
    assert!(!none.status.success(), "{}", none.stdout_and_stderr());
    assert!(
        none.stdout_and_stderr().contains("GSSAPI"),
        "{}",
        none.stdout_and_stderr()
    );

    // A principal the keytab does not hold: kinit says so.
    let wrong = commit(
        &pipeline,
        &[
            "offsets.zookeeper_sasl=gssapi".into(),
            format!("offsets.zookeeper_keytab={}", client_keytab.display()),
            format!("offsets.zookeeper_principal=somebody-else@{REALM}"),
        ],
        Some(&krb5),
    );
    assert!(!wrong.status.success());
    assert!(
        wrong.stdout_and_stderr().contains("kinit")
            && wrong.stdout_and_stderr().contains("somebody-else"),
        "{}",
        wrong.stdout_and_stderr()
    );

    let sets = [
        "offsets.zookeeper_sasl=gssapi".to_string(),
        format!("offsets.zookeeper_keytab={}", client_keytab.display()),
        format!("offsets.zookeeper_principal=c2k@{REALM}"),
    ];
    let done = commit(&pipeline, &sets, Some(&krb5));
    assert!(done.status.success(), "{}", done.stdout_and_stderr());
    assert!(
        done.stdout_and_stderr().contains("committed 3 offsets"),
        "{}",
        done.stdout_and_stderr()
    );
    // Read back through the same authenticated path: identical, nothing written again.
    let again = commit(&pipeline, &sets, Some(&krb5));
    assert!(
        again
            .stdout_and_stderr()
            .contains("already committed, identical"),
        "{}",
        again.stdout_and_stderr()
    );
}
