//! Turning `hdfs-native` errors into messages a user can act on. Each message is prefixed by the
//! caller with the URL concerned; this module says what went wrong in plain words.

use hdfs_native::HdfsError;

/// The Java exception class names the namenode sends back, shortened to their last component.
fn exception_name(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

/// What went wrong, in words, for an error returned by a namenode or datanode call.
pub(super) fn describe(error: &HdfsError) -> String {
    match error {
        HdfsError::FileNotFound(_) => "no such file or directory".to_string(),
        HdfsError::RPCError(class, message) | HdfsError::FatalRPCError(class, message) => {
            let first_line = message.lines().next().unwrap_or("").trim();
            match exception_name(class) {
                "AccessControlException" => format!("permission denied ({first_line})"),
                "FileNotFoundException" => "no such file or directory".to_string(),
                "SafeModeException" => format!("the namenode is in safe mode ({first_line})"),
                "StandbyException" => format!("the namenode is a standby ({first_line})"),
                "UnresolvedPathException" => format!("unresolved symlink ({first_line})"),
                _ => format!(
                    "the namenode answered {} ({first_line})",
                    exception_name(class)
                ),
            }
        }
        HdfsError::IOError(e) => format!("network error: {e}"),
        HdfsError::DataTransferError(message) if message.starts_with("All DataNodes failed") => {
            format!(
                "every datanode holding the block failed or was unreachable ({})",
                datanode_addresses(message).join(", ")
            )
        }
        HdfsError::DataTransferError(message) => format!("datanode failure: {message}"),
        HdfsError::ChecksumError => "checksum mismatch in data read from a datanode".to_string(),
        HdfsError::BlocksNotFound(_) => {
            "the file's blocks are missing on every datanode".to_string()
        }
        HdfsError::IsADirectoryError(_) => "is a directory, not a file".to_string(),
        HdfsError::SASLError(_) | HdfsError::GSSAPIError(..) | HdfsError::NoSASLMechanism => {
            format!(
                "authentication failed: {error} (Kerberos: is there a ticket — `klist` — or \
                 C2K_HDFS_KERBEROS_PRINCIPAL/C2K_HDFS_KERBEROS_KEYTAB?)"
            )
        }
        other => other.to_string(),
    }
}

/// `ip:port` of each datanode in `hdfs-native`'s debug listing of a block's locations.
fn datanode_addresses(listing: &str) -> Vec<String> {
    let mut addresses = Vec::new();
    let mut rest = listing;
    while let Some(start) = rest.find("ip_addr: \"") {
        rest = &rest[start + "ip_addr: \"".len()..];
        let Some(end) = rest.find('"') else { break };
        let ip = &rest[..end];
        let port = rest
            .find("xfer_port: ")
            .map(|at| &rest[at + "xfer_port: ".len()..])
            .map(|tail| {
                tail.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .unwrap_or_default();
        addresses.push(format!("{ip}:{port}"));
    }
    addresses
}

/// Whether the error says the path is not there (rather than unreachable or forbidden).
pub(super) fn is_not_found(error: &HdfsError) -> bool {
    match error {
        HdfsError::FileNotFound(_) => true,
        HdfsError::RPCError(class, _) => exception_name(class) == "FileNotFoundException",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_control_reads_as_permission_denied() {
        let error = HdfsError::RPCError(
            "org.apache.hadoop.security.AccessControlException".to_string(),
            "Permission denied: user=nobody, access=READ_EXECUTE, inode=\"/private\"\n\tat ..."
                .to_string(),
        );
        let text = describe(&error);
        assert!(
            text.starts_with("permission denied (Permission denied: user=nobody"),
            "{text}"
        );
        assert!(!text.contains("\tat"), "{text}");
    }

    #[test]
    fn dead_datanodes_are_listed_by_address() {
        let error = HdfsError::DataTransferError(
            "All DataNodes failed: [DatanodeInfoProto { id: DatanodeIdProto { ip_addr: \"10.0.0.7\", \
             host_name: \"dn7\", datanode_uuid: \"x\", xfer_port: 50010, info_port: 50075 } }]"
                .to_string(),
        );
        assert_eq!(
            describe(&error),
            "every datanode holding the block failed or was unreachable (10.0.0.7:50010)"
        );
    }

    #[test]
    fn missing_paths_are_recognised_both_ways() {
        assert!(is_not_found(&HdfsError::FileNotFound("/x".to_string())));
        assert!(is_not_found(&HdfsError::RPCError(
            "java.io.FileNotFoundException".to_string(),
            "File does not exist: /x".to_string()
        )));
        assert!(!is_not_found(&HdfsError::ChecksumError));
    }
}
