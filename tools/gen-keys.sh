#!/usr/bin/env bash
# Makes a capability key file (auth/key_ring.h) with the openssl CLI: the shared
# secret a controller signs capabilities with and the copyds it reads from verify.
#
#   tools/gen-keys.sh FILE [--id ID]
#
# FILE missing: written with one key `<ID> <64 hex digits> signing` (ID default k1).
# FILE present: kept as it is (idempotent), unless --id names a key it lacks: that key
# is appended WITHOUT the signing marker (step 1 of a rotation; move `signing` by hand
# once every file has it, see auth/README.md).
# The file is mode 0600, written through a temporary file and a rename; the directory
# must exist. Prints one line naming the file and key id, never the secret.
set -euo pipefail

usage() { sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() { echo "gen-keys.sh: $*" >&2; exit 2; }

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0 ;; esac
file="$1"; shift
id="k1"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --id) [[ $# -ge 2 ]] || die "--id needs a value"; id="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[[ "$id" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "bad key id '$id'"
command -v openssl >/dev/null || die "needs the openssl CLI"

umask 077
if [[ -f "$file" ]]; then
  if awk -v id="$id" '$1 == id { found = 1 } END { exit !found }' "$file"; then
    exit 0
  fi
  marker=""
  existing="$(cat "$file")"
else
  marker=" signing"
  existing="# ferry capability keys: <id> <hex secret> [signing]; keep private (0600)."
fi
tmp="$(mktemp "${file}.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
{ printf '%s\n' "$existing"; printf '%s %s%s\n' "$id" "$(openssl rand -hex 32)" "$marker"; } >"$tmp"
chmod 0600 "$tmp"
mv "$tmp" "$file"
trap - EXIT
echo "gen-keys.sh: wrote key ${id}${marker} to ${file}"
