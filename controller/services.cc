#include "controller/services.h"

#include <atomic>
#include <chrono>
#include <string>

#include "common/grpc_status.h"
#include "common/peer_role.h"
#include "common/transfer_state.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/alarm.h"

namespace ferry::controller {
namespace {

// The user calling CopyService: its principal URI, or why it may not call.
absl::StatusOr<std::string> UserOf(const grpc::CallbackServerContext* context) {
  return AuthorizePeer(*context, UsersOnly("CopyService"));
}

// OK for a copyd of the controller's own cluster (see services.h).
absl::Status CheckWorker(const grpc::CallbackServerContext* context,
                         const TransferManager& manager) {
  return AuthorizePeer(*context, ProcessesOnly("WorkerService", manager.options().cluster,
                                               "copyd"))
      .status();
}

// Finishes a unary call with `status`.
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Finishes a unary call with `result`, copying the value into `response` on success.
template <typename Response>
grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context,
                                  absl::StatusOr<Response> result, Response* response) {
  if (result.ok()) *response = std::move(*result);
  return Finish(context, result.status());
}

constexpr absl::Duration kWatchPoll = absl::Milliseconds(100);

// Streams a transfer's events. Polls the manager every kWatchPoll (a point read), so
// state changes and errors go out at once, while progress events go out at most every
// `interval`. One write is outstanding at a time, the next poll is armed only after
// the previous write completed, and the reactor deletes itself in OnDone.
class WatchReactor final : public grpc::ServerWriteReactor<v1::TransferEvent> {
 public:
  WatchReactor(TransferManager* manager, std::string id, absl::Duration interval)
      : manager_(manager), id_(std::move(id)), interval_(interval) {
    Poll();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    if (IsTerminal(last_.state())) {
      Finish(grpc::Status::OK);
      return;
    }
    ArmPoll();
  }

  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  void ArmPoll() {
    alarm_.Set(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(kWatchPoll),
               [this](bool) { Poll(); });
  }

  void Poll() {
    if (cancelled_) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
      return;
    }
    absl::StatusOr<v1::Transfer> transfer = manager_->GetTransfer(id_);
    if (!transfer.ok()) {
      Finish(ToGrpcStatus(transfer.status()));
      return;
    }
    v1::TransferEvent::Kind kind = KindOfChange(*transfer);
    const absl::Time now = absl::Now();
    if (kind == v1::TransferEvent::KIND_PROGRESS && now - last_write_ < interval_) {
      kind = v1::TransferEvent::KIND_UNSPECIFIED;  // Progress waits for the interval.
    }
    if (kind == v1::TransferEvent::KIND_UNSPECIFIED) {
      ArmPoll();
      return;
    }
    event_.Clear();
    event_.set_kind(kind);
    if (kind == v1::TransferEvent::KIND_ERROR) {
      *event_.mutable_error() = *transfer->errors().rbegin();
    }
    *event_.mutable_transfer() = *transfer;
    *event_.mutable_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
    last_ = std::move(*transfer);
    last_write_ = now;
    sent_any_ = true;
    StartWrite(&event_);
  }

  v1::TransferEvent::Kind KindOfChange(const v1::Transfer& now) const {
    if (!sent_any_) return v1::TransferEvent::KIND_SNAPSHOT;
    if (now.state() != last_.state()) return v1::TransferEvent::KIND_STATE_CHANGE;
    if (now.errors_size() > 0 &&
        (last_.errors_size() == 0 ||
         !google::protobuf::util::MessageDifferencer::Equals(*now.errors().rbegin(),
                                                             *last_.errors().rbegin()))) {
      return v1::TransferEvent::KIND_ERROR;
    }
    const v1::TransferProgress& a = now.progress();
    const v1::TransferProgress& b = last_.progress();
    if (a.files_total() != b.files_total() || a.files_done() != b.files_done() ||
        a.bytes_done() != b.bytes_done() || a.files_failed() != b.files_failed() ||
        a.files_skipped() != b.files_skipped() || now.stalled_reason() != last_.stalled_reason()) {
      return v1::TransferEvent::KIND_PROGRESS;
    }
    return v1::TransferEvent::KIND_UNSPECIFIED;
  }

  TransferManager* const manager_;
  const std::string id_;
  const absl::Duration interval_;
  grpc::Alarm alarm_;
  std::atomic<bool> cancelled_{false};
  bool sent_any_ = false;
  absl::Time last_write_ = absl::InfinitePast();
  v1::Transfer last_;
  v1::TransferEvent event_;
};

}  // namespace

grpc::ServerUnaryReactor* CopyServiceImpl::CreateTransfer(
    grpc::CallbackServerContext* context, const v1::CreateTransferRequest* request,
    v1::Transfer* response) {
  absl::StatusOr<std::string> user = UserOf(context);
  if (!user.ok()) return Finish(context, user.status());
  if (policy_ != nullptr) {
    if (absl::Status s = policy_->CheckCreate(*user, *request); !s.ok()) {
      return Finish(context, s);
    }
  }
  return Respond(context, manager_->CreateTransfer(*user, *request), response);
}

absl::StatusOr<v1::Transfer> CopyServiceImpl::OwnTransfer(const std::string& user,
                                                          absl::string_view verb,
                                                          const std::string& id) {
  absl::StatusOr<v1::Transfer> transfer = manager_->GetTransfer(id);
  if (!transfer.ok() || policy_ == nullptr) return transfer;
  if (absl::Status s = policy_->CheckOwnerOrAdmin(user, verb, *transfer); !s.ok()) return s;
  return transfer;
}

grpc::ServerUnaryReactor* CopyServiceImpl::GetTransfer(
    grpc::CallbackServerContext* context, const v1::GetTransferRequest* request,
    v1::Transfer* response) {
  absl::StatusOr<std::string> user = UserOf(context);
  if (!user.ok()) return Finish(context, user.status());
  if (request->id().empty()) return Finish(context, absl::InvalidArgumentError("id: required"));
  return Respond(context, OwnTransfer(*user, "GetTransfer", request->id()), response);
}

grpc::ServerUnaryReactor* CopyServiceImpl::ListTransfers(
    grpc::CallbackServerContext* context, const v1::ListTransfersRequest* request,
    v1::ListTransfersResponse* response) {
  absl::StatusOr<std::string> user = UserOf(context);
  if (!user.ok()) return Finish(context, user.status());
  if (policy_ != nullptr) {
    if (absl::Status s = policy_->CheckList(*user, *request); !s.ok()) return Finish(context, s);
  }
  return Respond(context, manager_->ListTransfers(*user, *request), response);
}

grpc::ServerUnaryReactor* CopyServiceImpl::CancelTransfer(
    grpc::CallbackServerContext* context, const v1::CancelTransferRequest* request,
    v1::Transfer* response) {
  absl::StatusOr<std::string> user = UserOf(context);
  if (!user.ok()) return Finish(context, user.status());
  if (absl::Status s = OwnTransfer(*user, "CancelTransfer", request->id()).status(); !s.ok()) {
    return Finish(context, s);
  }
  return Respond(context, manager_->CancelTransfer(*user, request->id(), request->reason()),
                 response);
}

grpc::ServerWriteReactor<v1::TransferEvent>* CopyServiceImpl::WatchTransfer(
    grpc::CallbackServerContext* context, const v1::WatchTransferRequest* request) {
  absl::StatusOr<std::string> user = UserOf(context);
  if (!user.ok()) return RefuseStream<v1::TransferEvent>(user.status());
  if (absl::Status s = OwnTransfer(*user, "WatchTransfer", request->id()).status(); !s.ok()) {
    return RefuseStream<v1::TransferEvent>(s);
  }
  int interval_ms = request->min_interval_ms() == 0 ? 1000 : request->min_interval_ms();
  interval_ms = std::max(interval_ms, 100);
  return new WatchReactor(manager_, request->id(), absl::Milliseconds(interval_ms));
}

grpc::ServerUnaryReactor* WorkerServiceImpl::RegisterWorker(
    grpc::CallbackServerContext* context, const v1::RegisterWorkerRequest* request,
    v1::RegisterWorkerResponse* response) {
  if (absl::Status s = CheckWorker(context, *manager_); !s.ok()) return Finish(context, s);
  return Respond(context, manager_->RegisterWorker(*request), response);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::Heartbeat(
    grpc::CallbackServerContext* context, const v1::HeartbeatRequest* request,
    v1::HeartbeatResponse* response) {
  if (absl::Status s = CheckWorker(context, *manager_); !s.ok()) return Finish(context, s);
  return Respond(context, manager_->Heartbeat(*request), response);
}

namespace {

// A LeaseTasks call held in the LeaseWaitList (long poll); deletes itself in OnDone.
class HeldLease final : public grpc::ServerUnaryReactor {
 public:
  HeldLease(LeaseWaitList* waits, const v1::LeaseTasksRequest& request,
            absl::Time deadline, v1::LeaseTasksResponse* response)
      : waits_(waits), call_(std::make_shared<LeaseWaitList::Call>()) {
    call_->request = request;
    call_->deadline = deadline;
    call_->done = [this, response](absl::StatusOr<v1::LeaseTasksResponse> result) {
      if (result.ok()) *response = *std::move(result);
      Finish(ToGrpcStatus(result.status()));
    };
    waits_->Hold(call_);
  }

  void OnCancel() override {
    call_->cancelled = true;
    waits_->Wake();
  }
  void OnDone() override { delete this; }

 private:
  LeaseWaitList* const waits_;
  const std::shared_ptr<LeaseWaitList::Call> call_;
};

}  // namespace

grpc::ServerUnaryReactor* WorkerServiceImpl::LeaseTasks(
    grpc::CallbackServerContext* context, const v1::LeaseTasksRequest* request,
    v1::LeaseTasksResponse* response) {
  if (absl::Status s = CheckWorker(context, *manager_); !s.ok()) return Finish(context, s);
  const absl::Duration wait = absl::Milliseconds(request->wait_ms());
  if (wait < absl::ZeroDuration() || wait > LeaseWaitList::kMaxWait) {
    return Finish(context, absl::InvalidArgumentError(absl::StrCat(
                               "wait_ms: must be 0-", absl::ToInt64Milliseconds(
                                                          LeaseWaitList::kMaxWait))));
  }
  absl::StatusOr<v1::LeaseTasksResponse> result = manager_->LeaseTasks(*request);
  if (waits_ == nullptr || wait == absl::ZeroDuration() || !result.ok() ||
      !result->tasks().empty()) {
    return Respond(context, std::move(result), response);
  }
  return new HeldLease(waits_, *request, clock_->Now() + wait, response);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ReportTasks(
    grpc::CallbackServerContext* context, const v1::ReportTasksRequest* request,
    v1::ReportTasksResponse* response) {
  if (absl::Status s = CheckWorker(context, *manager_); !s.ok()) return Finish(context, s);
  return Respond(context, manager_->ReportTasks(*request), response);
}

}  // namespace ferry::controller
