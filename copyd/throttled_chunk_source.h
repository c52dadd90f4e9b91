// ThrottledChunkSource: a ChunkSource whose data bytes pay their flow group's rate
// (copyd/rate_limiter.h) as they arrive, before the sink sees them.
//
// FileCopier wraps the remote source of a task (DataService reads) in one, named by the
// task's flow_group; local copies are never wrapped. Only data pays: the wrapped source
// hands the sink data, never holes. Waiting for tokens holds the sink back, so the
// next block is not asked for until the bytes are paid and the stream's flow control
// slows the sender too. CopyInto is ChunkSource's default (Read into positional
// writes), so every byte goes through Read.
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

 private:
  ChunkSource* const inner_;
  RateLimiter* const limiter_;
  const std::string flow_group_;
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_THROTTLED_CHUNK_SOURCE_H_
