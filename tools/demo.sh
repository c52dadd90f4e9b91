#!/usr/bin/env bash
# A local ferry deployment on embedded defaults, and a real copy through it.
#
#   tools/demo.sh          install, build, start a controller and two copyd on
#                          127.0.0.1, generate a source tree, copy it with
#                          `ferry cp -r`, verify it byte for byte, stop everything
#   tools/demo.sh --keep   the same, but leave the deployment running and print how to
#                          use and stop it
#
# Everything lives under one temporary directory (printed): the cluster's storage root,
# the controller's RocksDB, the logs, and the certificates: every channel is mTLS, with a
# CA, the processes' certificates and the user "demo"'s made by tools/gen-certs.sh (the
# CLI finds the user's in FERRY_TLS_DIR).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  "") ;;
  -h | --help) sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "usage: tools/demo.sh [--keep]" >&2; exit 2 ;;
esac

say() { printf '==> %s\n' "$*"; }

say "installing packages (tools/setup.sh)"
tools/setup.sh

say "building controller, copyd and the ferry CLI"
bazel build -c opt --ui_event_filters=-info,-stdout,-stderr --noshow_progress \
  //controller //copyd //tools/ferry
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
DEMO=$(mktemp -d /tmp/ferry-demo.XXXXXX)
mkdir -p "$DEMO/cluster-root" "$DEMO/controller-data" "$DEMO/logs" "$DEMO/run"
# Binaries are copied so the deployment keeps running whatever later builds do.
cp "$BIN/controller/controller" "$BIN/copyd/copyd" "$BIN/tools/ferry/ferry" "$DEMO/run/"
chmod u+w "$DEMO"/run/*

say "making certificates (tools/gen-certs.sh: a CA, cluster local's processes, user demo)"
CERTS=$DEMO/certs
tools/gen-certs.sh "$CERTS" --cluster local --user demo >"$DEMO/logs/gen-certs.log"
tls_flags() {  # tls_flags NAME: sets tls to the --tls_* flags of certificate NAME
  tls=(--tls_ca="$CERTS/ca.pem" --tls_cert="$CERTS/$1.pem" --tls_key="$CERTS/$1.key")
}
# The capability keys every daemon shares and the cluster's policy: user demo reads and
# writes the whole cluster and is an admin (auth/README.md).
tools/gen-keys.sh "$CERTS/capability.keys" >>"$DEMO/logs/gen-certs.log"
cat >"$CERTS/policy.textproto" <<'POLICY'
grants { principals: "ferry://user/demo" cluster: "local" path_prefix: "/"
         permissions: [PERMISSION_READ, PERMISSION_WRITE] }
admin_principals: "ferry://user/demo"
POLICY
auth=(--policy="$CERTS/policy.textproto" --capability_keys="$CERTS/capability.keys")
# What a person keeps: the CA and their own certificate and key, found by FERRY_TLS_DIR.
export FERRY_TLS_DIR=$DEMO/tls
mkdir -m 700 "$FERRY_TLS_DIR"
cp "$CERTS/ca.pem" "$FERRY_TLS_DIR/ca.pem"
cp "$CERTS/user-demo.pem" "$FERRY_TLS_DIR/user.pem"
cp "$CERTS/user-demo.key" "$FERRY_TLS_DIR/user.key"

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
on_exit() {
  local status=$?
  if ((keep == 0 || status != 0)); then
    stop_all
    ((status == 0)) || echo "demo failed; logs are in $DEMO/logs" >&2
  fi
}
trap on_exit EXIT

wait_port() {  # wait_port FILE: prints the port once the server wrote it
  local file=$1 deadline=$((SECONDS + 30))
  until [[ -s "$file" ]]; do
    ((SECONDS < deadline)) || { echo "timed out waiting for $file" >&2; return 1; }
    sleep 0.1
  done
  cat "$file"
}

say "starting the controller (RocksDB in $DEMO/controller-data)"
tls_flags local-controller
setsid "$DEMO/run/controller" --cluster=local --data_dir="$DEMO/controller-data" \
  --listen=127.0.0.1:0 --port_file="$DEMO/run/controller.port" "${tls[@]}" "${auth[@]}" \
  >"$DEMO/logs/controller.log" 2>&1 &
pids+=($!)
CONTROLLER=127.0.0.1:$(wait_port "$DEMO/run/controller.port")

for i in 1 2; do
  say "starting copyd-$i (storage root $DEMO/cluster-root)"
  tls_flags local-copyd
  setsid "$DEMO/run/copyd" --cluster=local --controller="$CONTROLLER" \
    --root="$DEMO/cluster-root" --name="copyd-$i" --listen=127.0.0.1:0 \
    --port_file="$DEMO/run/copyd-$i.port" "${tls[@]}" "${auth[@]}" \
    >"$DEMO/logs/copyd-$i.log" 2>&1 &
  pids+=($!)
  wait_port "$DEMO/run/copyd-$i.port" >/dev/null
done
printf '%s\n' "${pids[@]}" >"$DEMO/run/pids"

say "generating a source tree in $DEMO/cluster-root/src"
SRC="$DEMO/cluster-root/src"
mkdir -p "$SRC"
for d in $(seq 1 12); do
  mkdir -p "$SRC/project-$d/data/part-$((d % 3))"
  for f in $(seq 1 25); do
    head -c $((f * 173 + d)) /dev/urandom >"$SRC/project-$d/data/part-$((d % 3))/file-$f.bin"
  done
  echo "readme of project $d" >"$SRC/project-$d/README"
done
: >"$SRC/empty-file"
mkdir -p "$SRC/empty-dir" "$SRC/a/b/c/d/e/f/g/h"
echo "deep" >"$SRC/a/b/c/d/e/f/g/h/deep.txt"
head -c $((100 << 20)) /dev/urandom >"$SRC/big-100MiB.bin"
ln -s project-1/README "$SRC/readme-link"
files=$(find "$SRC" | wc -l)
say "source: $files entries, $(du -sh "$SRC" | cut -f1)"

say "copying over mTLS as ferry://user/demo: ferry cp -r local:/src local:/dst"
start=$(date +%s.%N)
"$DEMO/run/ferry" --controller="$CONTROLLER" cp -r local:/src local:/dst
end=$(date +%s.%N)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')

say "verifying byte for byte (diff -r --no-dereference)"
diff -r --no-dereference "$SRC" "$DEMO/cluster-root/dst"
say "identical: $files entries copied in ${elapsed} s (wall clock of ferry cp)"
echo "    logs:          $DEMO/logs"
echo "    storage root:  $DEMO/cluster-root"
echo "    controller db: $DEMO/controller-data"
echo "    certificates:  $CERTS (CA and processes), $FERRY_TLS_DIR (user demo)"

if ((keep)); then
  cat <<USAGE

The deployment keeps running, mTLS only. To use it:
    export FERRY_CONTROLLER=$CONTROLLER FERRY_TLS_DIR=$FERRY_TLS_DIR
    $DEMO/run/ferry cp -r local:/src local:/another-copy
    $DEMO/run/ferry status <transfer id>
To stop it:
    kill \$(cat $DEMO/run/pids)
USAGE
else
  say "stopping the deployment"
fi
