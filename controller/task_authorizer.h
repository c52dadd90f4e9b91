// TaskAuthorizer: what TransferManager asks, under its mutex, of every task it is about
// to lease: is the work still allowed, and what credentials does the worker need for
// it. The controller's implementation (controller/authorizer_hooks.h) re-checks the
// policy for each file (so a grant revoked mid-transfer stops the files not yet
// committed: a COPY_FILES task commits its files within its lease, a COMMIT_FILE task
// is one commit) and signs the capabilities the worker presents to the source cluster.
//
// Kept in its own dependency-free header so TransferManager does not depend on auth/.
//
// Failure behaviour: PERMISSION_DENIED fails the task's files at once (not retried,
// the temporary files of chunked files are cleaned up as for any failed file); any
// other error requeues the task like a failed attempt.
//
// Thread safety: Authorize is called with the manager's mutex held, possibly from
// several RPC threads in turn; implementations must not call back into the manager.
#ifndef FERRY_CONTROLLER_TASK_AUTHORIZER_H_
#define FERRY_CONTROLLER_TASK_AUTHORIZER_H_

#include "absl/status/status.h"
#include "proto/copy_service.pb.h"
#include "proto/worker_service.pb.h"

namespace ferry::controller {

class TaskAuthorizer {
 public:
  virtual ~TaskAuthorizer() = default;
  // `task` is complete (files, source addresses, lease expiry) and may be amended
  // (capabilities attached) before it goes to the worker.
  virtual absl::Status Authorize(const v1::Transfer& transfer, v1::Task* task) = 0;
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_TASK_AUTHORIZER_H_
