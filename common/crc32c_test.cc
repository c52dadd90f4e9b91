#include "common/crc32c.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace ferry {
namespace {

TEST(Crc32cTest, MatchesStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), kCrc32cEmpty);
}

TEST(Crc32cTest, MatchesRfc3720Vectors) {
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

TEST(Crc32cTest, ExtendEqualsOneShot) {
  const std::string data = "the quick brown fox jumps over the lazy dog";
  uint32_t crc = kCrc32cEmpty;
  for (char c : data) crc = Crc32cExtend(crc, &c, 1);
  EXPECT_EQ(crc, Crc32c(data));
}

TEST(Crc32cTest, CombineIsIndependentOfSplitPoint) {
  std::mt19937 rng(42);
  std::string data(100000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = Crc32c(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{4096}, size_t{65537}, data.size()}) {
    const absl::string_view view(data);
    const uint32_t a = Crc32c(view.substr(0, split));
    const uint32_t b = Crc32c(view.substr(split));
    EXPECT_EQ(Crc32cCombine(a, b, data.size() - split), whole) << "split " << split;
  }
}

TEST(Crc32cTest, ZerosMatchesComputedZeros) {
  for (uint64_t n : {1u, 7u, 4096u, 1000003u}) {
    EXPECT_EQ(Crc32cOfZeros(n), Crc32c(std::string(n, '\0'))) << n;
  }
  EXPECT_EQ(Crc32cOfZeros(0), kCrc32cEmpty);
}

}  // namespace
}  // namespace ferry
