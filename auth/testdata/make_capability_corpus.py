#!/usr/bin/env python3
"""Writes the seed corpus of //auth:capability_fuzzer into capability_corpus/.

Seeds are serialized ferry.v1.Capability messages signed with the fuzzer's fixed keys
("fuzz": 32 bytes of 'f', "old": 32 bytes of 'o'; see auth/capability_fuzzer.cc) and a
few bare claims (the fuzzer also signs each input as claims). The fuzzer's clock is
1700000000 s and its cluster is "a". Needs /usr/bin/protoc; run from anywhere:
    python3 auth/testdata/make_capability_corpus.py
"""
import hashlib
import hmac
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "capability_corpus")
KEYS = {"fuzz": b"f" * 32, "old": b"o" * 32}
NOW_MS = 1_700_000_000_000


def encode(message, text):
    return subprocess.run(
        ["protoc", "-I" + ROOT, "--encode=ferry.v1." + message, "proto/capability.proto"],
        input=text.encode(), stdout=subprocess.PIPE, check=True, cwd=ROOT).stdout


def claims(operation="CAPABILITY_OPERATION_READ", path="/data/f", offset=100, length=50,
           expiry_ms=NOW_MS + 300_000, audience="a"):
    return encode("CapabilityClaims", f'''
        transfer_id: "t-1" user: "ferry://user/alice" issuer_cluster: "b"
        audience_cluster: "{audience}" path: "{path}" operation: {operation}
        offset: {offset} length: {length} expiry_unix_ms: {expiry_ms}''')


def capability(claims_bytes, key_id="fuzz", mac=None):
    if mac is None:
        mac = hmac.new(KEYS[key_id], claims_bytes, hashlib.sha256).digest()

    def field(number, data):  # Length-delimited; every seed is shorter than 128 bytes.
        assert len(data) < 128
        return bytes([number << 3 | 2, len(data)]) + data

    return field(1, key_id.encode()) + field(2, claims_bytes) + field(3, mac)


def main():
    os.makedirs(OUT, exist_ok=True)
    read = claims()
    seeds = {
        "read": capability(read),
        "read_old_key": capability(read, key_id="old"),
        "read_to_eof": capability(claims(offset=0, length=0)),
        "read_top_of_range": capability(claims(offset=2**64 - 10, length=10)),
        "list": capability(claims(operation="CAPABILITY_OPERATION_LIST", path="/data")),
        "list_root": capability(claims(operation="CAPABILITY_OPERATION_LIST", path="/")),
        "expired": capability(claims(expiry_ms=NOW_MS)),
        "other_audience": capability(claims(audience="b")),
        "bad_path_in_claims": capability(claims(operation="CAPABILITY_OPERATION_LIST",
                                                path="/data/../x")),
        "zero_mac": capability(read, mac=b"\0" * 32),
        "unknown_key_id": capability(read, key_id="k9",
                                     mac=hmac.new(KEYS["fuzz"], read, hashlib.sha256).digest()),
        "short_mac": capability(read, mac=b"\1" * 31),
        "claims_read": read,
        "claims_list": claims(operation="CAPABILITY_OPERATION_LIST", path="/a/b"),
        "claims_unspecified": claims(operation="CAPABILITY_OPERATION_UNSPECIFIED"),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
