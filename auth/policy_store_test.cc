#include "auth/policy_store.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::auth {
namespace {

using ::testing::HasSubstr;

constexpr char kAlice[] = "ferry://user/alice";

std::string GrantText(absl::string_view prefix) {
  return absl::StrCat("grants {\n  principals: \"", kAlice, "\"\n  cluster: \"a\"\n",
                      "  path_prefix: \"", prefix, "\"\n  permissions: PERMISSION_READ\n}\n");
}

class PolicyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    path_ = absl::StrCat(tmp, "/policy-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Write(GrantText("/old"));
    absl::StatusOr<std::unique_ptr<PolicyStore>> store = PolicyStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override { unlink(path_.c_str()); }

  // Replaced with a rename, as an operator's editor or a config push would.
  void Write(absl::string_view text) {
    const std::string temp = path_ + ".tmp";
    std::ofstream(temp, std::ios::trunc) << text;
    ASSERT_EQ(rename(temp.c_str(), path_.c_str()), 0);
  }

  bool AliceMayRead(absl::string_view path) const {
    return store_->Current()->Check(kAlice, v1::PERMISSION_READ, "a", path).ok();
  }

  std::string path_;
  std::unique_ptr<PolicyStore> store_;
};

TEST_F(PolicyStoreTest, ReloadPutsTheNewPolicyInForce) {
  EXPECT_TRUE(AliceMayRead("/old/x"));
  const std::shared_ptr<const Authorizer> snapshot = store_->Current();
  Write(GrantText("/new"));
  ASSERT_TRUE(store_->Reload().ok());
  EXPECT_TRUE(AliceMayRead("/new/x"));
  EXPECT_FALSE(AliceMayRead("/old/x"));
  // A snapshot taken before the reload still answers as the old policy did.
  EXPECT_TRUE(snapshot->Check(kAlice, v1::PERMISSION_READ, "a", "/old/x").ok());
}

TEST_F(PolicyStoreTest, BadFileKeepsTheOldPolicyAndNamesTheLine) {
  Write(absl::StrCat(GrantText("/new"), GrantText("/x/../y")));  // Line 10: path_prefix.
  const absl::Status status = store_->Reload();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat(path_, ":10:3: grants[1].path_prefix")));
  EXPECT_TRUE(AliceMayRead("/old/x"));
  EXPECT_FALSE(AliceMayRead("/new/x"));

  Write("grants { this is not a policy");
  EXPECT_EQ(store_->Reload().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(unlink(path_.c_str()), 0);
  EXPECT_EQ(store_->Reload().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(AliceMayRead("/old/x"));
}

TEST_F(PolicyStoreTest, OpenRefusesABadFirstPolicy) {
  Write("grants { principals: \"nobody\" }");
  EXPECT_EQ(PolicyStore::Open(path_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PolicyStore::Open(path_ + ".missing").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PolicyStoreTest, ReadersSeeAWholePolicyDuringReloads) {
  // Every policy written here grants /both; they differ elsewhere.
  Write(GrantText("/both"));
  ASSERT_TRUE(store_->Reload().ok());
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!done.load()) {
        if (!AliceMayRead("/both/f")) failures.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    Write(absl::StrCat(GrantText("/both"), GrantText(i % 2 == 0 ? "/even" : "/odd")));
    ASSERT_TRUE(store_->Reload().ok());
  }
  done.store(true);
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(AliceMayRead("/odd"));
}

TEST_F(PolicyStoreTest, SighupReloads) {
  SighupReloader reloader([this] { (void)store_->Reload(); });
  Write(GrantText("/after-hup"));
  ASSERT_EQ(kill(getpid(), SIGHUP), 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (reloader.reload_count() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(reloader.reload_count(), 1);
  EXPECT_TRUE(AliceMayRead("/after-hup/x"));
  reloader.Stop();
  reloader.Stop();  // Idempotent.
  EXPECT_EQ(reloader.reload_count(), 1);  // Stopping is not a reload.
}

TEST(SighupReloaderTest, StopsCleanlyWithoutASignal) {
  std::atomic<int> calls{0};
  { SighupReloader reloader([&] { calls.fetch_add(1); }); }
  EXPECT_EQ(calls.load(), 0);
}

}  // namespace
}  // namespace ferry::auth
