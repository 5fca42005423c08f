#!/usr/bin/env bash
# usage: s3-stop.sh DIR [--keep]  -> kills (kill -9) the weed server s3-start.sh started in DIR,
# removes the gRPC sockets weed left in /tmp, and removes DIR unless --keep is given (then
# s3-start.sh DIR S3PORT restarts it on the same data).
DIR=${1:?usage: s3-stop.sh DIR [--keep]}
if pid=$(cat "$DIR/weed.pid" 2>/dev/null); then
  kill -9 "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
fi
if [ -f "$DIR/ports" ]; then
  . "$DIR/ports"
  rm -f "/tmp/seaweedfs-master-grpc-$MASTER_GRPC.sock" "/tmp/seaweedfs-volume-grpc-$VOLUME_GRPC.sock" \
    "/tmp/seaweedfs-filer-grpc-$FILER_GRPC.sock" "/tmp/seaweedfs-s3-grpc-$S3_GRPC.sock"
fi
[ "${2:-}" = --keep ] || rm -rf "$DIR"
