#include "controller/planning_loop.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/location.h"
#include "glog/logging.h"

namespace ferry::controller {
namespace {

constexpr absl::Duration kRetryDelay = absl::Milliseconds(500);
constexpr absl::Duration kIdleWait = absl::Milliseconds(200);

}  // namespace

PlanningLoop::PlanningLoop(TransferManager* manager, SourceLister* lister,
                           const Clock* clock)
    : manager_(manager), lister_(lister), clock_(clock) {}

PlanningLoop::~PlanningLoop() { Stop(); }

void PlanningLoop::Start() { thread_ = std::thread([this] { Run(); }); }

void PlanningLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void PlanningLoop::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const absl::Time now = clock_->Now();
    for (auto it = delayed_.begin(); it != delayed_.end();) {
      if (it->first <= now) {
        manager_->RequeueForPlanning(it->second);
        it = delayed_.erase(it);
      } else {
        ++it;
      }
    }
    std::optional<std::string> id = manager_->NextTransferToPlan(now + kIdleWait);
    if (id.has_value() && PlanOnce(*id) == Outcome::kRetryLater) {
      delayed_.emplace_back(clock_->Now() + kRetryDelay, *id);
    }
  }
}

PlanningLoop::Outcome PlanningLoop::Retry(const std::string& id,
                                          const std::string& reason) {
  manager_->SetStalledReason(id, reason);
  return Outcome::kRetryLater;
}

PlanningLoop::Outcome PlanningLoop::Conclude(const std::string& id,
                                             const absl::Status& status,
                                             const std::string& what) {
  if (status.ok()) {
    manager_->SetStalledReason(id, "");
    return Outcome::kDone;
  }
  if (IsRetryable(status.code())) {
    return Retry(id, absl::StrCat(what, " failing, retrying: ", status.ToString()));
  }
  if (absl::IsFailedPrecondition(status) && absl::StrContains(status.message(), "ended")) {
    return Outcome::kDone;  // Cancelled while planning.
  }
  LOG(WARNING) << id << ": " << what << " failed: " << status;
  absl::Status failed = manager_->FailTransfer(
      id, absl::Status(status.code(), absl::StrCat(what, ": ", status.message())));
  if (!failed.ok()) return Retry(id, absl::StrCat("cannot record failure: ", failed.ToString()));
  return Outcome::kDone;
}

PlanningLoop::Outcome PlanningLoop::PlanRoot(const std::string& id,
                                             const TransferRecord& record,
                                             const std::string& address) {
  const v1::Transfer& transfer = record.transfer();
  const std::string what = absl::StrCat("stat of ", FormatLocation(transfer.source()));
  absl::StatusOr<v1::FileInfo> root = lister_->Stat(address, transfer.source().path());
  if (!root.ok()) return Conclude(id, root.status(), what);
  const bool is_directory = root->type() == v1::FILE_TYPE_DIRECTORY;
  if (is_directory && !transfer.recursive()) {
    return Conclude(id,
                    absl::InvalidArgumentError(
                        "source is a directory; copy it recursively (ferry cp -r)"),
                    what);
  }
  root->set_path("");
  absl::Status added = manager_->AddPlannedEntries(id, {*root}, "", /*root_entry=*/true,
                                                   /*listing_complete=*/!is_directory);
  return Conclude(id, added, "planning");
}

PlanningLoop::Outcome PlanningLoop::PlanOnce(const std::string& id) {
  absl::StatusOr<TransferRecord> record = manager_->BeginPlanning(id);
  if (!record.ok()) return Outcome::kDone;  // Gone or terminal: nothing to plan.
  std::optional<std::string> address = manager_->AnyWorkerDataAddress();
  if (!address.has_value()) {
    return Retry(id, absl::StrCat("no copyd workers registered in cluster '",
                                  record->transfer().source().cluster(), "'"));
  }
  if (!record->root_planned()) {
    if (PlanRoot(id, *record, *address) == Outcome::kRetryLater) return Outcome::kRetryLater;
    record = manager_->BeginPlanning(id);
    if (!record.ok() || record->transfer().progress().listing_complete()) {
      return Outcome::kDone;
    }
  }
  std::string cursor = record->list_cursor();
  absl::Status listed = lister_->List(
      *address, record->transfer().source().path(), cursor,
      [&](const v1::ListResponse& page) {
        std::vector<v1::FileInfo> entries(page.entries().begin(), page.entries().end());
        absl::Status added = manager_->AddPlannedEntries(id, entries, page.cursor(),
                                                         false, false);
        if (added.ok()) cursor = page.cursor();
        return added;
      });
  if (listed.ok()) {
    listed = manager_->AddPlannedEntries(id, {}, cursor, false, /*listing_complete=*/true);
  }
  return Conclude(id, listed,
                  absl::StrCat("listing of ", FormatLocation(record->transfer().source())));
}

}  // namespace ferry::controller
