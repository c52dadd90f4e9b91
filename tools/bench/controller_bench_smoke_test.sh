#!/bin/bash
# controller_bench_smoke: runs `controller_bench all --quick` (each benchmark in a child
# process, small sizes) and passes when it exits 0, prints every FIGURE line well formed,
# and removes its scratch directory. Rates, times and memory are printed, never judged
# (no timed assertions). The fairness deviations are judged (<= 0.10): they are counts of
# tasks the scheduler handed out, not times.
# Usage (by Bazel): controller_bench_smoke_test.sh path/to/controller_bench
set -uo pipefail
source "$(dirname "$0")/smoke_lib.sh"

smoke_run controller_bench all
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
smoke_expect_count FIGURE 13
smoke_finish
