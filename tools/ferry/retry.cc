#include "tools/ferry/retry.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"

namespace ferry::cli {

Backoff::Backoff(BackoffPolicy policy) : policy_(policy), ceiling_(policy.initial) {}

absl::Duration Backoff::NextDelay() {
  const absl::Duration ceiling = ceiling_;
  ceiling_ = std::min(ceiling_ * policy_.multiplier, policy_.max);
  return ceiling * absl::Uniform(random_, 0.5, 1.0);
}

void Backoff::Reset() { ceiling_ = policy_.initial; }

bool IsTransientRpcFailure(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

bool LooksLikeTlsRefusal(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
  const std::string message = absl::AsciiStrToLower(status.error_message());
  return absl::StrContains(message, "handshake") || absl::StrContains(message, "socket closed");
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

void SetDeadline(grpc::ClientContext& context, absl::Time deadline) {
  if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
}

void SleepUntilAtMost(const Clock& clock, absl::Duration delay, absl::Time limit) {
  absl::Mutex mutex;
  absl::MutexLock lock(&mutex);
  const bool never = false;
  clock.AwaitWithDeadline(&mutex, absl::Condition(&never),
                          std::min(clock.Now() + delay, limit));
}

absl::Status CallWithRetry(const Clock& clock, const RetryOptions& options,
                           const std::function<grpc::Status(grpc::ClientContext&)>& attempt) {
  Backoff backoff(options.backoff);
  int refused_handshakes = 0;  // In a row.
  for (int attempts = 1;; ++attempts) {
    grpc::ClientContext context;
    SetDeadline(context, std::min(clock.Now() + options.attempt_timeout, options.give_up));
    const grpc::Status status = attempt(context);
    if (status.ok() || !IsTransientRpcFailure(status)) return FromGrpcStatus(status);
    refused_handshakes = LooksLikeTlsRefusal(status) ? refused_handshakes + 1 : 0;
    if (options.first_call && refused_handshakes == 2) {
      return absl::UnavailableError(absl::StrCat(status.error_message(), kTlsRefusalHint));
    }
    SleepUntilAtMost(clock, backoff.NextDelay(), options.give_up);
    if (clock.Now() >= options.give_up) {
      absl::Status last = FromGrpcStatus(status);
      return absl::Status(last.code(), absl::StrCat(last.message(), " (gave up after ",
                                                    attempts, " attempts)"));
    }
  }
}

}  // namespace ferry::cli
