// Time, backoff and retries of unary gRPC calls, for the CLI.
//
// Purpose: the CLI talks to a controller that may be restarting or briefly unreachable.
// Calls that fail with UNAVAILABLE or DEADLINE_EXCEEDED are retried with exponential
// backoff and jitter until a give-up time; everything else is final. Idempotency is the
// caller's business: CreateTransfer is safe to retry only because every attempt carries
// the same request_id.
//
// Time comes from a ferry::Clock (common/clock.h) so tests run without sleeping.
// Thread safety: the functions are as thread-safe as the clock; Backoff is not (one per
// retry loop).
#ifndef FERRY_TOOLS_FERRY_RETRY_H_
#define FERRY_TOOLS_FERRY_RETRY_H_

#include <functional>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace ferry::cli {

struct BackoffPolicy {
  absl::Duration initial = absl::Milliseconds(250);
  absl::Duration max = absl::Seconds(8);
  double multiplier = 2.0;
};

// Delays for successive retries: the n-th is uniformly random in [d/2, d] with
// d = min(initial * multiplier^n, max), so that clients that failed together do not retry
// together.
class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {});
  absl::Duration NextDelay();
  // After a success: the next delay starts from `initial` again.
  void Reset();

 private:
  BackoffPolicy policy_;
  absl::Duration ceiling_;
  absl::BitGen random_;
};

// UNAVAILABLE or DEADLINE_EXCEEDED: the server may never have seen the call, or may come
// back; trying again unchanged is reasonable. Narrower than ferry::IsRetryable
// (common/grpc_status.h) on purpose: a person is waiting, and RESOURCE_EXHAUSTED (quota)
// or INTERNAL from CreateTransfer should be reported, not retried for a minute.
bool IsTransientRpcFailure(const grpc::Status& status);

// Sets `context`'s deadline to `deadline` unless it is absl::InfiniteFuture().
void SetDeadline(grpc::ClientContext& context, absl::Time deadline);

// Sleeps `delay` by `clock`, but never past `limit`.
void SleepUntilAtMost(const Clock& clock, absl::Duration delay, absl::Time limit);

// UNAVAILABLE naming a failed TLS handshake or a socket closed by the server: what gRPC
// reports when the controller refused the CLI's certificate (missing, expired, from
// another CA), when the CLI refused the controller's, or when one side is plaintext
// (see auth/tls.h).
bool LooksLikeTlsRefusal(const grpc::Status& status);

// Appended to the message of a call ended by a refused handshake.
inline constexpr char kTlsRefusalHint[] =
    "; the TLS handshake with the controller failed: check --tls_ca, --tls_cert and "
    "--tls_key (or the ca.pem, user.pem and user.key in $FERRY_TLS_DIR): the certificate "
    "must be valid and signed by the CA the controller trusts, and --tls_ca must hold the "
    "CA of the controller's certificate";

struct RetryOptions {
  // Deadline of each attempt.
  absl::Duration attempt_timeout = absl::Seconds(30);
  // No attempt starts, and none runs, past this time.
  absl::Time give_up = absl::InfiniteFuture();
  BackoffPolicy backoff;
  // The command's first call to the controller, so nothing proved the certificates
  // good yet: a refused handshake (LooksLikeTlsRefusal) twice in a row, which retrying
  // will not heal, ends the call with kTlsRefusalHint. Once is not enough: a controller
  // dying mid-connection also closes the socket.
  bool first_call = false;
};

// Calls `attempt` with a fresh ClientContext (deadline: now + attempt_timeout, capped at
// give_up) until it returns OK or a non-retryable status, or give_up has passed (or,
// under first_call, the handshake was refused). Returns the last status; for a final
// retryable failure the message says how many attempts were made. `attempt` fills its
// own response.
absl::Status CallWithRetry(const Clock& clock, const RetryOptions& options,
                           const std::function<grpc::Status(grpc::ClientContext&)>& attempt);

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_RETRY_H_
