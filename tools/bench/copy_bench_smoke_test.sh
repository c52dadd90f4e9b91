#!/bin/bash
# copy_bench_smoke: runs `copy_bench --quick` (two clusters on 127.0.0.1; a 64 MiB file,
# 2000 files of 4 KiB, a 256 MiB sparse file, 2 rounds) and passes when it exits 0,
# prints every RATIO and FIGURE line well formed, and removes its scratch directory.
# Rates, ratios and memory are printed, never judged (no timed assertions).
# Usage (by Bazel): copy_bench_smoke_test.sh path/to/copy_bench
set -uo pipefail
source "$(dirname "$0")/smoke_lib.sh"

smoke_run copy_bench
for name in big_vs_cp_sync small_vs_rsync small_vs_cp_a; do
  smoke_expect_ratio "$name"
  smoke_expect_ratio "${name}_best_pass"
done
for name in big_vs_cp_sync small_vs_rsync small_vs_cp_a copyd_peak_rss_mb; do
  grep -Eq "^FIGURE name=$name value=$number target=(>=|<)$number unit=(x|MB) met=(yes|no)\$" \
    "$work/out" || fail "no FIGURE line for $name"
done
smoke_expect_count RATIO 6
smoke_expect_count FIGURE 4
smoke_finish
