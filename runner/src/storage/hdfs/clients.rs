//! One `hdfs-native` client per cluster (namenode, nameservice or viewfs mount table) for the whole
//! process, created on first use after checking that the namenode can be reached at all.
//!
//! Why the check: `hdfs-native` retries a refused namenode connection up to
//! `dfs.client.failover.max.attempts` (15) times with growing sleeps, which a timeout would turn into
//! a bare "timed out". Resolving and connecting once beforehand turns the common mistakes (a typo in
//! the host, the wrong port, a namenode that is down) into an immediate message that says which.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use anyhow::{anyhow, bail, Result};
use hdfs_native::{Client, ClientBuilder, HdfsError};

use super::options::HdfsOptions;
use super::runtime::{self, within};
use super::url::HdfsUrl;

/// Hadoop's default namenode RPC port, used for `hdfs://host/path` when `host` is not a
/// nameservice of the Hadoop configuration (as the Java client does).
const DEFAULT_NAMENODE_PORT: u16 = 8020;

type ClientKey = (String, HdfsOptions);

static CLIENTS: OnceLock<Mutex<HashMap<ClientKey, Client>>> = OnceLock::new();

/// The client for the cluster `url` names, created (and its namenode checked) on first use.
pub(super) fn client_for(original: &str, url: &HdfsUrl, options: &HdfsOptions) -> Result<Client> {
    let key = (url.cluster(), options.clone());
    let clients = CLIENTS.get_or_init(Default::default);
    if let Some(client) = lock(clients).get(&key) {
        return Ok(client.clone());
    }
    let client = runtime::block_on(connect(original, url, options))??;
    Ok(lock(clients).entry(key).or_insert(client).clone())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map half-updated: recover it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Builds the client, after a TCP probe when the namenode is named by host and port, and checks
/// that the namenode answers a first call (the status of `/`) within the connect timeout.
async fn connect(original: &str, url: &HdfsUrl, options: &HdfsOptions) -> Result<Client> {
    let client = build_checked(original, url, options).await?;
    let limit = options.connect_timeout;
    match within(limit, client.get_file_info("/")).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(anyhow!(
            "{original}: the namenode of {} refused a first call: {}",
            url.cluster(),
            super::errors::describe(&e)
        )),
        Err(()) => Err(anyhow!(
            "{original}: the namenode of {} did not answer within {:.1}s (set {} to wait \
             longer; a namenode that requires Kerberos drops clients that do not use it: is \
             hadoop.security.authentication=kerberos in $HADOOP_CONF_DIR/core-site.xml?)",
            url.cluster(),
            limit.as_secs_f64(),
            super::options::CONNECT_TIMEOUT_ENV
        )),
    }
}

async fn build_checked(original: &str, url: &HdfsUrl, options: &HdfsOptions) -> Result<Client> {
    if let Some((host, port)) = url.host_port() {
        probe(original, host, port, options).await?;
        return build(&url.cluster(), options).map_err(|e| setup_error(original, url, e));
    }
    match build(&url.cluster(), options) {
        // Not a nameservice of the Hadoop configuration: a plain host on the default port, as the
        // Java client does.
        Err(e)
            if url.scheme == "hdfs" && !url.authority.is_empty() && is_unknown_nameservice(&e) =>
        {
            let host = url.authority.as_str();
            probe(original, host, DEFAULT_NAMENODE_PORT, options).await?;
            build(&format!("hdfs://{host}:{DEFAULT_NAMENODE_PORT}"), options)
                .map_err(|e| setup_error(original, url, e))
        }
        result => result.map_err(|e| setup_error(original, url, e)),
    }
}

fn is_unknown_nameservice(error: &HdfsError) -> bool {
    matches!(error, HdfsError::InvalidArgument(message) if message.contains("No NameNode hosts"))
}

fn builder(cluster: &str, options: &HdfsOptions) -> Result<ClientBuilder> {
    let mut builder = ClientBuilder::new().with_io_runtime(runtime::handle()?);
    if !cluster.ends_with("://") {
        // `hdfs:///path`: no authority, so `fs.defaultFS` of the Hadoop configuration decides.
        builder = builder.with_url(cluster);
    }
    if let Some(user) = &options.user {
        builder = builder.with_user(user);
    }
    if let Some(principal) = &options.kerberos_principal {
        builder = builder.with_kerberos_principal(principal);
    }
    if let Some(keytab) = &options.kerberos_keytab {
        builder = builder.with_kerberos_keytab(keytab);
    }
    Ok(builder)
}

fn build(cluster: &str, options: &HdfsOptions) -> std::result::Result<Client, HdfsError> {
    builder(cluster, options)
        .map_err(|e| HdfsError::InternalError(e.to_string()))?
        .build()
}

fn setup_error(original: &str, url: &HdfsUrl, error: HdfsError) -> anyhow::Error {
    let cluster = url.cluster();
    if is_unknown_nameservice(&error) {
        return anyhow!(
            "{original}: `{cluster}` is neither host:port nor a nameservice defined in the Hadoop \
             configuration ($HADOOP_CONF_DIR/hdfs-site.xml: dfs.nameservices, dfs.ha.namenodes.*)"
        );
    }
    anyhow!(
        "{original}: cannot set up an HDFS client for {cluster}: {}",
        super::errors::describe(&error)
    )
}

/// Resolves `host` and opens (then closes) a TCP connection to the namenode's RPC port.
async fn probe(original: &str, host: &str, port: u16, options: &HdfsOptions) -> Result<()> {
    let limit = options.connect_timeout;
    let hint = format!(
        "(waited {:.1}s; set {} to wait longer)",
        limit.as_secs_f64(),
        super::options::CONNECT_TIMEOUT_ENV
    );
    let addresses = match within(limit, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addresses)) => addresses.collect::<Vec<_>>(),
        Ok(Err(e)) => bail!("{original}: unknown namenode host `{host}`: {e}"),
        Err(()) => bail!("{original}: resolving namenode host `{host}` timed out {hint}"),
    };
    let mut last_error = None;
    for address in &addresses {
        match within(limit, tokio::net::TcpStream::connect(address)).await {
            Ok(Ok(_stream)) => return Ok(()),
            Ok(Err(e)) => last_error = Some(e.to_string()),
            Err(()) => last_error = Some(format!("no answer {hint}")),
        }
    }
    let why = last_error.unwrap_or_else(|| "the name resolves to no address".to_string());
    bail!(
        "{original}: cannot reach the namenode at {host}:{port}: {why} (is the namenode running, \
         and is {port} its RPC port, dfs.namenode.rpc-address?)"
    )
}
