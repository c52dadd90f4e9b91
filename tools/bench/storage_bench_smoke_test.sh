#!/bin/bash
# storage_bench_smoke: runs `storage_bench --quick` (5000 files, 64 MiB, 2 rounds) and
# passes when it exits 0, prints one well-formed RATIO line per metric, and removes its
# scratch directory. The rates and ratios themselves are printed, never judged.
# Usage (by Bazel): storage_bench_smoke_test.sh path/to/storage_bench
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
[ "$status" -eq 0 ] || fail "storage_bench --quick exited $status"

number='[0-9]+(\.[0-9]+)?'
for name in walk_vs_syscalls walk_vs_find read_256k read_1m write_256k; do
  grep -Eq "^RATIO name=$name ferry=$number baseline=$number ratio=$number\$" "$work/out" ||
    fail "no RATIO line for $name"
done
[ "$(grep -c '^RATIO ' "$work/out")" -eq 5 ] || fail "expected exactly 5 RATIO lines"
leftovers="$(ls -A "$scratch")"
[ -z "$leftovers" ] || fail "scratch directory not removed: $leftovers"
echo "PASS"
