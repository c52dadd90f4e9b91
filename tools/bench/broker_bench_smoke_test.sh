#!/bin/bash
# broker_bench_smoke: runs `broker_bench --quick` (1000 flow groups over 20 links) and
# passes when it exits 0 and prints its four FIGURE lines well formed. The benchmark
# itself fails (exit 1) if any run grants a link above its capacity or a group above its
# demand. Times are printed, never judged (no timed assertions).
# Usage (by Bazel): broker_bench_smoke_test.sh path/to/broker_bench
set -uo pipefail
source "$(dirname "$0")/smoke_lib.sh"

smoke_run broker_bench
figure() {  # name target
  grep -Eq "^FIGURE name=$1 value=$number target=$2 unit=ms met=(yes|no|n/a)\$" "$work/out" ||
    fail "no well-formed FIGURE line for $1"
}
figure allocate_ms "<100"
figure recompute_ms "<100"
figure report_changed_ms none
figure metrics_refresh_ms none
smoke_expect_count FIGURE 4
smoke_finish
