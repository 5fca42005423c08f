//! An object store's refusal in words: which object, which operation, and for a refusal of the
//! credentials or a missing bucket, which provider's credentials and which bucket.

use std::error::Error as _;

use anyhow::anyhow;
use object_store::Error;

use super::Client;

/// What went wrong, named for `url`: `operation` is what c2k was doing ("listing", "reading").
pub(super) fn describe(client: &Client, url: &str, operation: &str, error: Error) -> anyhow::Error {
    let detail = chain(&error);
    let cloud = client.url.cloud.name();
    let bucket = &client.url.bucket;
    let container = client.url.cloud.container();
    let credentials = &client.credentials;
    let refused = matches!(
        error,
        Error::PermissionDenied { .. } | Error::Unauthenticated { .. }
    ) || [
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthorizationFailure",
        "AuthenticationFailed",
        "403 Forbidden",
        "401 Unauthorized",
    ]
    .iter()
    .any(|marker| detail.contains(marker));
    if refused {
        return anyhow!(
            "{url}: {cloud} refused {operation} in {container} `{bucket}` to the credentials of \
             {credentials}: {detail}"
        );
    }
    if detail.contains("NoSuchBucket") || detail.contains("ContainerNotFound") {
        return anyhow!(
            "{url}: {container} `{bucket}` does not exist at {} ({operation}; credentials of \
             {credentials})",
            client.endpoint
        );
    }
    match error {
        Error::NotFound { .. } => anyhow!("{url}: no such object ({operation})"),
        _ => anyhow!(
            "{url}: {operation} failed{}: {detail}",
            // object_store says "after N retries" when it retried; a refusal it does not retry.
            if detail.contains(" retries") {
                format!(
                    " (retried for up to {}s; storage.retry_timeout)",
                    client.retry_timeout.as_secs()
                )
            } else {
                String::new()
            }
        ),
    }
}

/// The error and its sources, which hold the server's own words; an S3 or Azure XML error body
/// is said as its code and message.
fn chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    match (between(&text, "<Code>", "</Code>"), text.find("<?xml")) {
        (Some(code), Some(start)) => {
            let message = between(&text, "<Message>", "</Message>").unwrap_or_default();
            // Azure's message goes on with RequestId and Time lines: one line is enough.
            let message = message.lines().next().unwrap_or_default();
            format!("{}{code}: {message}", &text[..start])
        }
        _ => text,
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}
