#!/bin/bash
# bwbroker_main_test: the real binary. With a valid config it writes both port files,
# accepts TCP on its gRPC port, serves the configured link on /metrics, and exits 0 on
# SIGTERM; with a bad config or none it exits 2 naming the problem.
# Usage (by Bazel): bwbroker_main_test.sh path/to/bwbroker
set -uo pipefail
bin="$1"
work="${TEST_TMPDIR:?run me with bazel test}"
pid=""

fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/log" ] && tail -20 "$work/log" >&2
  exit 1
}
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  return 0
}
trap cleanup EXIT

# wait_for FILE: polls (100 ms steps, 30 s deadline) until FILE holds a port number.
wait_for() {
  local deadline=$((SECONDS + 30))
  until grep -Eq '^[0-9]+$' "$1" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no port in $1 after 30 s"
    kill -0 "$pid" 2>/dev/null || fail "bwbroker exited early"
    sleep 0.1
  done
}

cat >"$work/config.textproto" <<'CONFIG'
links { source_cluster: "a" destination_cluster: "b" capacity_bytes_per_second: 1000 }
CONFIG
"$bin" --config="$work/config.textproto" --port_file="$work/port" --insecure_plaintext_unsafe \
  --metrics_listen=127.0.0.1:0 --metrics_port_file="$work/metrics_port" 2>"$work/log" &
pid=$!
wait_for "$work/port"
wait_for "$work/metrics_port"
port="$(cat "$work/port")"
metrics_port="$(cat "$work/metrics_port")"
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "nothing accepts on gRPC port $port"
curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics" || fail "no /metrics"
grep -Eq '^ferry_bwbroker_link_capacity_bytes_per_second\{destination="b",source="a"\} 1000$' \
  "$work/metrics" || fail "link a -> b missing from /metrics: $(cat "$work/metrics")"

kill -TERM "$pid"
wait "$pid"
status=$?
pid=""
[ "$status" -eq 0 ] || fail "exit status $status after SIGTERM, want 0"
grep -q "shutting down" "$work/log" || fail "no shutdown line in the log"

cat >"$work/bad.textproto" <<'CONFIG'
links { source_cluster: "a" destination_cluster: "b" capacity_bytes_per_second: 0 }
CONFIG
"$bin" --config="$work/bad.textproto" 2>"$work/bad.log"
status=$?
[ "$status" -eq 2 ] || fail "bad config: exit status $status, want 2"
grep -q 'links\[0\].capacity_bytes_per_second' "$work/bad.log" ||
  fail "bad config: the error does not name the field: $(cat "$work/bad.log")"

"$bin" --config="$work/config.textproto" 2>"$work/notls.log"
status=$?
[ "$status" -eq 2 ] || fail "no certificates: exit status $status, want 2"
grep -q -- "--tls_cert" "$work/notls.log" ||
  fail "no certificates: the error does not name the flags: $(cat "$work/notls.log")"

"$bin" 2>"$work/none.log"
status=$?
[ "$status" -eq 2 ] || fail "no --config: exit status $status, want 2"
grep -q -- "--config is required" "$work/none.log" || fail "no --config: no message"
echo PASS
