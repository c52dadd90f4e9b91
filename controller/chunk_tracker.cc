#include "controller/chunk_tracker.h"

#include <algorithm>

#include "common/crc32c.h"

namespace ferry::controller {

absl::StatusOr<FileRecord*> ChunkTracker::Load(const TaskRecord& task) {
  const std::string key = FileKey(task.transfer_id(), task.file_number());
  auto it = records_.find(key);
  if (it != records_.end()) return &it->second;
  FileRecord record;
  if (absl::Status s = store_->Get(Family::kFiles, key, &record); !s.ok()) return s;
  return &records_.emplace(key, std::move(record)).first->second;
}

void ChunkTracker::AddTo(rocksdb::WriteBatch* batch) const {
  for (const auto& [key, record] : records_) store_->Put(batch, Family::kFiles, key, record);
}

bool ChunkTracker::RecordChunk(FileRecord* file, uint32_t index, uint32_t crc32c) {
  if (index >= file->chunk_count() || file->chunk_done(index)) return false;
  file->set_chunk_done(index, true);
  file->set_chunk_crc32c(index, crc32c);
  for (bool done : file->chunk_done()) {
    if (!done) return false;
  }
  file->set_state(FILE_STATE_COMMITTING);
  file->set_crc32c(CompositeCrc32c(*file));
  return true;
}

uint32_t ChunkTracker::CompositeCrc32c(const FileRecord& file) {
  uint32_t crc = kCrc32cEmpty;
  for (uint32_t i = 0; i < file.chunk_count(); ++i) {
    crc = Crc32cCombine(crc, file.chunk_crc32c(i), ChunkLength(file, i));
  }
  return crc;
}

uint64_t ChunkTracker::ChunkLength(const FileRecord& file, uint32_t index) {
  const uint64_t offset = index * file.chunk_bytes();
  return std::min<uint64_t>(file.chunk_bytes(), file.file().length() - offset);
}

uint64_t ChunkTracker::BytesDone(const FileRecord& file) {
  uint64_t bytes = 0;
  const uint32_t chunks =
      std::min<uint32_t>(file.chunk_count(), static_cast<uint32_t>(file.chunk_done_size()));
  for (uint32_t i = 0; i < chunks; ++i) {
    if (file.chunk_done(i)) bytes += ChunkLength(file, i);
  }
  return bytes;
}

v1::FileTask ChunkTracker::CommitFileTask(const FileRecord& file) {
  v1::FileTask task = file.file();
  task.set_expected_crc32c(file.crc32c());
  task.set_has_expected_crc32c(true);
  return task;
}

v1::FileTask ChunkTracker::CleanupFileTask(const FileRecord& file) { return file.file(); }

void ChunkTracker::RestartCopy(FileRecord* file) {
  file->set_state(FILE_STATE_COPYING);
  file->set_recopies(file->recopies() + 1);
  file->clear_crc32c();
  for (int i = 0; i < file->chunk_done_size(); ++i) file->set_chunk_done(i, false);
  file->set_open_chunks(file->chunk_count());
}

}  // namespace ferry::controller
