//! ZooKeeper as c2k speaks to it, for the offsets step (commits, the live check) and the Kafka
//! sink on brokers older than 0.11 (topic creation, the replay's record) alike: connect strings
//! and their chroot, connections with SASL ([`auth`]), ZooKeeper 3.4 told apart from later
//! servers, and every conversation bounded in time.

pub(crate) mod auth;

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use zookeeper_client::{Client, Error as ZkError};

pub(crate) use auth::ZkAuth;

/// Splits `hosts/chroot` into the hosts and the chroot (`None` for none or `/`).
pub(crate) fn split_connect_string(connect: &str) -> (&str, Option<&str>) {
    match connect.find('/') {
        Some(i) => {
            let chroot = connect[i..].trim_end_matches('/');
            (&connect[..i], (!chroot.is_empty()).then_some(chroot))
        }
        None => (connect, None),
    }
}

/// Which protocol a ZooKeeper server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Server {
    /// 3.5 and later: `create2`, also inside transactions.
    Current,
    /// 3.4: plain `create`, and no `create2` in transactions.
    V3_4,
}

/// Whether `error` is a server saying it does not know an operation (a 3.4 server asked for
/// `create2`).
pub(crate) fn is_unimplemented(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|e| matches!(e.downcast_ref::<ZkError>(), Some(ZkError::Unimplemented)))
}

/// Runs a ZooKeeper conversation to completion on a runtime of its own. Every conversation is
/// bounded as well as the session: never hang on a server that stops answering half-way.
pub(crate) fn run_bounded<T>(
    connect: &str,
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime for ZooKeeper")?;
    runtime.block_on(async {
        tokio::time::timeout(timeout * 3, work)
            .await
            .map_err(|_| anyhow!("ZooKeeper {connect}: no answer within {:?}", timeout * 3))?
    })
}

/// Connects (hosts only: the chroot is handled by the caller so it can be created first). Hosts
/// are retried (a server under load may drop a first attempt) until `timeout`, then it fails.
pub(crate) async fn connect_client(
    connect: &str,
    auth: &ZkAuth,
    timeout: Duration,
) -> Result<Client> {
    connect_client_for(connect, auth, timeout, Server::Current).await
}

/// Connects speaking only what ZooKeeper 3.4 knows (plain `create`, which every later server
/// serves too): for writers of a few znodes that need no transaction, such as the Kafka sink's
/// topic creation on a 0.8 cluster.
pub(crate) async fn connect_client_compatible(
    connect: &str,
    auth: &ZkAuth,
    timeout: Duration,
) -> Result<Client> {
    connect_client_for(connect, auth, timeout, Server::V3_4).await
}

pub(crate) async fn connect_client_for(
    connect: &str,
    auth: &ZkAuth,
    timeout: Duration,
    server: Server,
) -> Result<Client> {
    let (hosts, _) = split_connect_string(connect);
    if hosts.trim().is_empty() {
        bail!("ZooKeeper connect string {connect:?} has no hosts");
    }
    let mut connector = Client::connector()
        .with_session_timeout(timeout)
        .with_connection_timeout(timeout);
    if server == Server::V3_4 {
        connector = connector.with_server_version(3, 4, 0);
    }
    if let Some(sasl) = &auth.sasl {
        connector = connector.with_sasl(sasl.clone());
    }
    let how = if auth.described.is_empty() {
        String::new()
    } else {
        format!(" with {}", auth.described)
    };
    let connecting = connector.connect(hosts);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(ZkError::AuthFailed)) => bail!(
            "ZooKeeper {connect} refused the authentication{how}: check the user and password, \
             or the Kerberos principal and ticket (offsets.zookeeper_*)"
        ),
        Ok(Err(e)) => bail!("cannot connect to ZooKeeper {connect}{how}: {e}"),
        Err(_) => bail!(
            "cannot connect to ZooKeeper {connect}{how}: no session within {timeout:?}{}",
            if auth.sasl.is_some() {
                " (a SASL handshake the server does not answer: does it enable this mechanism?)"
            } else {
                ""
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_strings_split_into_hosts_and_chroot() {
        assert_eq!(
            split_connect_string("a:1,b:2/kafka/x"),
            ("a:1,b:2", Some("/kafka/x"))
        );
        assert_eq!(split_connect_string("a:1"), ("a:1", None));
        assert_eq!(split_connect_string("a:1/"), ("a:1", None));
    }
}
