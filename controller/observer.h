// ManagerObserver: what the TransferManager tells the outside world as it happens, so
// metrics (controller/metrics.h) and future listeners stay out of the state machine.
//
// Events are delivered after the RocksDB batch that caused them committed, on the
// thread that committed it, with the manager's mutex held: implementations must be
// quick and must not call back into the manager. Default implementations do nothing.
//
// Thread safety: called from many threads (one at a time per manager).
#ifndef FERRY_CONTROLLER_OBSERVER_H_
#define FERRY_CONTROLLER_OBSERVER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "proto/common.pb.h"

namespace ferry::controller {

class ManagerObserver {
 public:
  virtual ~ManagerObserver() = default;

  // A transfer entered `to` from `from` (UNSPECIFIED `from`: created or recovered at
  // start; UNSPECIFIED `to`: garbage-collected).
  virtual void TransferStateChanged(v1::TransferState /*from*/, v1::TransferState /*to*/) {}
  // Entries of a source listing were planned into tasks.
  virtual void EntriesPlanned(int64_t /*entries*/, int64_t /*bytes*/) {}
  // Files were committed (or skipped by policy, `skipped`) with `bytes` of data. For a
  // file copied in chunks, each chunk's bytes come as they are copied (`files` 0), the
  // file itself at its commit (`bytes` 0); a skipped one comes once with its size.
  virtual void FilesDone(int64_t /*files*/, int64_t /*bytes*/, bool /*skipped*/) {}
  // Files failed for good with `code`.
  virtual void FilesFailed(absl::StatusCode /*code*/, int64_t /*files*/) {}
  // A task attempt failed with `code` and was queued again.
  virtual void TaskRetried(absl::StatusCode /*code*/) {}
  // A lease ran out without a report (worker lost or too slow).
  virtual void LeaseExpired() {}
  // Tasks were leased to workers.
  virtual void TasksLeased(int64_t /*tasks*/) {}
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_OBSERVER_H_
