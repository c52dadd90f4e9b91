// Test-only: ferry certificates made by tools/gen-certs.sh in a scratch directory, and
// the TlsConfig of one of them.
//
// Tests that need mTLS depend on ":test_certs" (which carries gen-certs.sh as a data
// dependency, hence needs the openssl CLI that tools/setup.sh installs) and call
// GenerateTestCerts(dir, {"--cluster", "a", "--user", "alice"}) once, then
// TestTlsConfig(dir, "a-controller") per process. Generation takes about 0.1 s per
// certificate (EC P-256 keys).
//
// Thread safety: call from the test's main thread (the script runs as a child process
// named "gen-certs" through tests/harness, one at a time).
#ifndef FERRY_AUTH_TEST_CERTS_H_
#define FERRY_AUTH_TEST_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/tls.h"

namespace ferry::auth {

// Runs `tools/gen-certs.sh dir args...` from the runfiles. FAILED_PRECONDITION with the
// script's output when it fails.
absl::Status GenerateTestCerts(const std::string& dir, const std::vector<std::string>& args);

// {dir/ca.pem, dir/<name>.pem, dir/<name>.key}, reloaded every second.
TlsConfig TestTlsConfig(const std::string& dir, absl::string_view name);

}  // namespace ferry::auth

#endif  // FERRY_AUTH_TEST_CERTS_H_
