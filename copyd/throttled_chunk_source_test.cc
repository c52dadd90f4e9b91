#include "copyd/throttled_chunk_source.h"

#include <atomic>
#include <string>

#include "common/clock.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "storage/mem_file_system.h"

namespace ferry::copyd {
namespace {

constexpr int64_t kPiece = 64 << 10;

// Hands the sink `length` bytes in pieces of kPiece.
class PieceSource : public ChunkSource {
 public:
  absl::StatusOr<storage::FileInfo> Stat(const v1::FileTask&, const std::string& path) override {
    storage::FileInfo info;
    info.path = path;
    return info;
  }
  absl::StatusOr<uint32_t> Read(const v1::FileTask&, const std::string&, uint64_t offset,
                                uint64_t length, const std::atomic<bool>*, Sink sink) override {
    const std::string piece(kPiece, 'x');
    for (uint64_t done = 0; done < length; done += kPiece) {
      if (absl::Status s = sink(offset + done, piece); !s.ok()) return s;
    }
    return kCrc32cEmpty;
  }
  // Counts the calls, so a test can tell its own CopyInto from the default.
  absl::StatusOr<uint32_t> CopyInto(const v1::FileTask& file, const std::string& path,
                                    uint64_t offset, uint64_t length,
                                    const std::atomic<bool>* abort,
                                    std::atomic<int64_t>* bytes_done,
                                    storage::WritableFile& target) override {
    ++own_copies;
    return ChunkSource::CopyInto(file, path, offset, length, abort, bytes_done, target);
  }
  int own_copies = 0;
};

google::protobuf::RepeatedPtrField<v1::RateLimit> OneLimit(double rate) {
  google::protobuf::RepeatedPtrField<v1::RateLimit> limits;
  v1::RateLimit* limit = limits.Add();
  limit->set_flow_group("g");
  limit->set_bytes_per_second(rate);
  return limits;
}

class ThrottledChunkSourceTest : public ::testing::Test {
 protected:
  SimulatedClock clock_;
  RateLimiter limiter_{&clock_, RateLimiterOptions{absl::Seconds(30), absl::Milliseconds(50),
                                                   kPiece}};
  PieceSource inner_;
  v1::FileTask file_;
};

TEST_F(ThrottledChunkSourceTest, UnlimitedGroupPassesEveryByte) {
  ThrottledChunkSource source(&inner_, &limiter_, "g");
  int64_t seen = 0;
  absl::StatusOr<uint32_t> crc = source.Read(file_, "f", 0, 8 * kPiece, nullptr,
                                             [&](uint64_t, absl::string_view data) {
                                               seen += data.size();
                                               return absl::OkStatus();
                                             });
  ASSERT_TRUE(crc.ok()) << crc.status();
  EXPECT_EQ(seen, 8 * kPiece);
  EXPECT_EQ(source.Stat(file_, "f")->path, "f");
}

TEST_F(ThrottledChunkSourceTest, BytesPayBeforeTheSinkAndAbortEndsTheWait) {
  limiter_.Update(OneLimit(1));  // 1 byte/s: only the first piece (the burst) passes.
  ThrottledChunkSource source(&inner_, &limiter_, "g");
  std::atomic<bool> abort{false};
  int64_t seen = 0;
  absl::StatusOr<uint32_t> crc = source.Read(file_, "f", 0, 8 * kPiece, &abort,
                                             [&](uint64_t, absl::string_view data) {
                                               seen += data.size();
                                               abort = true;  // Stops the next wait.
                                               return absl::OkStatus();
                                             });
  EXPECT_TRUE(absl::IsCancelled(crc.status())) << crc.status();
  EXPECT_EQ(seen, kPiece);
}

TEST_F(ThrottledChunkSourceTest, WithoutLimiterOrGroupNothingIsThrottled) {
  limiter_.Update(OneLimit(1));
  for (ThrottledChunkSource source : {ThrottledChunkSource(&inner_, nullptr, "g"),
                                      ThrottledChunkSource(&inner_, &limiter_, "")}) {
    int64_t seen = 0;
    ASSERT_TRUE(source
                    .Read(file_, "f", 0, 4 * kPiece, nullptr,
                          [&](uint64_t, absl::string_view data) {
                            seen += data.size();
                            return absl::OkStatus();
                          })
                    .ok());
    EXPECT_EQ(seen, 4 * kPiece);
  }
}

TEST_F(ThrottledChunkSourceTest, CopyIntoIsTheInnerOneOnlyWhenNotThrottling) {
  storage::MemFileSystem fs;
  absl::StatusOr<std::unique_ptr<storage::WritableFile>> target = fs.OpenOrCreateForWrite("t");
  ASSERT_TRUE(target.ok()) << target.status();
  std::atomic<int64_t> bytes_done{0};

  ThrottledChunkSource local(&inner_, nullptr, "g");
  ASSERT_TRUE(local.CopyInto(file_, "f", 0, 2 * kPiece, nullptr, &bytes_done, **target).ok());
  EXPECT_EQ(inner_.own_copies, 1);  // A local source keeps its copy_file_range.

  ThrottledChunkSource remote(&inner_, &limiter_, "g");
  ASSERT_TRUE(remote.CopyInto(file_, "f", 0, 2 * kPiece, nullptr, &bytes_done, **target).ok());
  EXPECT_EQ(inner_.own_copies, 1);  // Through the throttled Read instead.
  EXPECT_EQ(bytes_done.load(), 4 * kPiece);
}

}  // namespace
}  // namespace ferry::copyd
