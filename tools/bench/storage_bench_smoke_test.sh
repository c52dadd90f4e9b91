#!/bin/bash
# storage_bench_smoke: runs `storage_bench --quick` (5000 files, 64 MiB, 2 rounds) and
# passes when it exits 0, prints one well-formed RATIO line per metric, and removes its
# scratch directory. The rates and ratios themselves are printed, never judged.
# Usage (by Bazel): storage_bench_smoke_test.sh path/to/storage_bench
set -uo pipefail
source "$(dirname "$0")/smoke_lib.sh"

smoke_run storage_bench
for name in walk_vs_syscalls walk_vs_find read_256k read_1m write_256k; do
  smoke_expect_ratio "$name"
done
smoke_expect_count RATIO 5
smoke_finish
