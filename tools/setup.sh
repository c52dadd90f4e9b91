#!/usr/bin/env bash
# Installs the Debian 12 packages ferry's build and tests need. Idempotent: when every
# package is already installed it does not touch apt at all. Quiet unless something
# fails; then it prints the tail of its log and exits non-zero.
# Usage: tools/setup.sh        (as root, or as a user with sudo)
set -uo pipefail

PACKAGES=(
  # Bazel 4.2.3 and its Java rules (see shared notes: bazel-offline.md).
  bazel-bootstrap bazel-rules-java
  # Compilers: g++ for the default build, clang-14 + its runtime for --config=fuzz.
  g++ clang-14 libclang-rt-14-dev
  # Libraries wrapped by third_party/system.BUILD.
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev libssl-dev libgtest-dev libgmock-dev
  libbenchmark-dev libisal-dev prometheus-cpp-dev libgoogle-glog-dev
  libgoogle-perftools-dev
  # Baseline of tools/bench/copy_bench (rsync -a against ferry's small-file copy).
  rsync
  openssl  # the openssl CLI of tools/gen-certs.sh (mTLS certificates; //auth:tls_test)
  # tools/*.sh need nothing more than bash, coreutils, grep, sed, awk and find, which
  # every Debian system has (Essential: yes).
)

# One dpkg-query for all: prints "ii  name" for each installed package (a package that
# dpkg has never heard of prints nothing, so it counts as missing too).
declare -A installed=()
while read -r status name; do
  [[ "$status" == ii ]] && installed[${name%%:*}]=1
done < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PACKAGES[@]}" 2>/dev/null)
missing=()
for pkg in "${PACKAGES[@]}"; do
  [[ -n "${installed[$pkg]:-}" ]] || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo -n)
else
  echo "tools/setup.sh: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/ferry-setup.XXXXXX.log")
run() {
  echo "+ $*" >>"$log"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive "$@" >>"$log" 2>&1
}
if run apt-get update -q &&
   run apt-get install -y -q "${missing[@]}"; then
  rm -f "$log"
  exit 0
fi
echo "tools/setup.sh: installing ${missing[*]} failed; last lines of $log:" >&2
tail -n 40 "$log" >&2
exit 1
