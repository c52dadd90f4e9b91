#!/usr/bin/env bash
# Makes the certificates of ferry's mTLS identities with the openssl CLI: a CA, and one
# certificate per process and per person, for the demo and the tests.
#
#   tools/gen-certs.sh DIR [--cluster NAME]... [--user NAME]... [options]
#
#   DIR/ca.pem, ca.key              the CA (made once, kept on later runs)
#   DIR/<c>-controller.pem|.key     per --cluster c, URI SAN ferry://cluster/<c>/controller
#   DIR/<c>-copyd.pem|.key          ... ferry://cluster/<c>/copyd
#   DIR/<c>-bwbroker.pem|.key       ... ferry://cluster/<c>/bwbroker
#   DIR/user-<u>.pem|.key           per --user u, URI SAN ferry://user/<u>
#   DIR/<n>.pem|.key                per --no-ferry-uri n: no ferry:// URI (tests only)
#
# Every certificate also has the SANs IP:127.0.0.1 and DNS:localhost (so clients on this
# machine verify the server's name without any override) and serverAuth + clientAuth
# usage: each process is both a server and a client.
#
# Options:
#   --days N        validity of new certificates (default 30; the CA gets 10 years)
#   --expired       the certificates of this run are already expired (validity ended a
#                   day ago) and are named <name>-expired.pem|.key (tests only)
#   --other-ca      sign with a second, unrelated CA, DIR/other-ca.pem|.key (made once),
#                   and name the certificates <name>-other-ca.pem|.key (tests only)
#   -h, --help      this text
#
# Idempotent: an existing certificate is kept when its key is there and it is signed by
# its CA (and, unless --expired, stays valid for at least one more day); otherwise it is
# made again. Keys are written 0600 and certificates 0644, each through a temporary file
# and a rename, so a process watching the files never reads half of one. DIR is made
# 0700 when missing. Prints one line per file written, never key material.
set -euo pipefail

usage() { sed -n '2,31s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() { echo "gen-certs.sh: $*" >&2; exit 2; }

# Names become URI path segments and file names: auth/principal.h's rule (1 to 64 of
# letters, digits, '-', '_', '.'), and a letter or digit first, as they name files.
check_name() {
  [[ "$2" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die "bad $1 name '$2'"
}

dir="" days=30 expired=0 other_ca=0
clusters=() users=() no_uri=()
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --cluster) (($# >= 2)) || die "--cluster needs a name"; check_name cluster "$2"; clusters+=("$2"); shift ;;
    --user) (($# >= 2)) || die "--user needs a name"; check_name user "$2"; users+=("$2"); shift ;;
    --no-ferry-uri) (($# >= 2)) || die "--no-ferry-uri needs a name"; check_name file "$2"; no_uri+=("$2"); shift ;;
    --days) (($# >= 2)) && [[ "$2" =~ ^[1-9][0-9]{0,4}$ ]] || die "--days needs a number of days"; days=$2; shift ;;
    --expired) expired=1 ;;
    --other-ca) other_ca=1 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ -z "$dir" ]] || die "only one DIR, got '$dir' and '$1'"; dir=$1 ;;
  esac
  shift
done
[[ -n "$dir" ]] || { usage >&2; exit 2; }
command -v openssl >/dev/null || die "the openssl command is missing (tools/setup.sh installs it)"

umask 077
mkdir -p "$dir"
# Inside DIR, so that moving a finished file into place is a rename on one file system.
work=$(mktemp -d "$dir/.gen-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT

ca=ca suffix=""
((other_ca)) && { ca=other-ca; suffix=-other-ca; }
((expired)) && suffix=$suffix-expired

# Moves a finished file from the work directory into DIR under its final name.
install_file() {  # install_file SRC NAME MODE
  chmod "$3" "$1"
  mv -f "$1" "$dir/$2"
  echo "wrote $dir/$2"
}

# openssl prints progress and usage noise on success; show it only when it fails.
quiet() {
  if ! "$@" >"$work/openssl.log" 2>&1; then
    cat "$work/openssl.log" >&2
    die "failed: $*"
  fi
}

new_key() { quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

make_ca() {
  [[ -s "$dir/$ca.pem" && -s "$dir/$ca.key" ]] && return 0
  new_key "$work/ca.key"
  quiet openssl req -new -x509 -sha256 -key "$work/ca.key" -out "$work/ca.pem" \
    -days 3650 -subj "/O=ferry/CN=ferry $ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
  install_file "$work/ca.key" "$ca.key" 600
  install_file "$work/ca.pem" "$ca.pem" 644
}

# An existing certificate is kept when its key exists and its CA signed it; a regular
# one must also stay valid for a day, an expired one must really be expired.
usable() {  # usable NAME
  local cert="$dir/$1.pem"
  [[ -s "$cert" && -s "$dir/$1.key" ]] || return 1
  openssl verify -no_check_time -CAfile "$dir/$ca.pem" "$cert" >/dev/null 2>&1 || return 1
  if ((expired)); then
    ! openssl x509 -in "$cert" -noout -checkend 0 >/dev/null 2>&1
  else
    openssl x509 -in "$cert" -noout -checkend 86400 >/dev/null 2>&1
  fi
}

utc() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }

# `openssl ca` rather than `x509 -req`: only it takes explicit start and end dates in
# openssl 3.0, which expired test certificates need.
sign() {  # sign CSR OUT SAN
  local now start end
  now=$(date +%s)
  if ((expired)); then
    start=$(utc $((now - 2 * 86400))) end=$(utc $((now - 86400)))
  else
    # An hour back, for peers whose clocks run a little late.
    start=$(utc $((now - 3600))) end=$(utc $((now + days * 86400)))
  fi
  : >"$work/index.txt"
  cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = signer
[signer]
database = $work/index.txt
new_certs_dir = $work
certificate = $dir/$ca.pem
private_key = $dir/$ca.key
default_md = sha256
policy = any_subject
rand_serial = yes
unique_subject = no
[any_subject]
commonName = supplied
organizationName = optional
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $3
EOF
  quiet openssl ca -batch -notext -config "$work/ca.cnf" -extensions leaf \
    -startdate "$start" -enddate "$end" -in "$1" -out "$2"
}

make_cert() {  # make_cert BASENAME URI-or-empty
  local name=$1$suffix san="IP:127.0.0.1,DNS:localhost"
  [[ -n "$2" ]] && san="URI:$2,$san"
  usable "$name" && return 0
  # The CN is only a label (X.509 caps it at 64 characters); the URI SAN is the identity.
  new_key "$work/leaf.key"
  quiet openssl req -new -key "$work/leaf.key" -out "$work/leaf.csr" -subj "/O=ferry/CN=${1:0:64}"
  sign "$work/leaf.csr" "$work/leaf.pem" "$san"
  install_file "$work/leaf.key" "$name.key" 600
  install_file "$work/leaf.pem" "$name.pem" 644
}

make_ca
for c in ${clusters[@]+"${clusters[@]}"}; do
  for role in controller copyd bwbroker; do
    make_cert "$c-$role" "ferry://cluster/$c/$role"
  done
done
for u in ${users[@]+"${users[@]}"}; do
  make_cert "user-$u" "ferry://user/$u"
done
for n in ${no_uri[@]+"${no_uri[@]}"}; do
  make_cert "$n" ""
done
