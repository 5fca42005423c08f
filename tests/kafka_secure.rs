//! `c2k run` into secured Apache Kafka clusters, each started by the test with a PLAINTEXT
//! listener (for setting up and checking) beside the secured one c2k is pointed at:
//! - 3.3.2 (KRaft) with an SSL listener (a CA and a broker certificate made with `openssl`, a PEM
//!   keystore): a replay and an offsets commit (`commit: kafka`) over TLS, read back over TLS;
//!   an untrusted CA, a certificate for another host name and a consumer left in plain text each
//!   fail as documented, before any record is read;
//! - 2.1.1 (ZooKeeper mode, where SCRAM users live) with a SASL_SSL listener: a replay with
//!   SCRAM-SHA-256 and a commit with SCRAM-SHA-512, read back with both; a wrong password and a
//!   mechanism the broker does not enable fail as documented, the password never printed;
//! - 3.3.2 with a SASL_PLAINTEXT listener and GSSAPI against a throwaway MIT KDC
//!   (`support::kerberos`): a replay and a commit with a keytab, read back with Kerberos; another
//!   service name and a principal the keytab does not hold fail as Kerberos failures;
//! - 3.3.2 with two SASL_PLAINTEXT listeners: a replay with PLAIN, a commit with OAUTHBEARER
//!   (librdkafka's unsecured JWT, which the broker's default validator takes).
//!
//! The archive is a `c2k sample` tree with its own history (the integrity gate checks it); the
//! original topic is created and filled up to the cut-offs through the PLAINTEXT listener, so
//! the live-topic check (read through the secured listener) passes. Without the Kafka dist a
//! test needs (`scripts/setup.sh`), it skips, saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::config::FromClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::support::apache_kafka::{ApacheKafka, Secured, Version};
use crate::support::c2k::{self, C2k, Run};
use crate::support::kerberos::{Kdc, REALM};
use crate::support::live;
use crate::support::tls::Certificates;

const TOPIC: &str = "PAGE_VIEWS";
const REPLAY: &str = "PAGE_VIEWS_REPLAY";
const GROUP: &str = "page-view-consumers";
const PARTITIONS: u32 = 4;
const RECORDS: u64 = 2_000;
const RUN_TIMEOUT: Duration = Duration::from_secs(240);
const READ_TIMEOUT: Duration = Duration::from_secs(90);
/// A failure must be told long before any timeout of c2k's (30 s) would have ended it.
const FAILS_WITHIN: Duration = Duration::from_secs(20);

/// The SCRAM user's password: never printed by c2k.
const PASSWORD: &str = "c2k-scram-secret-9f3a";

/// A `c2k sample` tree in `dir` (its own Camus history) and its cut-offs, by partition.
fn sample(dir: &Path) -> Vec<i64> {
    c2k::sample(dir, RECORDS, PARTITIONS);
    let history = dir.join("execution/base/history");
    let run = camus2kafka::testing::latest_run(history.to_str().expect("utf-8 path"), TOPIC)
        .expect("the sample's newest Camus run");
    run.partitions.iter().map(|p| p.offset).collect()
}

/// The original topic on the live cluster, through its PLAINTEXT listener: created, and filled up
/// to the cut-offs, so the live-topic check finds it ready for the hand-off.
fn original_topic(kafka: &ApacheKafka, cutoffs: &[i64]) {
    live::create_topic(&kafka.bootstrap(), TOPIC, PARTITIONS as i32);
    live::produce(&kafka.client_config(), TOPIC, cutoffs);
}

/// A YAML flow mapping of librdkafka properties.
fn properties(pairs: &[(&str, String)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}: '{}'", v.replace('\'', "''")))
        .collect();
    format!("{{ {} }}", inner.join(", "))
}

/// The pipeline: the sample tree into `brokers` with `producer` properties, and the offsets
/// committed through the group coordinator with `consumer` properties.
fn write_pipeline(
    dir: &Path,
    brokers: &str,
    producer: &[(&str, String)],
    consumer: &[(&str, String)],
) -> String {
    // The sample's topic is `TOPIC`.
    let yaml = format!(
        "{}sink:\n  type: kafka\n  brokers: '{brokers}'\n  producer: {}\n\
         offsets:\n  exec_dir: {d}/execution\n  group: {GROUP}\n  commit: kafka\n  consumer: {}\n",
        c2k::sample_pipeline_head(dir),
        properties(producer),
        properties(consumer),
        d = dir.display()
    );
    std::fs::create_dir_all(dir.join("tmp")).expect("tmp dir");
    c2k::write_pipeline(dir, "secure.yaml", &yaml)
}

/// A client configuration: `brokers` and the same properties c2k was given.
fn client(brokers: &str, settings: &[(&str, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    for (name, value) in settings {
        config.set(*name, value.as_str());
    }
    config
}

/// Reads the whole replay topic with `config` and checks it holds every record once, each
/// partition numbered 0, 1, 2, … by `c2k-seq`.
fn assert_replayed(config: &ClientConfig) {
    let mut config = config.clone();
    let consumer: BaseConsumer = config
        .set("group.id", "c2k-test-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "50")
        .create()
        .expect("a reader of the replay topic");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS as i32 {
        assignment
            .add_partition_offset(REPLAY, partition, Offset::Beginning)
            .expect("assignment");
    }
    consumer.assign(&assignment).expect("assign");
    let header = |message: &rdkafka::message::BorrowedMessage<'_>, name: &str| {
        message.headers().and_then(|hs| {
            hs.iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
    };
    let mut sources = BTreeSet::new();
    let mut per_partition: BTreeMap<i32, Vec<u64>> = BTreeMap::new();
    let mut read = 0u64;
    let deadline = Instant::now() + READ_TIMEOUT;
    while read < RECORDS {
        assert!(
            Instant::now() < deadline,
            "read {read} of {RECORDS} messages of {REPLAY} within {READ_TIMEOUT:?}"
        );
        let Some(result) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = result.expect("consume the replay topic");
        read += 1;
        sources.insert((
            header(&message, "c2k-source-file"),
            header(&message, "c2k-source-index"),
        ));
        let seq = header(&message, "c2k-seq")
            .and_then(|s| s.parse().ok())
            .expect("a c2k-seq on every message");
        per_partition
            .entry(message.partition())
            .or_default()
            .push(seq);
    }
    // Anything more within a second would be a duplicate.
    let quiet = Instant::now() + Duration::from_secs(1);
    while Instant::now() < quiet {
        if let Some(result) = consumer.poll(Duration::from_millis(100)) {
            result.expect("consume the replay topic");
            read += 1;
        }
    }
    assert_eq!(read, RECORDS, "every record once");
    assert_eq!(sources.len() as u64, RECORDS, "no record twice");
    assert_eq!(
        per_partition.len() as u32,
        PARTITIONS,
        "messages on every partition"
    );
    for (partition, seqs) in per_partition {
        let expected: Vec<u64> = (0..seqs.len() as u64).collect();
        assert_eq!(
            seqs, expected,
            "partition {partition}: c2k-seq in offset order"
        );
    }
}

/// The group's committed offsets of the original topic, read with `config`.
fn committed(config: &ClientConfig) -> Vec<i64> {
    let mut config = config.clone();
    let consumer: BaseConsumer = config
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer of the group");
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS as i32 {
        partitions.add_partition(TOPIC, partition);
    }
    let found = consumer
        .committed_offsets(partitions, Duration::from_secs(30))
        .expect("the group's committed offsets");
    (0..PARTITIONS as i32)
        .map(
            |p| match found.find_partition(TOPIC, p).map(|e| e.offset()) {
                Some(Offset::Offset(n)) => n,
                other => panic!("{TOPIC}/{p}: committed {other:?}"),
            },
        )
        .collect()
}

/// A run that succeeds: the replay acknowledged, the offsets committed.
fn assert_run_ok(run: &Run) {
    run.assert_ok();
    assert!(
        run.stdout.contains(&format!(
            "committed {PARTITIONS} offsets of {TOPIC} for group {GROUP}"
        )),
        "the offsets step reports its commit:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

/// A run that fails in time, before reading the archive's records, with exit code 1 and every
/// needle in its error; the replay topic is not even created.
fn assert_refused_early(run: &Run, started: Instant, needles: &[&str], kafka: &ApacheKafka) {
    eprintln!("c2k said, as expected:\n{}", run.stderr);
    run.assert_failed_with(needles);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        started.elapsed() < FAILS_WITHIN,
        "told within {FAILS_WITHIN:?}, not after a timeout: {:?}\n{}",
        started.elapsed(),
        run.stderr
    );
    // The data files were damaged before the run: reading any record would have failed on them.
    assert!(
        !run.stderr.contains("damaged") && !run.stderr.contains("truncated"),
        "a record was read before the failure:\n{}",
        run.stderr
    );
    let metadata = BaseConsumer::<rdkafka::consumer::DefaultConsumerContext>::from_config(
        &kafka.client_config(),
    )
    .expect("a plaintext metadata reader")
    .fetch_metadata(None, Duration::from_secs(30))
    .expect("metadata through the PLAINTEXT listener");
    assert!(
        !metadata.topics().iter().any(|t| t.name() == REPLAY),
        "the replay topic was created:\n{}",
        run.stderr
    );
}

/// Cuts every data file of the tree to half its size: the names (and the integrity gate, which
/// reads only names and the history) are unchanged, but reading any record fails.
fn damage_every_data_file(dir: &Path) {
    for file in crate::support::camus::avro_files(&dir.join("destination")) {
        let size = std::fs::metadata(&file).expect("data file").len();
        let handle = std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .expect("open data file");
        handle.set_len(size / 2).expect("truncate data file");
    }
}

fn run(dir: &Path, args: &[&str]) -> (Run, Instant) {
    let started = Instant::now();
    (C2k::new(args).dir(dir).timeout(RUN_TIMEOUT).run(), started)
}

fn tls_settings(ca: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SSL".to_string()),
        ("ssl.ca.location", ca.display().to_string()),
    ]
}

#[test]
fn ssl_replay_and_commit_through_a_tls_listener_read_back_over_tls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = Certificates::make(&dir.path().join("tls"), &["IP:127.0.0.1", "DNS:localhost"]);
    let Some(kafka) = ApacheKafka::start_secured(
        Version::V3_3_2,
        &Secured {
            listeners: vec![("SSL", "SSL", "127.0.0.1")],
            properties: certs.pem_keystore_properties(),
            ..Secured::default()
        },
    ) else {
        return;
    };
    let cutoffs = sample(dir.path());
    original_topic(&kafka, &cutoffs);
    let tls = tls_settings(&certs.ca);
    let pipeline = write_pipeline(dir.path(), &kafka.listener("SSL"), &tls, &tls);

    let (ran, _) = run(dir.path(), &["run", &pipeline]);
    assert_run_ok(&ran);
    assert_replayed(&client(&kafka.listener("SSL"), &tls));
    assert_eq!(committed(&client(&kafka.listener("SSL"), &tls)), cutoffs);
}

#[test]
fn tls_mistakes_fail_before_any_record_is_read_naming_the_broker_and_the_property() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A certificate for 127.0.0.1 only: `localhost` is another name.
    let certs = Certificates::make(&dir.path().join("tls"), &["IP:127.0.0.1"]);
    let Some(kafka) = ApacheKafka::start_secured(
        Version::V3_3_2,
        &Secured {
            listeners: vec![("SSL", "SSL", "127.0.0.1")],
            properties: certs.pem_keystore_properties(),
            ..Secured::default()
        },
    ) else {
        return;
    };
    let cutoffs = sample(dir.path());
    original_topic(&kafka, &cutoffs);
    damage_every_data_file(dir.path());
    let ssl = kafka.listener("SSL");
    let tls = tls_settings(&certs.ca);

    // A CA that did not sign the broker's certificate; the offsets step is not what fails.
    let untrusted = tls_settings(&certs.other_ca);
    let pipeline = write_pipeline(dir.path(), &ssl, &untrusted, &tls);
    let (ran, started) = run(dir.path(), &["run", &pipeline]);
    assert_refused_early(
        &ran,
        started,
        &[
            &format!("TLS handshake with broker {ssl} failed: unknown CA"),
            "sink.producer.ssl.ca.location",
            "nothing was sent",
        ],
        &kafka,
    );

    // The right CA, but the broker reached by a name its certificate does not hold.
    let port = ssl.rsplit_once(':').expect("host:port").1;
    let by_name = format!("localhost:{port}");
    let pipeline = write_pipeline(dir.path(), &by_name, &tls, &tls);
    let (ran, started) = run(
        dir.path(),
        &["run", &pipeline, "--set", &format!("offsets.brokers={ssl}")],
    );
    assert_refused_early(
        &ran,
        started,
        &[
            &format!("TLS handshake with broker {by_name} failed: hostname mismatch"),
            "sink.producer.ssl.endpoint.identification.algorithm",
        ],
        &kafka,
    );

    // TLS for the replay, but the offsets step's consumer left in plain text (its settings come
    // from offsets.consumer alone): refused by the pre-flight, before anything else.
    let pipeline = write_pipeline(dir.path(), &ssl, &tls, &[]);
    let (ran, started) = run(dir.path(), &["run", &pipeline]);
    assert_refused_early(
        &ran,
        started,
        &[
            &format!("broker {ssl} closes the connection before answering"),
            "offsets.consumer.security.protocol",
            "checked before publishing anything",
        ],
        &kafka,
    );
}

/// A 2.1.1 broker with a SASL_SSL listener enabling SCRAM-SHA-256 and SCRAM-SHA-512 (a PKCS#12
/// keystore: PEM keystores came with 2.7), and user `c2k` with [`PASSWORD`].
fn scram_broker(dir: &Path) -> Option<(ApacheKafka, Certificates)> {
    let certs = Certificates::make(&dir.join("tls"), &["IP:127.0.0.1", "DNS:localhost"]);
    let jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
    let kafka = ApacheKafka::start_secured(
        Version::V2_1_1,
        &Secured {
            listeners: vec![("SASL_SSL", "SASL_SSL", "127.0.0.1")],
            properties: format!(
                "{}sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512\n\
                 listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={jaas}\n\
                 listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}\n",
                certs.p12_keystore_properties()
            ),
            ..Secured::default()
        },
    )?;
    kafka.scram_user("c2k", PASSWORD);
    Some((kafka, certs))
}

fn scram_settings(ca: &Path, mechanism: &str, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SASL_SSL".to_string()),
        ("ssl.ca.location", ca.display().to_string()),
        ("sasl.mechanism", mechanism.to_string()),
        ("sasl.username", "c2k".to_string()),
        ("sasl.password", password.to_string()),
    ]
}

/// Nothing c2k printed holds the password.
fn assert_no_password(run: &Run, password: &str) {
    assert!(
        !run.stdout.contains(password) && !run.stderr.contains(password),
        "the password was printed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn scram_sha_256_replay_and_sha_512_commit_through_sasl_ssl_on_kafka_2_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some((kafka, certs)) = scram_broker(dir.path()) else {
        return;
    };
    let cutoffs = sample(dir.path());
    original_topic(&kafka, &cutoffs);
    let broker = kafka.listener("SASL_SSL");
    let sha256 = scram_settings(&certs.ca, "SCRAM-SHA-256", PASSWORD);
    let sha512 = scram_settings(&certs.ca, "SCRAM-SHA-512", PASSWORD);
    let pipeline = write_pipeline(dir.path(), &broker, &sha256, &sha512);

    // The dry run shows the settings, the password redacted; validate checks them.
    let (validated, _) = run(dir.path(), &["validate", &pipeline]);
    validated.assert_ok();
    let (dry, _) = run(dir.path(), &["run", "--dry-run", &pipeline]);
    dry.assert_ok();
    assert!(
        dry.stderr.contains("sasl.password=***, sasl.username=c2k")
            && dry
                .stderr
                .contains("offsets.consumer: sasl.mechanism=SCRAM-SHA-512"),
        "the dry run shows the Kafka settings, redacted:\n{}",
        dry.stderr
    );
    assert_no_password(&dry, PASSWORD);

    let (ran, _) = run(dir.path(), &["run", &pipeline]);
    assert_run_ok(&ran);
    assert_no_password(&ran, PASSWORD);
    assert_replayed(&client(&broker, &sha256));
    assert_eq!(committed(&client(&broker, &sha512)), cutoffs);
}

#[test]
fn scram_mistakes_fail_before_any_record_is_read_and_never_print_the_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some((kafka, certs)) = scram_broker(dir.path()) else {
        return;
    };
    let cutoffs = sample(dir.path());
    original_topic(&kafka, &cutoffs);
    damage_every_data_file(dir.path());
    let broker = kafka.listener("SASL_SSL");
    let right = scram_settings(&certs.ca, "SCRAM-SHA-512", PASSWORD);

    // A wrong password, with librdkafka's own debug logs on: never printed, even there.
    let wrong_password = "not-the-c2k-password-77";
    let wrong = scram_settings(&certs.ca, "SCRAM-SHA-256", wrong_password);
    let pipeline = write_pipeline(dir.path(), &broker, &wrong, &right);
    let started = Instant::now();
    let ran = C2k::new(&[
        "run",
        &pipeline,
        "--set",
        "sink.producer.debug=security,broker",
    ])
    .dir(dir.path())
    .env("RUST_LOG", "debug")
    .timeout(RUN_TIMEOUT)
    .run();
    assert_refused_early(
        &ran,
        started,
        &[
            &format!("SASL authentication with broker {broker} failed"),
            "user c2k for SCRAM-SHA-256",
            "sink.producer.sasl.password",
        ],
        &kafka,
    );
    assert_no_password(&ran, wrong_password);
    assert_no_password(&ran, PASSWORD);

    // A mechanism the listener does not enable.
    let mut plain = right.clone();
    plain[2].1 = "PLAIN".to_string();
    let pipeline = write_pipeline(dir.path(), &broker, &plain, &right);
    let (ran, started) = run(dir.path(), &["run", &pipeline]);
    assert!(
        ran.stderr.contains("SCRAM-SHA-256") && ran.stderr.contains("SCRAM-SHA-512"),
        "the mechanisms the broker enables:\n{}",
        ran.stderr
    );
    assert_refused_early(
        &ran,
        started,
        &[
            &format!("SASL mechanism PLAIN is not enabled on broker {broker}"),
            "(it enables SCRAM-SHA-",
            "sink.producer.sasl.mechanism",
        ],
        &kafka,
    );
    assert_no_password(&ran, PASSWORD);
}

#[test]
fn gssapi_replay_and_commit_through_sasl_plaintext_with_a_keytab() {
    let kdc = Kdc::start().expect("MIT Kerberos is installed (scripts/setup.sh)");
    let broker_keytab = kdc.keytab_for("kafka/localhost");
    let client_keytab = kdc.keytab_for("c2k");
    let jaas = kdc.dir().join("kafka-server-jaas.conf");
    std::fs::write(
        &jaas,
        format!(
            "KafkaServer {{\n  com.sun.security.auth.module.Krb5LoginModule required\n  \
             useKeyTab=true\n  storeKey=true\n  keyTab=\"{}\"\n  \
             principal=\"kafka/localhost@{REALM}\";\n}};\n",
            broker_keytab.display()
        ),
    )
    .expect("the broker's JAAS file");
    // The KDC is found through KRB5_CONFIG, and tickets are kept in a cache of this test's own,
    // by c2k (which inherits both) and by the reading clients of this process.
    std::env::set_var("KRB5_CONFIG", kdc.krb5_conf());
    std::env::set_var(
        "KRB5CCNAME",
        format!("FILE:{}", kdc.dir().join("ccache").display()),
    );
    let Some(kafka) = ApacheKafka::start_secured(
        Version::V3_3_2,
        &Secured {
            // Advertised as localhost: the broker's principal is kafka/localhost.
            listeners: vec![("SASL_PLAINTEXT", "SASL_PLAINTEXT", "localhost")],
            properties: "sasl.enabled.mechanisms=GSSAPI\nsasl.kerberos.service.name=kafka\n"
                .to_string(),
            jvm_opts: format!(
                "-Djava.security.auth.login.config={} -Djava.security.krb5.conf={}",
                jaas.display(),
                kdc.krb5_conf().display()
            ),
        },
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let cutoffs = sample(dir.path());
    original_topic(&kafka, &cutoffs);
    let broker = kafka.listener("SASL_PLAINTEXT");
    let kerberos = vec![
        ("security.protocol", "SASL_PLAINTEXT".to_string()),
        ("sasl.mechanism", "GSSAPI".to_string()),
        ("sasl.kerberos.service.name", "kafka".to_string()),
        ("sasl.kerberos.principal", format!("c2k@{REALM}")),
        ("sasl.kerberos.keytab", client_keytab.display().to_string()),
    ];
    let pipeline = write_pipeline(dir.path(), &broker, &kerberos, &kerberos);

    let (ran, _) = run(dir.path(), &["run", &pipeline]);
    assert_run_ok(&ran);
    assert_replayed(&client(&broker, &kerberos));
    assert_eq!(committed(&client(&broker, &kerberos)), cutoffs);

    // The broker's principal under another service name: not in the KDC.
    let (ran, started) = run(
        dir.path(),
        &[
            "run",
            &pipeline,
            "--set",
            "sink.producer.sasl.kerberos.service.name=kafka-nope",
        ],
    );
    eprintln!("c2k said, as expected:\n{}", ran.stderr);
    ran.assert_failed_with(&[
        &format!("Kerberos (SASL GSSAPI) authentication with broker {broker} failed"),
        "sink.producer.sasl.kerberos.service.name",
    ]);
    assert!(started.elapsed() < FAILS_WITHIN, "{:?}", started.elapsed());

    // A principal the keytab does not hold, with a ticket cache of its own (the shared one still
    // holds c2k's ticket, which GSSAPI would use; and every client of a process shares its
    // cache, so both maps get the wrong principal): kinit fails, and so does the handshake, in
    // the offsets step's pre-flight, the first to connect.
    let fresh_cache = format!("FILE:{}", kdc.dir().join("fresh-ccache").display());
    let nobody = format!("nobody@{REALM}");
    let started = Instant::now();
    let ran = C2k::new(&[
        "run",
        &pipeline,
        "--set",
        &format!("sink.producer.sasl.kerberos.principal={nobody}"),
        "--set",
        &format!("offsets.consumer.sasl.kerberos.principal={nobody}"),
    ])
    .dir(dir.path())
    .env("KRB5CCNAME", &fresh_cache)
    .timeout(RUN_TIMEOUT)
    .run();
    eprintln!("c2k said, as expected:\n{}", ran.stderr);
    ran.assert_failed_with(&[
        "Kerberos (SASL GSSAPI) authentication with broker",
        "offsets.consumer.sasl.kerberos.principal",
    ]);
    assert!(started.elapsed() < FAILS_WITHIN, "{:?}", started.elapsed());
}

#[test]
fn plain_replay_and_oauthbearer_commit_through_sasl_plaintext_on_kafka_3_3() {
    let plain_jaas = format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required user_c2k=\"{PASSWORD}\";"
    );
    let oauth_jaas =
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;";
    let Some(kafka) = ApacheKafka::start_secured(
        Version::V3_3_2,
        &Secured {
            listeners: vec![
                ("PLAIN", "SASL_PLAINTEXT", "127.0.0.1"),
                ("OAUTH", "SASL_PLAINTEXT", "127.0.0.1"),
            ],
            // The broker's default OAUTHBEARER validator takes librdkafka's unsecured JWTs.
            properties: format!(
                "listener.name.plain.sasl.enabled.mechanisms=PLAIN\n\
                 listener.name.plain.plain.sasl.jaas.config={plain_jaas}\n\
                 listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER\n\
                 listener.name.oauth.oauthbearer.sasl.jaas.config={oauth_jaas}\n"
            ),
            ..Secured::default()
        },
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let cutoffs = sample(dir.path());
    original_topic(&kafka, &cutoffs);
    let plain = vec![
        ("security.protocol", "SASL_PLAINTEXT".to_string()),
        ("sasl.mechanism", "PLAIN".to_string()),
        ("sasl.username", "c2k".to_string()),
        ("sasl.password", PASSWORD.to_string()),
    ];
    let oauth = vec![
        ("security.protocol", "SASL_PLAINTEXT".to_string()),
        ("sasl.mechanism", "OAUTHBEARER".to_string()),
        ("enable.sasl.oauthbearer.unsecure.jwt", "true".to_string()),
        ("sasl.oauthbearer.config", "principal=c2k".to_string()),
    ];
    let pipeline = write_pipeline(dir.path(), &kafka.listener("PLAIN"), &plain, &oauth);
    // Only the offsets step's clients talk to the OAUTHBEARER listener.
    let offsets_brokers = format!("offsets.brokers={}", kafka.listener("OAUTH"));

    let (dry, _) = run(
        dir.path(),
        &["run", "--dry-run", &pipeline, "--set", &offsets_brokers],
    );
    dry.assert_ok();
    assert!(
        dry.stderr.contains("sasl.oauthbearer.config=***")
            && dry.stderr.contains("sasl.password=***"),
        "secrets redacted in the dry run:\n{}",
        dry.stderr
    );
    assert_no_password(&dry, PASSWORD);

    let (ran, _) = run(dir.path(), &["run", &pipeline, "--set", &offsets_brokers]);
    assert_run_ok(&ran);
    assert_no_password(&ran, PASSWORD);
    assert_replayed(&client(&kafka.listener("PLAIN"), &plain));
    assert_eq!(
        committed(&client(&kafka.listener("OAUTH"), &oauth)),
        cutoffs
    );
}
