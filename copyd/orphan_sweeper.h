// OrphanSweeper: removes ferry temporary files that nobody will finish.
//
// A copyd killed mid-copy leaves its hidden temporary files (".ferry-tmp.*", see
// storage/path.h) beside their targets: the guard that removes them died with it, and a
// retry only cleans the temporary files of the targets it is given. At start, and then
// every `interval`, the sweeper walks the whole root (streamed: memory does not grow
// with the tree) and removes every regular file whose name starts with the prefix and
// whose mtime is older than `min_age`.
//
// Why age and not ownership: several copyds serve one root, and a chunked file's shared
// temporary file is written by many workers; a file some live worker still fills is
// written to continuously, so it is never older than the longest pause between the
// chunks of one file. `min_age` must exceed that (retry backoff, lease duration);
// removing a temporary file that was still wanted only costs a re-copy: COMMIT_FILE
// checks the composite CRC32C and the controller copies the chunks again.
//
// Failures (a walk or remove error) are logged and the sweep goes on; the next sweep
// retries. Thread safety: Start/Stop from one thread; the sweep runs on its own thread.
#ifndef FERRY_COPYD_ORPHAN_SWEEPER_H_
#define FERRY_COPYD_ORPHAN_SWEEPER_H_

#include <cstdint>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "storage/file_system.h"

namespace ferry::copyd {

struct SweepStats {
  int64_t entries_seen = 0;
  int64_t removed = 0;
  int64_t errors = 0;
};

class OrphanSweeper {
 public:
  // `fs` and `clock` must outlive the sweeper. `interval` zero: only the sweep at start.
  OrphanSweeper(storage::FileSystem* fs, const Clock* clock, absl::Duration min_age,
                absl::Duration interval);
  ~OrphanSweeper();  // Stops.

  // One sweep now, on the calling thread.
  SweepStats SweepOnce();

  // Sweeps at once on a new thread, then every `interval` until Stop.
  void Start();
  void Stop();

  // Completed sweeps (for tests and logs).
  int64_t sweeps() const;

 private:
  void Run();

  storage::FileSystem* const fs_;
  const Clock* const clock_;
  const absl::Duration min_age_;
  const absl::Duration interval_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t sweeps_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_ORPHAN_SWEEPER_H_
