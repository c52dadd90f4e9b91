#!/bin/bash
# controller_bench_smoke: runs `controller_bench all --quick` (each benchmark in a child
# process, small sizes) and passes when it exits 0, prints every FIGURE line well formed,
# and removes its scratch directory. Rates, times and memory are printed, never judged
# (no timed assertions). The fairness deviations are judged (<= 0.10): they are counts of
# tasks the scheduler handed out, not times.
# Usage (by Bazel): controller_bench_smoke_test.sh path/to/controller_bench
set -uo pipefail

bench="$1"
work="${TEST_TMPDIR:?run me with bazel test}"
scratch="$work/scratch"
mkdir -p "$scratch"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$bench" all --quick --dir="$scratch" >"$work/out" 2>"$work/err"
status=$?
cat "$work/out"
cat "$work/err" >&2
[ "$status" -eq 0 ] || fail "controller_bench all --quick exited $status"

number='[0-9]+(\.[0-9]+)?'
figure() {  # name target-regex
  grep -Eq "^FIGURE name=$1 value=$number target=$2 unit=[^ ]+ met=(yes|no|n/a)\$" \
    "$work/out" || fail "no well-formed FIGURE line for $1"
}
figure transitions_done_per_s ">=50000"
figure transitions_leases_per_s none
figure transitions_done_per_s_unbatched none
figure plan_files_per_s ">=100000"
figure plan_peak_rss_mb "<500"
for weights in 1_1_1 2_1_1; do
  for user in a b c; do
    figure "fairness_${weights}_share_$user" "~$number"
  done
  figure "fairness_${weights}_max_deviation" '<=0\.1'
  deviation="$(sed -En "s/^FIGURE name=fairness_${weights}_max_deviation value=($number) .*/\1/p" \
    "$work/out")"
  awk -v d="$deviation" 'BEGIN { exit !(d <= 0.10) }' ||
    fail "fairness with weights $weights: max deviation $deviation > 0.10"
done
[ "$(grep -c '^FIGURE ' "$work/out")" -eq 13 ] || fail "expected exactly 13 FIGURE lines"
leftovers="$(ls -A "$scratch")"
[ -z "$leftovers" ] || fail "scratch directory not removed: $leftovers"
echo "PASS"
