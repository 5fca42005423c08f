//! `c2k plugin new`: the crates it writes, outside the repository, pass their own unit tests
//! natively, build for wasm32-wasip2 with one command, and run — under `c2k plugin test` and in
//! their sample pipeline on a `c2k sample` tree, whose envelope output shows each message's key,
//! headers and timestamp.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::c2k::C2k;
use crate::support::process::run_with_timeout;

const BUILD: Duration = Duration::from_secs(900);

/// `cargo ARGS` in `crate_dir`, with a target folder kept between test runs (the SDK and
/// wit-bindgen compile once).
fn cargo(crate_dir: &Path, args: &[&str]) {
    let target = std::path::PathBuf::from(std::env::var("HOME").expect("HOME"))
        .join(".cache/camus2kafka/scaffold-target");
    let output = run_with_timeout(
        Command::new(env!("CARGO"))
            .args(args)
            .current_dir(crate_dir)
            .env("CARGO_TARGET_DIR", &target)
            // The test's own cargo settings are not the new crate's.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET"),
        BUILD,
    );
    assert!(
        output.status.success(),
        "cargo {args:?} in {}: {}",
        crate_dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn wasm(lib_name: &str) -> String {
    std::path::PathBuf::from(std::env::var("HOME").unwrap())
        .join(".cache/camus2kafka/scaffold-target/wasm32-wasip2/release")
        .join(format!("{lib_name}.wasm"))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn new_key_and_format_plugins_test_build_and_run_outside_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let long = Duration::from_secs(300);
    for (name, kind) in [("country-newest", "key"), ("csv-out", "format")] {
        C2k::new(&[
            "plugin",
            "new",
            name,
            "--kind",
            kind,
            "--dir",
            dir.path().to_str().unwrap(),
        ])
        .dir(dir.path())
        .timeout(long)
        .run()
        .assert_ok();
        let crate_dir = dir.path().join(name);
        cargo(&crate_dir, &["test", "-q"]);
        cargo(
            &crate_dir,
            &["build", "-q", "--release", "--target", "wasm32-wasip2"],
        );
        // The sample pipeline replaces the wasm path relative to the crate: point it at the
        // shared target folder instead.
        C2k::new(&["sample", "sample", "--records", "3000"])
            .dir(&crate_dir)
            .timeout(long)
            .run()
            .assert_ok();
        let lib = name.replace('-', "_");
        let pipeline = std::fs::read_to_string(crate_dir.join("pipeline.yaml"))
            .unwrap()
            .replace(
                &format!("target/wasm32-wasip2/release/{lib}.wasm"),
                &wasm(&lib),
            );
        std::fs::write(crate_dir.join("pipeline.yaml"), pipeline).unwrap();
        C2k::new(&["run", "pipeline.yaml"])
            .dir(&crate_dir)
            .timeout(long)
            .run()
            .assert_ok();
        // The sample pipeline writes envelopes: what the plugin made of every record, in order.
        let out = std::fs::read_to_string(crate_dir.join("out.jsonl")).unwrap();
        let messages: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(messages.len(), 3000, "{name}");
        match kind {
            // country ascending, then newest first; the key plugin's time is the timestamp.
            "key" => {
                let order: Vec<(String, i64)> = messages
                    .iter()
                    .map(|m| {
                        let record: serde_json::Value =
                            serde_json::from_str(m["value"].as_str().unwrap()).unwrap();
                        let time = record["header"]["time"].as_i64().unwrap();
                        assert_eq!(m["timestamp_ms"], time, "{m}");
                        (record["country"].as_str().unwrap().to_string(), -time)
                    })
                    .collect();
                assert!(
                    order.windows(2).all(|w| w[0] <= w[1]),
                    "{name}: not in key order"
                );
                assert!(
                    order.iter().any(|(c, _)| c != &order[0].0),
                    "one country only"
                );
            }
            // `country,time`, keyed by country, with the schema header, timestamped.
            _ => {
                let mut previous = i64::MIN;
                for m in &messages {
                    let value = m["value"].as_str().unwrap();
                    let (country, time) = value.split_once(',').unwrap();
                    assert_eq!(m["key"], country, "{m}");
                    assert_eq!(m["timestamp_ms"].as_i64(), time.parse().ok(), "{m}");
                    assert_eq!(
                        m["headers"],
                        serde_json::json!([{"key": "source-schema",
                                            "value": "com.example.events.PageView"}]),
                        "{m}"
                    );
                    let time: i64 = time.parse().unwrap();
                    assert!(time >= previous, "time-field order: {m}");
                    previous = time;
                }
            }
        }

        let tried = C2k::new(&[
            "plugin",
            "test",
            &wasm(&lib),
            "--input",
            "sample/destination",
            "--schema",
            "sample/page_view.avsc",
            "-n",
            "3",
        ])
        .dir(&crate_dir)
        .timeout(long)
        .run();
        tried.assert_ok();
        let first: serde_json::Value =
            serde_json::from_str(tried.stdout.lines().next().unwrap()).unwrap();
        match kind {
            "key" => assert!(first["key_hex"].as_str().is_some(), "{first}"),
            _ => {
                assert_eq!(first["headers"][0]["key"], "source-schema", "{first}");
                assert!(first["value"].as_str().unwrap().contains(','), "{first}");
            }
        }
    }
    // An existing folder is never overwritten.
    C2k::new(&[
        "plugin",
        "new",
        "csv-out",
        "--kind",
        "format",
        "--dir",
        dir.path().to_str().unwrap(),
    ])
    .dir(dir.path())
    .timeout(long)
    .run()
    .assert_failed_with(&["already exists"]);
}
