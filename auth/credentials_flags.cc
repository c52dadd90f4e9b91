#include "auth/credentials_flags.h"

#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, tls_ca, "", ferry::auth::kTlsCaHelp);
ABSL_FLAG(std::string, tls_cert, "", ferry::auth::kTlsCertHelp);
ABSL_FLAG(std::string, tls_key, "", ferry::auth::kTlsKeyHelp);
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Seconds(60),
          ferry::auth::kTlsReloadIntervalHelp);
ABSL_FLAG(bool, insecure_plaintext_unsafe, false,
          ferry::auth::kInsecurePlaintextUnsafeHelp);

namespace ferry::auth {
namespace {

void DefaultFromDir(std::string& path, absl::string_view tls_dir, absl::string_view file) {
  if (path.empty() && !tls_dir.empty()) path = absl::StrCat(tls_dir, "/", file);
}

}  // namespace

absl::StatusOr<TlsConfig> ResolveTlsConfig(TlsConfig given, absl::string_view tls_dir) {
  if (given.insecure_plaintext_unsafe) return given;
  if (given.reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_reload_interval must be at least 1s, got ",
                     absl::FormatDuration(given.reload_interval)));
  }
  DefaultFromDir(given.files.ca, tls_dir, "ca.pem");
  DefaultFromDir(given.files.cert, tls_dir, "user.pem");
  DefaultFromDir(given.files.key, tls_dir, "user.key");
  return given;
}

absl::StatusOr<TlsConfig> TlsConfigFromFlags() {
  TlsConfig config;
  config.files.ca = absl::GetFlag(FLAGS_tls_ca);
  config.files.cert = absl::GetFlag(FLAGS_tls_cert);
  config.files.key = absl::GetFlag(FLAGS_tls_key);
  config.reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  config.insecure_plaintext_unsafe = absl::GetFlag(FLAGS_insecure_plaintext_unsafe);
  return ResolveTlsConfig(std::move(config), "");
}

}  // namespace ferry::auth
