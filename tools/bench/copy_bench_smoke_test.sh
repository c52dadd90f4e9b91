#!/bin/bash
# copy_bench_smoke: runs `copy_bench --quick` (two clusters on 127.0.0.1; a 64 MiB file,
# 2000 files of 4 KiB, a 256 MiB sparse file, 2 rounds) and passes when it exits 0,
# prints every RATIO and FIGURE line well formed, and removes its scratch directory.
# Rates, ratios and memory are printed, never judged (no timed assertions).
# Usage (by Bazel): copy_bench_smoke_test.sh path/to/copy_bench
set -uo pipefail

bench="$1"
work="${TEST_TMPDIR:?run me with bazel test}"
scratch="$work/scratch"
mkdir -p "$scratch"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$bench" --quick --dir="$scratch" >"$work/out" 2>"$work/err"
status=$?
cat "$work/out"
cat "$work/err" >&2
[ "$status" -eq 0 ] || fail "copy_bench --quick exited $status"

number='[0-9]+(\.[0-9]+)?'
for name in big_vs_cp_sync small_vs_rsync small_vs_cp_a; do
  grep -Eq "^RATIO name=$name ferry=$number baseline=$number ratio=$number\$" "$work/out" ||
    fail "no RATIO line for $name"
done
for name in big_vs_cp_sync small_vs_rsync small_vs_cp_a copyd_peak_rss_mb; do
  grep -Eq "^FIGURE name=$name value=$number target=(>=|<)$number unit=(x|MB) met=(yes|no)\$" \
    "$work/out" || fail "no FIGURE line for $name"
done
[ "$(grep -c '^RATIO ' "$work/out")" -eq 3 ] || fail "expected exactly 3 RATIO lines"
[ "$(grep -c '^FIGURE ' "$work/out")" -eq 4 ] || fail "expected exactly 4 FIGURE lines"
leftovers="$(ls -A "$scratch")"
[ -z "$leftovers" ] || fail "scratch directory not removed: $leftovers"
echo "PASS"
