// ThrottledChunkSource: a ChunkSource whose data bytes pay their flow group's rate
// (copyd/rate_limiter.h) as they arrive, before the sink sees them.
//
// FileCopier wraps every task's source in one, named by the task's flow_group, with
// the limiter only when the source is remote (DataService reads): a local copy passes
// straight through, CopyInto included (copy_file_range stays in the kernel). Only data
// pays: the wrapped source hands the sink data, never holes. Waiting for tokens holds
// the sink back, so the next block is not asked for until the bytes are paid and the
// stream's flow control slows the sender too. When throttling, CopyInto is
// ChunkSource's default (Read into positional writes), so every byte goes through Read.
//
// An abort while waiting ends the read with CANCELLED (the limiter's status).
//
// Ownership: `inner` and `limiter` (null: no throttling) must outlive the source.
// Thread safety: as the wrapped source (one FileCopier thread).
#ifndef FERRY_COPYD_THROTTLED_CHUNK_SOURCE_H_
#define FERRY_COPYD_THROTTLED_CHUNK_SOURCE_H_

#include <string>

#include "copyd/chunk_source.h"
#include "copyd/rate_limiter.h"

namespace ferry::copyd {

class ThrottledChunkSource final : public ChunkSource {
 public:
  ThrottledChunkSource(ChunkSource* inner, RateLimiter* limiter, std::string flow_group)
      : inner_(inner), limiter_(limiter), flow_group_(std::move(flow_group)) {}

  absl::StatusOr<storage::FileInfo> Stat(const v1::FileTask& file,
                                         const std::string& path) override;
  absl::StatusOr<uint32_t> Read(const v1::FileTask& file, const std::string& path,
                                uint64_t offset, uint64_t length,
                                const std::atomic<bool>* abort, Sink sink) override;
  absl::StatusOr<uint32_t> CopyInto(const v1::FileTask& file, const std::string& path,
                                    uint64_t offset, uint64_t length,
                                    const std::atomic<bool>* abort,
                                    std::atomic<int64_t>* bytes_done,
                                    storage::WritableFile& target) override;

 private:
  bool throttling() const { return limiter_ != nullptr && !flow_group_.empty(); }

  ChunkSource* const inner_;
  RateLimiter* const limiter_;
  const std::string flow_group_;
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_THROTTLED_CHUNK_SOURCE_H_
