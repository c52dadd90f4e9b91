# Shared by the *_bench_smoke tests: run a benchmark with --quick in a scratch directory
# under $TEST_TMPDIR, then check the lines it printed and that it cleaned up.
# Usage: source it, then `smoke_run NAME ARGS...` (the benchmark is $1 of the test),
# `smoke_expect_ratio NAME`, `smoke_expect_count KIND N`, `smoke_finish`.
# Rates are printed, never judged: these tests make no timed assertions.
set -uo pipefail

bench="$1"
work="${TEST_TMPDIR:?run me with bazel test}"
scratch="$work/scratch"
mkdir -p "$scratch"
number='[0-9]+(\.[0-9]+)?'

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# smoke_run NAME ARGS...: runs the benchmark with ARGS, --quick and the scratch dir.
smoke_run() {
  local name=$1 status
  shift
  "$bench" "$@" --quick --dir="$scratch" >"$work/out" 2>"$work/err"
  status=$?
  cat "$work/out"
  cat "$work/err" >&2
  [ "$status" -eq 0 ] || fail "$name $* --quick exited $status"
}

# smoke_expect_ratio NAME: a well-formed RATIO line for NAME was printed.
smoke_expect_ratio() {
  grep -Eq "^RATIO name=$1 ferry=$number baseline=$number ratio=$number\$" "$work/out" ||
    fail "no RATIO line for $1"
}

# smoke_expect_count KIND N: exactly N lines start with KIND (RATIO or FIGURE).
smoke_expect_count() {
  [ "$(grep -c "^$1 " "$work/out")" -eq "$2" ] || fail "expected exactly $2 $1 lines"
}

# smoke_finish: the scratch directory was emptied; prints PASS.
smoke_finish() {
  local leftovers
  leftovers="$(ls -A "$scratch")"
  [ -z "$leftovers" ] || fail "scratch directory not removed: $leftovers"
  echo "PASS"
}
