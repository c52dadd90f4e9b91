// Capabilities (proto/capability.proto): what a controller allows one task to read
// from a serving copyd, signed with a key both share (auth/key_ring.h).
//
// Sign serializes the claims deterministically and MACs those bytes with
// HMAC-SHA256 (OpenSSL 3 EVP_MAC "HMAC", digest "SHA256") under the ring's signing
// key. Verify recomputes the MAC over the claims bytes exactly as received and
// compares in constant time (CRYPTO_memcmp) BEFORE parsing them, so unauthenticated
// bytes never reach the protobuf parser; then it checks expiry and audience.
// Verify failures are UNAUTHENTICATED (the caller presented no valid credential):
// unknown key id, MAC not 32 bytes, MAC mismatch, claims that do not parse, expired,
// other audience. Messages name the reason, never a key, a MAC or claims bytes.
//
// The Check* functions then decide whether one request lies inside verified claims:
// PERMISSION_DENIED when it does not, INVALID_ARGUMENT for a request path that is not
// absolute and normalized (no `.`, `..`, empty components, trailing '/', NUL: never
// normalized lexically, as in auth/policy.h). READ grants ReadChunk and Stat of
// exactly `path` within [offset, offset + length) (length 0: to end of file); LIST
// grants List and Stat of `path` and everything under it on whole components.
//
// A serving copyd must also check its own cluster's policy for claims.user (READ on
// the requested path, auth/policy.h): a capability proves what a controller allowed,
// the local policy bounds what any controller may allow.
//
// Cost: one HMAC over ~100-200 bytes and one small parse per request (not per block).
// The EVP_MAC is fetched once per process and each thread reuses one EVP_MAC_CTX, so
// verification allocates only the parsed claims.
//
// Thread safety: all functions may be called concurrently.
#ifndef FERRY_AUTH_CAPABILITY_H_
#define FERRY_AUTH_CAPABILITY_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/key_ring.h"
#include "proto/capability.pb.h"

namespace ferry::auth {

inline constexpr size_t kCapabilityMacBytes = 32;

// Signs `claims` with keys.Current()->signing_key(). INVALID_ARGUMENT (naming the
// field) for claims no copyd could honour: operation unspecified, path not absolute
// and normalized, bad cluster names or user principal, no expiry, or a string field
// that is not UTF-8 (proto3 strings must be: such claims would never parse on the
// verifier; the path is `bytes` and may hold any name).
// INTERNAL if OpenSSL fails.
absl::StatusOr<v1::Capability> Sign(const KeyRing& keys, const v1::CapabilityClaims& claims);

// The claims of `capability` if it was signed by a key in `keys`, has not expired at
// `now` and is meant for `audience_cluster`; UNAUTHENTICATED otherwise (see above).
absl::StatusOr<v1::CapabilityClaims> Verify(const KeyRing& keys,
                                            const v1::Capability& capability,
                                            absl::Time now,
                                            absl::string_view audience_cluster);

// ReadChunk of `path` from `offset`, `length` bytes (0: to end of file). Needs a READ
// capability for exactly `path` whose range holds the whole request; a request to end
// of file fits only a capability that is itself open-ended (length 0).
absl::Status CheckRead(const v1::CapabilityClaims& claims, absl::string_view path,
                       uint64_t offset, uint64_t length);

// Stat of `path`: READ of exactly `path`, or LIST of `path` or a directory above it.
absl::Status CheckStat(const v1::CapabilityClaims& claims, absl::string_view path);

// List of `path`: LIST of `path` or a directory above it.
absl::Status CheckList(const v1::CapabilityClaims& claims, absl::string_view path);

}  // namespace ferry::auth

#endif  // FERRY_AUTH_CAPABILITY_H_
