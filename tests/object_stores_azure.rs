//! Camus archives on a real Azure Blob Storage: Azurite, Microsoft's emulator
//! (`tests/support/azurite.rs`). A tree and its Camus history uploaded to a container replay
//! byte-identical to the same tree on local disk, through `az://` and
//! `abfss://container@account.dfs.core.windows.net` URLs, with the emulator's environment or
//! with the pipeline's `storage.options` alone (the client a real account takes, the key never
//! printed); `c2k verify` reads them alike; a wrong account key and a missing container fail
//! before anything is read, naming them.
//!
//! The S3 side, with the server killed mid-read, is in `object_stores.rs`.

use std::path::Path;

use crate::object_stores::{
    assert_nothing_written, assert_same_output, c2k, pipeline, sample_replayed_from_disk,
};
use crate::support::azurite::{Azurite, ACCOUNT, ACCOUNT_KEY};

/// Azurite, a container `archive` holding the sample tree of `dir/camus` under `camus/`, and
/// the same tree replayed from disk into `dir/local.jsonl`; `None` when Azurite cannot run here.
fn archive_on_azure(dir: &Path, records: u64, hours: u32, partitions: u32) -> Option<Azurite> {
    let azurite = Azurite::start()?;
    sample_replayed_from_disk(dir, records, hours, partitions, |tree| {
        azurite.create_container("archive");
        azurite.upload_dir(tree, "archive", "camus")
    });
    Some(azurite)
}

/// `--set storage.options.KEY=VALUE` for each of `options`.
fn sets(options: &[(String, String)]) -> Vec<String> {
    options
        .iter()
        .flat_map(|(key, value)| {
            [
                "--set".to_string(),
                format!("storage.options.{key}={value}"),
            ]
        })
        .collect()
}

#[test]
fn a_tree_on_azure_blob_replays_byte_identical_to_the_same_tree_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let Some(azurite) = archive_on_azure(dir, 30_000, 6, 4) else {
        return;
    };

    // The emulator's environment; source.dest_dir, source.schema and offsets.exec_dir all on
    // Azure.
    let on_azure = pipeline(dir, "azure.yaml", "az://archive/camus", "azure.jsonl");
    let run = c2k(dir, &["run", &on_azure], &azurite.env()).run();
    run.assert_ok();
    assert!(run.stderr.contains("30000 records in"), "{}", run.stderr);
    assert_same_output(dir, "azure.jsonl");

    // `c2k verify` reconciles the names on Azure with the history on Azure.
    let verified = c2k(dir, &["verify", &on_azure], &azurite.env()).run();
    verified.assert_ok();
    assert!(
        verified.stdout.contains("consistent")
            && verified
                .stdout
                .contains("az://archive/camus/execution/base/history"),
        "{}",
        verified.stdout
    );

    // ADLS Gen2's form of the URL, the account named in it.
    let abfs_root = format!("abfss://archive@{ACCOUNT}.dfs.core.windows.net/camus");
    let abfs = pipeline(dir, "abfs.yaml", &abfs_root, "abfs.jsonl");
    c2k(dir, &["run", &abfs], &azurite.env()).run().assert_ok();
    assert_same_output(dir, "abfs.jsonl");

    // The pipeline's keys alone, as a real account behind an endpoint of its own is reached
    // (account, key, endpoint; not the emulator mode): the key never shown.
    let keyed = pipeline(dir, "keys.yaml", "az://archive/camus", "keys.jsonl");
    let options = sets(&azurite.options());
    let mut args = vec!["run", keyed.as_str()];
    args.extend(options.iter().map(String::as_str));
    let run = c2k(dir, &args, &[]).env("RUST_LOG", "debug").run();
    run.assert_ok();
    assert!(
        !run.stdout_and_stderr().contains(ACCOUNT_KEY),
        "the account key was printed: {}",
        run.stderr
    );
    assert_same_output(dir, "keys.jsonl");

    // A real account's environment (no emulator mode), plain http allowed by AZURE_ALLOW_HTTP:
    // the client options c2k sets must not drop the environment's.
    let env: Vec<(String, String)> = azurite
        .options()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v))
        .collect();
    let from_env = pipeline(dir, "env.yaml", "az://archive/camus", "env.jsonl");
    c2k(dir, &["run", &from_env], &env).run().assert_ok();
    assert_same_output(dir, "env.jsonl");

    // storage.endpoint names the Azure endpoint as it names an S3-compatible one.
    let endpoint = format!("storage.endpoint={}", azurite.endpoint());
    let keyed = pipeline(dir, "endpoint.yaml", "az://archive/camus", "endpoint.jsonl");
    let account: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.contains("ACCOUNT"))
        .collect();
    c2k(dir, &["run", &keyed, "--set", &endpoint], &account)
        .run()
        .assert_ok();
    assert_same_output(dir, "endpoint.jsonl");

    // The same emulator: a Kafka Connect S3-sink layout (`+` and `=` in every blob name, no
    // history) replays from Azure exactly as from local disk, its cut-offs from the names.
    let connect = dir.join("connect");
    c2k(
        dir,
        &[
            "sample",
            connect.to_str().expect("utf-8"),
            "--records",
            "4000",
            "--layout",
            "connect-s3",
        ],
        &[],
    )
    .run()
    .assert_ok();
    azurite.upload_dir(&connect, "archive", "connect");
    let replay = |root: &str, out: &str| {
        let yaml = crate::support::c2k::write_pipeline(
            dir,
            &format!("{out}.yaml"),
            &format!(
                "topic: PAGE_VIEWS\n\
                 source: {{type: kafka-connect, dest_dir: {root}/destination}}\n\
                 key: {{plugin: time-field, config: {{field: header.time}}}}\n\
                 sort: {{memory: 16MiB, tmp_dir: tmp}}\n\
                 format: {{plugin: json}}\n\
                 sink: {{type: file, path: {out}}}\n\
                 offsets: {{group: g, commit: none}}\n"
            ),
        );
        let run = c2k(dir, &["run", &yaml], &azurite.env()).run();
        run.assert_ok();
        assert!(run.stderr.contains("4000 records in"), "{}", run.stderr);
        let shown = c2k(dir, &["offsets", "show", &yaml], &azurite.env()).run();
        shown.assert_ok();
        assert!(
            shown.stdout.contains("cut-off from the file names"),
            "{}",
            shown.stdout
        );
        std::fs::read(dir.join(out)).expect("the replay")
    };
    let local = replay(connect.to_str().expect("utf-8"), "connect-local.jsonl");
    assert!(
        local == replay("az://archive/connect", "connect-azure.jsonl"),
        "the Kafka Connect archive replays from Azure as from local disk"
    );
}

#[test]
fn wrong_account_key_and_a_missing_container_fail_naming_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let Some(azurite) = archive_on_azure(dir, 2_000, 2, 2) else {
        return;
    };
    let on_azure = pipeline(dir, "azure.yaml", "az://archive/camus", "out.jsonl");
    // A well-formed key (base64) that is not the account's.
    let wrong_key =
        "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0s=";
    let with_wrong_key: Vec<(String, String)> = azurite
        .env()
        .into_iter()
        .map(|(k, v)| {
            if k == "AZURE_STORAGE_ACCOUNT_KEY" {
                (k, wrong_key.to_string())
            } else {
                (k, v)
            }
        })
        .collect();

    // Azurite itself enforces the key.
    let listing = [("restype", "container"), ("comp", "list")];
    let refused = azurite.request("GET", "archive", &listing, Some(wrong_key));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(
        azurite.request("GET", "archive", &listing, None).status,
        200
    );

    // From the environment: refused at the first listing, naming the cloud, the container, the
    // provider and Azure's code.
    let run = c2k(dir, &["run", &on_azure], &with_wrong_key).run();
    run.assert_failed_with(&[
        "az://archive/camus/destination/PAGE_VIEWS",
        "Azure Blob Storage refused listing",
        "`archive`",
        "the account key (AZURE_STORAGE_ACCOUNT_KEY)",
        "AuthorizationFailure",
    ]);
    assert!(!run.stderr.contains(wrong_key), "{}", run.stderr);
    assert_nothing_written(dir);

    // From the pipeline, with the client a real account takes.
    let options: Vec<(String, String)> = azurite
        .options()
        .into_iter()
        .map(|(k, v)| {
            if k == "azure_storage_account_key" {
                (k, wrong_key.to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let options = sets(&options);
    let mut args = vec!["run", on_azure.as_str()];
    args.extend(options.iter().map(String::as_str));
    let run = c2k(dir, &args, &[]).run();
    run.assert_failed_with(&[
        "Azure Blob Storage refused listing",
        "`archive`",
        "the account key (storage.options.azure_storage_account_key)",
        "AuthorizationFailure",
    ]);
    assert!(!run.stderr.contains(wrong_key), "{}", run.stderr);
    assert_nothing_written(dir);

    // A container that does not exist.
    let elsewhere = "source.dest_dir=az://missing/camus/destination";
    let run = c2k(dir, &["run", &on_azure, "--set", elsewhere], &azurite.env()).run();
    run.assert_failed_with(&[
        "az://missing/camus/destination/PAGE_VIEWS",
        "container `missing` does not exist at http://127.0.0.1:",
        "the account key (AZURE_STORAGE_ACCOUNT_KEY)",
    ]);
    assert_nothing_written(dir);

    // A prefix with nothing below it, in a container that exists.
    let nowhere = "source.dest_dir=az://archive/no/such/prefix";
    let run = c2k(dir, &["run", &on_azure, "--set", nowhere], &azurite.env()).run();
    run.assert_failed_with(&["az://archive/no/such/prefix/PAGE_VIEWS: no such folder"]);
    assert_nothing_written(dir);
}
