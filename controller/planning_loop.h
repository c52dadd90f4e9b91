// PlanningLoop: the controller's thread that lists sources and turns them into tasks.
//
// For each transfer that needs planning it stats the source through a copyd of the
// source cluster (a live worker of this cluster for a local source; for a peer's source
// one of the peer's DataService addresses from --peer, starting at a rotating one and
// moving to the next on UNAVAILABLE), then streams DataService.List from the checkpointed cursor, persisting
// each page's tasks together with the new cursor in one batch (TransferManager::
// AddPlannedEntries). A controller killed mid-listing resumes from the last cursor.
// Memory is one listing page, whatever the tree's size. Retryable failures (no worker
// yet, copyd unreachable) put the transfer back after a backoff and record why it is
// stalled; permanent ones (source missing, directory without recursive) fail it.
//
// Thread safety: Start/Stop from one thread; PlanOnce is for tests and the loop.
#ifndef FERRY_CONTROLLER_PLANNING_LOOP_H_
#define FERRY_CONTROLLER_PLANNING_LOOP_H_

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "controller/authorizer_hooks.h"
#include "controller/source_lister.h"
#include "controller/transfer_manager.h"

namespace ferry::controller {

class PlanningLoop {
 public:
  // All pointers must outlive the loop.
  // `issuer` may be null: no capabilities on the planning Stat/List (unsafe mode).
  PlanningLoop(TransferManager* manager, SourceLister* lister, const Clock* clock,
               const CapabilityIssuer* issuer = nullptr);
  ~PlanningLoop();

  void Start();
  void Stop();

  enum class Outcome { kDone, kRetryLater };
  // Plans one transfer as far as possible.
  Outcome PlanOnce(const std::string& transfer_id);

 private:
  void Run();
  Outcome Retry(const std::string& id, const std::string& reason);
  Outcome PlanRoot(const std::string& id, const TransferRecord& record,
                   const std::vector<std::string>& addresses, const v1::Capability& capability);
  // Calls `call` with each of `addresses` in turn, from a rotating first one, until it
  // returns anything but UNAVAILABLE; that status (or the last UNAVAILABLE).
  absl::Status OnAnyAddress(const std::vector<std::string>& addresses,
                            absl::FunctionRef<absl::Status(const std::string&)> call);
  Outcome Conclude(const std::string& id, const absl::Status& status,
                   const std::string& what);

  TransferManager* const manager_;
  SourceLister* const lister_;
  const Clock* const clock_;
  const CapabilityIssuer* const issuer_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Transfers waiting out a backoff before the next planning attempt.
  std::vector<std::pair<absl::Time, std::string>> delayed_;
  size_t rotation_ = 0;  // Spreads planning over a peer's addresses.
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_PLANNING_LOOP_H_
