// The TLS flags of every ferry binary, and the TlsConfig they make.
//
// Purpose: one spelling and one meaning of the credentials options everywhere:
//   --tls_ca=FILE                  CA certificate(s) peers must be signed by (PEM)
//   --tls_cert=FILE                this process's or person's certificate chain (PEM)
//   --tls_key=FILE                 its private key (PEM, unencrypted, mode 0600)
//   --tls_reload_interval=DURATION how often the three files are re-read (default 60s)
//   --insecure_plaintext_unsafe    plaintext and no authentication (default false);
//                                  servers log a WARNING; tests and debugging only
// The daemons (controller, copyd, bwbroker) link this library, which defines the flags
// as absl flags, and call TlsConfigFromFlags() after parsing. The ferry CLI parses its
// global flags with its own table (tools/ferry/flag_parser.h): it declares the same
// names with the k*Help texts below and calls ResolveTlsConfig with the values and
// getenv(kTlsDirEnv).
//
// FERRY_TLS_DIR (the CLI's default): a file flag left empty defaults to
// $FERRY_TLS_DIR/ca.pem, $FERRY_TLS_DIR/user.pem and $FERRY_TLS_DIR/user.key. A person
// keeps their certificate there (e.g. gen-certs.sh's user-<name>.pem and .key copied
// as user.pem and user.key, next to the CA's ca.pem). Daemons do not read it.
//
// Failure: INVALID_ARGUMENT when the reload interval is under one second. The files are
// checked later, by ServerCredentials / ChannelCredentials (auth/tls.h): a path still
// empty there is INVALID_ARGUMENT "--tls_cert is required (or ...)".
// Thread safety: read flags after absl::ParseCommandLine; the functions are pure
// otherwise.
#ifndef FERRY_AUTH_CREDENTIALS_FLAGS_H_
#define FERRY_AUTH_CREDENTIALS_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/tls.h"

ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(absl::Duration, tls_reload_interval);
ABSL_DECLARE_FLAG(bool, insecure_plaintext_unsafe);

namespace ferry::auth {

inline constexpr char kTlsDirEnv[] = "FERRY_TLS_DIR";

inline constexpr char kTlsCaHelp[] =
    "CA certificate(s) that peers' certificates must be signed by (PEM file)";
inline constexpr char kTlsCertHelp[] =
    "certificate chain presented to peers, its URI SAN is the principal (PEM file)";
inline constexpr char kTlsKeyHelp[] = "private key of --tls_cert (unencrypted PEM file)";
inline constexpr char kTlsReloadIntervalHelp[] =
    "how often --tls_ca, --tls_cert and --tls_key are re-read for rotation (>= 1s)";
inline constexpr char kInsecurePlaintextUnsafeHelp[] =
    "UNSAFE: plaintext channels without any authentication; every caller is "
    "ferry://anonymous. Tests and debugging only";

// Fills the empty file paths of `given` from `tls_dir` (when not empty; see above) and
// checks the reload interval. Under given.insecure_plaintext_unsafe nothing is
// checked: no file is needed.
absl::StatusOr<TlsConfig> ResolveTlsConfig(TlsConfig given, absl::string_view tls_dir);

// The daemons' TlsConfig: the five flags, no directory default.
absl::StatusOr<TlsConfig> TlsConfigFromFlags();

}  // namespace ferry::auth

#endif  // FERRY_AUTH_CREDENTIALS_FLAGS_H_
