//! Which credentials a store is reached with, said in words for the errors that refuse them, and
//! the AWS CLI's shared config and credentials files (profiles), which `object_store` does not read.
//!
//! Each cloud's own chain does the work (`object_store`'s builders, from the environment): this
//! module only mirrors its order to name the provider that answered, never a secret.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};

/// The static keys and region of one AWS profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct AwsProfile {
    pub name: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    /// Where it was found, to name it.
    pub files: String,
}

/// What a profile may set that needs an AWS SDK's machinery to follow; a profile of only these is
/// refused by name rather than passed over for the next provider.
const FOLLOWED_ONLY_BY_THE_SDK: &[&str] = &[
    "role_arn",
    "source_profile",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
];

/// The profile `explicit` (`storage.profile`), else `$AWS_PROFILE`, else `default`, from
/// `$AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/credentials`) and `$AWS_CONFIG_FILE`
/// (`~/.aws/config`), the credentials file winning. `None` when the `default` profile is in
/// neither (nothing configured); a profile named explicitly must exist.
pub(super) fn aws_profile(
    explicit: Option<&str>,
    env: &BTreeMap<String, String>,
) -> Result<Option<AwsProfile>> {
    let named = explicit
        .map(str::to_string)
        .or_else(|| env.get("AWS_PROFILE").cloned());
    let name = named.clone().unwrap_or_else(|| "default".to_string());
    let home = env.get("HOME").map(PathBuf::from);
    let file = |variable: &str, default: &str| {
        env.get(variable)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
    };
    let credentials_file = file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let config_file = file("AWS_CONFIG_FILE", ".aws/config");
    let config_section = if name == "default" {
        name.clone()
    } else {
        format!("profile {name}")
    };
    let mut keys = BTreeMap::new();
    let mut found_in = Vec::new();
    // The config file first, so that the credentials file's keys win.
    for (path, section) in [(&config_file, &config_section), (&credentials_file, &name)] {
        let Some(path) = path.as_ref().filter(|p| p.exists()) else {
            continue;
        };
        let ini = ini::Ini::load_from_file(path)
            .map_err(|e| anyhow!("AWS profile file {}: {e}", path.display()))?;
        if let Some(properties) = ini.section(Some(section.as_str())) {
            found_in.push(path.display().to_string());
            for (key, value) in properties.iter() {
                keys.insert(key.to_string(), value.to_string());
            }
        }
    }
    let shown = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or("(no HOME)".to_string(), |p| p.display().to_string())
    };
    if found_in.is_empty() {
        if named.is_some() {
            bail!(
                "AWS profile `{name}` (from {}) is in neither {} nor {}",
                if explicit.is_some() {
                    "storage.profile"
                } else {
                    "AWS_PROFILE"
                },
                shown(&credentials_file),
                shown(&config_file)
            );
        }
        return Ok(None);
    }
    let profile = AwsProfile {
        name: name.clone(),
        access_key_id: keys.get("aws_access_key_id").cloned(),
        secret_access_key: keys.get("aws_secret_access_key").cloned(),
        session_token: keys.get("aws_session_token").cloned(),
        region: keys.get("region").cloned(),
        files: found_in.join(" and "),
    };
    if profile.access_key_id.is_some() != profile.secret_access_key.is_some() {
        bail!(
            "AWS profile `{name}` in {} has only one of aws_access_key_id and \
             aws_secret_access_key",
            profile.files
        );
    }
    if profile.access_key_id.is_none() {
        if let Some(key) = FOLLOWED_ONLY_BY_THE_SDK
            .iter()
            .find(|k| keys.contains_key(**k))
        {
            bail!(
                "AWS profile `{name}` in {} gets its credentials through `{key}`, which c2k does \
                 not follow: export them for the run (`aws configure export-credentials --profile \
                 {name} --format env`), or give keys in the profile or storage.options",
                profile.files
            );
        }
    }
    Ok(Some(profile))
}

/// An access key id shown as AWS's tools show it: its last four characters.
pub(super) fn masked(key_id: &str) -> String {
    let tail: String = key_id
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("****{tail}")
}

/// The first of `names` set in the pipeline's options or the environment (as object_store reads
/// it: options by lower-case key, the environment by upper-case variable).
pub(super) fn first_set<'a>(
    names: &[&'a str],
    options: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
) -> Option<(String, &'a str)> {
    names.iter().find_map(|name| {
        if let Some(value) = options.get(*name) {
            return Some((format!("storage.options.{name}"), *name)).filter(|_| !value.is_empty());
        }
        let variable = name.to_ascii_uppercase();
        env.get(&variable)
            .filter(|v| !v.is_empty())
            .map(|_| (variable, *name))
    })
}

/// The provider the S3 client will use, in object_store's order (static keys, web identity, the
/// ECS task role, EKS pod identity, instance metadata), with the profile in the AWS CLI's place:
/// after the environment's keys.
pub(super) fn describe_aws(
    options: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
    profile: Option<&AwsProfile>,
) -> String {
    let key_id = |from: &str| {
        options
            .get("aws_access_key_id")
            .or_else(|| env.get("AWS_ACCESS_KEY_ID"))
            .map(|k| format!("{from}, access key {}", masked(k)))
            .unwrap_or_else(|| from.to_string())
    };
    if let Some((source, _)) = first_set(&["aws_access_key_id"], options, env) {
        return key_id(&format!("static keys ({source})"));
    }
    if let Some(profile) = profile.filter(|p| p.access_key_id.is_some()) {
        let id = profile.access_key_id.as_deref().unwrap_or_default();
        return format!(
            "AWS profile `{}` of {}, access key {}",
            profile.name,
            profile.files,
            masked(id)
        );
    }
    if first_set(&["aws_web_identity_token_file"], options, env).is_some() {
        let role = env.get("AWS_ROLE_ARN").map(String::as_str).unwrap_or("?");
        return format!("web identity (AWS_WEB_IDENTITY_TOKEN_FILE, role {role})");
    }
    if env.contains_key("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        return "the ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)".to_string();
    }
    if env.contains_key("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        return "EKS pod identity (AWS_CONTAINER_CREDENTIALS_FULL_URI)".to_string();
    }
    "the EC2 instance metadata service (no AWS_ACCESS_KEY_ID, no AWS profile, no web identity \
     found)"
        .to_string()
}

/// The provider the Google Cloud Storage client will use.
pub(super) fn describe_gcs(
    options: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
) -> String {
    let names = [
        "google_service_account",
        "google_service_account_path",
        "google_service_account_key",
        "google_application_credentials",
    ];
    if let Some((source, _)) = first_set(&names, options, env) {
        return format!("the service account of {source}");
    }
    let adc = env
        .get("HOME")
        .map(|h| PathBuf::from(h).join(".config/gcloud/application_default_credentials.json"));
    if let Some(adc) = adc.filter(|p| p.exists()) {
        return format!(
            "gcloud's application default credentials ({})",
            adc.display()
        );
    }
    "the metadata server (workload identity; no service account file, no gcloud application \
     default credentials found)"
        .to_string()
}

/// The provider the Azure client will use.
pub(super) fn describe_azure(
    options: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
) -> String {
    let account = first_set(&["azure_storage_account_name"], options, env)
        .map(|(source, _)| format!(" of the account in {source}"))
        .unwrap_or_default();
    let chain: &[(&[&str], &str)] = &[
        (
            &["azure_storage_account_key", "azure_storage_access_key"],
            "the account key",
        ),
        (
            &["azure_storage_sas_key", "azure_storage_sas_token"],
            "a SAS token",
        ),
        (&["azure_storage_token"], "a bearer token"),
        (
            &["azure_client_secret"],
            "a service principal's client secret",
        ),
        (
            &["azure_federated_token_file"],
            "workload identity (a federated token)",
        ),
        (&["azure_use_azure_cli"], "the Azure CLI's login"),
        (
            &["azure_storage_use_emulator"],
            "the emulator's well-known account key",
        ),
    ];
    for (names, what) in chain {
        if let Some((source, _)) = first_set(names, options, env) {
            return format!("{what} ({source}){account}");
        }
    }
    format!("managed identity (the instance metadata service){account}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_profile_s_keys_come_from_the_credentials_file_and_its_region_from_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(
            dir.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\
             [archive]\naws_access_key_id = AKIAARCHIVE\naws_secret_access_key = s2\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".aws/config"),
            "[default]\nregion = eu-west-1\n[profile archive]\nregion = us-west-2\n\
             [profile assumed]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = default\n",
        )
        .unwrap();
        let home = dir.path().to_str().unwrap();
        let default = aws_profile(None, &env(&[("HOME", home)])).unwrap().unwrap();
        assert_eq!(default.access_key_id.as_deref(), Some("AKIADEFAULT"));
        assert_eq!(default.region.as_deref(), Some("eu-west-1"));
        let archive = aws_profile(None, &env(&[("HOME", home), ("AWS_PROFILE", "archive")]))
            .unwrap()
            .unwrap();
        assert_eq!(archive.secret_access_key.as_deref(), Some("s2"));
        assert_eq!(archive.region.as_deref(), Some("us-west-2"));
        let described = describe_aws(&BTreeMap::new(), &BTreeMap::new(), Some(&archive));
        assert!(
            described.contains("`archive`") && described.contains("****HIVE"),
            "{described}"
        );
        assert!(!described.contains("s2"), "never a secret: {described}");

        let missing = aws_profile(Some("nope"), &env(&[("HOME", home)])).unwrap_err();
        assert!(missing.to_string().contains("storage.profile"), "{missing}");
        let assumed = aws_profile(Some("assumed"), &env(&[("HOME", home)])).unwrap_err();
        assert!(assumed.to_string().contains("role_arn"), "{assumed}");
        let nothing = tempfile::tempdir().unwrap();
        let home = nothing.path().to_str().unwrap();
        assert_eq!(aws_profile(None, &env(&[("HOME", home)])).unwrap(), None);
    }

    #[test]
    fn the_provider_named_follows_each_cloud_s_order() {
        let none = BTreeMap::new();
        let keys = env(&[
            ("AWS_ACCESS_KEY_ID", "AKIA1234"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ]);
        let said = describe_aws(&none, &keys, None);
        assert!(
            said.contains("AWS_ACCESS_KEY_ID") && said.contains("****1234"),
            "{said}"
        );
        assert!(describe_aws(&none, &none, None).contains("instance metadata"));
        let web = env(&[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("AWS_ROLE_ARN", "arn:r"),
        ]);
        assert!(describe_aws(&none, &web, None).contains("web identity"));
        let options = env(&[("google_service_account_path", "/k.json")]);
        assert!(describe_gcs(&options, &none).contains("storage.options"));
        let azure = env(&[
            ("AZURE_STORAGE_ACCOUNT_NAME", "acct"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/t"),
        ]);
        let said = describe_azure(&none, &azure);
        assert!(said.contains("workload identity"), "{said}");
        assert!(describe_azure(&none, &none).contains("managed identity"));
    }
}
