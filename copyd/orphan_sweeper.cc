#include "copyd/orphan_sweeper.h"

#include <memory>

#include "absl/strings/match.h"
#include "glog/logging.h"
#include "storage/path.h"

namespace ferry::copyd {

OrphanSweeper::OrphanSweeper(storage::FileSystem* fs, const Clock* clock,
                             absl::Duration min_age, absl::Duration interval)
    : fs_(fs), clock_(clock), min_age_(min_age), interval_(interval) {}

OrphanSweeper::~OrphanSweeper() { Stop(); }

SweepStats OrphanSweeper::SweepOnce() {
  SweepStats stats;
  absl::StatusOr<std::unique_ptr<storage::DirectoryWalker>> walker = fs_->Walk("", "");
  if (!walker.ok()) {
    LOG(WARNING) << "orphan sweep: cannot walk the root: " << walker.status();
    ++stats.errors;
    return stats;
  }
  const int64_t cutoff_ns = absl::ToUnixNanos(clock_->Now() - min_age_);
  storage::FileInfo entry;
  for (;;) {
    absl::StatusOr<bool> more = (*walker)->Next(&entry);
    if (!more.ok()) {
      // An entry that vanished or cannot be read: log, and let the next sweep retry.
      LOG(WARNING) << "orphan sweep stopped early: " << more.status();
      ++stats.errors;
      break;
    }
    if (!*more) break;
    ++stats.entries_seen;
    if (entry.type != storage::FileType::kRegular || entry.mtime_ns >= cutoff_ns ||
        !absl::StartsWith(storage::Basename(entry.path), storage::kTempFilePrefix)) {
      continue;
    }
    if (absl::Status removed = fs_->Remove(entry.path); removed.ok()) {
      ++stats.removed;
    } else if (!absl::IsNotFound(removed)) {
      LOG(WARNING) << "orphan sweep: " << removed;
      ++stats.errors;
    }
  }
  LOG(INFO) << "orphan sweep: " << stats.removed << " temporary files older than "
            << min_age_ << " removed, " << stats.entries_seen << " entries seen, "
            << stats.errors << " errors";
  absl::MutexLock lock(&mu_);
  ++sweeps_;
  return stats;
}

void OrphanSweeper::Start() { thread_ = std::thread([this] { Run(); }); }

void OrphanSweeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int64_t OrphanSweeper::sweeps() const {
  absl::MutexLock lock(&mu_);
  return sweeps_;
}

void OrphanSweeper::Run() {
  for (;;) {
    SweepOnce();
    absl::MutexLock lock(&mu_);
    if (interval_ <= absl::ZeroDuration()) return;
    const absl::Time next = clock_->Now() + interval_;
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&stopping_), next);
    if (stopping_) return;
  }
}

}  // namespace ferry::copyd
