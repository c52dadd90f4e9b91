#include "controller/transfer_manager.h"

#include <algorithm>

#include "absl/random/random.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_status.h"
#include "common/location.h"
#include "common/transfer_state.h"
#include "common/utf8.h"
#include "glog/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"

namespace ferry::controller {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kMaxRequestIdLength = 128;
constexpr int kMaxDestinations = 16;
constexpr int kMaxLabels = 16;
constexpr int kMaxPageSize = 1000;
constexpr int kDefaultPageSize = 100;
constexpr absl::Duration kRateWindow = absl::Seconds(10);

google::protobuf::Timestamp ToProto(absl::Time time) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

absl::Status ValidateRequestId(const std::string& request_id) {
  if (request_id.empty()) return absl::InvalidArgumentError("request_id: required");
  if (request_id.size() > kMaxRequestIdLength) {
    return absl::InvalidArgumentError("request_id: longer than 128 characters");
  }
  for (char c : request_id) {
    if (!absl::ascii_isgraph(c)) {
      return absl::InvalidArgumentError("request_id: only printable ASCII allowed");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLabels(const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) return absl::InvalidArgumentError("labels: more than 16");
  for (const auto& [key, value] : labels) {
    if (key.empty() || key.size() > 63) {
      return absl::InvalidArgumentError(absl::StrCat("labels: key '", key,
                                                     "' must be 1-63 characters"));
    }
    for (char c : key) {
      if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' && c != '.' &&
          c != '-') {
        return absl::InvalidArgumentError(
            absl::StrCat("labels: key '", key, "' may only hold a-z 0-9 _ . -"));
      }
    }
    if (value.size() > 256) {
      return absl::InvalidArgumentError(
          absl::StrCat("labels: value of '", key, "' longer than 256 bytes"));
    }
  }
  return absl::OkStatus();
}

// The request fields a retry must repeat exactly to be the same request.
v1::CreateTransferRequest Normalized(const v1::CreateTransferRequest& request) {
  v1::CreateTransferRequest copy = request;
  if (copy.overwrite() == v1::OVERWRITE_POLICY_UNSPECIFIED) {
    copy.set_overwrite(v1::OVERWRITE_POLICY_NEVER);
  }
  if (copy.priority() == v1::PRIORITY_CLASS_UNSPECIFIED) {
    copy.set_priority(v1::PRIORITY_CLASS_BATCH);
  }
  copy.mutable_preserve();  // Present-but-default and absent must compare equal.
  return copy;
}

v1::CreateTransferRequest RequestOf(const v1::Transfer& transfer) {
  v1::CreateTransferRequest request;
  request.set_request_id(transfer.request_id());
  *request.mutable_source() = transfer.source();
  *request.mutable_destinations() = transfer.destinations();
  request.set_recursive(transfer.recursive());
  request.set_overwrite(transfer.overwrite());
  *request.mutable_preserve() = transfer.preserve();
  request.set_priority(transfer.priority());
  *request.mutable_labels() = transfer.labels();
  request.set_dry_run(transfer.dry_run());
  request.set_verify_checksum_for_skip(transfer.verify_checksum_for_skip());
  return request;
}

absl::Status StatusOf(int32_t code, const std::string& message) {
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}


bool MatchesFilter(const v1::Transfer& transfer, const std::string& user,
                   const v1::ListTransfersRequest& request) {
  if (!user.empty() && transfer.user() != user) return false;
  if (!request.states().empty() &&
      std::find(request.states().begin(), request.states().end(), transfer.state()) ==
          request.states().end()) {
    return false;
  }
  for (const auto& [key, value] : request.labels()) {
    auto it = transfer.labels().find(key);
    if (it == transfer.labels().end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

TransferManager::TransferManager(Store* store, const Clock* clock, ManagerOptions options,
                                 ManagerObserver* observer)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      observer_(observer),
      scheduler_(store, [this](const std::string& user) { return WeightOf(user); }),
      chunks_(store) {}

double TransferManager::WeightOf(const std::string& user) const {
  auto it = options_.user_weights.find(user);
  return it == options_.user_weights.end() ? 1.0 : it->second;
}

absl::Status TransferManager::Recover() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> next = store_->GetRaw(Family::kMeta, "next_transfer_number");
  if (next.ok() && !absl::SimpleAtoi(*next, &next_transfer_number_)) {
    return absl::DataLossError("meta next_transfer_number does not parse");
  }
  if (!next.ok() && !absl::IsNotFound(next.status())) return next.status();

  if (absl::Status s = scheduler_.Recover(); !s.ok()) return s;
  const absl::Time expiry = clock_->Now() + options_.lease_duration;
  std::unique_ptr<rocksdb::Iterator> leases = store_->NewIterator(Family::kLeases);
  for (leases->SeekToFirst(); leases->Valid(); leases->Next()) {
    TaskRecord task;
    const std::string key = leases->key().ToString();
    if (absl::Status s = store_->Get(Family::kTasks, key, &task); !s.ok()) return s;
    leases_[key] = Lease{task.lease_generation(), task.worker_id(), expiry};
    if (TransferRecord owner; LoadTransfer(task.transfer_id(), &owner).ok()) {
      leases_[key].flow_group = FlowGroupOf(owner.transfer(), options_.cluster);
    }
  }
  std::unique_ptr<rocksdb::Iterator> transfers = store_->NewIterator(Family::kTransfers);
  for (transfers->SeekToFirst(); transfers->Valid(); transfers->Next()) {
    TransferRecord record;
    if (!record.ParseFromString(transfers->value().ToString())) {
      return absl::DataLossError(absl::StrCat("unparsable transfer ",
                                              transfers->key().ToString()));
    }
    const v1::TransferState state = record.transfer().state();
    if (observer_ != nullptr) observer_->TransferStateChanged(v1::TRANSFER_STATE_UNSPECIFIED, state);
    if (IsTerminal(state)) continue;
    last_progress_[record.transfer().id()] = clock_->Now();
    if (!record.transfer().progress().listing_complete()) {
      planning_queue_.push_back(record.transfer().id());
    } else if (record.open_tasks() == 0) {
      // Only a store error while finalizing leaves a transfer idle and not ended.
      rocksdb::WriteBatch batch;
      FinishIfDone(&batch, &record);
      PutTransfer(&batch, &record);
      if (absl::Status s = CommitBatch(&batch, Durability::kProcessCrashSafe); !s.ok()) {
        return s;
      }
    }
  }
  LOG(INFO) << "recovered " << leases_.size() << " leases and " << planning_queue_.size()
            << " transfers to plan";
  return absl::OkStatus();
}

absl::Status TransferManager::ValidateCreate(const v1::CreateTransferRequest& request) const {
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  if (!request.has_source()) return absl::InvalidArgumentError("source: required");
  if (absl::Status s = ValidateLocation(request.source(), "source"); !s.ok()) return s;
  if (request.destinations().empty()) {
    return absl::InvalidArgumentError("destinations: at least one is required");
  }
  if (request.destinations_size() > kMaxDestinations) {
    return absl::InvalidArgumentError("destinations: at most 16");
  }
  for (int i = 0; i < request.destinations_size(); ++i) {
    const std::string field = absl::StrCat("destinations[", i, "]");
    if (absl::Status s = ValidateLocation(request.destinations(i), field); !s.ok()) return s;
    if (request.destinations(i).cluster() != options_.cluster) {
      return absl::FailedPreconditionError(absl::StrCat(
          field, ".cluster: this controller owns cluster '", options_.cluster,
          "'; send the transfer to the controller of '",
          request.destinations(i).cluster(), "'"));
    }
  }
  if (request.destinations_size() > 1) {
    return absl::UnimplementedError(
        "destinations: copies to several destinations (the copy tree) are not supported "
        "by this controller version; submit one transfer per destination");
  }
  if (request.source().cluster() != options_.cluster &&
      !options_.peers.contains(request.source().cluster())) {
    std::vector<std::string> known = {options_.cluster};
    for (const auto& [peer, addresses] : options_.peers) known.push_back(peer);
    std::sort(known.begin() + 1, known.end());
    return absl::FailedPreconditionError(absl::StrCat(
        "source.cluster: unknown cluster '", request.source().cluster(),
        "'; this controller reaches only '", absl::StrJoin(known, "', '"), "'"));
  }
  const std::string& source = request.source().path();
  const std::string& destination = request.destinations(0).path();
  // Only a copy within one cluster can overlap itself.
  const bool same_cluster = request.source().cluster() == request.destinations(0).cluster();
  if (same_cluster && (source == destination || source == "/" ||
                       absl::StartsWith(destination, absl::StrCat(source, "/")))) {
    return absl::InvalidArgumentError(
        "destinations[0].path: must not be the source or lie inside it");
  }
  return ValidateLabels(request.labels());
}

absl::StatusOr<v1::Transfer> TransferManager::CreateTransfer(
    const std::string& user, const v1::CreateTransferRequest& raw_request) {
  if (absl::Status s = ValidateCreate(raw_request); !s.ok()) return s;
  const v1::CreateTransferRequest request = Normalized(raw_request);
  absl::MutexLock lock(&mu_);
  const std::string request_key = RequestIdKey(user, request.request_id());
  absl::StatusOr<std::string> existing = store_->GetRaw(Family::kRequestIds, request_key);
  if (existing.ok()) {
    TransferRecord record;
    if (absl::Status s = LoadTransfer(*existing, &record); !s.ok()) return s;
    if (!google::protobuf::util::MessageDifferencer::Equals(RequestOf(record.transfer()),
                                                            request)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "request_id: '", request.request_id(), "' was used for a different request (",
          record.transfer().id(), ")"));
    }
    FillLiveFields(record.mutable_transfer());
    return record.transfer();
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();

  TransferRecord record;
  record.set_number(next_transfer_number_);
  v1::Transfer* transfer = record.mutable_transfer();
  transfer->set_id(TransferId(record.number()));
  transfer->set_request_id(request.request_id());
  transfer->set_user(user);
  transfer->set_state(v1::TRANSFER_STATE_PENDING);
  *transfer->mutable_source() = request.source();
  *transfer->mutable_destinations() = request.destinations();
  transfer->set_recursive(request.recursive());
  transfer->set_overwrite(request.overwrite());
  *transfer->mutable_preserve() = request.preserve();
  transfer->set_priority(request.priority());
  *transfer->mutable_labels() = request.labels();
  transfer->set_dry_run(request.dry_run());
  transfer->set_verify_checksum_for_skip(request.verify_checksum_for_skip());
  *transfer->mutable_create_time() = ToProto(clock_->Now());

  rocksdb::WriteBatch batch;
  batch.Put(store_->Handle(Family::kMeta), "next_transfer_number",
            absl::StrCat(record.number() + 1));
  batch.Put(store_->Handle(Family::kRequestIds), request_key, transfer->id());
  PutTransfer(&batch, &record);
  NotifyStateChange(v1::TRANSFER_STATE_UNSPECIFIED, v1::TRANSFER_STATE_PENDING);
  // Durable before the reply: an acknowledged transfer is never lost.
  if (absl::Status s = CommitBatch(&batch, Durability::kSynced); !s.ok()) return s;
  next_transfer_number_ = record.number() + 1;
  planning_queue_.push_back(transfer->id());
  last_progress_[transfer->id()] = clock_->Now();
  LOG(INFO) << "created " << transfer->id() << " for " << user << ": "
            << FormatLocation(transfer->source()) << " -> "
            << FormatLocation(transfer->destinations(0));
  return record.transfer();
}

absl::StatusOr<v1::Transfer> TransferManager::GetTransfer(const std::string& id) {
  absl::MutexLock lock(&mu_);
  TransferRecord record;
  if (absl::Status s = LoadTransfer(id, &record); !s.ok()) return s;
  FillLiveFields(record.mutable_transfer());
  return record.transfer();
}

absl::StatusOr<v1::ListTransfersResponse> TransferManager::ListTransfers(
    const std::string& user, const v1::ListTransfersRequest& request) {
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError("page_size: must be 0-1000");
  }
  if (!request.page_token().empty() && !absl::StartsWith(request.page_token(), "t-")) {
    return absl::InvalidArgumentError("page_token: not a token this server issued");
  }
  const int page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  const std::string filter_user =
      request.all_users() ? "" : (request.user().empty() ? user : request.user());
  absl::MutexLock lock(&mu_);
  v1::ListTransfersResponse response;
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kTransfers);
  // Newest first: ids sort by creation number.
  if (request.page_token().empty()) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(request.page_token());
    if (it->Valid() && it->key().ToString() == request.page_token()) it->Prev();
  }
  for (; it->Valid(); it->Prev()) {
    TransferRecord record;
    if (!record.ParseFromString(it->value().ToString())) continue;
    if (!MatchesFilter(record.transfer(), filter_user, request)) continue;
    if (response.transfers_size() == page_size) {
      response.set_next_page_token(response.transfers().rbegin()->id());
      break;
    }
    FillLiveFields(record.mutable_transfer());
    *response.add_transfers() = record.transfer();
  }
  return response;
}

absl::StatusOr<v1::Transfer> TransferManager::CancelTransfer(const std::string& user,
                                                             const std::string& id,
                                                             const std::string& reason) {
  if (reason.size() > 1024) return absl::InvalidArgumentError("reason: over 1024 bytes");
  absl::MutexLock lock(&mu_);
  TransferRecord record;
  if (absl::Status s = LoadTransfer(id, &record); !s.ok()) return s;
  const v1::TransferState state = record.transfer().state();
  if (state == v1::TRANSFER_STATE_CANCELLED) return record.transfer();
  if (IsTerminal(state)) {
    return absl::FailedPreconditionError(
        absl::StrCat(id, " already ended as ", v1::TransferState_Name(state)));
  }
  rocksdb::WriteBatch batch;
  std::vector<std::string> revoked;  // Leases dropped from memory once committed.
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kTasks);
  const std::string prefix = absl::StrCat(id, "/");
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    TaskRecord task;
    if (!task.ParseFromString(it->value().ToString())) continue;
    if (task.state() == TASK_STATE_QUEUED) {
      scheduler_.Remove(&batch, task, &delta_);
    } else if (task.state() == TASK_STATE_LEASED) {
      batch.Delete(store_->Handle(Family::kLeases), it->key());
      revoked.push_back(it->key().ToString());
    }
  }
  QueueCleanupsForCancel(&batch, &record);
  DropDeferred(&batch, id);
  NotifyStateChange(state, v1::TRANSFER_STATE_CANCELLED);
  record.mutable_transfer()->set_state(v1::TRANSFER_STATE_CANCELLED);
  *record.mutable_transfer()->mutable_end_time() = ToProto(clock_->Now());
  AddError(&record,
           absl::CancelledError(absl::StrCat("cancelled by ", user,
                                             reason.empty() ? "" : ": ", reason)),
           "");
  PutTransfer(&batch, &record);
  if (absl::Status s = CommitBatch(&batch, Durability::kSynced); !s.ok()) return s;
  for (const std::string& key : revoked) leases_.erase(key);
  LOG(INFO) << "cancelled " << id << " by " << user;
  return record.transfer();
}

// ---------------------------------------------------------------- workers

absl::StatusOr<v1::RegisterWorkerResponse> TransferManager::RegisterWorker(
    const v1::RegisterWorkerRequest& request) {
  const std::string& name = request.worker_name();
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError("worker_name: must be 1-128 characters");
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && std::string("._:@-").find(c) == std::string::npos) {
      return absl::InvalidArgumentError("worker_name: may only hold A-Za-z0-9._:@-");
    }
  }
  if (request.cluster() != options_.cluster) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cluster: worker belongs to '", request.cluster(), "', this controller to '",
        options_.cluster, "'"));
  }
  if (request.data_address().empty()) {
    return absl::InvalidArgumentError("data_address: required");
  }
  if (request.max_concurrent_tasks() < 1 || request.max_concurrent_tasks() > 1024) {
    return absl::InvalidArgumentError("max_concurrent_tasks: must be 1-1024");
  }
  absl::MutexLock lock(&mu_);
  // A new incarnation of the same name ends the old one (its process is gone, and
  // with it the work in progress): its leases are released at once.
  std::vector<std::string> previous;
  for (const auto& [id, worker] : workers_) {
    if (worker.registration.worker_name() == name) previous.push_back(id);
  }
  for (const std::string& id : previous) {
    LOG(INFO) << "worker " << name << " re-registered; dropping " << id;
    DropWorker(id, absl::StrCat("worker ", id, " restarted"));
  }
  const std::string worker_id = absl::StrCat(name, "#", next_worker_number_++, "-",
                                             absl::ToUnixMillis(clock_->Now()));
  workers_[worker_id] = Worker{request, clock_->Now()};
  for (auto& [id, reason] : stalled_reasons_) {
    if (absl::StartsWith(reason, "no copyd workers")) reason.clear();
  }
  v1::RegisterWorkerResponse response;
  response.set_worker_id(worker_id);
  response.set_heartbeat_interval_ms(absl::ToInt64Milliseconds(options_.heartbeat_interval));
  response.set_worker_timeout_ms(absl::ToInt64Milliseconds(options_.worker_timeout));
  LOG(INFO) << "registered worker " << worker_id << " serving data at "
            << request.data_address();
  return response;
}

absl::StatusOr<v1::HeartbeatResponse> TransferManager::Heartbeat(
    const v1::HeartbeatRequest& request) {
  absl::MutexLock lock(&mu_);
  auto worker = workers_.find(request.worker_id());
  if (worker == workers_.end()) {
    return absl::NotFoundError(
        absl::StrCat("worker_id: '", request.worker_id(), "' unknown or expired; register"));
  }
  const absl::Time now = clock_->Now();
  worker->second.last_seen = now;
  v1::HeartbeatResponse response;
  for (const v1::TaskProgress& running : request.running()) {
    auto lease = leases_.find(running.task_id());
    if (lease == leases_.end() || lease->second.generation != running.lease_generation()) {
      response.add_abort_task_ids(running.task_id());
      continue;
    }
    lease->second.expiry = now + options_.lease_duration;
    lease->second.worker_id = request.worker_id();
    v1::TaskLease* extended = response.add_extended();
    extended->set_task_id(running.task_id());
    extended->set_lease_generation(running.lease_generation());
    *extended->mutable_expiry() = ToProto(lease->second.expiry);
  }
  if (options_.bandwidth != nullptr) AddRateLimits(request.worker_id(), &response);
  return response;
}

std::vector<std::string> TransferManager::PeerDataAddresses(const std::string& cluster) const {
  auto peer = options_.peers.find(cluster);
  if (cluster == options_.cluster || peer == options_.peers.end()) return {};
  return peer->second;
}

v1::Task TransferManager::ToTask(const TaskRecord& task, const v1::Transfer& transfer,
                                 absl::Time expiry) const {
  v1::Task out;
  out.set_task_id(TaskKey(task.transfer_id(), task.seq()));
  out.set_lease_generation(task.lease_generation());
  *out.mutable_lease_expiry() = ToProto(expiry);
  out.set_transfer_id(task.transfer_id());
  out.set_kind(task.kind());
  const std::string& source_cluster = transfer.source().cluster();
  out.set_source_cluster(source_cluster);
  // Empty for this cluster's own root: the worker reads it directly.
  for (std::string& address : PeerDataAddresses(source_cluster)) {
    out.add_source_data_addresses(std::move(address));
  }
  *out.mutable_files() = task.files();
  out.set_attempt(task.attempts());
  out.set_flow_group(FlowGroupKeyString(FlowGroupOf(transfer, options_.cluster)));
  return out;
}

absl::StatusOr<v1::LeaseTasksResponse> TransferManager::LeaseTasks(
    const v1::LeaseTasksRequest& request) {
  if (request.max_tasks() < 1 || request.max_tasks() > 1024) {
    return absl::InvalidArgumentError("max_tasks: must be 1-1024");
  }
  absl::MutexLock lock(&mu_);
  if (!workers_.contains(request.worker_id())) {
    return absl::NotFoundError(
        absl::StrCat("worker_id: '", request.worker_id(), "' unknown or expired; register"));
  }
  const absl::Time expiry = clock_->Now() + options_.lease_duration;
  v1::LeaseTasksResponse response;
  rocksdb::WriteBatch batch;
  std::vector<std::pair<std::string, Lease>> granted;
  absl::flat_hash_map<std::string, TransferRecord> transfers;
  absl::StatusOr<std::vector<Scheduler::Pick>> picks = scheduler_.Choose(request.max_tasks());
  if (!picks.ok()) return picks.status();
  for (const Scheduler::Pick& pick : *picks) {
    scheduler_.Take(&batch, pick, &delta_);
    const std::string& task_key = pick.task_key;
    TaskRecord task;
    if (!store_->Get(Family::kTasks, task_key, &task).ok() ||
        task.state() != TASK_STATE_QUEUED) {
      continue;  // A stale queue entry; dropping it is the repair.
    }
    auto [record, inserted] = transfers.try_emplace(task.transfer_id());
    if (inserted && !LoadTransfer(task.transfer_id(), &record->second).ok()) continue;
    task.set_state(TASK_STATE_LEASED);
    task.set_lease_generation(task.lease_generation() + 1);
    task.set_worker_id(request.worker_id());
    task.set_lease_expiry_unix_ms(absl::ToUnixMillis(expiry));
    task.set_attempts(task.attempts() + 1);
    v1::Task leased = ToTask(task, record->second.transfer(), expiry);
    if (!AuthorizeLease(&batch, &task, &record->second, &leased)) continue;
    store_->Put(&batch, Family::kTasks, task_key, task);
    batch.Put(store_->Handle(Family::kLeases), task_key, "");
    granted.emplace_back(task_key, Lease{task.lease_generation(), request.worker_id(), expiry,
                                         FlowGroupOf(record->second.transfer(),
                                                     options_.cluster)});
    v1::Task* out = response.add_tasks();
    *out = std::move(leased);
    out->set_overwrite(record->second.transfer().overwrite());
    *out->mutable_preserve() = record->second.transfer().preserve();
  }
  if (batch.Count() == 0) {
    response.set_retry_after_ms(200);
    return response;
  }
  const int64_t leased = granted.size();
  if (leased > 0) Notify([leased](ManagerObserver& o) { o.TasksLeased(leased); });
  if (absl::Status s = CommitBatch(&batch, Durability::kProcessCrashSafe); !s.ok()) {
    return s;
  }
  for (auto& [key, lease] : granted) leases_[key] = lease;
  // A refused task left the queue without making it runnable: the next task would wait
  // for a held LeaseTasks call's whole wait_ms (one refusal per wait) unless told.
  if (granted.size() < picks->size()) SignalRunnable(true);
  if (response.tasks().empty()) response.set_retry_after_ms(200);
  return response;
}

absl::StatusOr<v1::ReportTasksResponse> TransferManager::ReportTasks(
    const v1::ReportTasksRequest& request) {
  absl::MutexLock lock(&mu_);
  auto worker = workers_.find(request.worker_id());
  if (worker != workers_.end()) worker->second.last_seen = clock_->Now();
  // Group commit: every report of the request goes into one batch and one WAL sync.
  ReportBatch group;
  v1::ReportTasksResponse response;
  for (const v1::TaskReport& report : request.reports()) {
    *response.add_acks() = ApplyReport(report, &group);
  }
  if (group.batch.Count() == 0) return response;
  for (auto& [id, record] : group.transfers) {
    FinishIfDone(&group.batch, &record);
    PutTransfer(&group.batch, &record);
  }
  if (absl::Status s = CommitBatch(&group.batch, Durability::kSynced); !s.ok()) return s;
  for (const std::string& key : group.finished_leases) leases_.erase(key);
  for (const auto& [id, record] : group.transfers) RecordProgressSample(record.transfer());
  return response;
}

v1::TaskAck TransferManager::ApplyReport(const v1::TaskReport& report, ReportBatch* group) {
  v1::TaskAck ack;
  ack.set_task_id(report.task_id());
  auto reject = [&ack](absl::StatusCode code, std::string message) {
    ack.set_code(static_cast<int32_t>(code));
    ack.set_message(std::move(message));
    return ack;
  };
  if (!group->seen_tasks.insert(report.task_id()).second) {
    return ack;  // The same task twice in one request: the first report counts.
  }
  TaskRecord task;
  if (absl::Status s = store_->Get(Family::kTasks, report.task_id(), &task); !s.ok()) {
    return reject(s.code(), std::string(s.message()));
  }
  if (task.lease_generation() != report.lease_generation()) {
    return reject(absl::StatusCode::kFailedPrecondition,
                  absl::StrCat("stale lease generation ", report.lease_generation(),
                               "; current is ", task.lease_generation()));
  }
  if (task.state() == TASK_STATE_DONE || task.state() == TASK_STATE_FAILED) {
    return ack;  // Already recorded: reports are idempotent.
  }
  if (task.state() != TASK_STATE_LEASED) {
    return reject(absl::StatusCode::kFailedPrecondition, "lease expired; task requeued");
  }
  auto [cached, inserted] = group->transfers.try_emplace(task.transfer_id());
  TransferRecord& record = cached->second;
  if (inserted) {
    if (absl::Status s = LoadTransfer(task.transfer_id(), &record); !s.ok()) {
      group->transfers.erase(cached);
      return reject(s.code(), std::string(s.message()));
    }
  }
  rocksdb::WriteBatch& batch = group->batch;
  batch.Delete(store_->Handle(Family::kLeases), report.task_id());
  if (IsTerminal(record.transfer().state())) {
    task.set_state(TASK_STATE_FAILED);
    store_->Put(&batch, Family::kTasks, report.task_id(), task);
  } else if (report.code() != 0) {
    RetryOrFailTask(&batch, &task, &record, StatusOf(report.code(), report.message()));
  } else {
    ApplyFileResults(&batch, report, &task, &record);
  }
  group->finished_leases.push_back(report.task_id());
  return ack;
}

void TransferManager::ApplyFileResults(rocksdb::WriteBatch* batch,
                                       const v1::TaskReport& report, TaskRecord* task,
                                       TransferRecord* record) {
  if (task->kind() == v1::TASK_KIND_FINALIZE_DIRS) {
    ApplyFinalizeResults(batch, report, task, record);
    return;
  }
  if (task->kind() != v1::TASK_KIND_COPY_FILES) {
    ApplyFileStepResult(batch, report, task, record);
    return;
  }
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  google::protobuf::RepeatedPtrField<v1::FileTask> retry;
  absl::Status retry_error;
  bool source_changed = false;
  for (int i = 0; i < task->files_size(); ++i) {
    const v1::FileTask& file = task->files(i);
    if (i >= report.files_size()) {
      *retry.Add() = file;
      retry_error = absl::InternalError("worker reported no result for this file");
      continue;
    }
    const v1::FileResult& result = report.files(i);
    const absl::Status status = StatusOf(result.code(), result.message());
    if (status.ok()) {
      const int64_t bytes = result.bytes();
      const bool skipped = result.skipped();
      Notify([bytes, skipped](ManagerObserver& o) { o.FilesDone(1, bytes, skipped); });
      last_progress_[record->transfer().id()] = clock_->Now();
      if (result.skipped()) {
        progress->set_files_skipped(progress->files_skipped() + 1);
      } else {
        progress->set_files_done(progress->files_done() + 1);
        progress->set_bytes_done(progress->bytes_done() + result.bytes());
        // A further name of a hard-linked file was not in bytes_total: what it had to
        // copy (the link could not be made) is added now.
        if (!file.link_target().empty()) {
          progress->set_bytes_total(progress->bytes_total() + result.bytes());
        }
        if (file.source_info().type() == v1::FILE_TYPE_REGULAR) {
          record->mutable_transfer()->set_files_verified(
              record->transfer().files_verified() + 1);
        }
      }
    } else if (IsRetryable(status.code()) || result.source_changed()) {
      // A source that changed is copied again from scratch, as it is now.
      v1::FileTask* again = retry.Add();
      *again = file;
      if (result.source_changed() && result.has_source_now()) {
        const std::string path = again->source_info().path();
        *again->mutable_source_info() = result.source_now();
        again->mutable_source_info()->set_path(path);
      }
      retry_error = status;
      source_changed = source_changed || result.source_changed();
    } else {
      progress->set_files_failed(progress->files_failed() + 1);
      const absl::StatusCode code = status.code();
      Notify([code](ManagerObserver& o) { o.FilesFailed(code, 1); });
      AddError(record, status, file.source_path());
      NoteCopyFailed(batch, file, *record);
    }
  }
  if (retry.empty()) {
    task->set_state(TASK_STATE_DONE);
    record->set_open_tasks(record->open_tasks() - 1);
    store_->Put(batch, Family::kTasks, TaskKey(task->transfer_id(), task->seq()), *task);
    return;
  }
  *task->mutable_files() = std::move(retry);
  RetryOrFailTask(batch, task, record, retry_error, source_changed);
}

void TransferManager::RetryOrFailTask(rocksdb::WriteBatch* batch, TaskRecord* task,
                                      TransferRecord* record, const absl::Status& error,
                                      bool source_changed) {
  const std::string key = TaskKey(task->transfer_id(), task->seq());
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  task->mutable_last_error()->set_code(static_cast<int32_t>(error.code()));
  task->mutable_last_error()->set_message(ToValidUtf8(error.message()));
  const bool retryable = IsRetryable(error.code()) || source_changed;
  // A full destination (ENOSPC, EDQUOT) is waited out, not failed: the task keeps
  // retrying with its backoff (at most --retry_backoff_max apart) until space is freed
  // or the transfer is cancelled; meanwhile its stalled reason names the error.
  const bool wait_for_space = error.code() == absl::StatusCode::kResourceExhausted;
  if (retryable && (wait_for_space || task->attempts() < options_.max_attempts) &&
      StillWanted(*task)) {
    progress->set_retries(progress->retries() + 1);
    const absl::StatusCode code = error.code();
    Notify([code](ManagerObserver& o) { o.TaskRetried(code); });
    last_retry_error_[record->transfer().id()] = ToValidUtf8(error.message());
    EnqueueTask(batch, task, RetryBackoff(task->attempts()));
    return;
  }
  if (task->kind() == v1::TASK_KIND_FINALIZE_DIRS) {
    for (const v1::FileTask& file : task->files()) FailFinalizedDirectory(file, error, record);
  } else if (task->kind() == v1::TASK_KIND_COPY_FILES) {
    for (const v1::FileTask& file : task->files()) {
      AddError(record, error, file.source_path());
      NoteCopyFailed(batch, file, *record);
    }
    progress->set_files_failed(progress->files_failed() + task->files_size());
    const absl::StatusCode code = error.code();
    const int64_t files = task->files_size();
    Notify([code, files](ManagerObserver& o) { o.FilesFailed(code, files); });
  } else {
    FailFileStep(batch, task, record, error);
    return;
  }
  task->set_state(TASK_STATE_FAILED);
  record->set_open_tasks(record->open_tasks() - 1);
  store_->Put(batch, Family::kTasks, key, *task);
}

void TransferManager::EnqueueTask(rocksdb::WriteBatch* batch, TaskRecord* task,
                                  absl::Duration delay) {
  task->set_state(TASK_STATE_QUEUED);
  task->clear_worker_id();
  task->clear_not_before_unix_ms();
  if (delay > absl::ZeroDuration()) {
    scheduler_.EnqueueAfter(batch, task, clock_->Now() + delay, &delta_);
  } else {
    scheduler_.Enqueue(batch, *task, &delta_);
  }
  store_->Put(batch, Family::kTasks, TaskKey(task->transfer_id(), task->seq()), *task);
}

absl::Duration TransferManager::RetryBackoff(int attempts) {
  if (options_.retry_backoff_base <= absl::ZeroDuration()) return absl::ZeroDuration();
  absl::Duration delay = options_.retry_backoff_base;
  for (int i = 1; i < attempts && delay < options_.retry_backoff_max; ++i) delay *= 2;
  delay = std::min(delay, options_.retry_backoff_max);
  // Full jitter in [delay/2, delay): retries of many tasks spread out.
  return delay * absl::Uniform(bitgen_, 0.5, 1.0);
}

absl::Status TransferManager::CommitBatch(rocksdb::WriteBatch* batch,
                                          Durability durability) {
  chunks_.AddTo(batch);
  absl::Status status = store_->Commit(batch, durability);
  if (status.ok()) {
    scheduler_.Apply(delta_);
    SignalRunnable(delta_.adds_runnable());
    for (const auto& event : events_) event(*observer_);
  }
  delta_ = Scheduler::Delta();
  events_.clear();
  chunks_.Reset();
  deferred_taken_.clear();
  return status;
}

void TransferManager::SetTasksRunnableListener(std::function<void()> listener) {
  absl::MutexLock lock(&mu_);
  tasks_runnable_ = std::move(listener);
}

void TransferManager::SignalRunnable(bool adds_runnable) {
  if (adds_runnable && tasks_runnable_) tasks_runnable_();
}

void TransferManager::Notify(std::function<void(ManagerObserver&)> event) {
  if (observer_ != nullptr) events_.push_back(std::move(event));
}

void TransferManager::NotifyStateChange(v1::TransferState from, v1::TransferState to) {
  Notify([from, to](ManagerObserver& o) { o.TransferStateChanged(from, to); });
}

void TransferManager::FinishIfDone(rocksdb::WriteBatch* batch, TransferRecord* record) {
  v1::Transfer* transfer = record->mutable_transfer();
  if (IsTerminal(transfer->state()) || !transfer->progress().listing_complete() ||
      record->open_tasks() > 0) {
    return;
  }
  if (!transfer->dry_run() && ContinueFinalizing(batch, record)) return;
  const v1::TransferState end = transfer->progress().files_failed() > 0
                                    ? v1::TRANSFER_STATE_FAILED
                                    : v1::TRANSFER_STATE_SUCCEEDED;
  NotifyStateChange(transfer->state(), end);
  transfer->set_state(end);
  last_progress_.erase(transfer->id());
  last_retry_error_.erase(transfer->id());
  detected_stalls_.erase(transfer->id());
  *transfer->mutable_end_time() = ToProto(clock_->Now());
  stalled_reasons_.erase(transfer->id());
  LOG(INFO) << transfer->id() << " ended " << v1::TransferState_Name(transfer->state())
            << ": " << transfer->progress().files_done() << " files, "
            << transfer->progress().bytes_done() << " bytes";
}

// ---------------------------------------------------------------- planning

std::optional<std::string> TransferManager::NextTransferToPlan(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !planning_queue_.empty();
  };
  if (!clock_->AwaitWithDeadline(&mu_, absl::Condition(&has_work), deadline)) {
    return std::nullopt;
  }
  std::string id = planning_queue_.front();
  planning_queue_.pop_front();
  return id;
}

void TransferManager::RequeueForPlanning(const std::string& id) {
  absl::MutexLock lock(&mu_);
  planning_queue_.push_back(id);
}

std::optional<std::string> TransferManager::AnyWorkerDataAddress() {
  absl::MutexLock lock(&mu_);
  if (workers_.empty()) return std::nullopt;
  // The most recently seen worker is the likeliest to answer.
  auto best = std::max_element(workers_.begin(), workers_.end(),
                               [](const auto& a, const auto& b) {
                                 return a.second.last_seen < b.second.last_seen;
                               });
  return best->second.registration.data_address();
}

absl::StatusOr<TransferRecord> TransferManager::BeginPlanning(const std::string& id) {
  absl::MutexLock lock(&mu_);
  TransferRecord record;
  if (absl::Status s = LoadTransfer(id, &record); !s.ok()) return s;
  if (IsTerminal(record.transfer().state())) {
    return absl::FailedPreconditionError(absl::StrCat(id, " is terminal"));
  }
  if (record.transfer().state() == v1::TRANSFER_STATE_PENDING) {
    NotifyStateChange(v1::TRANSFER_STATE_PENDING, v1::TRANSFER_STATE_PLANNING);
    record.mutable_transfer()->set_state(v1::TRANSFER_STATE_PLANNING);
    rocksdb::WriteBatch batch;
    PutTransfer(&batch, &record);
    if (absl::Status s = CommitBatch(&batch, Durability::kProcessCrashSafe); !s.ok()) {
      return s;
    }
  }
  return record;
}

absl::Status TransferManager::AddPlannedEntries(const std::string& id,
                                                const std::vector<v1::FileInfo>& entries,
                                                const std::string& cursor, bool root_entry,
                                                bool listing_complete) {
  absl::MutexLock lock(&mu_);
  TransferRecord record;
  if (absl::Status s = LoadTransfer(id, &record); !s.ok()) return s;
  if (IsTerminal(record.transfer().state())) {
    return absl::FailedPreconditionError(absl::StrCat(id, " ended while planning"));
  }
  rocksdb::WriteBatch batch;
  StoreHardLinkIndex links(store_, id, &batch);
  PlannedEntries plan = PlanEntries(entries, options_.plan_limits, &record, &links);
  // Nothing is staged yet: the page is planned again after the store recovers.
  if (!links.status().ok()) return links.status();
  if (record.transfer().dry_run()) {
    record.set_open_tasks(0);  // Counted, never copied.
  } else {
    for (TaskRecord& task : plan.tasks) EnqueueTask(&batch, &task, absl::ZeroDuration());
    for (const FileRecord& file : plan.files) {
      store_->Put(&batch, Family::kFiles, FileKey(id, file.number()), file);
    }
    for (const DeferredEntry& deferred : plan.deferred) {
      store_->Put(&batch, Family::kDeferred, DeferredKey(id, deferred.phase, deferred.seq),
                  deferred.file);
    }
  }
  if (root_entry) record.set_root_planned(true);
  record.set_list_cursor(cursor);
  v1::Transfer* transfer = record.mutable_transfer();
  if (transfer->state() == v1::TRANSFER_STATE_PLANNING) {
    NotifyStateChange(v1::TRANSFER_STATE_PLANNING, v1::TRANSFER_STATE_RUNNING);
    transfer->set_state(v1::TRANSFER_STATE_RUNNING);
  }
  if (!entries.empty()) {
    int64_t bytes = 0;
    for (const v1::FileInfo& entry : entries) {
      if (entry.type() == v1::FILE_TYPE_REGULAR) bytes += entry.size();
    }
    const int64_t count = entries.size();
    Notify([count, bytes](ManagerObserver& o) { o.EntriesPlanned(count, bytes); });
    last_progress_[id] = clock_->Now();
  }
  transfer->mutable_progress()->set_listing_complete(listing_complete);
  FinishIfDone(&batch, &record);
  PutTransfer(&batch, &record);
  return CommitBatch(&batch, Durability::kProcessCrashSafe);
}

absl::Status TransferManager::FailTransfer(const std::string& id, const absl::Status& error) {
  absl::MutexLock lock(&mu_);
  TransferRecord record;
  if (absl::Status s = LoadTransfer(id, &record); !s.ok()) return s;
  if (IsTerminal(record.transfer().state())) return absl::OkStatus();
  // Tasks already queued keep running to an end; the transfer fails once they do.
  AddError(&record, error, record.transfer().source().path());
  v1::TransferProgress* progress = record.mutable_transfer()->mutable_progress();
  progress->set_files_failed(progress->files_failed() + 1);
  progress->set_listing_complete(true);
  rocksdb::WriteBatch batch;
  FinishIfDone(&batch, &record);
  PutTransfer(&batch, &record);
  return CommitBatch(&batch, Durability::kSynced);
}

void TransferManager::SetStalledReason(const std::string& id, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (reason.empty()) {
    stalled_reasons_.erase(id);
  } else {
    stalled_reasons_[id] = ToValidUtf8(reason);
  }
}

// ---------------------------------------------------------------- housekeeping

void TransferManager::ExpireWorkersAndLeases() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  std::vector<std::string> silent;
  for (const auto& [id, worker] : workers_) {
    if (now - worker.last_seen > options_.worker_timeout) {
      LOG(WARNING) << "worker " << id << " silent for "
                   << absl::FormatDuration(now - worker.last_seen) << "; dropping it";
      silent.push_back(id);
    }
  }
  for (const std::string& id : silent) DropWorker(id, "lease expired (worker lost)");
  PromoteDueRetries();
  DetectStalls(now);
  if (now >= next_garbage_collection_) {
    CollectGarbage(now);
    next_garbage_collection_ = now + options_.garbage_collection_interval;
  }
  std::vector<std::string> expired;
  for (const auto& [key, lease] : leases_) {
    if (lease.expiry <= now) expired.push_back(key);
  }
  for (const std::string& key : expired) {
    absl::Status s = ExpireLease(key, absl::UnavailableError("lease expired (worker lost)"));
    if (!s.ok()) LOG(ERROR) << "expiring lease of " << key << ": " << s;
  }
}

void TransferManager::DetectStalls(absl::Time now) {
  for (const auto& [id, last] : last_progress_) {
    const absl::Duration idle = now - last;
    if (idle < options_.stall_after) {
      detected_stalls_.erase(id);
      continue;
    }
    detected_stalls_[id] = StallReason(id, idle);
  }
}

std::string TransferManager::StallReason(const std::string& id, absl::Duration idle) const {
  const std::string stalled = absl::StrCat("no progress for ", absl::FormatDuration(
                                               absl::Trunc(idle, absl::Seconds(1))));
  if (workers_.empty()) {
    return absl::StrCat(stalled, ": no copyd workers registered in cluster '",
                        options_.cluster, "'");
  }
  auto retry = last_retry_error_.find(id);
  if (retry != last_retry_error_.end()) {
    return absl::StrCat(stalled, ": retries failing: ", retry->second);
  }
  if (std::string starved = BandwidthStallReason(id); !starved.empty()) {
    return absl::StrCat(stalled, ": ", starved);
  }
  const std::string prefix = absl::StrCat(id, "/");
  for (const auto& [task_key, lease] : leases_) {
    if (absl::StartsWith(task_key, prefix)) {
      return absl::StrCat(stalled, ": tasks are leased to workers but none finished");
    }
  }
  return absl::StrCat(stalled,
                      ": tasks wait in the queue behind higher-priority or other users' work");
}

void TransferManager::CollectGarbage(absl::Time now) {
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kTransfers);
  rocksdb::WriteBatch batch;
  int collected = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    TransferRecord record;
    if (!record.ParseFromString(it->value().ToString())) continue;
    const v1::Transfer& transfer = record.transfer();
    if (!IsTerminal(transfer.state()) || !transfer.has_end_time()) continue;
    const absl::Time ended = absl::FromUnixSeconds(transfer.end_time().seconds());
    if (now - ended < options_.retention) continue;
    batch.Delete(store_->Handle(Family::kTransfers), transfer.id());
    batch.Delete(store_->Handle(Family::kRequestIds),
                 RequestIdKey(transfer.user(), transfer.request_id()));
    for (Family family :
         {Family::kTasks, Family::kFiles, Family::kDeferred, Family::kInodes}) {
      DeleteTransferRange(&batch, store_->Handle(family), transfer.id());
    }
    NotifyStateChange(transfer.state(), v1::TRANSFER_STATE_UNSPECIFIED);
    ++collected;
  }
  if (collected == 0) return;
  if (absl::Status s = CommitBatch(&batch, Durability::kProcessCrashSafe); !s.ok()) {
    LOG(ERROR) << "garbage collection: " << s;
    return;
  }
  LOG(INFO) << "garbage-collected " << collected << " transfers that ended over "
            << absl::FormatDuration(options_.retention) << " ago";
}

void TransferManager::DropWorker(const std::string& worker_id, const std::string& why) {
  workers_.erase(worker_id);
  const absl::Time now = clock_->Now();
  std::vector<std::string> held;
  for (auto& [key, lease] : leases_) {
    if (lease.worker_id != worker_id) continue;
    lease.expiry = now;  // If releasing fails now, housekeeping retries.
    held.push_back(key);
  }
  for (const std::string& key : held) {
    absl::Status s = ExpireLease(key, absl::UnavailableError(why));
    if (!s.ok()) LOG(ERROR) << "releasing lease of " << key << ": " << s;
  }
}

void TransferManager::PromoteDueRetries() {
  rocksdb::WriteBatch batch;
  absl::StatusOr<int> promoted = scheduler_.PromoteDue(clock_->Now(), &batch, &delta_);
  if (!promoted.ok()) {
    delta_ = Scheduler::Delta();
    LOG(ERROR) << "promoting delayed retries: " << promoted.status();
    return;
  }
  if (batch.Count() == 0) return;
  if (absl::Status s = CommitBatch(&batch, Durability::kProcessCrashSafe); !s.ok()) {
    LOG(ERROR) << "promoting delayed retries: " << s;
  }
}

absl::Status TransferManager::ExpireLease(const std::string& task_key,
                                          const absl::Status& why) {
  TaskRecord task;
  if (absl::Status s = store_->Get(Family::kTasks, task_key, &task); !s.ok()) {
    leases_.erase(task_key);
    return s;
  }
  TransferRecord record;
  if (absl::Status s = LoadTransfer(task.transfer_id(), &record); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  batch.Delete(store_->Handle(Family::kLeases), task_key);
  if (task.state() == TASK_STATE_LEASED) {
    Notify([](ManagerObserver& o) { o.LeaseExpired(); });
    RetryOrFailTask(&batch, &task, &record, why);
    FinishIfDone(&batch, &record);
    PutTransfer(&batch, &record);
  }
  if (absl::Status s = CommitBatch(&batch, Durability::kProcessCrashSafe); !s.ok()) {
    return s;
  }
  leases_.erase(task_key);
  LOG(WARNING) << "lease of " << task_key << " expired; " << why.message();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- helpers

absl::Status TransferManager::LoadTransfer(const std::string& id,
                                           TransferRecord* record) const {
  absl::Status status = store_->Get(Family::kTransfers, id, record);
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat("transfer ", id, " not found"));
  }
  return status;
}

void TransferManager::PutTransfer(rocksdb::WriteBatch* batch, TransferRecord* record) {
  *record->mutable_transfer()->mutable_update_time() = ToProto(clock_->Now());
  store_->Put(batch, Family::kTransfers, record->transfer().id(), *record);
}

void TransferManager::AddError(TransferRecord* record, const absl::Status& error,
                               const std::string& path) {
  google::protobuf::RepeatedPtrField<v1::Error>* errors =
      record->mutable_transfer()->mutable_errors();
  v1::Error* added = errors->Add();
  added->set_code(static_cast<int32_t>(error.code()));
  added->set_message(ToValidUtf8(error.message()));
  added->set_path(ToValidUtf8(path));
  added->set_count(1);
  *added->mutable_time() = ToProto(clock_->Now());
  if (errors->size() > options_.max_errors_kept) {
    errors->DeleteSubrange(0, errors->size() - options_.max_errors_kept);
  }
}

void TransferManager::RecordProgressSample(const v1::Transfer& transfer) {
  std::deque<RateSample>& samples = rate_samples_[transfer.id()];
  const absl::Time now = clock_->Now();
  samples.push_back({now, transfer.progress().bytes_done()});
  while (samples.size() > 2 && now - samples[1].time > kRateWindow) samples.pop_front();
  if (IsTerminal(transfer.state())) rate_samples_.erase(transfer.id());
}

void TransferManager::FillLiveFields(v1::Transfer* transfer) const {
  auto reason = stalled_reasons_.find(transfer->id());
  auto detected = detected_stalls_.find(transfer->id());
  if (reason != stalled_reasons_.end() && !reason->second.empty()) {
    transfer->set_stalled_reason(reason->second);
  } else if (detected != detected_stalls_.end()) {
    transfer->set_stalled_reason(detected->second);
  }
  v1::TransferProgress* progress = transfer->mutable_progress();
  progress->set_eta_seconds(-1);
  auto samples = rate_samples_.find(transfer->id());
  if (samples == rate_samples_.end() || samples->second.size() < 2) return;
  const RateSample& first = samples->second.front();
  const absl::Duration span = clock_->Now() - first.time;
  if (span <= absl::ZeroDuration()) return;
  const double rate =
      (progress->bytes_done() - first.bytes_done) / absl::ToDoubleSeconds(span);
  progress->set_bytes_per_second(rate);
  if (rate > 0 && progress->listing_complete()) {
    progress->set_eta_seconds(
        static_cast<int64_t>((progress->bytes_total() - progress->bytes_done()) / rate));
  }
}

}  // namespace ferry::controller
