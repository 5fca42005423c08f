//! Building one store's `object_store` client: the cloud's builder from the environment, the
//! pipeline's `storage.*` over it, the AWS profile where no keys were given, retries and timeouts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};

use super::credentials::{self, aws_profile};
use super::location::{Cloud, ObjectUrl};
use super::{Client, ObjectSettings};

/// How long a connection may take to open, and one request to answer (each retried within
/// `storage.retry_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The client for `url`'s store.
pub(super) fn build(url: &ObjectUrl, settings: &ObjectSettings) -> Result<Client> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    // Bounded by time, not by count: object_store's 10 retries with backoff from 100 ms are
    // spent in three seconds, less than a store takes to restart.
    let retry = RetryConfig {
        retry_timeout: settings.retry_timeout,
        max_retries: 100_000,
        ..RetryConfig::default()
    };
    // Set as configuration keys, not as whole `ClientOptions`, which would drop what the
    // environment set (AZURE_ALLOW_HTTP, a proxy, ...).
    let timeouts = [
        (ClientConfigKey::ConnectTimeout, CONNECT_TIMEOUT),
        (ClientConfigKey::Timeout, REQUEST_TIMEOUT),
    ]
    .map(|(key, limit)| (key, format!("{}s", limit.as_secs())));
    let shown = url.url();
    warn_of_s3_only_keys(url, settings);
    let (store, credentials, endpoint): (Arc<dyn ObjectStore>, String, String) = match url.cloud {
        Cloud::S3 => s3(url, settings, &env, retry.clone(), &timeouts)?,
        Cloud::Gcs => {
            if let Some(endpoint) = &settings.endpoint {
                bail!(
                    "{shown}: storage.endpoint ({endpoint}) applies to S3 and Azure; a Google \
                     Cloud Storage endpoint is given by the service account file's gcs_base_url"
                );
            }
            let mut builder = GoogleCloudStorageBuilder::from_env()
                .with_url(&url.base)
                .with_retry(retry.clone());
            for (key, value) in &timeouts {
                builder = builder.with_config(GoogleConfigKey::Client(*key), value);
            }
            for (key, value) in &settings.options {
                let key: GoogleConfigKey = key.parse().map_err(|_| unknown(key, url))?;
                builder = builder.with_config(key, value);
            }
            let described = credentials::describe_gcs(&settings.options, &env);
            let store = builder
                .build()
                .map_err(|e| anyhow!("{shown}: {e} (credentials of {described})"))?;
            (
                Arc::new(store),
                described,
                "Google Cloud Storage".to_string(),
            )
        }
        Cloud::Azure => {
            let mut builder = MicrosoftAzureBuilder::from_env()
                .with_url(&url.base)
                .with_retry(retry.clone());
            for (key, value) in &timeouts {
                builder = builder.with_config(AzureConfigKey::Client(*key), value);
            }
            if let Some(endpoint) = &settings.endpoint {
                builder = builder.with_config(AzureConfigKey::Endpoint, endpoint);
                if endpoint.starts_with("http://") {
                    builder = builder.with_allow_http(true);
                }
            }
            for (key, value) in &settings.options {
                let key: AzureConfigKey = key.parse().map_err(|_| unknown(key, url))?;
                builder = builder.with_config(key, value);
            }
            let described = credentials::describe_azure(&settings.options, &env);
            let endpoint = settings
                .endpoint
                .clone()
                .or_else(|| settings.options.get("azure_storage_endpoint").cloned())
                .or_else(|| env.get("AZURE_STORAGE_ENDPOINT").cloned())
                .or_else(|| env.get("AZURITE_BLOB_STORAGE_URL").cloned())
                .unwrap_or_else(|| "Azure Blob Storage".to_string());
            let store = builder
                .build()
                .map_err(|e| anyhow!("{shown}: {e} (credentials of {described})"))?;
            (Arc::new(store), described, endpoint)
        }
    };
    Ok(Client {
        store,
        url: url.clone(),
        credentials,
        endpoint,
        retry_timeout: retry.retry_timeout,
        prefetch: Default::default(),
    })
}

/// `storage.region`, `storage.path_style` and `storage.profile` mean nothing to another cloud:
/// said, not silently dropped.
fn warn_of_s3_only_keys(url: &ObjectUrl, settings: &ObjectSettings) {
    if url.cloud == Cloud::S3 {
        return;
    }
    let set = [
        ("storage.region", settings.region.is_some()),
        ("storage.path_style", settings.path_style.is_some()),
        ("storage.profile", settings.profile.is_some()),
    ];
    for (key, _) in set.iter().filter(|(_, set)| *set) {
        tracing::warn!("{key} applies to S3 only: not used for {}", url.url());
    }
}

fn unknown(key: &str, url: &ObjectUrl) -> anyhow::Error {
    anyhow!(
        "storage.options.{key}: not a configuration key of object_store's {} client (for {})",
        url.cloud.name(),
        url.url()
    )
}

/// S3: `AWS_*` from the environment (`AWS_ENDPOINT_URL` included), `storage.*` over it, and the
/// AWS profile's keys and region when neither gave any.
fn s3(
    url: &ObjectUrl,
    settings: &ObjectSettings,
    env: &BTreeMap<String, String>,
    retry: RetryConfig,
    timeouts: &[(ClientConfigKey, String)],
) -> Result<(Arc<dyn ObjectStore>, String, String)> {
    let mut builder = AmazonS3Builder::from_env()
        .with_url(&url.base)
        .with_retry(retry);
    for (key, value) in timeouts {
        builder = builder.with_config(AmazonS3ConfigKey::Client(*key), value);
    }
    for (key, value) in &settings.options {
        let key: AmazonS3ConfigKey = key.parse().map_err(|_| unknown(key, url))?;
        builder = builder.with_config(key, value);
    }
    let keys_given =
        credentials::first_set(&["aws_access_key_id"], &settings.options, env).is_some();
    let profile = aws_profile(settings.profile.as_deref(), env)
        .with_context(|| format!("{}: the AWS credentials", url.url()))?;
    if let Some(profile) = profile.as_ref().filter(|_| !keys_given) {
        if let (Some(id), Some(secret)) = (&profile.access_key_id, &profile.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
            if let Some(token) = &profile.session_token {
                builder = builder.with_token(token);
            }
        }
    }
    let region_given = settings.region.is_some()
        || settings.options.contains_key("aws_region")
        || env.contains_key("AWS_REGION")
        || env.contains_key("AWS_DEFAULT_REGION");
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    } else if let Some(region) = profile.as_ref().and_then(|p| p.region.as_ref()) {
        if !region_given {
            builder = builder.with_region(region);
        }
    }
    let endpoint = settings
        .endpoint
        .clone()
        .or_else(|| settings.options.get("aws_endpoint").cloned())
        .or_else(|| env.get("AWS_ENDPOINT_URL_S3").cloned())
        .or_else(|| env.get("AWS_ENDPOINT_URL").cloned())
        .or_else(|| env.get("AWS_ENDPOINT").cloned())
        .filter(|e| !e.is_empty());
    if let Some(endpoint) = &endpoint {
        builder = builder.with_endpoint(endpoint);
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
    }
    // On-premises stores (MinIO, Ceph, SeaweedFS) answer path-style; AWS itself virtual-hosted.
    let path_style = settings.path_style.unwrap_or(endpoint.is_some());
    builder = builder.with_virtual_hosted_style_request(!path_style);
    let described = credentials::describe_aws(
        &settings.options,
        env,
        profile.as_ref().filter(|_| !keys_given),
    );
    let store = builder
        .build()
        .map_err(|e| anyhow!("{}: {e} (credentials of {described})", url.url()))?;
    let endpoint = endpoint.unwrap_or_else(|| "AWS S3".to_string());
    Ok((Arc::new(store), described, endpoint))
}
