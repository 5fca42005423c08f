//! Real servers for the tests, each started on a free loopback port and stopped when its guard is
//! dropped: ZooKeeper (Debian's package) and a Kafka-protocol broker (`tansu`).
//!
//! A missing server binary fails the test with a clear message: CI installs them (`.ci/run`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// Kills the child (and waits for it) when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} was not ready within {timeout:?}");
}

/// A ZooKeeper 3.8 server (Debian's `zookeeper` package) with its own data directory.
pub struct ZooKeeper {
    pub port: u16,
    _dir: tempfile::TempDir,
    /// The folder of a SASL server's JAAS file.
    _jaas: Option<tempfile::TempDir>,
    _child: ChildGuard,
}

impl ZooKeeper {
    pub fn start() -> ZooKeeper {
        ZooKeeper::start_with("", &[])
    }

    /// A server that requires SASL from every client (`enforce.auth`): its JAAS `Server` section
    /// is `jaas`, and `krb5_conf` the Kerberos configuration for a Kerberos one.
    pub fn start_sasl(jaas: &str, krb5_conf: Option<&std::path::Path>) -> ZooKeeper {
        let dir = tempfile::tempdir().expect("temp dir");
        let jaas_path = dir.path().join("server-jaas.conf");
        std::fs::write(&jaas_path, jaas).expect("write the JAAS file");
        let mut jvm = vec![format!(
            "-Djava.security.auth.login.config={}",
            jaas_path.display()
        )];
        if let Some(krb5) = krb5_conf {
            jvm.push(format!("-Djava.security.krb5.conf={}", krb5.display()));
        }
        let mut zk = ZooKeeper::start_with(
            "authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
             enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n",
            &jvm,
        );
        zk._jaas = Some(dir);
        zk
    }

    fn start_with(extra_config: &str, jvm_args: &[String]) -> ZooKeeper {
        let jar = "/usr/share/java/zookeeper.jar";
        assert!(
            std::path::Path::new(jar).exists(),
            "{jar} missing: install Debian's zookeeper package (.ci/run does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("zoo.cfg");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        std::fs::write(
            &config,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n{extra_config}",
                dir.path().join("data").display()
            ),
        )
        .expect("write zoo.cfg");
        let log = std::fs::File::create(dir.path().join("zk.log")).expect("zk.log");
        let child = Command::new("java")
            .args(["-Xmx256m", "-Dzookeeper.admin.enableServer=false"])
            .args(jvm_args)
            .arg("-cp")
            .arg(format!("{jar}:/usr/share/java/slf4j-simple.jar"))
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start ZooKeeper (is java installed?)");
        let guard = ChildGuard(child);
        wait_until("ZooKeeper", Duration::from_secs(30), || {
            four_letter(port, "ruok") == "imok"
        });
        ZooKeeper {
            port,
            _dir: dir,
            _jaas: None,
            _child: guard,
        }
    }

    /// `127.0.0.1:PORT`
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn four_letter(port: u16, word: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(word.as_bytes());
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// A Kafka-protocol broker: `tansu` with in-memory storage.
pub struct Tansu {
    pub port: u16,
    _child: ChildGuard,
}

impl Tansu {
    pub fn start() -> Tansu {
        let binary = tansu_binary();
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {} : {e}", binary.display()));
        let guard = ChildGuard(child);
        wait_until("tansu", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Tansu {
            port,
            _child: guard,
        }
    }

    /// `127.0.0.1:PORT`
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn tansu_binary() -> PathBuf {
    if let Ok(path) = std::env::var("TANSU") {
        return PathBuf::from(path);
    }
    let in_cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"))
        .join("bin/tansu");
    if in_cargo_home.exists() {
        return in_cargo_home;
    }
    panic!("tansu not found: `cargo install tansu --version 0.6.0 --features dynostore` (.ci/run does)")
}
