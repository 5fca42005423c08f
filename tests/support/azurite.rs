//! A real Azure Blob Storage for the tests: Azurite, Microsoft's official Azure Storage emulator
//! (npm's `azurite`, installed by `scripts/setup.sh` into `$C2K_AZURITE_HOME`, by default
//! `~/.cache/camus2kafka/azurite`), its blob service alone (`azurite-blob`) on a free port on
//! 127.0.0.1, its data in a temp folder, no telemetry.
//!
//! Shared Key authentication is enforced: the one account is the emulator's well-known
//! `devstoreaccount1` with its well-known key ([`ACCOUNT`], [`ACCOUNT_KEY`]); an anonymous
//! request, or one signed with another key, gets 403 `AuthorizationFailure`.
//!
//! `c2k` gets [`Azurite::env`]: object_store's emulator mode (`AZURE_STORAGE_USE_EMULATOR`,
//! `AZURITE_BLOB_STORAGE_URL`), with the account and key named too. The tests put their files
//! there with the `object_store` crate itself ([`Azurite::upload_dir`], 16 uploads at a time),
//! through the client a real account takes (account, key, and the emulator's URL as its
//! endpoint). object_store cannot create a container, so [`Azurite::create_container`] sends
//! Azure's Create Container request itself, signed with Shared Key (HMAC-SHA256 of the request's
//! canonical form, computed here from `sha2`), over a plain TCP connection.
//!
//! Without Azurite (or Node.js) the tests that need it skip, saying so (and fail under
//! `CI=true`): [`Azurite::start`] gives `None`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::ObjectStoreExt as _;
use sha2::{Digest as _, Sha256};

use super::files_below;
use super::process::tail;
use super::servers::free_port;

/// The emulator's well-known account (Azurite's and object_store's `devstoreaccount1`).
pub const ACCOUNT: &str = "devstoreaccount1";
/// Its well-known key, published by Microsoft (base64).
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The Azure Storage REST version of the helper's own requests.
const API_VERSION: &str = "2021-08-06";
/// How long Azurite may take to answer (about a second on an idle machine).
const START_LIMIT: Duration = Duration::from_secs(60);
/// One request of the helper's own.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// The folder npm installed Azurite into: `$C2K_AZURITE_HOME`, else
/// `~/.cache/camus2kafka/azurite`.
pub fn azurite_home() -> PathBuf {
    std::env::var_os("C2K_AZURITE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/camus2kafka/azurite")
        })
}

/// `azurite-blob`: the one in [`azurite_home`], else one on `PATH`; `None` when there is none.
pub fn azurite_blob_binary() -> Option<PathBuf> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let cached = azurite_home().join("node_modules/.bin/azurite-blob");
            let on_path = std::env::var_os("PATH")
                .map(|path| {
                    std::env::split_paths(&path)
                        .map(|dir| dir.join("azurite-blob"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            std::iter::once(cached)
                .chain(on_path)
                .find(|candidate| candidate.is_file())
        })
        .clone()
}

/// Whether `node` runs (`azurite-blob` is a Node.js script).
fn node_runs() -> bool {
    Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One response to the helper's own requests.
#[derive(Debug)]
pub struct AzureResponse {
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    /// The body as text (Azure's XML error document, for one).
    pub body: String,
}

/// A running Azurite blob service; killed, and its folder removed, when dropped.
pub struct Azurite {
    /// Its data (`__azurite_db_blob__.json`, `__blobstorage__/`) and `azurite.log`.
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
    /// For the uploads through object_store.
    runtime: tokio::runtime::Runtime,
}

impl Azurite {
    /// Starts Azurite's blob service on a free port (about a second), or `None`, saying so, when
    /// Azurite or Node.js is not installed (a failure under `CI=true`).
    pub fn start() -> Option<Azurite> {
        let Some(binary) = azurite_blob_binary() else {
            super::missing(&format!(
                "Azurite is not installed in {} (C2K_AZURITE_HOME) nor on PATH (npm install \
                 --prefix {} azurite@3.35.0; scripts/setup.sh does)",
                azurite_home().display(),
                azurite_home().display()
            ));
            return None;
        };
        if !node_runs() {
            super::missing(
                "Node.js (`node`), which runs Azurite, is not installed (Node 20; scripts/setup.sh \
                 says so)",
            );
            return None;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime for the uploads");
        // A port can be taken between choosing and binding it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("c2k-azurite-")
                .tempdir()
                .expect("temp dir");
            let port = free_port();
            match launch(&binary, dir.path(), port) {
                Ok(child) => {
                    return Some(Azurite {
                        dir,
                        port,
                        child,
                        runtime,
                    })
                }
                Err(e) => last_error = e,
            }
        }
        panic!("Azurite did not start:\n{last_error}");
    }

    /// What Azurite logged (its start and errors: it runs `--silent`, without an access log).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(
            &std::fs::read(self.dir.path().join("azurite.log")).unwrap_or_default(),
        )
        .into_owned()
    }

    /// The account's blob endpoint, path-style as the emulator serves it:
    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// The environment that points object_store's Azure client
    /// (`MicrosoftAzureBuilder::from_env`, which `c2k` uses) at this server: its emulator mode
    /// (`AZURE_STORAGE_USE_EMULATOR=true`: the account's URL is
    /// `$AZURITE_BLOB_STORAGE_URL/ACCOUNT`, plain http allowed), and the account and its key,
    /// which the emulator mode would take by default, named so that c2k names them.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
            (
                "AZURITE_BLOB_STORAGE_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT.to_string()),
            ("AZURE_STORAGE_ACCOUNT_KEY", ACCOUNT_KEY.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The pipeline keys that reach this server without the emulator mode, as a real account
    /// behind its own endpoint is reached: `storage.options.` + each of these.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("azure_storage_account_name", ACCOUNT.to_string()),
            ("azure_storage_account_key", ACCOUNT_KEY.to_string()),
            ("azure_storage_endpoint", self.endpoint()),
            ("azure_allow_http", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `METHOD endpoint/PATH?QUERY` (`path`: `container`, `container/blob`, or `""` for the
    /// account), with no body, signed with Shared Key with `key` (the account's own unless told
    /// otherwise). `query`'s names and values must need no URL encoding.
    #[track_caller]
    pub fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        key: Option<&str>,
    ) -> AzureResponse {
        send(self.port, method, path, query, key.unwrap_or(ACCOUNT_KEY)).unwrap_or_else(|e| {
            panic!(
                "{method} {}/{path}: no answer: {e}\n{}",
                self.endpoint(),
                tail(&self.log())
            )
        })
    }

    /// Creates the container `name` (3-63 characters: lower case, digits, `-`).
    #[track_caller]
    pub fn create_container(&self, name: &str) {
        let response = self.request("PUT", name, &[("restype", "container")], None);
        assert_eq!(
            response.status, 201,
            "create container {name}: HTTP {}:\n{}",
            response.status, response.body
        );
    }

    /// object_store's client for `container`, as a real account is reached: account, key, the
    /// emulator's account URL as its endpoint.
    fn store(&self, container: &str) -> MicrosoftAzure {
        MicrosoftAzureBuilder::new()
            .with_account(ACCOUNT)
            .with_access_key(ACCOUNT_KEY)
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_container_name(container)
            .build()
            .expect("object_store's Azure client for Azurite")
    }

    /// Uploads every file below `local` (through symbolic links) as the blob
    /// `container/prefix/RELATIVE` (`/`-separated; `prefix` may be empty), 16 at a time, with
    /// object_store. Returns the blob names, sorted.
    #[track_caller]
    pub fn upload_dir(&self, local: &Path, container: &str, prefix: &str) -> Vec<String> {
        let prefix = prefix.trim_matches('/');
        let store = self.store(container);
        let uploads: Vec<(PathBuf, String)> = files_below(local)
            .into_iter()
            .map(|relative| {
                let relative = relative
                    .to_str()
                    .unwrap_or_else(|| panic!("{}: not UTF-8, no blob name", relative.display()));
                let name = if prefix.is_empty() {
                    relative.to_string()
                } else {
                    format!("{prefix}/{relative}")
                };
                (local.join(relative), name)
            })
            .collect();
        let store = &store;
        let uploaded: Result<Vec<String>, String> = self.runtime.block_on(
            futures::stream::iter(uploads)
                .map(|(file, name)| async move {
                    let bytes = std::fs::read(&file)
                        .map_err(|e| format!("read {}: {e}", file.display()))?;
                    let blob = object_store::path::Path::from(name.as_str());
                    store
                        .put(&blob, bytes.into())
                        .await
                        .map_err(|e| format!("put {container}/{name}: {e}"))?;
                    Ok(name)
                })
                .buffer_unordered(16)
                .try_collect(),
        );
        let mut names = uploaded.unwrap_or_else(|e| {
            panic!("uploading {} to {container}/{prefix}: {e}", local.display())
        });
        names.sort();
        names
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `azurite-blob` on `port` with its data in `dir`, and waits until it answers a signed
/// List Containers; `Err` (with the log's end) if it ends or does not answer in time.
fn launch(binary: &Path, dir: &Path, port: u16) -> Result<Child, String> {
    let log = std::fs::File::create(dir.join("azurite.log")).expect("azurite.log");
    let mut command = Command::new(binary);
    command
        .current_dir(dir)
        // Accounts of its own would replace devstoreaccount1.
        .env_remove("AZURITE_ACCOUNTS")
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .arg("--location")
        .arg(dir)
        // No access log; no telemetry (on by default since 3.34: it would call out to the
        // internet); any x-ms-version a newer object_store may send is served.
        .args(["--silent", "--disableTelemetry", "--skipApiVersionCheck"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let log = || {
        String::from_utf8_lossy(&std::fs::read(dir.join("azurite.log")).unwrap_or_default())
            .into_owned()
    };
    let mut answered = None;
    loop {
        match send(port, "GET", "", &[("comp", "list")], ACCOUNT_KEY) {
            Ok(response) if response.status == 200 => {
                return Ok(child);
            }
            // Azurite's (not another server's that took the port first, Azurite then ending).
            Ok(response) if response.status == 403 && response.head.contains("Azurite") => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "Azurite refused the helper's signed List Containers (HTTP 403): the Shared \
                     Key signature of tests/support/azurite.rs is wrong:\n{}",
                    response.body
                );
            }
            Ok(response) => answered = Some(response),
            Err(_) => {}
        }
        let ended = child.try_wait().expect("wait for azurite");
        if ended.is_some() || started.elapsed() > START_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            let why = match (ended, answered) {
                (Some(status), _) => format!("azurite-blob ended ({status})"),
                (None, Some(response)) => format!(
                    "Azurite answered List Containers with HTTP {} for {START_LIMIT:?}:\n{}",
                    response.status, response.body
                ),
                (None, None) => format!("Azurite did not answer within {START_LIMIT:?}"),
            };
            return Err(format!("{why} on port {port}:\n{}", tail(&log())));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends one body-less request signed with Shared Key over a fresh connection
/// (`Connection: close`) and reads the response.
fn send(
    port: u16,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    key: &str,
) -> std::io::Result<AzureResponse> {
    let date = http_date(SystemTime::now());
    let path = format!("/{ACCOUNT}/{path}");
    let mut sorted = query.to_vec();
    sorted.sort();
    // Shared Key's string to sign for a request without a body or conditions: the verb, eleven
    // empty standard headers, the x-ms-* headers sorted, then the resource (the account, the
    // path — which starts with the account again on the emulator — and the query sorted).
    let mut to_sign = format!(
        "{method}\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{API_VERSION}\n/{ACCOUNT}{path}"
    );
    for (name, value) in &sorted {
        to_sign.push_str(&format!("\n{}:{value}", name.to_ascii_lowercase()));
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|e| std::io::Error::other(format!("the key is not base64: {e}")))?;
    let signature =
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, to_sign.as_bytes()));
    let target = if query.is_empty() {
        path
    } else {
        let pairs: Vec<String> = query.iter().map(|(n, v)| format!("{n}={v}")).collect();
        format!("{path}?{}", pairs.join("&"))
    };
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-ms-date: {date}\r\n\
         x-ms-version: {API_VERSION}\r\nAuthorization: SharedKey {ACCOUNT}:{signature}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(REQUEST_LIMIT))?;
    stream.set_write_timeout(Some(REQUEST_LIMIT))?;
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::other(format!("not an HTTP response: {:?}", tail(&response)))
        })?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok(AzureResponse {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

/// HMAC-SHA256 (RFC 2104) of `message` with `key`.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 1123, as `x-ms-date` takes it).
fn http_date(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // The civil date of a day count (Howard Hinnant's days_from_civil, inverted).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        months[(month - 1) as usize],
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}
