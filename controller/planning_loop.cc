#include "controller/planning_loop.h"

#include <optional>

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
                           const Clock* clock, const CapabilityIssuer* issuer)
    : manager_(manager), lister_(lister), clock_(clock), issuer_(issuer) {}

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

absl::Status PlanningLoop::OnAnyAddress(
    const std::vector<std::string>& addresses,
    absl::FunctionRef<absl::Status(const std::string&)> call) {
  absl::Status status = absl::UnavailableError("no DataService address");
  const size_t first = rotation_++;
  for (size_t i = 0; i < addresses.size(); ++i) {
    status = call(addresses[(first + i) % addresses.size()]);
    if (!absl::IsUnavailable(status)) return status;
  }
  return status;
}

PlanningLoop::Outcome PlanningLoop::PlanRoot(const std::string& id,
                                             const TransferRecord& record,
                                             const std::vector<std::string>& addresses,
                                             const v1::Capability& capability) {
  const v1::Transfer& transfer = record.transfer();
  const std::string what = absl::StrCat("stat of ", FormatLocation(transfer.source()));
  absl::StatusOr<v1::FileInfo> root;
  absl::Status stat = OnAnyAddress(addresses, [&](const std::string& address) {
    root = lister_->StatWith(address, transfer.source().path(), capability);
    return root.status();
  });
  if (!stat.ok()) return Conclude(id, stat, what);
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
  // A peer's source is read through the peer's copyds, a local one through ours.
  std::vector<std::string> addresses =
      manager_->PeerDataAddresses(record->transfer().source().cluster());
  if (addresses.empty()) {
    std::optional<std::string> address = manager_->AnyWorkerDataAddress();
    if (!address.has_value()) {
      return Retry(id, absl::StrCat("no copyd workers registered in cluster '",
                                    record->transfer().source().cluster(), "'"));
    }
    addresses.push_back(*std::move(address));
  }
  // LIST of the source root, for the transfer's user: covers the root's Stat too.
  v1::Capability capability;
  if (issuer_ != nullptr) {
    const v1::Transfer& transfer = record->transfer();
    absl::StatusOr<v1::Capability> signed_list = issuer_->ForList(
        id, transfer.user(), transfer.source().cluster(), transfer.source().path());
    if (!signed_list.ok()) return Conclude(id, signed_list.status(), "signing a capability");
    capability = *std::move(signed_list);
  }
  if (!record->root_planned()) {
    if (PlanRoot(id, *record, addresses, capability) == Outcome::kRetryLater) {
      return Outcome::kRetryLater;
    }
    record = manager_->BeginPlanning(id);
    if (!record.ok() || record->transfer().progress().listing_complete()) {
      return Outcome::kDone;
    }
  }
  std::string cursor = record->list_cursor();
  const auto add_page = [&](const v1::ListResponse& page) {
    std::vector<v1::FileInfo> entries(page.entries().begin(), page.entries().end());
    absl::Status added = manager_->AddPlannedEntries(id, entries, page.cursor(), false, false);
    if (added.ok()) cursor = page.cursor();
    return added;
  };
  // Another address continues from the last page persisted.
  absl::Status listed = OnAnyAddress(addresses, [&](const std::string& address) {
    return lister_->ListWith(address, record->transfer().source().path(), cursor, capability,
                             add_page);
  });
  if (listed.ok()) {
    listed = manager_->AddPlannedEntries(id, {}, cursor, false, /*listing_complete=*/true);
  }
  return Conclude(id, listed,
                  absl::StrCat("listing of ", FormatLocation(record->transfer().source())));
}

}  // namespace ferry::controller
