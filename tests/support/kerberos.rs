//! A throwaway MIT Kerberos realm on 127.0.0.1 for the secured-cluster tests: Debian's `krb5kdc`
//! with its database, `krb5.conf` and keytabs in a folder of its own (nothing under /etc is
//! read or written: `KRB5_CONFIG` and `KRB5_KDC_PROFILE` point into the folder).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::process::run_with_timeout;
use crate::support::servers::free_port;

pub const REALM: &str = "C2K.TEST";

/// A running KDC. Dropping it stops the KDC and removes the realm.
pub struct Kdc {
    dir: tempfile::TempDir,
    child: Child,
}

impl Kdc {
    /// Starts a KDC, or `None` (saying why) when Debian's krb5-kdc is not installed.
    pub fn start() -> Option<Kdc> {
        for tool in [
            "/usr/sbin/krb5kdc",
            "/usr/sbin/kdb5_util",
            "/usr/sbin/kadmin.local",
        ] {
            if !Path::new(tool).exists() {
                super::missing(&format!(
                    "{tool} is missing: install krb5-kdc, krb5-admin-server and krb5-user \
                     (scripts/setup.sh does)"
                ));
                return None;
            }
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let d = dir.path();
        std::fs::write(
            d.join("krb5.conf"),
            format!(
                "[libdefaults]\n  default_realm = {REALM}\n  dns_lookup_realm = false\n  \
                 dns_lookup_kdc = false\n  rdns = false\n  udp_preference_limit = 1\n  \
                 ticket_lifetime = 1h\n\n[realms]\n  {REALM} = {{\n    kdc = 127.0.0.1:{port}\n  \
                 }}\n\n[domain_realm]\n  localhost = {REALM}\n  127.0.0.1 = {REALM}\n"
            ),
        )
        .expect("krb5.conf");
        std::fs::write(
            d.join("kdc.conf"),
            format!(
                "[kdcdefaults]\n  kdc_ports = {port}\n  kdc_tcp_ports = {port}\n\n[realms]\n  \
                 {REALM} = {{\n    database_name = {db}\n    key_stash_file = {stash}\n    \
                 acl_file = {acl}\n    max_life = 1h\n    supported_enctypes = \
                 aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n  }}\n",
                db = d.join("principal").display(),
                stash = d.join("stash").display(),
                acl = d.join("kadm5.acl").display(),
            ),
        )
        .expect("kdc.conf");
        std::fs::write(d.join("kadm5.acl"), "").expect("acl");
        let created = run_with_timeout(
            env(&mut Command::new("/usr/sbin/kdb5_util"), d).args([
                "-r",
                REALM,
                "create",
                "-s",
                "-P",
                "master-password",
            ]),
            Duration::from_secs(60),
        );
        assert!(
            created.status.success(),
            "kdb5_util create: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let log = std::fs::File::create(d.join("kdc.log")).expect("kdc.log");
        let child = env(&mut Command::new("/usr/sbin/krb5kdc"), d)
            .args(["-n", "-r", REALM])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start krb5kdc");
        let kdc = Kdc { dir, child };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the KDC did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(kdc)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn krb5_conf(&self) -> PathBuf {
        self.dir().join("krb5.conf")
    }

    /// Adds `principal` (without the realm) with a random key and writes its keytab.
    pub fn keytab_for(&self, principal: &str) -> PathBuf {
        let keytab = self
            .dir()
            .join(format!("{}.keytab", principal.replace('/', "_")));
        for query in [
            format!("addprinc -randkey {principal}@{REALM}"),
            format!("ktadd -k {} {principal}@{REALM}", keytab.display()),
        ] {
            let output = run_with_timeout(
                env(&mut Command::new("/usr/sbin/kadmin.local"), self.dir())
                    .args(["-r", REALM, "-q", &query]),
                Duration::from_secs(60),
            );
            assert!(
                output.status.success(),
                "kadmin.local {query}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        keytab
    }
}

fn env<'c>(command: &'c mut Command, dir: &Path) -> &'c mut Command {
    command
        .env("KRB5_CONFIG", dir.join("krb5.conf"))
        .env("KRB5_KDC_PROFILE", dir.join("kdc.conf"))
}

impl Drop for Kdc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
