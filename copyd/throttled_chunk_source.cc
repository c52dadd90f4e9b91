#include "copyd/throttled_chunk_source.h"

namespace ferry::copyd {

absl::StatusOr<storage::FileInfo> ThrottledChunkSource::Stat(const v1::FileTask& file,
                                                             const std::string& path) {
  return inner_->Stat(file, path);
}

absl::StatusOr<uint32_t> ThrottledChunkSource::Read(const v1::FileTask& file,
                                                    const std::string& path, uint64_t offset,
                                                    uint64_t length,
                                                    const std::atomic<bool>* abort,
                                                    Sink sink) {
  if (!throttling()) {
    return inner_->Read(file, path, offset, length, abort, sink);
  }
  return inner_->Read(file, path, offset, length, abort,
                      [&](uint64_t at, absl::string_view data) {
                        absl::Status paid =
                            limiter_->Acquire(flow_group_, static_cast<int64_t>(data.size()),
                                              abort);
                        if (!paid.ok()) return paid;
                        return sink(at, data);
                      });
}

absl::StatusOr<uint32_t> ThrottledChunkSource::CopyInto(const v1::FileTask& file,
                                                        const std::string& path, uint64_t offset,
                                                        uint64_t length,
                                                        const std::atomic<bool>* abort,
                                                        std::atomic<int64_t>* bytes_done,
                                                        storage::WritableFile& target) {
  if (!throttling()) {
    return inner_->CopyInto(file, path, offset, length, abort, bytes_done, target);
  }
  return ChunkSource::CopyInto(file, path, offset, length, abort, bytes_done, target);
}

}  // namespace ferry::copyd
