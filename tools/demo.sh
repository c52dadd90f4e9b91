#!/usr/bin/env bash
# A local ferry deployment of two clusters on embedded defaults, and real copies.
#
#   tools/demo.sh          install, build, start clusters a and b on 127.0.0.1 (each a
#                          controller and two copyd over its own storage root), generate a
#                          source tree in a, copy it to b with `ferry cp -rH a:/src b:/src`
#                          (b's copyds pull from a's), copy it again within b, verify both
#                          byte for byte with diff -r, the hard link kept and directory
#                          modes and mtimes, print the timings, stop everything
#   tools/demo.sh --keep   the same, but leave both clusters running and print how to use
#                          and stop them
#
# Everything lives under one temporary directory (printed): each cluster's storage root
# and controller RocksDB, the logs, the certificates (every channel is mTLS: a CA, the
# processes' certificates and the user "demo"'s by tools/gen-certs.sh; the CLI finds the
# user's in FERRY_TLS_DIR), the capability key both clusters share (tools/gen-keys.sh)
# and the policy that lets user demo read and write both clusters.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  "") ;;
  -h | --help) sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "usage: tools/demo.sh [--keep]" >&2; exit 2 ;;
esac

say() { printf '==> %s\n' "$*"; }
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

say "installing packages (tools/setup.sh)"
tools/setup.sh

say "building controller, copyd and the ferry CLI"
bazel build -c opt --ui_event_filters=-info,-stdout,-stderr --noshow_progress \
  //controller //copyd //tools/ferry
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
DEMO=$(mktemp -d /tmp/ferry-demo.XXXXXX)
mkdir -p "$DEMO/logs" "$DEMO/run"
# Binaries are copied so the deployment keeps running whatever later builds do.
cp "$BIN/controller/controller" "$BIN/copyd/copyd" "$BIN/tools/ferry/ferry" "$DEMO/run/"
chmod u+w "$DEMO"/run/*

say "making certificates (tools/gen-certs.sh: a CA, clusters a and b, user demo)"
CERTS=$DEMO/certs
tools/gen-certs.sh "$CERTS" --cluster a --cluster b --user demo >"$DEMO/logs/gen-certs.log"
tls_flags() {  # tls_flags NAME: sets tls to the --tls_* flags of certificate NAME
  tls=(--tls_ca="$CERTS/ca.pem" --tls_cert="$CERTS/$1.pem" --tls_key="$CERTS/$1.key")
}
# What a person keeps: the CA and their own certificate and key, found by FERRY_TLS_DIR.
export FERRY_TLS_DIR=$DEMO/tls
mkdir -m 700 "$FERRY_TLS_DIR"
cp "$CERTS/ca.pem" "$FERRY_TLS_DIR/ca.pem"
cp "$CERTS/user-demo.pem" "$FERRY_TLS_DIR/user.pem"
cp "$CERTS/user-demo.key" "$FERRY_TLS_DIR/user.key"

say "making the capability key (tools/gen-keys.sh) and the policy (user demo: a and b)"
# b's controller signs the capabilities b's copyds present to a's copyds: one key file.
KEYS=$DEMO/run/capability.keys
tools/gen-keys.sh "$KEYS" >"$DEMO/logs/gen-keys.log"
POLICY=$DEMO/run/policy.textproto
for cluster in a b; do
  echo "grants { principals: \"ferry://user/demo\" cluster: \"$cluster\" path_prefix: \"/\"" \
    "permissions: [PERMISSION_READ, PERMISSION_WRITE] }"
done >"$POLICY"
echo 'admin_principals: "ferry://user/demo"' >>"$POLICY"
auth_flags=(--policy="$POLICY" --capability_keys="$KEYS")

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

# start_cluster NAME [CONTROLLER FLAGS...]: a controller on $DEMO/NAME-controller-data
# and copyd-1 and copyd-2 on $DEMO/NAME-root; sets controller (its address) and
# copyds (the copyds' DataService addresses, comma-separated, for another's --peer).
start_cluster() {
  local name=$1; shift
  mkdir -p "$DEMO/$name-root" "$DEMO/$name-controller-data"
  say "starting cluster $name: controller (RocksDB in $DEMO/$name-controller-data)"
  tls_flags "$name-controller"
  setsid "$DEMO/run/controller" --cluster="$name" --data_dir="$DEMO/$name-controller-data" \
    --listen=127.0.0.1:0 --port_file="$DEMO/run/$name-controller.port" "${tls[@]}" \
    "${auth_flags[@]}" "$@" >"$DEMO/logs/$name-controller.log" 2>&1 &
  pids+=($!)
  controller=127.0.0.1:$(wait_port "$DEMO/run/$name-controller.port")
  copyds=""
  tls_flags "$name-copyd"
  for i in 1 2; do
    say "starting cluster $name: copyd-$i (storage root $DEMO/$name-root)"
    setsid "$DEMO/run/copyd" --cluster="$name" --controller="$controller" \
      --root="$DEMO/$name-root" --name="$name-copyd-$i" --listen=127.0.0.1:0 \
      --port_file="$DEMO/run/$name-copyd-$i.port" "${tls[@]}" "${auth_flags[@]}" \
      >"$DEMO/logs/$name-copyd-$i.log" 2>&1 &
    pids+=($!)
    copyds+="${copyds:+,}127.0.0.1:$(wait_port "$DEMO/run/$name-copyd-$i.port")"
  done
}

start_cluster a
A_CONTROLLER=$controller A_COPYDS=$copyds
# b owns the copies from a (pull): it lists and reads a through a's copyds.
start_cluster b --peer=a="$A_COPYDS"
B_CONTROLLER=$controller
printf '%s\n' "${pids[@]}" >"$DEMO/run/pids"

SRC="$DEMO/a-root/src"
say "generating a source tree in cluster a: $SRC"
mkdir -p "$SRC"
for d in $(seq 1 12); do
  mkdir -p "$SRC/project-$d/data/part-$((d % 3))"
  for f in $(seq 1 25); do
    head -c $((f * 173 + d)) /dev/urandom >"$SRC/project-$d/data/part-$((d % 3))/file-$f.bin"
  done
  echo "readme of project $d" >"$SRC/project-$d/README"
done
: >"$SRC/empty-file"
mkdir -p "$SRC/empty-dir" "$SRC/a/b/c/d/e/f/g/h" "$SRC/name with spaces"
echo "deep" >"$SRC/a/b/c/d/e/f/g/h/deep.txt"
echo "spaces" >"$SRC/name with spaces/file one"
head -c $((100 << 20)) /dev/urandom >"$SRC/big-100MiB.bin"
# A sparse file: 64 MiB with 1 MiB of data in the middle; its holes stay holes.
truncate -s 64M "$SRC/sparse-64MiB.bin"
head -c $((1 << 20)) /dev/urandom | dd of="$SRC/sparse-64MiB.bin" bs=1M seek=32 conv=notrunc \
  status=none
ln -s project-1/README "$SRC/readme-link"
# A second name of the big file: with -H the copy keeps one inode for both.
ln "$SRC/big-100MiB.bin" "$SRC/project-1/big-100MiB-again.bin"
files=$(find "$SRC" | wc -l)
say "source: $files entries, $(du -sh --apparent-size "$SRC" | cut -f1)"

# copy_and_check FROM TO DIR: `ferry cp -rH FROM TO` through b's controller as
# ferry://user/demo, then diff -r of the source tree and DIR (TO's files); adds the
# wall clock of ferry cp to timings.
copy_and_check() {
  local from=$1 to=$2 copy=$3 start elapsed
  say "copying over mTLS as ferry://user/demo: ferry cp -rH $from $to"
  start=$(date +%s.%N)
  "$DEMO/run/ferry" --controller="$B_CONTROLLER" cp -rH "$from" "$to"
  elapsed=$(seconds_since "$start")
  say "verifying byte for byte (diff -r --no-dereference $SRC $copy)"
  diff -r --no-dereference "$SRC" "$copy"
  say "verifying the hard link and every directory's mode and mtime"
  if [[ $(stat -c %i "$copy/big-100MiB.bin") != $(stat -c %i "$copy/project-1/big-100MiB-again.bin") ]]; then
    echo "demo: the two names of big-100MiB.bin are separate files in $copy" >&2
    exit 1
  fi
  diff <(cd "$SRC" && find . -type d -printf '%p %m %T@\n' | sort) \
    <(cd "$copy" && find . -type d -printf '%p %m %T@\n' | sort)
  timings+=("$(printf '%-28s %s s' "$from -> $to:" "$elapsed")")
}
timings=()
copy_and_check a:/src b:/src "$DEMO/b-root/src"
copy_and_check b:/src b:/copy "$DEMO/b-root/copy"
say "identical: $files entries each time; wall clock of ferry cp (100 MiB + sparse + ~330 files):"
printf '    %s\n' "${timings[@]}"
echo "    sparse file: $(du -k "$DEMO/b-root/src/sparse-64MiB.bin" | cut -f1) KiB allocated in b" \
  "of 65536 KiB"
echo "    logs:            $DEMO/logs"
echo "    storage roots:   $DEMO/a-root, $DEMO/b-root"
echo "    controller dbs:  $DEMO/a-controller-data, $DEMO/b-controller-data"
echo "    certificates:    $CERTS (CA and processes), $FERRY_TLS_DIR (user demo)"
echo "    policy and key:  $POLICY, $KEYS"

if ((keep)); then
  cat <<USAGE

Both clusters keep running, mTLS only. Cluster b's controller owns copies into b (from a
or within b); cluster a's owns copies within a. To use them:
    export FERRY_CONTROLLER=$B_CONTROLLER FERRY_TLS_DIR=$FERRY_TLS_DIR
    $DEMO/run/ferry cp -r a:/src b:/another-copy
    $DEMO/run/ferry status <transfer id>
    $DEMO/run/ferry --controller=$A_CONTROLLER cp -r a:/src a:/copy
To stop them:
    kill \$(cat $DEMO/run/pids)
USAGE
else
  say "stopping the deployment"
fi
