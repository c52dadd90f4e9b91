#include "auth/test_certs.h"

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tests/harness/process_harness.h"

namespace ferry::auth {

absl::Status GenerateTestCerts(const std::string& dir, const std::vector<std::string>& args) {
  harness::ProcessOptions options;
  options.name = "gen-certs";
  options.binary = harness::RunfilePath("tools/gen-certs.sh");
  options.args = {dir};
  options.args.insert(options.args.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<harness::ManagedProcess>> process =
      harness::ManagedProcess::Start(std::move(options));
  if (!process.ok()) return process.status();
  absl::StatusOr<harness::ExitStatus> exit = (*process)->Wait(absl::Now() + absl::Minutes(1));
  if (!exit.ok()) return exit.status();
  if (exit->success()) return absl::OkStatus();
  absl::StatusOr<std::string> log = (*process)->ReadLog();
  return absl::FailedPreconditionError(
      absl::StrCat("tools/gen-certs.sh ended with ", exit->ToString(), ":\n",
                   log.ok() ? *log : log.status().ToString()));
}

TlsConfig TestTlsConfig(const std::string& dir, absl::string_view name) {
  TlsConfig config;
  config.files.ca = absl::StrCat(dir, "/ca.pem");
  config.files.cert = absl::StrCat(dir, "/", name, ".pem");
  config.files.key = absl::StrCat(dir, "/", name, ".key");
  config.reload_interval = absl::Seconds(1);
  return config;
}

}  // namespace ferry::auth
