#!/usr/bin/env bash
# copy_bench: ferry's cross-cluster copy against cp, rsync and cp -a, in one invocation.
#
# Starts two real clusters on 127.0.0.1 under a scratch directory: cluster a (controller
# + one copyd on root-a) and cluster b (controller with --peer=a=<a's copyd>, two copyds
# on root-b). b pulls from a. Every channel is mTLS as deployed: tools/gen-certs.sh makes
# a CA and the certificates of both clusters and of the user "bench" in the scratch
# directory. Then, in this order:
#   rss    copyd peak RSS (VmHWM of every copyd, read from /proc after the copy) while
#          ferry copies a sparse file (truncate -s) a:/sparse.bin -> b:/; first, so the
#          copyds are fresh
#   big    one file of random bytes, a:/big.bin -> b:/ (ferry fsyncs it at commit) vs
#          `cp` + `sync` of the same file on the same disk; MB/s
#   small  --files files of 4 KiB in 20 directories, a:/small -> b:/ (ferry cp -r) vs
#          `rsync -a` + `sync` and `cp -a` + `sync`; files/s. The baselines end with a
#          sync because ferry fsyncs every file it commits.
# big and small run --rounds interleaved rounds (the order of the variants rotates per
# round); medians are reported. Every timed pass is checked (size or file count), the
# first round's copies byte for byte (untimed); copies are moved aside (see clean) and
# synced untimed.
#
# Usage: copy_bench [--quick] [--rounds=N] [--dir=DIR] [--bin_dir=DIR] [--keep_scratch]
#   --quick         64 MiB file, 2000 files, 256 MiB sparse, 2 rounds (the smoke test)
#   --rounds=N      interleaved rounds (default 3)
#   --big_mib=N     size of the big file (default 1024); --files=N (default 20000,
#                   a multiple of 20); --sparse_mib=N (default 10240)
#   --dir=DIR       parent of the scratch directory copy_bench.XXXXXX (default
#                   $TEST_TMPDIR, $TMPDIR or /tmp); removed at exit unless --keep_scratch
#   --bin_dir=DIR   where controller, copyd and ferry are (default: this target's
#                   runfiles, i.e. the build that built copy_bench; use -c opt)
#   --controller_b_flag=FLAG, --copyd_b_flag=FLAG   (repeatable) extra flags for cluster
#                   b's controller or copyds, to try settings, e.g.
#                   --controller_b_flag=--chunk_size=0 --copyd_b_flag=--max_tasks=1
# stdout: a header, a table, RATIO and FIGURE lines (as storage_bench/controller_bench):
#   RATIO name=big_vs_cp_sync ferry=1500.0 baseline=1900.0 ratio=0.789   (medians)
#   RATIO name=big_vs_cp_sync_best_pass ferry=1700.0 baseline=2000.0 ratio=0.850
#                   (the same from each side's fastest pass)
#   FIGURE name=copyd_peak_rss_mb value=52.1 target=<200 unit=MB met=yes
# Progress on stderr. Exit: 0 ran (targets met or not), 1 an error, 2 bad flags.
set -euo pipefail
shopt -s inherit_errexit

plaintext=0 quick=0 rounds=3 big_mib=1024 files=20000 sparse_mib=10240 parent="" bin_dir="" keep=0
controller_b_flags=() copyd_b_flags=()
rounds_set=0 big_set=0 files_set=0 sparse_set=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --plaintext) plaintext=1 ;;
    --rounds=*) rounds=${arg#*=}; rounds_set=1 ;;
    --big_mib=*) big_mib=${arg#*=}; big_set=1 ;;
    --files=*) files=${arg#*=}; files_set=1 ;;
    --sparse_mib=*) sparse_mib=${arg#*=}; sparse_set=1 ;;
    --dir=*) parent=${arg#*=} ;;
    --bin_dir=*) bin_dir=${arg#*=} ;;
    --keep_scratch) keep=1 ;;
    --controller_b_flag=*) controller_b_flags+=("${arg#*=}") ;;
    --copyd_b_flag=*) copyd_b_flags+=("${arg#*=}") ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) echo "copy_bench: unknown flag $arg (see --help)" >&2; exit 2 ;;
  esac
done
if ((quick)); then
  ((rounds_set)) || rounds=2
  ((big_set)) || big_mib=64
  ((files_set)) || files=2000
  ((sparse_set)) || sparse_mib=256
fi
for v in rounds big_mib files sparse_mib; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "copy_bench: --$v must be a positive integer" >&2; exit 2; }
done
((files % 20 == 0)) || { echo "copy_bench: --files must be a multiple of 20" >&2; exit 2; }
command -v rsync >/dev/null || { echo "copy_bench: rsync not installed (tools/setup.sh)" >&2; exit 1; }

if [[ -z "$bin_dir" ]]; then
  runfiles=${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}
  bin_dir=$runfiles/ferry
fi
CONTROLLER_BIN=$bin_dir/controller/controller
COPYD_BIN=$bin_dir/copyd/copyd
FERRY_BIN=$bin_dir/tools/ferry/ferry
if [[ ! -x "$CONTROLLER_BIN" && -x "$bin_dir/controller" && ! -d "$bin_dir/controller" ]]; then
  CONTROLLER_BIN=$bin_dir/controller COPYD_BIN=$bin_dir/copyd FERRY_BIN=$bin_dir/ferry
fi
for b in "$CONTROLLER_BIN" "$COPYD_BIN" "$FERRY_BIN"; do
  [[ -x "$b" ]] || { echo "copy_bench: no binary $b (--bin_dir)" >&2; exit 1; }
done
# From this target's runfiles, else beside this script in the source tree.
GEN_CERTS=${RUNFILES_DIR:-${TEST_SRCDIR:-$0.runfiles}}/ferry/tools/gen-certs.sh
[[ -x "$GEN_CERTS" ]] || GEN_CERTS=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../gen-certs.sh
[[ -x "$GEN_CERTS" ]] || { echo "copy_bench: tools/gen-certs.sh not found" >&2; exit 1; }
GEN_KEYS=$(dirname "$GEN_CERTS")/gen-keys.sh
[[ -x "$GEN_KEYS" ]] || { echo "copy_bench: tools/gen-keys.sh not found" >&2; exit 1; }

parent=${parent:-${TEST_TMPDIR:-${TMPDIR:-/tmp}}}
S=$(mktemp -d "$parent/copy_bench.XXXXXX")
ROOT_A=$S/root-a ROOT_B=$S/root-b LOGS=$S/logs
mkdir -p "$ROOT_A" "$ROOT_B" "$S/db-a" "$S/db-b" "$LOGS" "$S/run"

pids=()
copyd_pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((status != 0)); then
    echo "copy_bench failed (exit $status); logs:" >&2
    for f in "$LOGS"/*; do [[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  fi
  if ((keep)); then echo "scratch kept: $S" >&2; else rm -rf "$S"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf 'copy_bench: %s\n' "$*" >&2; }
wait_port() {  # wait_port FILE PID: the port once the server wrote it; fails if PID exits
  local file=$1 pid=$2 deadline=$((SECONDS + 60))
  until [[ -s "$file" ]]; do
    kill -0 "$pid" 2>/dev/null || { echo "copy_bench: process $pid exited before serving ($file)" >&2; return 1; }
    ((SECONDS < deadline)) || { echo "copy_bench: timed out waiting for $file" >&2; return 1; }
    sleep 0.05
  done
  port=$(cat "$file")
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }'; }

# --- the two clusters ------------------------------------------------------------------
CERTS=$S/certs
"$GEN_CERTS" "$CERTS" --cluster a --cluster b --user bench >"$LOGS/gen-certs.log"
tls_flags() {  # tls_flags NAME: sets tls to the --tls_* flags of certificate NAME
  if ((plaintext)); then tls=(--insecure_plaintext_unsafe); return; fi
  tls=(--tls_ca="$CERTS/ca.pem" --tls_cert="$CERTS/$1.pem" --tls_key="$CERTS/$1.key")
}
# Policy and capabilities on, as deployed: user bench reads and writes both clusters.
"$GEN_KEYS" "$CERTS/capability.keys" >>"$LOGS/gen-certs.log"
cat >"$CERTS/policy.textproto" <<'POLICY'
grants { principals: "ferry://user/bench" cluster: "a" path_prefix: "/"
         permissions: [PERMISSION_READ, PERMISSION_WRITE] }
grants { principals: "ferry://user/bench" cluster: "b" path_prefix: "/"
         permissions: [PERMISSION_READ, PERMISSION_WRITE] }
admin_principals: "ferry://user/bench"
POLICY
auth=(--policy="$CERTS/policy.textproto" --capability_keys="$CERTS/capability.keys")
((plaintext == 0)) || auth=()
# Not in $(...): pids must be recorded in this shell, so that cleanup stops them.
start_controller() {  # start_controller NAME FLAGS...: sets port
  local name=$1; shift
  tls_flags "$name-controller"
  "$CONTROLLER_BIN" --cluster="$name" --data_dir="$S/db-$name" --listen=127.0.0.1:0 \
    --port_file="$S/run/controller-$name.port" "${tls[@]}" "${auth[@]}" "$@" \
    >"$LOGS/controller-$name.log" 2>&1 &
  pids+=($!)
  wait_port "$S/run/controller-$name.port" "$!"
}
start_copyd() {  # start_copyd CLUSTER CONTROLLER ROOT INDEX FLAGS...: pid in copyd_pids
  local cluster=$1 controller=$2 root=$3 index=$4; shift 4
  tls_flags "$cluster-copyd"
  "$COPYD_BIN" --cluster="$cluster" --controller="$controller" --root="$root" \
    --name="copyd-$cluster$index" --listen=127.0.0.1:0 "${tls[@]}" "${auth[@]}" \
    --port_file="$S/run/copyd-$cluster$index.port" "$@" >"$LOGS/copyd-$cluster$index.log" 2>&1 &
  pids+=($!)
  copyd_pids+=($!)
  wait_port "$S/run/copyd-$cluster$index.port" "$!"
}

say "scratch $S; starting cluster a (1 copyd) and cluster b (2 copyds, --peer=a=...)"
start_controller a
CONTROLLER_A=127.0.0.1:$port
start_copyd a "$CONTROLLER_A" "$ROOT_A" 1
COPYD_A=127.0.0.1:$port
start_controller b --peer="a=$COPYD_A" ${controller_b_flags[@]+"${controller_b_flags[@]}"}
CONTROLLER_B=127.0.0.1:$port
start_copyd b "$CONTROLLER_B" "$ROOT_B" 1 ${copyd_b_flags[@]+"${copyd_b_flags[@]}"}
start_copyd b "$CONTROLLER_B" "$ROOT_B" 2 ${copyd_b_flags[@]+"${copyd_b_flags[@]}"}

tls_flags user-bench
CLI_TLS=("${tls[@]}")
ferry_cp() {  # ferry_cp ARGS...: a -> b through b's controller as user bench, quiet
  "$FERRY_BIN" --controller="$CONTROLLER_B" "${CLI_TLS[@]}" cp "$@" >>"$LOGS/ferry.log" 2>&1 </dev/null
}
# Copies are moved aside, not removed, until the end: on ext4 without a journal (these
# machines' root) a new inode skips inodes freed in the last ~30 s whose table block is
# still cached, so creating 20,000 files right after removing 20,000 costs several times
# more kernel time, and whichever variant ran after a removal would pay for it.
TRASH=$S/trash
mkdir -p "$TRASH"
clean() { local p; for p in "$@"; do mv "$p" "$TRASH/${p##*/}"; done; sync; }
count_files() { find "$1" -type f | wc -l; }

# --- 1. copyd peak RSS over a sparse file -----------------------------------------------
say "rss: ferry copying a ${sparse_mib} MiB sparse file a:/sparse.bin -> b:/sparse-copy.bin"
truncate -s "${sparse_mib}M" "$ROOT_A/sparse.bin"
t0=$(now)
ferry_cp a:/sparse.bin b:/sparse-copy.bin
t1=$(now)
[[ $(stat -c %s "$ROOT_B/sparse-copy.bin") -eq $((sparse_mib << 20)) ]] || { echo "sparse copy has the wrong size" >&2; exit 1; }
rss_secs=$(elapsed "$t0" "$t1")
rss_list=()
rss_max=0
for pid in "${copyd_pids[@]}"; do
  kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
  rss_list+=("$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')")
  if ((kb > rss_max)); then rss_max=$kb; fi
done
rss_mb=$(awk -v k="$rss_max" 'BEGIN { printf "%.1f", k / 1024 }')
dst_blocks_mb=$(( $(stat -c %b "$ROOT_B/sparse-copy.bin") * 512 >> 20 ))
rm -f "$ROOT_B/sparse-copy.bin" "$ROOT_A/sparse.bin"  # Holes only: nothing to free.

# --- fixtures ---------------------------------------------------------------------------
say "fixtures: a:/big.bin (${big_mib} MiB random), a:/small ($files x 4 KiB in 20 dirs)"
head -c "$((big_mib << 20))" /dev/urandom >"$ROOT_A/big.bin"
per_dir=$((files / 20))
for d in $(seq -w 0 19); do
  mkdir -p "$ROOT_A/small/dir$d"
  head -c "$((per_dir * 4096))" /dev/urandom | split -b 4096 -a 6 -d - "$ROOT_A/small/dir$d/f"
done
[[ $(count_files "$ROOT_A/small") -eq $files ]] || { echo "fixture has the wrong file count" >&2; exit 1; }
sync
big_bytes=$((big_mib << 20))

# Each pass: untimed sync before, timed copy, untimed check (+ byte compare in round 1),
# untimed removal. Prints seconds.
pass() {  # pass VARIANT ROUND
  local variant=$1 round=$2 dst t0 t1
  sync
  case "$variant" in
    big_ferry) dst=$ROOT_B/big-$round.bin; t0=$(now); ferry_cp a:/big.bin "b:/big-$round.bin"; t1=$(now) ;;
    big_cp) dst=$ROOT_B/cp-$round.bin; t0=$(now); cp "$ROOT_A/big.bin" "$dst"; sync; t1=$(now) ;;
    small_ferry) dst=$ROOT_B/small-$round; t0=$(now); ferry_cp -r a:/small "b:/small-$round"; t1=$(now) ;;
    small_rsync) dst=$ROOT_B/rsync-$round; t0=$(now); rsync -a "$ROOT_A/small/" "$dst/"; sync; t1=$(now) ;;
    small_cp_a) dst=$ROOT_B/cpa-$round; t0=$(now); cp -a "$ROOT_A/small" "$dst"; sync; t1=$(now) ;;
  esac
  case "$variant" in
    big_*)
      [[ $(stat -c %s "$dst") -eq $big_bytes ]] || { echo "$variant: wrong size" >&2; return 1; }
      ((round > 1)) || cmp -s "$ROOT_A/big.bin" "$dst" || { echo "$variant: differs" >&2; return 1; } ;;
    small_*)
      [[ $(count_files "$dst") -eq $files ]] || { echo "$variant: wrong file count" >&2; return 1; }
      ((round > 1)) || diff -r "$ROOT_A/small" "$dst" >/dev/null || { echo "$variant: differs" >&2; return 1; } ;;
  esac
  clean "$dst"
  elapsed "$t0" "$t1"
}

declare -A secs=()
run_group() {  # run_group ROUND VARIANTS...: rotates the order by round
  local round=$1; shift
  local variants=("$@") n=$# i v s
  for ((i = 0; i < n; i++)); do
    v=${variants[$(((i + round - 1) % n))]}
    s=$(pass "$v" "$round")
    secs[$v]+="$s "
    say "round $round: $v ${s}s"
  done
}
for ((r = 1; r <= rounds; r++)); do
  run_group "$r" big_ferry big_cp
  run_group "$r" small_ferry small_rsync small_cp_a
done

# --- report -----------------------------------------------------------------------------
rate_of() {  # rate_of VARIANT SECONDS: MB/s of a big pass, files/s of a small one
  case "$1" in
    big_*) awk -v b="$big_bytes" -v s="$2" 'BEGIN { printf "%.1f", b / 1e6 / s }' ;;
    small_*) awk -v f="$files" -v s="$2" 'BEGIN { printf "%.1f", f / s }' ;;
  esac
}
declare -A med=() rate=()
for v in big_ferry big_cp small_ferry small_rsync small_cp_a; do
  # shellcheck disable=SC2086
  med[$v]=$(median ${secs[$v]})
  rate[$v]=$(rate_of "$v" "${med[$v]}")
done
r_big=$(div "${rate[big_ferry]}" "${rate[big_cp]}")
r_rsync=$(div "${rate[small_ferry]}" "${rate[small_rsync]}")
r_cpa=$(div "${rate[small_ferry]}" "${rate[small_cp_a]}")
# Also each variant's fastest pass: on these VMs a pass of any variant may take up to 5x
# its usual time (fresh page cache, writeback), so with 3 rounds a median can still be
# one side's bad pass; best-of compares both sides in their good state.
declare -A best_rate=()
for v in big_ferry big_cp small_ferry small_rsync small_cp_a; do
  # shellcheck disable=SC2086
  best_rate[$v]=$(rate_of "$v" "$(printf '%s\n' ${secs[$v]} | sort -g | head -n 1)")
done
best_line() {  # best_line NAME FERRY BASELINE: a RATIO line of the fastest passes
  echo "RATIO name=$1 ferry=${best_rate[$2]} baseline=${best_rate[$3]} ratio=$(div "${best_rate[$2]}" "${best_rate[$3]}")"
}
met() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == ">=") ? v >= t : v < t; print ok ? "yes" : "no" }'; }
build="unknown build"
case "$(readlink -f "$CONTROLLER_BIN")" in *-opt/*) build="optimized (-c opt)" ;; *-fastbuild/*) build="fastbuild: NOT optimized, use -c opt" ;; esac
fs=$(stat -f -c %T "$S")

extra=""
((${#controller_b_flags[@]} + ${#copyd_b_flags[@]} == 0)) || extra=", b controller flags: ${controller_b_flags[*]-}, b copyd flags: ${copyd_b_flags[*]-}"
((plaintext == 0)) || extra+=", PLAINTEXT: no TLS, policy or capabilities"
echo "copy_bench: scratch $S ($fs), big ${big_mib} MiB, $files x 4 KiB files in 20 dirs, sparse ${sparse_mib} MiB, $rounds rounds, $build$extra"
printf '%-34s %14s %14s %8s   %s\n' "metric" "ferry" "baseline" "ratio" "per-pass seconds (ferry | baseline)"
printf '%-34s %11s MB/s %9s MB/s %8s   %s| %s\n' "big file a->b vs cp+sync" "${rate[big_ferry]}" "${rate[big_cp]}" "$r_big" "${secs[big_ferry]}" "${secs[big_cp]}"
printf '%-34s %9s files/s %6s files/s %8s   %s| %s\n' "small files a->b vs rsync -a+sync" "${rate[small_ferry]}" "${rate[small_rsync]}" "$r_rsync" "${secs[small_ferry]}" "${secs[small_rsync]}"
printf '%-34s %9s files/s %6s files/s %8s   %s| %s\n' "small files a->b vs cp -a+sync" "${rate[small_ferry]}" "${rate[small_cp_a]}" "$r_cpa" "${secs[small_ferry]}" "${secs[small_cp_a]}"
printf '%-34s %11s MB   (copy %ss, %s MiB allocated at b; per copyd a1 b1 b2: %s MB)\n' "copyd peak RSS, sparse copy" "$rss_mb" "$rss_secs" "$dst_blocks_mb" "${rss_list[*]}"
echo "RATIO name=big_vs_cp_sync ferry=${rate[big_ferry]} baseline=${rate[big_cp]} ratio=$r_big"
echo "RATIO name=small_vs_rsync ferry=${rate[small_ferry]} baseline=${rate[small_rsync]} ratio=$r_rsync"
echo "RATIO name=small_vs_cp_a ferry=${rate[small_ferry]} baseline=${rate[small_cp_a]} ratio=$r_cpa"
best_line big_vs_cp_sync_best_pass big_ferry big_cp
best_line small_vs_rsync_best_pass small_ferry small_rsync
best_line small_vs_cp_a_best_pass small_ferry small_cp_a
echo "FIGURE name=big_vs_cp_sync value=$r_big target=>=0.9 unit=x met=$(met "$r_big" ">=" 0.9)"
echo "FIGURE name=small_vs_rsync value=$r_rsync target=>=1.0 unit=x met=$(met "$r_rsync" ">=" 1.0)"
echo "FIGURE name=small_vs_cp_a value=$r_cpa target=>=0.7 unit=x met=$(met "$r_cpa" ">=" 0.7)"
echo "FIGURE name=copyd_peak_rss_mb value=$rss_mb target=<200 unit=MB met=$(met "$rss_mb" "<" 200)"
