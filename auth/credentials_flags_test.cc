#include "auth/credentials_flags.h"

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "gtest/gtest.h"

namespace ferry::auth {
namespace {

TEST(CredentialsFlagsTest, FlagsMakeTheConfig) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_tls_ca, "/etc/ferry/ca.pem");
  absl::SetFlag(&FLAGS_tls_cert, "/etc/ferry/a-copyd.pem");
  absl::SetFlag(&FLAGS_tls_key, "/etc/ferry/a-copyd.key");
  absl::SetFlag(&FLAGS_tls_reload_interval, absl::Seconds(5));
  absl::StatusOr<TlsConfig> config = TlsConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->files.ca, "/etc/ferry/ca.pem");
  EXPECT_EQ(config->files.cert, "/etc/ferry/a-copyd.pem");
  EXPECT_EQ(config->files.key, "/etc/ferry/a-copyd.key");
  EXPECT_EQ(config->reload_interval, absl::Seconds(5));
  EXPECT_FALSE(config->insecure_plaintext_unsafe);
}

TEST(CredentialsFlagsTest, DefaultsAreTlsWithAMinuteReload) {
  absl::StatusOr<TlsConfig> config = TlsConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->insecure_plaintext_unsafe);
  EXPECT_EQ(config->reload_interval, absl::Seconds(60));
  EXPECT_EQ(config->files.cert, "");  // ServerCredentials then asks for --tls_cert
}

TEST(CredentialsFlagsTest, UnsafeFlagNeedsNoFiles) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_insecure_plaintext_unsafe, true);
  absl::StatusOr<TlsConfig> config = TlsConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->insecure_plaintext_unsafe);
}

TEST(CredentialsFlagsTest, ReloadIntervalUnderASecondIsRefused) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_tls_reload_interval, absl::Milliseconds(500));
  absl::StatusOr<TlsConfig> config = TlsConfigFromFlags();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("--tls_reload_interval"), absl::string_view::npos);
}

TEST(ResolveTlsConfigTest, TlsDirFillsOnlyMissingFiles) {
  TlsConfig given;
  given.files.cert = "/home/alice/other.pem";
  absl::StatusOr<TlsConfig> config = ResolveTlsConfig(given, "/home/alice/.ferry");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->files.ca, "/home/alice/.ferry/ca.pem");
  EXPECT_EQ(config->files.cert, "/home/alice/other.pem");
  EXPECT_EQ(config->files.key, "/home/alice/.ferry/user.key");
}

TEST(ResolveTlsConfigTest, NoDirLeavesMissingFilesEmpty) {
  absl::StatusOr<TlsConfig> config = ResolveTlsConfig(TlsConfig(), "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->files.ca, "");
  EXPECT_EQ(config->files.key, "");
}

}  // namespace
}  // namespace ferry::auth
