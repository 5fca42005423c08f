//! Certificates for the TLS tests, made with the `openssl` command in the test's own folder: a CA,
//! a broker certificate it signs for 127.0.0.1 and localhost, and a second CA that signed nothing
//! (the "untrusted" one). The broker's keystore comes as PEM (Kafka ≥ 2.7: a PKCS#8 key and the
//! certificate in one file) and as PKCS#12 (older brokers).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::run_with_timeout;

/// The PKCS#12 keystore's password.
pub const KEYSTORE_PASSWORD: &str = "c2k-keystore-pw";

/// The files one test's TLS needs.
pub struct Certificates {
    /// The CA that signed the broker's certificate (clients' `ssl.ca.location`).
    pub ca: PathBuf,
    /// A CA that signed nothing here: a client trusting only it cannot verify the broker.
    pub other_ca: PathBuf,
    /// The broker's PKCS#8 key and certificate, one PEM file (`ssl.keystore.type=PEM`).
    pub broker_pem: PathBuf,
    /// The same as PKCS#12 (`ssl.keystore.type=PKCS12`), password [`KEYSTORE_PASSWORD`].
    pub broker_p12: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = run_with_timeout(
        Command::new("openssl").args(args).current_dir(dir),
        Duration::from_secs(60),
    );
    assert!(
        output.status.success(),
        "openssl {args:?} failed (Debian: apt-get install openssl):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Certificates {
    /// Makes them in `dir`. The broker's certificate names `hosts` (as `subjectAltName`
    /// entries: `IP:127.0.0.1`, `DNS:localhost`).
    pub fn make(dir: &Path, hosts: &[&str]) -> Certificates {
        std::fs::create_dir_all(dir).expect("certificate folder");
        for (key, cert, name) in [
            ("ca.key", "ca.crt", "c2k test CA"),
            ("other-ca.key", "other-ca.crt", "a CA nobody here uses"),
        ] {
            let subject = format!("/CN={name}");
            openssl(
                dir,
                &[
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", key,
                    "-out", cert, "-subj", &subject,
                ],
            );
        }
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "broker.key",
                "-out",
                "broker.csr",
                "-subj",
                "/CN=c2k test broker",
            ],
        );
        let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        std::fs::write(
            dir.join("broker.ext"),
            format!("subjectAltName={}\n", names.join(",")),
        )
        .expect("write broker.ext");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "broker.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                "broker.crt",
                "-extfile",
                "broker.ext",
            ],
        );
        let key = std::fs::read_to_string(dir.join("broker.key")).expect("broker.key");
        assert!(
            key.starts_with("-----BEGIN PRIVATE KEY-----"),
            "a PKCS#8 key, as Kafka's PEM keystore wants"
        );
        let cert = std::fs::read_to_string(dir.join("broker.crt")).expect("broker.crt");
        std::fs::write(dir.join("broker.pem"), format!("{key}{cert}")).expect("broker.pem");
        openssl(
            dir,
            &[
                "pkcs12",
                "-export",
                "-in",
                "broker.crt",
                "-inkey",
                "broker.key",
                "-name",
                "broker",
                "-out",
                "broker.p12",
                "-passout",
                &format!("pass:{KEYSTORE_PASSWORD}"),
            ],
        );
        Certificates {
            ca: dir.join("ca.crt"),
            other_ca: dir.join("other-ca.crt"),
            broker_pem: dir.join("broker.pem"),
            broker_p12: dir.join("broker.p12"),
        }
    }

    /// Broker properties serving TLS with the PEM keystore (Kafka ≥ 2.7).
    pub fn pem_keystore_properties(&self) -> String {
        format!(
            "ssl.keystore.type=PEM\nssl.keystore.location={}\n",
            self.broker_pem.display()
        )
    }

    /// Broker properties serving TLS with the PKCS#12 keystore (any Kafka with TLS).
    pub fn p12_keystore_properties(&self) -> String {
        format!(
            "ssl.keystore.type=PKCS12\nssl.keystore.location={}\nssl.keystore.password={KEYSTORE_PASSWORD}\nssl.key.password={KEYSTORE_PASSWORD}\n",
            self.broker_p12.display()
        )
    }
}
