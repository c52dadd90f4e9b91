#include "storage/path.h"

#include <cerrno>
#include <string>

#include "gtest/gtest.h"
#include "storage/errno_status.h"

namespace ferry::storage {
namespace {

using absl::StatusCode;

TEST(ValidateRelativePathTest, AcceptsOrdinaryPaths) {
  for (const std::string& p :
       {std::string(""), std::string("a"), std::string("a/b/c"), std::string("..a"),
        std::string("a..") + "/.b", std::string("new\nline"), std::string("\xff\xfe"),
        std::string("\xe2\x88\x95"), std::string(255, 'x'),
        std::string(".ferry-tmp.x.0011")}) {
    EXPECT_TRUE(ValidateRelativePath(p).ok()) << PathForMessage(p);
  }
}

TEST(ValidateRelativePathTest, RefusesMalformedPaths) {
  std::string long_path(kMaxPathBytes + 1, 'a');  // 4096 bytes of short components.
  for (size_t i = 100; i < long_path.size(); i += 100) long_path[i] = '/';
  for (const std::string& p :
       {std::string("/a"), std::string("a/"), std::string("a//b"), std::string("."),
        std::string(".."), std::string("a/../b"), std::string("a/."), std::string("./a"),
        std::string("a\0b", 3), std::string(256, 'x'), long_path, std::string("/")}) {
    EXPECT_EQ(ValidateRelativePath(p).code(), StatusCode::kInvalidArgument)
        << PathForMessage(p);
  }
}

TEST(ValidateRelativePathTest, LengthLimitsAreInclusive) {
  std::string p(kMaxPathBytes, 'a');
  for (size_t i = 200; i < p.size(); i += 200) p[i] = '/';
  EXPECT_TRUE(ValidateRelativePath(p).ok());
  EXPECT_FALSE(ValidateRelativePath(p + "a").ok());
}

TEST(ValidateNonRootPathTest, RefusesRoot) {
  EXPECT_EQ(ValidateNonRootPath("").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateNonRootPath("a").ok());
}

TEST(PathHelpersTest, JoinDirnameBasename) {
  EXPECT_EQ(JoinPath("", "b"), "b");
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a", ""), "a");
  EXPECT_EQ(Dirname("a/b/c"), "a/b");
  EXPECT_EQ(Dirname("a"), "");
  EXPECT_EQ(Dirname(""), "");
  EXPECT_EQ(Basename("a/b/c"), "c");
  EXPECT_EQ(Basename("a"), "a");
  EXPECT_EQ(Basename(""), "");
}

TEST(PathHelpersTest, MessagesAreEscapedAndCapped) {
  EXPECT_EQ(PathForMessage("a\nb"), "\"a\\nb\"");
  EXPECT_LT(PathForMessage(std::string(5000, 'x')).size(), 300u);
}

TEST(PathHelpersTest, TempFileNamesFitTheNameLimit) {
  EXPECT_EQ(TempFileName("a", 0x1f), ".ferry-tmp.a.000000000000001f");
  EXPECT_EQ(SharedTempFileName("big.bin", "t-0000000000000007-3"),
            ".ferry-tmp.big.bin.t-0000000000000007-3");
  const std::string longest(kMaxNameBytes, 'n');
  const std::string shared = SharedTempFileName(longest, "t-0000000000000007-3");
  EXPECT_EQ(shared.size(), kMaxNameBytes);
  EXPECT_TRUE(ValidateRelativePath(shared).ok());
  EXPECT_EQ(shared.substr(shared.size() - 21), ".t-0000000000000007-3");
  EXPECT_EQ(TempFileName(longest, 1).size(), kMaxNameBytes);
}

TEST(WalkCursorTest, RoundTrips) {
  EXPECT_FALSE(DecodeWalkCursor("")->has_value());
  EXPECT_EQ(**DecodeWalkCursor(EncodeWalkCursor("a/b")), "a/b");
  EXPECT_EQ(**DecodeWalkCursor(EncodeWalkCursor("")), "");
  EXPECT_EQ(DecodeWalkCursor("a/b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeWalkCursor("w1:../x").status().code(), StatusCode::kInvalidArgument);
}

TEST(ErrnoStatusTest, CodesFollowTheContract) {
  EXPECT_EQ(ErrnoToCode(ENOENT), StatusCode::kNotFound);
  EXPECT_EQ(ErrnoToCode(EACCES), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToCode(EPERM), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToCode(ENOSPC), StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoToCode(EDQUOT), StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoToCode(EIO), StatusCode::kUnavailable);
  for (int e : {ENOTDIR, EISDIR, ENOTEMPTY, EEXIST}) {
    EXPECT_EQ(ErrnoToCode(e), StatusCode::kFailedPrecondition) << e;
  }
  EXPECT_EQ(ErrnoToCode(ELOOP), StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrnoToCode(EBADF), StatusCode::kInternal);
}

TEST(ErrnoStatusTest, MessagesNameOperationAndPath) {
  absl::Status s = ErrnoToStatus(ENOSPC, "write", "a/b");
  EXPECT_EQ(s.message(), "write \"a/b\": No space left on device");
  s = ResolveErrnoToStatus(EXDEV, "open", "x");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "open \"x\": path escapes root");
  EXPECT_EQ(ErrnoToStatus(ELOOP, "open", "l").message(), "open \"l\": symlink in path");
  EXPECT_EQ(ErrnoToStatus(EXDEV, "rename", "x").code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ferry::storage
