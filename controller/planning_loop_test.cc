#include "controller/planning_loop.h"

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/capability.h"
#include "auth/key_ring.h"
#include "controller/test_util.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using testing::CopyRequest;
using testing::Directory;
using testing::RegularFile;

// A source tree in memory: the source itself (for Stat) and its entries in walk order,
// listed in pages of `page_size`; a cursor is the path of the last entry returned.
class FakeSourceLister : public SourceLister {
 public:
  absl::StatusOr<v1::FileInfo> Stat(const std::string& address,
                                    const std::string& path) override {
    stat_calls.push_back(absl::StrCat(address, " ", path));
    if (address == unavailable_address) return absl::UnavailableError("peer down");
    if (!stat_error.ok()) return stat_error;
    return root;
  }

  absl::Status List(const std::string& address, const std::string& path,
                    const std::string& cursor, const PageCallback& on_page) override {
    list_calls.push_back(absl::StrCat(address, " ", path, " after '", cursor, "'"));
    if (address == unavailable_address) return absl::UnavailableError("peer down");
    size_t next = 0;
    if (!cursor.empty()) {
      while (next < entries.size() && entries[next].path() != cursor) ++next;
      if (next == entries.size()) return absl::InvalidArgumentError("cursor: unknown");
      ++next;
    }
    for (int page = 0; next < entries.size(); ++page) {
      if (page == fail_before_page) {
        fail_before_page = -1;  // Fails once.
        return absl::UnavailableError("connection reset by fake");
      }
      if (before_page) before_page(page);
      v1::ListResponse response;
      for (int i = 0; i < page_size && next < entries.size(); ++i, ++next) {
        *response.add_entries() = entries[next];
      }
      response.set_cursor(entries[next - 1].path());
      if (absl::Status s = on_page(response); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  v1::FileInfo root = Directory("");
  absl::Status stat_error;
  std::vector<v1::FileInfo> entries;
  int page_size = 3;
  // The page (of this call) before which List fails with UNAVAILABLE, once; -1: never.
  int fail_before_page = -1;
  std::function<void(int page)> before_page;
  std::string unavailable_address;  // Stat and List there fail with UNAVAILABLE.
  std::vector<std::string> stat_calls;
  std::vector<std::string> list_calls;
};

class PlanningLoopTest : public testing::ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    lister_.entries = {Directory("a"),      RegularFile("a/1", 10), RegularFile("a/2", 10),
                       Directory("b"),      RegularFile("b/1", 10), RegularFile("c", 10),
                       RegularFile("d", 10)};
  }

  std::unique_ptr<PlanningLoop> NewLoop() {
    return std::make_unique<PlanningLoop>(manager_.get(), &lister_, &clock_);
  }

  // Source paths of every task, leased and reported done.
  std::vector<std::string> CopyEverything(const std::string& worker) {
    std::vector<std::string> paths;
    for (const v1::Task& task : Lease(worker)) {
      for (const v1::FileTask& file : task.files()) paths.push_back(file.source_path());
      EXPECT_EQ(ReportSuccess(worker, task).code(), 0);
    }
    return paths;
  }

  // With peer "a" at `addresses`, a transfer of a:/src to /dst; its id.
  std::string CreatePeerTransfer(std::vector<std::string> addresses) {
    options_.peers["a"] = std::move(addresses);
    Open();
    v1::CreateTransferRequest request = CopyRequest("r1", "/src", "/dst");
    request.mutable_source()->set_cluster("a");
    absl::StatusOr<v1::Transfer> created = manager_->CreateTransfer("alice", request);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->id() : "";
  }

  FakeSourceLister lister_;
};

TEST_F(PlanningLoopTest, PlansTheWholeTreeAndCompletesTheListing) {
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  EXPECT_EQ(NewLoop()->PlanOnce(id), PlanningLoop::Outcome::kDone);
  EXPECT_EQ(lister_.stat_calls, std::vector<std::string>{"copyd-1:7000 /src"});
  EXPECT_EQ(lister_.list_calls, std::vector<std::string>{"copyd-1:7000 /src after ''"});

  v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_RUNNING);
  EXPECT_TRUE(transfer.progress().listing_complete());
  EXPECT_EQ(transfer.progress().files_total(), 8);  // The root and 7 entries.
  EXPECT_EQ(transfer.progress().bytes_total(), 50);
  EXPECT_TRUE(transfer.stalled_reason().empty());

  const std::vector<std::string> copied = CopyEverything(worker);
  EXPECT_EQ(copied, (std::vector<std::string>{"/src", "/src/a", "/src/a/1", "/src/a/2",
                                              "/src/b", "/src/b/1", "/src/c", "/src/d"}));
  transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_done(), 8);
  EXPECT_EQ(transfer.progress().bytes_done(), 50);
}

TEST_F(PlanningLoopTest, ARegularFileSourceIsPlannedFromItsStatAlone) {
  const std::string worker = RegisterWorker();
  lister_.root = RegularFile("", 42);
  absl::StatusOr<v1::Transfer> created =
      manager_->CreateTransfer("alice", CopyRequest("r1", "/src.bin", "/dst.bin", false));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(NewLoop()->PlanOnce(created->id()), PlanningLoop::Outcome::kDone);
  EXPECT_TRUE(lister_.list_calls.empty());
  const v1::Transfer transfer = Get(created->id());
  EXPECT_TRUE(transfer.progress().listing_complete());
  EXPECT_EQ(transfer.progress().files_total(), 1);
  EXPECT_EQ(transfer.progress().bytes_total(), 42);
  std::vector<v1::Task> tasks = Lease(worker);
  ASSERT_EQ(tasks.size(), 1u);
  ASSERT_EQ(tasks[0].files_size(), 1);
  EXPECT_EQ(tasks[0].files(0).source_path(), "/src.bin");
  EXPECT_EQ(tasks[0].files(0).destination_path(), "/dst.bin");
}

TEST_F(PlanningLoopTest, ListingFailureIsRetriedFromThePersistedCursor) {
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  lister_.fail_before_page = 2;  // After "a", "a/1", "a/2" and "b", "b/1", "c".
  EXPECT_EQ(NewLoop()->PlanOnce(id), PlanningLoop::Outcome::kRetryLater);
  v1::Transfer transfer = Get(id);
  EXPECT_FALSE(transfer.progress().listing_complete());
  EXPECT_EQ(transfer.progress().files_total(), 7);
  EXPECT_NE(transfer.state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_TRUE(absl::StrContains(transfer.stalled_reason(), "listing of local:/src"))
      << transfer.stalled_reason();
  EXPECT_TRUE(absl::StrContains(transfer.stalled_reason(), "UNAVAILABLE"))
      << transfer.stalled_reason();

  // A restarted controller continues after "c", without listing or stat'ing again.
  Restart();
  const std::string new_worker = RegisterWorker();
  std::optional<std::string> next = manager_->NextTransferToPlan(clock_.Now());
  ASSERT_EQ(next, id);
  EXPECT_EQ(NewLoop()->PlanOnce(*next), PlanningLoop::Outcome::kDone);
  EXPECT_EQ(lister_.stat_calls.size(), 1u);
  ASSERT_EQ(lister_.list_calls.size(), 2u);
  EXPECT_EQ(lister_.list_calls[1], "copyd-1:7000 /src after 'c'");
  transfer = Get(id);
  EXPECT_TRUE(transfer.progress().listing_complete());
  EXPECT_EQ(transfer.progress().files_total(), 8);
  EXPECT_EQ(transfer.progress().bytes_total(), 50);
  EXPECT_TRUE(transfer.stalled_reason().empty()) << transfer.stalled_reason();

  const std::vector<std::string> copied = CopyEverything(new_worker);
  EXPECT_EQ(std::set<std::string>(copied.begin(), copied.end()).size(), copied.size());
  EXPECT_EQ(copied.size(), 8u);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
}

TEST_F(PlanningLoopTest, RetryOnTheSameControllerDoesNotDuplicateFiles) {
  RegisterWorker();
  const std::string id = CreateTransfer("r1");
  lister_.fail_before_page = 1;
  std::unique_ptr<PlanningLoop> loop = NewLoop();
  EXPECT_EQ(loop->PlanOnce(id), PlanningLoop::Outcome::kRetryLater);
  EXPECT_EQ(Get(id).progress().files_total(), 4);
  EXPECT_EQ(loop->PlanOnce(id), PlanningLoop::Outcome::kDone);
  EXPECT_EQ(lister_.list_calls.back(), "copyd-1:7000 /src after 'a/2'");
  EXPECT_EQ(Get(id).progress().files_total(), 8);
  // Planning a finished listing again changes nothing.
  EXPECT_EQ(loop->PlanOnce(id), PlanningLoop::Outcome::kDone);
  EXPECT_EQ(Get(id).progress().files_total(), 8);
}

TEST_F(PlanningLoopTest, MissingSourceFailsTheTransfer) {
  RegisterWorker();
  const std::string id = CreateTransfer("r1");
  lister_.stat_error = absl::NotFoundError("/src: no such file or directory");
  EXPECT_EQ(NewLoop()->PlanOnce(id), PlanningLoop::Outcome::kDone);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  ASSERT_EQ(transfer.errors_size(), 1);
  EXPECT_EQ(transfer.errors(0).code(), static_cast<int32_t>(absl::StatusCode::kNotFound));
  EXPECT_TRUE(absl::StrContains(transfer.errors(0).message(), "stat of local:/src"))
      << transfer.errors(0).message();
  EXPECT_TRUE(absl::StrContains(transfer.errors(0).message(), "no such file"));
  EXPECT_TRUE(lister_.list_calls.empty());
}

TEST_F(PlanningLoopTest, DirectoryWithoutRecursiveFailsAsInvalidArgument) {
  RegisterWorker();
  absl::StatusOr<v1::Transfer> created = manager_->CreateTransfer(
      "alice", CopyRequest("r1", "/src", "/dst", /*recursive=*/false));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(NewLoop()->PlanOnce(created->id()), PlanningLoop::Outcome::kDone);
  const v1::Transfer transfer = Get(created->id());
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  ASSERT_EQ(transfer.errors_size(), 1);
  EXPECT_EQ(transfer.errors(0).code(),
            static_cast<int32_t>(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(absl::StrContains(transfer.errors(0).message(), "recursive"));
  EXPECT_EQ(transfer.progress().files_done(), 0);
  EXPECT_TRUE(lister_.list_calls.empty());
}

TEST_F(PlanningLoopTest, NoWorkersIsRetriedLaterWithAStalledReason) {
  const std::string id = CreateTransfer("r1");
  std::unique_ptr<PlanningLoop> loop = NewLoop();
  EXPECT_EQ(loop->PlanOnce(id), PlanningLoop::Outcome::kRetryLater);
  EXPECT_TRUE(lister_.stat_calls.empty());
  v1::Transfer transfer = Get(id);
  EXPECT_TRUE(absl::StrContains(transfer.stalled_reason(), "no copyd workers"))
      << transfer.stalled_reason();
  EXPECT_NE(transfer.state(), v1::TRANSFER_STATE_FAILED);

  RegisterWorker();
  EXPECT_TRUE(Get(id).stalled_reason().empty());
  EXPECT_EQ(loop->PlanOnce(id), PlanningLoop::Outcome::kDone);
  EXPECT_TRUE(Get(id).progress().listing_complete());
}

TEST_F(PlanningLoopTest, UnreachableSourceIsRetriedLater) {
  RegisterWorker();
  const std::string id = CreateTransfer("r1");
  lister_.stat_error = absl::UnavailableError("copyd not answering");
  std::unique_ptr<PlanningLoop> loop = NewLoop();
  EXPECT_EQ(loop->PlanOnce(id), PlanningLoop::Outcome::kRetryLater);
  EXPECT_TRUE(absl::StrContains(Get(id).stalled_reason(), "stat of local:/src"));
  EXPECT_EQ(Get(id).progress().files_total(), 0);
  lister_.stat_error = absl::OkStatus();
  EXPECT_EQ(loop->PlanOnce(id), PlanningLoop::Outcome::kDone);
  EXPECT_EQ(Get(id).progress().files_total(), 8);
}

TEST_F(PlanningLoopTest, APeerSourceIsPlannedThroughThePeersAddressesPastAnUnreachableOne) {
  const std::string id = CreatePeerTransfer({"a-1:7000", "a-2:7000"});
  // The first address the loop tries is down; no worker of this cluster is needed.
  lister_.unavailable_address = "a-1:7000";
  EXPECT_EQ(NewLoop()->PlanOnce(id), PlanningLoop::Outcome::kDone);
  EXPECT_EQ(lister_.stat_calls, (std::vector<std::string>{"a-1:7000 /src", "a-2:7000 /src"}));
  ASSERT_FALSE(lister_.list_calls.empty());
  EXPECT_EQ(lister_.list_calls.back(), "a-2:7000 /src after ''");
  const v1::Transfer transfer = Get(id);
  EXPECT_TRUE(transfer.progress().listing_complete());
  EXPECT_EQ(transfer.progress().files_total(), 8);
  EXPECT_TRUE(transfer.stalled_reason().empty()) << transfer.stalled_reason();
}

TEST_F(PlanningLoopTest, APeerWhoseAddressesAllFailIsRetriedLater) {
  const std::string id = CreatePeerTransfer({"a-1:7000"});
  lister_.unavailable_address = "a-1:7000";
  EXPECT_EQ(NewLoop()->PlanOnce(id), PlanningLoop::Outcome::kRetryLater);
  EXPECT_TRUE(absl::StrContains(Get(id).stalled_reason(), "stat of a:/src"))
      << Get(id).stalled_reason();
}

TEST_F(PlanningLoopTest, CancelDuringListingStopsPlanningWithoutFailing) {
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  lister_.before_page = [&](int page) {
    if (page == 1) {
      ASSERT_TRUE(manager_->CancelTransfer("alice", id, "").ok());
    }
  };
  EXPECT_EQ(NewLoop()->PlanOnce(id), PlanningLoop::Outcome::kDone);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_CANCELLED);
  EXPECT_EQ(transfer.progress().files_total(), 4);  // The root and the first page.
  EXPECT_TRUE(Lease(worker).empty());
}

// The planning Stat and List carry a LIST capability of the source root,
// signed for the transfer's user and audience the source cluster.
class CapturingLister : public FakeSourceLister {
 public:
  absl::StatusOr<v1::FileInfo> StatWith(const std::string& address, const std::string& path,
                                        const v1::Capability& capability) override {
    capabilities.push_back(capability);
    return Stat(address, path);
  }
  absl::Status ListWith(const std::string& address, const std::string& path,
                        const std::string& cursor, const v1::Capability& capability,
                        const PageCallback& on_page) override {
    capabilities.push_back(capability);
    return List(address, path, cursor, on_page);
  }
  std::vector<v1::Capability> capabilities;
};

TEST_F(PlanningLoopTest, PlanningCallsCarryAListCapabilityOfTheSourceRoot) {
  absl::StatusOr<std::shared_ptr<const auth::KeySet>> keys =
      auth::KeySet::Parse(absl::StrCat("k1 ", std::string(64, '9'), " signing\n"), "test");
  ASSERT_TRUE(keys.ok()) << keys.status();
  std::unique_ptr<auth::KeyRing> ring = auth::KeyRing::FromKeySet(*keys);
  const CapabilityIssuer issuer(ring.get(), &clock_, testing::kCluster, absl::Minutes(2));
  CapturingLister lister;
  lister.entries = lister_.entries;
  RegisterWorker();
  absl::StatusOr<v1::Transfer> created =
      manager_->CreateTransfer("ferry://user/alice", CopyRequest("r1", "/src", "/dst"));
  ASSERT_TRUE(created.ok()) << created.status();
  PlanningLoop loop(manager_.get(), &lister, &clock_, &issuer);
  EXPECT_EQ(loop.PlanOnce(created->id()), PlanningLoop::Outcome::kDone);
  ASSERT_EQ(lister.capabilities.size(), 2u);  // The root's Stat, then the List.
  for (const v1::Capability& capability : lister.capabilities) {
    absl::StatusOr<v1::CapabilityClaims> claims =
        auth::Verify(*ring, capability, clock_.Now(), testing::kCluster);
    ASSERT_TRUE(claims.ok()) << claims.status();
    EXPECT_EQ(claims->operation(), v1::CAPABILITY_OPERATION_LIST);
    EXPECT_EQ(claims->path(), "/src");
    EXPECT_EQ(claims->user(), "ferry://user/alice");
    EXPECT_EQ(claims->transfer_id(), created->id());
  }
}

}  // namespace
}  // namespace ferry::controller
