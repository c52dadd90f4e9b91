#include "controller/chunk_tracker.h"

#include <string>

#include "common/crc32c.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

FileRecord NewFile(uint64_t size, uint64_t chunk_bytes) {
  FileRecord file;
  file.mutable_file()->set_length(size);
  file.mutable_file()->set_temp_path("/d/.ferry-tmp.f.t-0000000000000001-0");
  file.set_chunk_bytes(chunk_bytes);
  file.set_chunk_count((size + chunk_bytes - 1) / chunk_bytes);
  file.set_open_chunks(file.chunk_count());
  file.set_state(FILE_STATE_COPYING);
  for (uint32_t i = 0; i < file.chunk_count(); ++i) {
    file.add_chunk_done(false);
    file.add_chunk_crc32c(0);
  }
  return file;
}

TEST(ChunkTrackerTest, CompositeCrcIsTheWholeFilesCrcInAnyReportOrder) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7));
  for (uint64_t chunk : {1ull, 7ull, 333ull, 999ull}) {
    FileRecord file = NewFile(data.size(), chunk);
    bool last = false;
    for (uint32_t i = file.chunk_count(); i-- > 0;) {  // Backwards.
      EXPECT_FALSE(last);
      last = ChunkTracker::RecordChunk(
          &file, i, Crc32c(absl::string_view(data).substr(i * chunk, chunk)));
    }
    EXPECT_TRUE(last);
    EXPECT_EQ(file.state(), FILE_STATE_COMMITTING);
    EXPECT_EQ(file.crc32c(), Crc32c(data)) << "chunk " << chunk;
    const v1::FileTask commit = ChunkTracker::CommitFileTask(file);
    EXPECT_TRUE(commit.has_expected_crc32c());
    EXPECT_EQ(commit.expected_crc32c(), Crc32c(data));
    EXPECT_EQ(commit.temp_path(), file.file().temp_path());
  }
}

TEST(ChunkTrackerTest, ARepeatedOrOutOfRangeChunkChangesNothing) {
  FileRecord file = NewFile(20, 10);
  EXPECT_FALSE(ChunkTracker::RecordChunk(&file, 0, 5));
  EXPECT_FALSE(ChunkTracker::RecordChunk(&file, 0, 6));
  EXPECT_EQ(file.chunk_crc32c(0), 5u);
  EXPECT_FALSE(ChunkTracker::RecordChunk(&file, 2, 6));
  EXPECT_EQ(file.state(), FILE_STATE_COPYING);
  EXPECT_TRUE(ChunkTracker::RecordChunk(&file, 1, 7));
}

TEST(ChunkTrackerTest, RestartCopyForgetsTheChunks) {
  FileRecord file = NewFile(20, 10);
  ChunkTracker::RecordChunk(&file, 0, 1);
  ChunkTracker::RecordChunk(&file, 1, 2);
  file.set_open_chunks(0);
  ChunkTracker::RestartCopy(&file);
  EXPECT_EQ(file.state(), FILE_STATE_COPYING);
  EXPECT_EQ(file.recopies(), 1);
  EXPECT_EQ(file.open_chunks(), 2u);
  EXPECT_FALSE(file.chunk_done(0));
  EXPECT_FALSE(file.chunk_done(1));
}

TEST(ChunkTrackerTest, BytesDoneCountsTheDoneChunksWithTheShortLastOne) {
  FileRecord file = NewFile(25, 10);  // 10, 10, 5.
  EXPECT_EQ(ChunkTracker::BytesDone(file), 0u);
  ChunkTracker::RecordChunk(&file, 2, 1);
  EXPECT_EQ(ChunkTracker::BytesDone(file), 5u);
  ChunkTracker::RecordChunk(&file, 0, 2);
  EXPECT_EQ(ChunkTracker::BytesDone(file), 15u);
  ChunkTracker::RecordChunk(&file, 1, 3);
  EXPECT_EQ(ChunkTracker::BytesDone(file), 25u);
  EXPECT_EQ(ChunkTracker::ChunkLength(file, 1), 10u);
  EXPECT_EQ(ChunkTracker::ChunkLength(file, 2), 5u);
}

}  // namespace
}  // namespace ferry::controller
