#!/usr/bin/env bash
# Installs what the build needs, builds and runs ferry's tests, and ends with exactly one
# line "N passed, N failed"; exits non-zero if anything failed.
#
#   tools/test.sh                    whole suite: plain, then unit tests again under asan
#   tools/test.sh --quick            plain run only
#   tools/test.sh //storage/...      only these target patterns (both runs)
#   tools/test.sh --test_filter=X    options starting with -- go to bazel test
#   tools/test.sh -- //... -//bench/...   after --, everything is a target pattern
#
# The plain run is `bazel test //...`. The asan run is `bazel test --config=asan
# --test_tag_filters=-e2e,-bench //...`: every test not tagged e2e or bench. Then the
# fuzzers (storage path, auth policy, auth capability) run for 30 s each under
# --config=fuzz (whole-suite runs only).
#
# Counting (see shared notes, bazel-offline.md, "Test output"): only targets that Bazel
# lists with a status in THIS run's summary count. For a PASSED target, its testcases are
# counted from its test.xml (passing ones as passed, any with <failure>/<error> as
# failed). A target with any other status counts as max(1, failing testcases) failures
# (plus its passing testcases); FAILED TO BUILD and NO STATUS never read test.xml, which
# may be stale. A non-zero bazel exit with no failed target counts one failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

usage() { sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

quick=0
patterns=()
bazel_flags=()
after_dashes=0
for arg in "$@"; do
  if ((after_dashes)); then
    patterns+=("$arg")
    continue
  fi
  case "$arg" in
    --) after_dashes=1 ;;
    --quick) quick=1 ;;
    -h | --help) usage; exit 0 ;;
    --*) bazel_flags+=("$arg") ;;
    *) patterns+=("$arg") ;;
  esac
done
((${#patterns[@]})) || patterns=(//...)

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-test.XXXXXX") || exit 1
passed=0
failed=0
finished=0
failures=()   # one line per failed target, repeated just above the summary
flaky=()      # targets that passed only on a retry (counted as passed, as Bazel does)
t0=$SECONDS

finish() {
  trap - EXIT INT TERM
  rm -rf "$work"
  if ((!finished)); then
    echo "tools/test.sh: interrupted before all runs finished" >&2
    ((failed > 0)) || failed=1
  fi
  if ((${#flaky[@]})); then
    echo "Flaky (passed on a retry):"
    printf '  %s\n' "${flaky[@]}"
  fi
  if ((${#failures[@]})); then
    echo "Failed:"
    printf '  %s\n' "${failures[@]}"
  fi
  echo "tools/test.sh took $((SECONDS - t0)) s"
  echo "$passed passed, $failed failed"
  ((failed == 0 && finished)) && exit 0
  exit 1
}
trap finish EXIT
trap 'exit 130' INT TERM

# Prints "passed failed" for the testcases in the given JUnit XML files (gtest's own or
# the one Bazel writes for tests that produce none). Skipped and disabled testcases
# count as neither.
count_xml() {
  awk '
    { buf = buf $0 "\n" }
    END {
      n = split(buf, cases, "<testcase")
      p = 0; f = 0
      for (i = 2; i <= n; i++) {
        c = cases[i]
        tag_end = index(c, ">")
        if (substr(c, tag_end - 1, 1) == "/") c = substr(c, 1, tag_end)
        else if ((e = index(c, "</testcase>")) > 0) c = substr(c, 1, e)
        if (c ~ /<failure|<error/) f++
        else if (c ~ /status="notrun"|result="skipped"|result="suppressed"|<skipped/) continue
        else p++
      }
      print p, f
    }' "$@" </dev/null
}

# The test.xml files of one target under the testlogs directory: test.xml, or one per
# shard/run when the target is sharded or run several times.
xml_files() {
  local dir=$1 f
  if [[ -f "$dir/test.xml" ]]; then
    echo "$dir/test.xml"
    return
  fi
  for f in "$dir"/shard_*/test.xml "$dir"/run_*/test.xml; do
    [[ -f "$f" ]] && echo "$f"
  done
}

# //a/b:c -> a/b/c, //a/b -> a/b/b, @r//a:c -> external/r/a/c
label_dir() {
  local label=$1 repo="" pkg name
  if [[ "$label" == @* ]]; then
    repo=${label%%//*}
    repo="external/${repo#@}/"
    label=${label#*//}
  else
    label=${label#//}
  fi
  if [[ "$label" == *:* ]]; then
    pkg=${label%%:*}
    name=${label#*:}
  else
    pkg=$label
    name=${label##*/}
  fi
  echo "${repo}${pkg:+$pkg/}$name"
}

# run_suite NAME BAZEL_OPTIONS...: one `bazel test`, then adds what it ran to the totals.
run_suite() {
  local name=$1
  shift
  local log="$work/$name.log" rc start=$SECONDS
  local shown=("$@" "${bazel_flags[@]}" -- "${patterns[@]}")
  echo "=== tools/test.sh: $name run: bazel test ${shown[*]}"
  bazel test --keep_going --test_summary=short "$@" "${bazel_flags[@]}" -- "${patterns[@]}" \
    2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}

  local testlogs
  testlogs=$(bazel info "$@" "${bazel_flags[@]}" bazel-testlogs 2>/dev/null) ||
    testlogs=$(bazel info "$@" bazel-testlogs 2>/dev/null) || testlogs=""

  local targets=0 s_pass=0 s_fail=0 line label status dir p f xmls
  # "//a:b  (cached) PASSED in 0.1s", "//a:b  FAILED TO BUILD", "//a:b  (1/2 cached) FLAKY,
  # failed in 1 out of 2 in 0.2s", "//a:b  NO STATUS", "//a:b  TIMEOUT in 60.0s", ...
  local re='^((@[^ /]*)?//[^ ]*) +(\([^)]*cached\) +)?([A-Z][A-Z ]*[A-Z])((,| in ).*)?$'
  declare -A status_of=()
  local order=()
  # Strip colour codes; keep the last status Bazel printed for each target.
  while IFS= read -r line; do
    [[ "$line" =~ $re ]] || continue
    label=${BASH_REMATCH[1]}
    [[ -n "${status_of[$label]:-}" ]] || order+=("$label")
    status_of[$label]=${BASH_REMATCH[4]}
  done < <(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$log" | grep -E '^(@[^ /]*)?//')

  for label in "${order[@]}"; do
    status=${status_of[$label]}
    p=0
    f=0
    case "$status" in
      PASSED | FLAKY | FAILED | TIMEOUT | INCOMPLETE)
        xmls=()
        if [[ -n "$testlogs" ]]; then
          dir="$testlogs/$(label_dir "$label")"
          mapfile -t xmls < <(xml_files "$dir")
        fi
        if ((${#xmls[@]})); then
          read -r p f < <(count_xml "${xmls[@]}")
        elif [[ "$status" == PASSED || "$status" == FLAKY ]]; then
          p=1   # passed, but no test.xml to count testcases in
        fi
        ;;
      SKIPPED) continue ;;
    esac
    case "$status" in
      PASSED) ;;
      FLAKY) flaky+=("$name: $label") ;;
      *) ((f > 0)) || f=1 ;;
    esac
    targets=$((targets + 1))
    s_pass=$((s_pass + p))
    s_fail=$((s_fail + f))
    if ((f > 0)); then
      failures+=("$name: $label $status ($f failed)")
    fi
  done

  if ((rc != 0 && s_fail == 0)); then
    if [[ $rc -eq 4 && "$name" != plain ]]; then
      echo "=== tools/test.sh: $name run found no test targets"
    else
      s_fail=1
      failures+=("$name: bazel test exited with $rc (build failure or no tests; see above)")
    fi
  fi
  passed=$((passed + s_pass))
  failed=$((failed + s_fail))
  echo "=== tools/test.sh: $name run: $targets test targets, $s_pass testcases passed" \
    "and $s_fail failed, bazel exit $rc, $((SECONDS - start)) s"
}

if ! "$ROOT/tools/setup.sh"; then
  failures+=("tools/setup.sh failed")
  failed=1
  finished=1
  exit 1
fi

# run_fuzzer TARGET SECONDS CORPUS: builds a libFuzzer target under --config=fuzz and runs
# it for SECONDS from a copy of CORPUS (the tree's corpus is never modified). Counts as
# one testcase: a crash, sanitizer report or confinement escape fails it.
run_fuzzer() {
  local target=$1 seconds=$2 corpus=$3 start=$SECONDS bin rc
  echo "=== tools/test.sh: fuzz run: $target for ${seconds} s"
  if ! bazel build --config=fuzz "${bazel_flags[@]}" "$target" >"$work/fuzz-build.log" 2>&1; then
    cat "$work/fuzz-build.log"
    failures+=("fuzz: $target FAILED TO BUILD")
    failed=$((failed + 1))
    return
  fi
  bin="$(bazel info --config=fuzz bazel-bin 2>/dev/null)/$(label_dir "$target")"
  local scratch="$work/corpus-$(basename "$(label_dir "$target")")"   # one per fuzzer
  mkdir -p "$scratch"
  cp -r "$corpus"/. "$scratch/"
  "$bin" -max_total_time="$seconds" -seed=1 -print_final_stats=1 "$scratch" \
    >"$work/fuzz.log" 2>&1
  rc=$?
  tail -n 12 "$work/fuzz.log"
  if ((rc == 0)); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("fuzz: $target exited $rc (see the log above)")
  fi
  echo "=== tools/test.sh: fuzz run: exit $rc, $((SECONDS - start)) s"
}

run_suite plain
if ((!quick)); then
  # .bazelrc's test:asan passes LSAN_OPTIONS through from here.
  LSAN_OPTIONS="suppressions=$ROOT/tools/lsan_suppressions.txt:print_suppressions=0" \
    run_suite asan --config=asan --test_tag_filters=-e2e,-bench
  if [[ "${patterns[*]}" == "//..." ]]; then
    run_fuzzer //storage:path_fuzzer 30 "$ROOT/storage/testdata/path_corpus"
    run_fuzzer //auth:policy_fuzzer 30 "$ROOT/auth/testdata/policy_corpus"
    run_fuzzer //auth:capability_fuzzer 30 "$ROOT/auth/testdata/capability_corpus"
  fi
fi
finished=1
exit 0
