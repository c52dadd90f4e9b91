// Helpers for controller tests (testonly).
//
// ControllerTest is a fixture holding what a controller process holds: a Store on a real
// RocksDB directory under $TEST_TMPDIR, a SimulatedClock (tests advance time, never
// sleep) and a TransferManager over both. Restart() drops the manager and the store the
// way a killed process does and opens them again from the same directory, so tests can
// prove what survives a restart. The free functions build requests and listing entries.
//
// Thread safety: like the gtest fixture it is, one test thread.
#ifndef FERRY_CONTROLLER_TEST_UTIL_H_
#define FERRY_CONTROLLER_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/store.h"
#include "controller/transfer_manager.h"
#include "gtest/gtest.h"
#include "proto/copy_service.pb.h"
#include "proto/worker_service.pb.h"

#define FERRY_EXPECT_OK(expr)                   \
  do {                                          \
    const absl::Status ferry_status_ = (expr);  \
    EXPECT_TRUE(ferry_status_.ok()) << ferry_status_; \
  } while (false)

#define FERRY_ASSERT_OK(expr)                   \
  do {                                          \
    const absl::Status ferry_status_ = (expr);  \
    ASSERT_TRUE(ferry_status_.ok()) << ferry_status_; \
  } while (false)

namespace ferry::controller::testing {

// The cluster every test controller owns.
inline constexpr char kCluster[] = "local";

// A new, empty directory (mkdtemp) under $TEST_TMPDIR, or /tmp outside Bazel.
std::string MakeTempDir();

// A request to copy kCluster:`source` to kCluster:`destination`.
v1::CreateTransferRequest CopyRequest(const std::string& request_id,
                                      const std::string& source,
                                      const std::string& destination,
                                      bool recursive = true);

// Listing entries as DataService.List returns them (paths relative to the source).
v1::FileInfo RegularFile(const std::string& path, uint64_t size);
v1::FileInfo Directory(const std::string& path);
// A regular file that is one of `nlink` names of source inode (device 9, `inode`).
v1::FileInfo HardLinkedFile(const std::string& path, uint64_t size, uint64_t inode,
                            uint64_t nlink = 2);

// A report for `task`'s lease (task id and generation), results still to add.
v1::TaskReport ReportOf(const v1::Task& task);
// A heartbeat of `worker_id` saying it is working on `running`.
v1::HeartbeatRequest HeartbeatOf(const std::string& worker_id,
                                 const std::vector<v1::Task>& running = {});

class ControllerTest : public ::testing::Test {
 protected:
  // Tests may change options_ before calling Open() again (or Restart()).
  void SetUp() override;

  // Opens the store in dir_ and a manager over it, then Recover().
  void Open();
  // Destroys manager and store, as a killed controller leaves them, and Open()s again.
  void Restart();

  // Registers a worker named `name`; its id, or "" after a test failure.
  std::string RegisterWorker(const std::string& name = "copyd-1");
  // Creates a transfer (request id `request_id`) for user "alice"; its id or "".
  std::string CreateTransfer(const std::string& request_id, bool dry_run = false);
  // Plans `entries` into the transfer as one page, as the planning loop would.
  void Plan(const std::string& id, const std::vector<v1::FileInfo>& entries,
            bool listing_complete = true);
  // Registers "copyd-1", creates transfer "r1" and plans `entries` into it (complete
  // listing), then leases; a test failure unless exactly one task came back.
  struct OneTask {
    std::string worker_id;
    std::string transfer_id;
    v1::Task task;
  };
  OneTask StartOneTask(const std::vector<v1::FileInfo>& entries);
  // Leases up to `max_tasks` tasks for `worker_id`.
  std::vector<v1::Task> Lease(const std::string& worker_id, int max_tasks = 100);
  // Reports `task` done: every file OK with bytes = planned length.
  v1::TaskAck ReportSuccess(const std::string& worker_id, const v1::Task& task);
  // Reports `task` failed as a whole with `code`.
  v1::TaskAck ReportTaskError(const std::string& worker_id, const v1::Task& task,
                              absl::StatusCode code);
  v1::TaskAck Report(const std::string& worker_id, const v1::TaskReport& report);
  // The transfer as GetTransfer returns it (default instance after a test failure).
  v1::Transfer Get(const std::string& id);

  ManagerOptions options_;
  SimulatedClock clock_;
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TransferManager> manager_;
};

}  // namespace ferry::controller::testing

#endif  // FERRY_CONTROLLER_TEST_UTIL_H_
