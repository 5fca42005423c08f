//! A real HDFS for the tests: Hadoop 2.7.3's own NameNode and DataNode (the jars PyPI's
//! `pyspark==2.4.8` source distribution ships), started on a free loopback port by
//! `tests/env/hdfs-start.sh` and stopped when the guard is dropped; files are uploaded with Hadoop's
//! own client (`FsShell -put`), so they are laid out by Hadoop, not by us.
//!
//! Or, opt-in, any cluster named by `C2K_TEST_HDFS=hdfs://host:port/dir` ([`HdfsTarget::external`]):
//! the tests then write below a fresh directory inside `dir` and remove it afterwards.
//!
//! Needs `java` (17 runs Hadoop 2.7 fine) and, the first time, `python3` with `venv` and network
//! access to PyPI to fetch the jars into `${C2K_HADOOP_JARS:-~/.cache/camus2kafka/hadoop-jars}`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::process::{bounded_command, output_bounded};

/// The environment variable naming an external cluster for the opt-in suite.
pub const EXTERNAL_ENV: &str = "C2K_TEST_HDFS";

/// Block size of the test cluster: small, so that a few MiB span several blocks.
pub const BLOCK_SIZE: usize = 1 << 20;

fn env_dir() -> PathBuf {
    super::repo().join("tests/env")
}

/// Runs `program ARGS` under coreutils' `timeout`, so that no helper can hang a test (and a
/// start script's daemons go with it when it runs out).
fn run_bounded(seconds: u32, program: &str, args: &[&str]) -> Output {
    output_bounded(bounded_command(seconds, program).args(args), seconds)
}

/// The directory holding the Hadoop jars, fetched once (then cached across runs).
pub fn hadoop_jars() -> &'static Path {
    static JARS: OnceLock<PathBuf> = OnceLock::new();
    JARS.get_or_init(|| {
        let java = Command::new("java").arg("-version").output();
        assert!(
            java.is_ok_and(|o| o.status.success()),
            "`java` not found: HDFS tests need a JDK or JRE 11+ (apt-get install default-jre-headless)"
        );
        let script = env_dir().join("hdfs-fetch-jars.sh");
        let output = run_bounded(300, "bash", &[&script.to_string_lossy()]);
        assert!(
            output.status.success(),
            "fetching the Hadoop jars failed (needs python3-venv and PyPI):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let dir = String::from_utf8_lossy(&output.stdout).trim().to_string();
        PathBuf::from(dir)
    })
}

/// A port nobody listens on right now (one definition, in `servers`).
pub use super::servers::free_port;

/// A NameNode and a DataNode on 127.0.0.1, stopped (and their files removed) on drop.
pub struct HdfsCluster {
    pub port: u16,
    /// `hdfs-start.sh`'s work directory: `conf/`, `logs/`, `nn.pid`, `dn.pid`.
    pub workdir: PathBuf,
}

impl HdfsCluster {
    /// Starts a cluster with [`BLOCK_SIZE`] blocks (~4 s).
    pub fn start() -> HdfsCluster {
        HdfsCluster::start_with("hdfs-start.sh", &[BLOCK_SIZE.to_string()], "HDFS")
    }

    /// Starts a Kerberized cluster (`tests/env/hdfs-start-kerberos.sh`) whose NameNode and
    /// DataNode log in as `hdfs/localhost` of `kdc`'s realm (~6 s).
    pub fn start_kerberos(kdc: &crate::support::kerberos::Kdc) -> HdfsCluster {
        let keytab = kdc.keytab_for("hdfs/localhost");
        let http_keytab = kdc.keytab_for("HTTP/localhost");
        let args = [
            kdc.krb5_conf().to_string_lossy().into_owned(),
            keytab.to_string_lossy().into_owned(),
            crate::support::kerberos::REALM.to_string(),
            http_keytab.to_string_lossy().into_owned(),
        ];
        HdfsCluster::start_with("hdfs-start-kerberos.sh", &args, "a Kerberized HDFS")
    }

    /// Runs `tests/env/SCRIPT JARDIR PORT ARGS...`, which prints the work directory.
    fn start_with(script: &str, args: &[String], what: &str) -> HdfsCluster {
        let jars = hadoop_jars();
        let script = env_dir().join(script);
        // A port can be taken between choosing and binding it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut all = vec![
                script.to_string_lossy().into_owned(),
                jars.to_string_lossy().into_owned(),
                port.to_string(),
            ];
            all.extend(args.iter().cloned());
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            let output = run_bounded(120, "bash", &all);
            if output.status.success() {
                let workdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
                return HdfsCluster { port, workdir };
            }
            last_error = String::from_utf8_lossy(&output.stderr).into_owned();
        }
        panic!("{what} did not start:\n{last_error}");
    }

    /// `hdfs://127.0.0.1:PORT`
    pub fn authority_url(&self) -> String {
        format!("hdfs://127.0.0.1:{}", self.port)
    }

    /// Kills the DataNode outright (SIGKILL), as a crashed machine would.
    pub fn kill_datanode(&self) {
        let pid = std::fs::read_to_string(self.workdir.join("dn.pid")).expect("dn.pid");
        let status = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .expect("kill");
        assert!(status.success(), "could not kill the DataNode (pid {pid})");
    }
}

impl Drop for HdfsCluster {
    fn drop(&mut self) {
        let script = env_dir().join("hdfs-stop.sh");
        let _ = bounded_command(60, "bash")
            .arg(script)
            .arg(&self.workdir)
            .status();
    }
}

/// Where a test writes its files: a local cluster it owns, or the external one of
/// [`EXTERNAL_ENV`] (below a fresh directory, removed on drop).
pub struct HdfsTarget {
    /// `hdfs://host:port/dir`: every path of the test lives below it.
    pub base_url: String,
    /// Hadoop client configuration directory (on FsShell's classpath), if any.
    conf_dir: Option<PathBuf>,
    pub cluster: Option<HdfsCluster>,
}

impl HdfsTarget {
    /// A fresh local cluster.
    pub fn local() -> HdfsTarget {
        let cluster = HdfsCluster::start();
        HdfsTarget {
            base_url: format!("{}/c2k-test", cluster.authority_url()),
            conf_dir: Some(cluster.workdir.join("conf")),
            cluster: Some(cluster),
        }
    }

    /// The cluster named by [`EXTERNAL_ENV`], or `None` when it is not set.
    pub fn external() -> Option<HdfsTarget> {
        let base = std::env::var(EXTERNAL_ENV).ok().filter(|v| !v.is_empty())?;
        assert!(
            base.starts_with("hdfs://") || base.starts_with("viewfs://"),
            "{EXTERNAL_ENV}={base}: expected hdfs://host:port/dir"
        );
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let target = HdfsTarget {
            base_url: format!(
                "{}/c2k-test-{}-{nanos}",
                base.trim_end_matches('/'),
                std::process::id()
            ),
            conf_dir: Some(
                std::env::var_os("HADOOP_CONF_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(empty_client_conf),
            ),
            cluster: None,
        };
        Some(target)
    }

    /// `base_url/relative`
    pub fn url(&self, relative: &str) -> String {
        format!("{}/{}", self.base_url, relative.trim_start_matches('/'))
    }

    /// Runs Hadoop's `FsShell` with `args`; panics with its output if it fails.
    pub fn fs_shell(&self, args: &[&str]) {
        let mut classpath = String::new();
        if let Some(conf) = &self.conf_dir {
            classpath.push_str(&conf.to_string_lossy());
            classpath.push(':');
        }
        classpath.push_str(&hadoop_jars().join("*").to_string_lossy());
        let mut full = vec![
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            "-Djava.net.preferIPv4Stack=true",
            "-cp",
            &classpath,
            "org.apache.hadoop.fs.FsShell",
        ];
        full.extend_from_slice(args);
        let output = run_bounded(120, "java", &full);
        assert!(
            output.status.success(),
            "FsShell {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `mkdir -p` of `base_url/relative`; returns its URL.
    pub fn mkdir(&self, relative: &str) -> String {
        let url = self.url(relative);
        self.fs_shell(&["-mkdir", "-p", &url]);
        url
    }

    /// Uploads a local file or directory tree to `base_url/relative` (which must not exist yet)
    /// with `FsShell -put`; returns its URL. The parent directories are created first.
    pub fn upload(&self, local: &Path, relative: &str) -> String {
        let url = self.url(relative);
        if let Some((parent, _)) = url.rsplit_once('/') {
            self.fs_shell(&["-mkdir", "-p", parent]);
        }
        self.fs_shell(&["-put", &local.to_string_lossy(), &url]);
        url
    }

    /// Uploads a whole local tree (a Camus destination or execution directory) to
    /// `base_url/relative`; returns the `hdfs://` URL to use instead of `local_dir`.
    pub fn upload_tree(&self, local_dir: &Path, relative: &str) -> String {
        assert!(
            local_dir.is_dir(),
            "{} is not a directory",
            local_dir.display()
        );
        self.upload(local_dir, relative)
    }
}

impl Drop for HdfsTarget {
    fn drop(&mut self) {
        if self.cluster.is_none() {
            // External cluster: remove what this test wrote (best effort, never panic in drop).
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.fs_shell(&["-rm", "-r", "-f", "-skipTrash", &self.base_url])
            }));
        }
    }
}

/// A minimal Hadoop client configuration directory (the 2.7 client insists on a core-site.xml),
/// shared by the process and left in the temp directory.
fn empty_client_conf() -> PathBuf {
    static CONF: OnceLock<PathBuf> = OnceLock::new();
    CONF.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("c2k-hadoop-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a Hadoop conf dir");
        for file in ["core-site.xml", "hdfs-site.xml"] {
            std::fs::write(dir.join(file), "<configuration></configuration>\n")
                .expect("write conf");
        }
        std::fs::write(
            dir.join("log4j.properties"),
            "log4j.rootLogger=WARN,console\n\
            log4j.appender.console=org.apache.log4j.ConsoleAppender\n\
            log4j.appender.console.layout=org.apache.log4j.PatternLayout\n",
        )
        .expect("write log4j.properties");
        dir
    })
    .clone()
}
