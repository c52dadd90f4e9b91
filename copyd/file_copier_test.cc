// FileCopier over the in-memory file system: what a copy looks like for each file type,
// each overwrite policy, attributes, a source that changes, aborts, injected I/O faults
// and simulated crashes. Whatever fails, the destination shows its old content or
// nothing, and no temporary file is left behind.
#include "copyd/file_copier.h"

#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/server_util.h"
#include "copyd/data_service.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "storage/fault_injection_file_system.h"
#include "storage/mem_file_system.h"
#include "storage/test_util.h"

namespace ferry::copyd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using storage::FaultKind;
using storage::FaultOp;
using storage::testing::ReadAll;
using storage::testing::WalkAll;
using storage::testing::WriteFile;

constexpr int64_t kSourceMtime = 1'600'000'000'123'456'789;
constexpr uint32_t kSourceMode = 0640;
constexpr size_t kBlockSize = 4096;

int32_t Code(absl::StatusCode code) { return static_cast<int32_t>(code); }

// Bytes that differ from block to block, so a misplaced or repeated block shows.
std::string TestData(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 131 + i / kBlockSize);
  return data;
}

// Forwards to another WritableFile, letting a test see (and change) each write first.
class HookedFile : public storage::WritableFile {
 public:
  using Hook = std::function<void(uint64_t offset, std::string* data)>;
  HookedFile(std::unique_ptr<storage::WritableFile> base, Hook hook)
      : base_(std::move(base)), hook_(std::move(hook)) {}

  absl::Status WriteAt(uint64_t offset, absl::string_view data) override {
    std::string bytes(data);
    hook_(offset, &bytes);
    return base_->WriteAt(offset, bytes);
  }
  absl::Status Truncate(uint64_t size) override { return base_->Truncate(size); }
  absl::Status Sync() override { return base_->Sync(); }
  absl::Status Close() override { return base_->Close(); }

 private:
  std::unique_ptr<storage::WritableFile> base_;
  Hook hook_;
};

// A MemFileSystem whose temporary files call `on_temp_write` (when set) before each
// write: how a test acts in the middle of a copy.
class HookedMemFileSystem : public storage::MemFileSystem {
 public:
  absl::StatusOr<storage::TempFile> CreateTemp(absl::string_view target_path) override {
    absl::StatusOr<storage::TempFile> temp = MemFileSystem::CreateTemp(target_path);
    if (temp.ok() && on_temp_write) {
      temp->file = std::make_unique<HookedFile>(std::move(temp->file), on_temp_write);
    }
    return temp;
  }

  // Called after each successful Link (when set): how a test races a link.
  absl::Status Link(absl::string_view existing, absl::string_view new_path) override {
    absl::Status linked = MemFileSystem::Link(existing, new_path);
    if (linked.ok() && on_link) on_link();
    return linked;
  }

  HookedFile::Hook on_temp_write;
  std::function<void()> on_link;
};

class FileCopierTest : public ::testing::Test {
 protected:
  FileCopierTest() : fs_(&mem_), copier_(&fs_, &clock_, Options()) {
    EXPECT_TRUE(mem_.MakeDirs("src", 0755).ok());
    EXPECT_TRUE(mem_.MakeDirs("dst", 0755).ok());
    mem_.SyncAll();
  }

  static CopierOptions Options() {
    CopierOptions options;
    options.block_size = kBlockSize;
    options.local_copy_piece = kBlockSize;  // Hooks see one write per block.
    return options;
  }

  // Writes src/<name> with kSourceMode and kSourceMtime; returns the task copying it.
  v1::FileTask Source(const std::string& name, absl::string_view data) {
    const std::string path = "src/" + name;
    EXPECT_TRUE(WriteFile(mem_, path, data).ok());
    EXPECT_TRUE(mem_.SetModeAndMtime(path, kSourceMode, kSourceMtime).ok());
    return Planned(name);
  }

  // The task copying src/<name>, planned from its current stat, to dst/<name>.
  v1::FileTask Planned(const std::string& name) {
    v1::FileTask file;
    file.set_source_path("/src/" + name);
    file.set_destination_path("/dst/" + name);
    absl::StatusOr<storage::FileInfo> info = mem_.Stat("src/" + name);
    EXPECT_TRUE(info.ok()) << info.status();
    if (info.ok()) *file.mutable_source_info() = ToProtoFileInfo(*info, "src");
    return file;
  }

  // dst/<name> with `data` and `mtime`, as a previous copy could have left it.
  void Existing(const std::string& name, absl::string_view data, int64_t mtime) {
    const std::string path = "dst/" + name;
    ASSERT_TRUE(WriteFile(mem_, path, data).ok());
    ASSERT_TRUE(mem_.SetModeAndMtime(path, 0644, mtime).ok());
  }

  static v1::Task MakeTask(std::vector<v1::FileTask> files,
                           v1::OverwritePolicy overwrite = v1::OVERWRITE_POLICY_NEVER,
                           bool preserve = true) {
    v1::Task task;
    task.set_task_id("t-1");
    task.set_lease_generation(7);
    task.set_kind(v1::TASK_KIND_COPY_FILES);
    task.set_overwrite(overwrite);
    task.mutable_preserve()->set_mode(preserve);
    task.mutable_preserve()->set_mtime(preserve);
    for (v1::FileTask& file : files) *task.add_files() = std::move(file);
    return task;
  }

  v1::TaskReport Run(const v1::Task& task) {
    return copier_.Execute(task, &abort_, &bytes_done_);
  }

  // Runs a task of one file, which must end with a per-file result; returns it.
  v1::FileResult RunOne(const v1::FileTask& file,
                        v1::OverwritePolicy overwrite = v1::OVERWRITE_POLICY_NEVER,
                        bool preserve = true) {
    const v1::TaskReport report = Run(MakeTask({file}, overwrite, preserve));
    EXPECT_EQ(report.code(), 0) << report.message();
    EXPECT_EQ(report.files_size(), 1);
    return report.files_size() == 1 ? report.files(0) : v1::FileResult();
  }

  // `result` is of a file copied whole (not skipped) whose content is `data`.
  static void ExpectCopied(const v1::FileResult& result, const std::string& data) {
    EXPECT_EQ(result.code(), 0) << result.message();
    EXPECT_FALSE(result.skipped());
    EXPECT_EQ(result.crc32c(), Crc32c(data));
    EXPECT_EQ(result.bytes(), data.size());
  }

  // Every path under dst, temporary files included.
  std::vector<std::string> DestinationTree() {
    absl::StatusOr<std::vector<std::string>> tree = WalkAll(mem_, "dst");
    EXPECT_TRUE(tree.ok()) << tree.status();
    return tree.ok() ? *tree : std::vector<std::string>();
  }

  std::string Content(const std::string& path) {
    absl::StatusOr<std::string> data = ReadAll(mem_, path);
    EXPECT_TRUE(data.ok()) << data.status();
    return data.ok() ? *data : "";
  }

  storage::FileInfo StatOf(const std::string& path) {
    absl::StatusOr<storage::FileInfo> info = mem_.Stat(path);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : storage::FileInfo();
  }

  HookedMemFileSystem mem_;
  storage::FaultInjectionFileSystem fs_;
  SimulatedClock clock_;
  FileCopier copier_;
  std::atomic<bool> abort_{false};
  std::atomic<int64_t> bytes_done_{0};
};

TEST_F(FileCopierTest, CopiesRegularFileByteIdentically) {
  const std::string data = TestData(3 * kBlockSize + 123);
  const v1::TaskReport report = Run(MakeTask({Source("a", data)}));
  EXPECT_EQ(report.task_id(), "t-1");
  EXPECT_EQ(report.lease_generation(), 7u);
  EXPECT_EQ(report.code(), 0) << report.message();
  ASSERT_EQ(report.files_size(), 1);
  ExpectCopied(report.files(0), data);
  EXPECT_TRUE(Content("dst/a") == data);
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/a"));  // No temporary file left.
  EXPECT_EQ(bytes_done_.load(), static_cast<int64_t>(data.size()));
  EXPECT_TRUE(Content("src/a") == data);
}

TEST_F(FileCopierTest, CopiesEmptyFile) {
  const v1::FileResult result = RunOne(Source("empty", ""));
  EXPECT_EQ(result.code(), 0) << result.message();
  EXPECT_EQ(result.crc32c(), kCrc32cEmpty);
  EXPECT_EQ(result.bytes(), 0u);
  EXPECT_EQ(StatOf("dst/empty").type, storage::FileType::kRegular);
  EXPECT_EQ(Content("dst/empty"), "");
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/empty"));
}

TEST_F(FileCopierTest, CreatesMissingParentDirectories) {
  v1::FileTask file = Source("a", "data");
  file.set_destination_path("/dst/x/y/a");
  EXPECT_EQ(RunOne(file).code(), 0);
  EXPECT_EQ(Content("dst/x/y/a"), "data");
}

TEST_F(FileCopierTest, ReportsOneResultPerFileInOrder) {
  v1::FileTask a = Source("a", "aaa");
  v1::FileTask gone = Source("gone", "ggg");
  v1::FileTask c = Source("c", "ccccc");
  ASSERT_TRUE(mem_.Remove("src/gone").ok());
  const v1::TaskReport report = Run(MakeTask({a, gone, c}));
  EXPECT_EQ(report.code(), 0);
  ASSERT_EQ(report.files_size(), 3);
  EXPECT_EQ(report.files(0).code(), 0);
  EXPECT_EQ(report.files(0).crc32c(), Crc32c("aaa"));
  EXPECT_EQ(report.files(1).code(), Code(absl::StatusCode::kNotFound));
  EXPECT_EQ(report.files(2).code(), 0);
  EXPECT_EQ(report.files(2).bytes(), 5u);
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/a", "dst/c"));
}

TEST_F(FileCopierTest, MissingSourceIsNotFound) {
  v1::FileTask file = Source("a", "data");
  ASSERT_TRUE(mem_.Remove("src/a").ok());
  const v1::FileResult result = RunOne(file);
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kNotFound)) << result.message();
  EXPECT_THAT(DestinationTree(), IsEmpty());
}

TEST_F(FileCopierTest, DirectoryEntryCreatesDirectoryWithItsMode) {
  ASSERT_TRUE(mem_.MakeDirs("src/d", 0750).ok());
  v1::FileTask file = Planned("d");
  ASSERT_EQ(file.source_info().type(), v1::FILE_TYPE_DIRECTORY);
  const v1::FileResult result = RunOne(file);
  EXPECT_EQ(result.code(), 0) << result.message();
  EXPECT_EQ(StatOf("dst/d").type, storage::FileType::kDirectory);
  EXPECT_EQ(StatOf("dst/d").mode, 0750u);

  // Nested, without preserve: created with the default mode.
  file.set_destination_path("/dst/x/y");
  EXPECT_EQ(RunOne(file, v1::OVERWRITE_POLICY_NEVER, /*preserve=*/false).code(), 0);
  EXPECT_EQ(StatOf("dst/x/y").type, storage::FileType::kDirectory);
  EXPECT_EQ(StatOf("dst/x/y").mode, 0755u);

  // Again: an existing directory is fine.
  EXPECT_EQ(RunOne(file).code(), 0);
}

TEST_F(FileCopierTest, DirectoryOverAFileFails) {
  ASSERT_TRUE(mem_.MakeDirs("src/d", 0755).ok());
  Existing("d", "a file", kSourceMtime);
  const v1::FileResult result = RunOne(Planned("d"), v1::OVERWRITE_POLICY_REPLACE);
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Content("dst/d"), "a file");
}

TEST_F(FileCopierTest, SymlinkIsCopiedAsALinkNeverFollowed) {
  Source("secret", "top secret");
  ASSERT_TRUE(mem_.CreateSymlink("secret", "src/link").ok());
  ASSERT_TRUE(mem_.CreateSymlink("../../../etc/passwd", "src/dangling").ok());
  const v1::TaskReport report = Run(MakeTask({Planned("link"), Planned("dangling")}));
  ASSERT_EQ(report.files_size(), 2);
  EXPECT_EQ(report.files(0).code(), 0) << report.files(0).message();
  EXPECT_EQ(report.files(1).code(), 0) << report.files(1).message();
  EXPECT_EQ(StatOf("dst/link").type, storage::FileType::kSymlink);
  EXPECT_EQ(StatOf("dst/link").symlink_target, "secret");
  EXPECT_EQ(StatOf("dst/dangling").type, storage::FileType::kSymlink);
  EXPECT_EQ(StatOf("dst/dangling").symlink_target, "../../../etc/passwd");
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/dangling", "dst/link"));
  EXPECT_EQ(fs_.Count(FaultOp::kOpenForRead), 0);  // The link's target was never read.
}

TEST_F(FileCopierTest, SymlinkFollowsTheOverwritePolicy) {
  ASSERT_TRUE(mem_.CreateSymlink("elsewhere", "src/link").ok());
  Existing("link", "old", kSourceMtime);
  const v1::FileResult never = RunOne(Planned("link"));
  EXPECT_EQ(never.code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Content("dst/link"), "old");

  EXPECT_EQ(RunOne(Planned("link"), v1::OVERWRITE_POLICY_REPLACE).code(), 0);
  EXPECT_EQ(StatOf("dst/link").symlink_target, "elsewhere");
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/link"));
}

TEST_F(FileCopierTest, OtherFileTypesAreSkippedUnopened) {
  ASSERT_TRUE(mem_.MakeSpecialFile("src/fifo").ok());
  v1::FileTask file = Planned("fifo");
  ASSERT_EQ(file.source_info().type(), v1::FILE_TYPE_OTHER);
  const v1::FileResult result = RunOne(file);
  EXPECT_EQ(result.code(), 0);
  EXPECT_TRUE(result.skipped());
  EXPECT_THAT(result.message(), HasSubstr("skipped"));
  EXPECT_THAT(DestinationTree(), IsEmpty());
  EXPECT_EQ(fs_.Count(FaultOp::kOpenForRead), 0);
}

TEST_F(FileCopierTest, NeverPolicyKeepsTheExistingTarget) {
  for (v1::OverwritePolicy policy :
       {v1::OVERWRITE_POLICY_NEVER, v1::OVERWRITE_POLICY_UNSPECIFIED}) {
    SCOPED_TRACE(v1::OverwritePolicy_Name(policy));
    Existing("a", "old", kSourceMtime);
    const v1::FileResult result = RunOne(Source("a", "new data"), policy);
    EXPECT_EQ(result.code(), Code(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(result.message(), HasSubstr("overwrite policy is never"));
    EXPECT_EQ(Content("dst/a"), "old");
    EXPECT_THAT(DestinationTree(), ElementsAre("dst/a"));
  }
}

TEST_F(FileCopierTest, NeverPolicyLosesARaceAtCommitWithoutReplacing) {
  const v1::FileTask file = Source("a", "new data");
  // Someone creates the target after the overwrite check, while the copy is under way.
  mem_.on_temp_write = [this](uint64_t, std::string*) {
    mem_.on_temp_write = nullptr;  // The racer's own write is not hooked.
    EXPECT_TRUE(WriteFile(mem_, "dst/a", "racer").ok());
  };
  const v1::FileResult result = RunOne(file);
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(result.message(), HasSubstr("overwrite policy is never"));
  EXPECT_EQ(Content("dst/a"), "racer");
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/a"));
}

// A task leased again after its report was lost (controller or worker killed, lease
// expired) meets what its earlier attempt already committed.
v1::Task Retried(v1::Task task) {
  task.set_attempt(2);
  task.set_lease_generation(task.lease_generation() + 1);
  return task;
}

TEST_F(FileCopierTest, RetryCountsTheTargetItsEarlierAttemptCommittedAsCopied) {
  const std::string data = TestData(2 * kBlockSize + 5);
  for (bool preserve : {true, false}) {
    SCOPED_TRACE(preserve ? "mtime preserved" : "mtime not preserved");
    const v1::Task task = MakeTask({Source("a", data)}, v1::OVERWRITE_POLICY_NEVER, preserve);
    ASSERT_EQ(Run(task).files(0).code(), 0);
    const int64_t committed_mtime = StatOf("dst/a").mtime_ns;

    // The first attempt's report was lost; the same task runs again.
    const v1::TaskReport report = Run(Retried(task));
    ASSERT_EQ(report.files_size(), 1);
    ExpectCopied(report.files(0), data);
    EXPECT_TRUE(Content("dst/a") == data);
    EXPECT_EQ(StatOf("dst/a").mtime_ns, committed_mtime);  // Left as it was.
    EXPECT_THAT(DestinationTree(), ElementsAre("dst/a"));

    // A first attempt still refuses an existing target, identical or not.
    EXPECT_EQ(Run(task).files(0).code(), Code(absl::StatusCode::kFailedPrecondition));
    ASSERT_TRUE(mem_.Remove("dst/a").ok());
  }
}

TEST_F(FileCopierTest, RetryStillRefusesATargetThatIsNotACompleteCopy) {
  const std::string data = TestData(kBlockSize + 1);
  const v1::FileTask file = Source("a", data);
  std::string damaged = data;
  damaged[kBlockSize / 2] ^= 1;
  struct Case {
    const char* what;
    std::string content;
    int64_t mtime;
  };
  for (const Case& c : {Case{"other content, same size and mtime", damaged, kSourceMtime},
                        Case{"other size", data + "x", kSourceMtime},
                        Case{"other mtime", data, kSourceMtime + 1}}) {
    SCOPED_TRACE(c.what);
    Existing("a", c.content, c.mtime);
    const v1::TaskReport report = Run(Retried(MakeTask({file})));
    ASSERT_EQ(report.files_size(), 1);
    EXPECT_EQ(report.files(0).code(), Code(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(report.files(0).message(), HasSubstr("overwrite policy is never"));
    EXPECT_TRUE(Content("dst/a") == c.content);
  }
}

TEST_F(FileCopierTest, RetryCountsASymlinkItCommittedEarlierAsCopied) {
  ASSERT_TRUE(mem_.CreateSymlink("target-text", "src/link").ok());
  const v1::Task task = MakeTask({Planned("link")});
  ASSERT_EQ(Run(task).files(0).code(), 0);
  EXPECT_EQ(Run(Retried(task)).files(0).code(), 0);
  EXPECT_EQ(StatOf("dst/link").symlink_target, "target-text");

  ASSERT_TRUE(mem_.Remove("dst/link").ok());
  ASSERT_TRUE(mem_.CreateSymlink("other-text", "dst/link").ok());
  EXPECT_EQ(Run(Retried(task)).files(0).code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(StatOf("dst/link").symlink_target, "other-text");
}

TEST_F(FileCopierTest, RetryRemovesTheTemporaryFilesOfItsTargetsThatAKilledAttemptLeft) {
  const v1::FileTask file = Source("a", "data");
  // What killed attempts left beside dst/a, and files that are not theirs.
  const std::vector<std::string> stale = {"dst/.ferry-tmp.a.0123456789abcdef",
                                          "dst/.ferry-tmp.a.fedcba9876543210"};
  const std::vector<std::string> others = {"dst/.ferry-tmp.ab.0123456789abcdef",
                                           "dst/.ferry-tmp.a.not-hex-digits!",
                                           "dst/.ferry-tmp.a.0123"};
  for (const std::string& path : stale) ASSERT_TRUE(WriteFile(mem_, path, "partial").ok());
  for (const std::string& path : others) ASSERT_TRUE(WriteFile(mem_, path, "keep").ok());

  // A first attempt has no earlier one: it leaves them alone.
  const v1::Task task = MakeTask({file});
  ASSERT_EQ(Run(task).files(0).code(), 0);
  EXPECT_EQ(DestinationTree().size(), 1 + stale.size() + others.size());

  ASSERT_TRUE(mem_.Remove("dst/a").ok());
  ASSERT_EQ(Run(Retried(task)).files(0).code(), 0);
  EXPECT_THAT(DestinationTree(),
              ElementsAre("dst/.ferry-tmp.a.0123", "dst/.ferry-tmp.a.not-hex-digits!",
                          "dst/.ferry-tmp.ab.0123456789abcdef", "dst/a"));
}

TEST_F(FileCopierTest, ReplacePolicyReplaces) {
  Existing("a", "old", kSourceMtime + 1);
  const v1::FileResult result = RunOne(Source("a", "new data"), v1::OVERWRITE_POLICY_REPLACE);
  EXPECT_EQ(result.code(), 0) << result.message();
  EXPECT_FALSE(result.skipped());
  EXPECT_EQ(result.crc32c(), Crc32c("new data"));
  EXPECT_EQ(Content("dst/a"), "new data");
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/a"));
}

struct PolicyCase {
  v1::OverwritePolicy policy;
  std::string existing;
  int64_t existing_mtime;
  bool skipped;
};

TEST_F(FileCopierTest, UpdateAndSkipIdenticalDecideBySizeAndMtime) {
  const std::string source = "new!";  // Same size as "old!".
  const PolicyCase cases[] = {
      {v1::OVERWRITE_POLICY_UPDATE, "old!", kSourceMtime + 1, true},   // Target newer.
      {v1::OVERWRITE_POLICY_UPDATE, "old!", kSourceMtime, true},       // Same age.
      {v1::OVERWRITE_POLICY_UPDATE, "old!", kSourceMtime - 1, false},  // Source newer.
      {v1::OVERWRITE_POLICY_UPDATE, "older", kSourceMtime + 1, false},  // Size differs.
      {v1::OVERWRITE_POLICY_SKIP_IDENTICAL, "old!", kSourceMtime, true},
      {v1::OVERWRITE_POLICY_SKIP_IDENTICAL, "old!", kSourceMtime + 1, false},
      {v1::OVERWRITE_POLICY_SKIP_IDENTICAL, "old!", kSourceMtime - 1, false},
      {v1::OVERWRITE_POLICY_SKIP_IDENTICAL, "older", kSourceMtime, false},
  };
  for (const PolicyCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << v1::OverwritePolicy_Name(c.policy) << " over '"
                                      << c.existing << "' mtime " << c.existing_mtime);
    Existing("a", c.existing, c.existing_mtime);
    const v1::FileResult result = RunOne(Source("a", source), c.policy);
    EXPECT_EQ(result.code(), 0) << result.message();
    EXPECT_EQ(result.skipped(), c.skipped);
    EXPECT_EQ(Content("dst/a"), c.skipped ? c.existing : source);
    EXPECT_THAT(DestinationTree(), ElementsAre("dst/a"));
  }
}

TEST_F(FileCopierTest, PreservesModeAndMtime) {
  EXPECT_EQ(RunOne(Source("a", "data")).code(), 0);
  EXPECT_EQ(StatOf("dst/a").mode, kSourceMode);
  EXPECT_EQ(StatOf("dst/a").mtime_ns, kSourceMtime);
}

TEST_F(FileCopierTest, WithoutPreserveUsesDefaultModeAndTheClock) {
  clock_.Advance(absl::Hours(5));
  EXPECT_EQ(RunOne(Source("a", "data"), v1::OVERWRITE_POLICY_NEVER, /*preserve=*/false).code(),
            0);
  EXPECT_EQ(StatOf("dst/a").mode, 0644u);
  EXPECT_EQ(StatOf("dst/a").mtime_ns, absl::ToUnixNanos(clock_.Now()));
}

TEST_F(FileCopierTest, SourceChangedSincePlanningFailsAndLeavesNothing) {
  const v1::FileTask planned = Source("a", TestData(kBlockSize + 1));
  v1::FileTask other_size = planned;
  other_size.mutable_source_info()->set_size(planned.source_info().size() + 1);
  v1::FileTask other_mtime = planned;
  other_mtime.mutable_source_info()->set_mtime_ns(kSourceMtime + 1);
  for (const v1::FileTask& file : {other_size, other_mtime}) {
    const v1::FileResult result = RunOne(file, v1::OVERWRITE_POLICY_REPLACE);
    EXPECT_EQ(result.code(), Code(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(result.message(), HasSubstr("source changed"));
    EXPECT_THAT(DestinationTree(), IsEmpty());
  }
}

TEST_F(FileCopierTest, SourceGrowingDuringTheCopyFailsAndLeavesNothing) {
  const v1::FileTask file = Source("a", TestData(3 * kBlockSize));
  mem_.on_temp_write = [this](uint64_t offset, std::string*) {
    if (offset != 0) return;
    absl::StatusOr<std::unique_ptr<storage::WritableFile>> source = mem_.OpenForWrite("src/a");
    ASSERT_TRUE(source.ok()) << source.status();
    ASSERT_TRUE((*source)->WriteAt(3 * kBlockSize, "appended").ok());
  };
  const v1::FileResult result = RunOne(file);
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(result.message(), HasSubstr("source changed"));
  EXPECT_THAT(DestinationTree(), IsEmpty());
}

TEST_F(FileCopierTest, BytesDamagedOnTheWayToDiskAreCaughtByTheReadBack) {
  const v1::FileTask file = Source("a", TestData(3 * kBlockSize));
  mem_.on_temp_write = [](uint64_t offset, std::string* data) {
    if (offset == kBlockSize) (*data)[17] ^= 0x04;  // One flipped bit.
  };
  const v1::FileResult result = RunOne(file);
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kDataLoss));
  EXPECT_THAT(result.message(), HasSubstr("CRC32C mismatch"));
  EXPECT_THAT(DestinationTree(), IsEmpty());
}

TEST_F(FileCopierTest, AbortBeforeStartCancelsTheTask) {
  const v1::FileTask file = Source("a", "data");
  abort_ = true;
  const v1::TaskReport report = Run(MakeTask({file}));
  EXPECT_EQ(report.code(), Code(absl::StatusCode::kCancelled));
  EXPECT_EQ(report.task_id(), "t-1");
  EXPECT_THAT(report.files(), IsEmpty());
  EXPECT_THAT(DestinationTree(), IsEmpty());
  EXPECT_EQ(fs_.Count(FaultOp::kOpenForRead), 0);
}

TEST_F(FileCopierTest, AbortDuringTheCopyCancelsTheTaskAndLeavesNothing) {
  const v1::FileTask file = Source("a", TestData(3 * kBlockSize));
  mem_.on_temp_write = [this](uint64_t, std::string*) { abort_ = true; };
  const v1::TaskReport report = Run(MakeTask({file}));
  EXPECT_EQ(report.code(), Code(absl::StatusCode::kCancelled)) << report.DebugString();
  EXPECT_THAT(report.files(), IsEmpty());
  EXPECT_THAT(DestinationTree(), IsEmpty());
  EXPECT_LT(bytes_done_.load(), 3 * static_cast<int64_t>(kBlockSize));
}

TEST_F(FileCopierTest, SourceReadErrorIsRetryableAndLeavesNothing) {
  const v1::FileTask file = Source("a", TestData(2 * kBlockSize));
  fs_.AddFault({FaultOp::kRead, "src/a", FaultKind::kEio, /*skip=*/1});
  const v1::FileResult result = RunOne(file);
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kUnavailable));
  EXPECT_THAT(DestinationTree(), IsEmpty());
}

TEST_F(FileCopierTest, InjectedWriteErrorLeavesNoTargetAndNoTemporaryFile) {
  const v1::FileTask file = Source("a", TestData(3 * kBlockSize));
  fs_.AddFault({FaultOp::kWrite, "dst/", FaultKind::kEio, /*skip=*/1});
  const v1::FileResult result = RunOne(file);
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kUnavailable));
  EXPECT_THAT(DestinationTree(), IsEmpty());
  EXPECT_GE(fs_.Count(FaultOp::kRemove), 1);
}

struct FaultCase {
  FaultOp op;
  FaultKind kind;
  absl::StatusCode code;
  std::string name;
};

class FileCopierFaultTest : public FileCopierTest,
                            public ::testing::WithParamInterface<FaultCase> {};

// Each step of writing and committing fails in turn: the old target stays as it was.
TEST_P(FileCopierFaultTest, FailedStepKeepsTheOldTargetAndLeavesNoTemporaryFile) {
  const v1::FileTask file = Source("a", TestData(2 * kBlockSize + 5));
  Existing("a", "old", kSourceMtime - 1);
  fs_.AddFault({GetParam().op, "dst/", GetParam().kind});
  const v1::FileResult result = RunOne(file, v1::OVERWRITE_POLICY_REPLACE);
  EXPECT_EQ(result.code(), Code(GetParam().code)) << result.message();
  EXPECT_EQ(Content("dst/a"), "old");
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/a"));

  fs_.ClearFaults();  // A retry then succeeds.
  EXPECT_EQ(RunOne(file, v1::OVERWRITE_POLICY_REPLACE).code(), 0);
  EXPECT_TRUE(Content("dst/a") == TestData(2 * kBlockSize + 5));
}

INSTANTIATE_TEST_SUITE_P(
    EachStep, FileCopierFaultTest,
    ::testing::Values(
        FaultCase{FaultOp::kCreateTemp, FaultKind::kEnospc,
                  absl::StatusCode::kResourceExhausted, "CreateTemp"},
        FaultCase{FaultOp::kWrite, FaultKind::kShortWrite,
                  absl::StatusCode::kResourceExhausted, "ShortWrite"},
        FaultCase{FaultOp::kSync, FaultKind::kEio, absl::StatusCode::kUnavailable, "Sync"},
        FaultCase{FaultOp::kClose, FaultKind::kEio, absl::StatusCode::kUnavailable, "Close"},
        FaultCase{FaultOp::kRead, FaultKind::kEio, absl::StatusCode::kUnavailable,
                  "ReadBack"},
        FaultCase{FaultOp::kSetModeAndMtime, FaultKind::kEio,
                  absl::StatusCode::kUnavailable, "SetModeAndMtime"},
        FaultCase{FaultOp::kRename, FaultKind::kEio, absl::StatusCode::kUnavailable,
                  "Rename"}),
    [](const ::testing::TestParamInfo<FaultCase>& info) { return info.param.name; });

TEST_F(FileCopierTest, ATaskOfManyFilesSyncsTheFileSystemTwiceInsteadOfEachFile) {
  std::vector<v1::FileTask> files;
  for (int i = 0; i < 20; ++i) {
    files.push_back(Source(absl::StrCat("f", i), TestData(100 + i)));
    files.back().set_destination_path(absl::StrCat("/dst/sub/f", i));
  }
  const v1::TaskReport report = Run(MakeTask(files));
  ASSERT_EQ(report.files_size(), 20);
  for (int i = 0; i < 20; ++i) {
    ExpectCopied(report.files(i), TestData(100 + i));
    EXPECT_EQ(Content(absl::StrCat("dst/sub/f", i)), TestData(100 + i));
  }
  EXPECT_EQ(fs_.Count(FaultOp::kSyncFileSystem), 2);
  EXPECT_EQ(fs_.Count(FaultOp::kSync), 0);
  EXPECT_EQ(fs_.Count(FaultOp::kSyncDir), 0);
  // What was reported done is durable.
  fs_.SimulateCrash();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Content(absl::StrCat("dst/sub/f", i)), TestData(100 + i));
  }
}

TEST_F(FileCopierTest, AnAbortInABatchedTaskLeavesNoTemporaryFile) {
  std::vector<v1::FileTask> files = {Source("a", "alpha"), Source("b", "bravo"),
                                     Source("c", "charlie")};
  int writes = 0;
  mem_.on_temp_write = [this, &writes](uint64_t, std::string*) {
    if (++writes == 2) abort_ = true;  // While the second file is written.
  };
  const v1::TaskReport report = Run(MakeTask(files));
  EXPECT_EQ(report.code(), Code(absl::StatusCode::kCancelled));
  EXPECT_THAT(DestinationTree(), IsEmpty());  // Not even the first, copied one.
}

TEST_F(FileCopierTest, AFailedSyncBeforeTheRenamesFailsEveryFileAndLeavesNothing) {
  std::vector<v1::FileTask> files = {Source("a", "alpha"), Source("b", "bravo")};
  fs_.AddFault({FaultOp::kSyncFileSystem, "", FaultKind::kEio, /*skip=*/0, /*times=*/1});
  const v1::TaskReport report = Run(MakeTask(files));
  ASSERT_EQ(report.files_size(), 2);
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), Code(absl::StatusCode::kUnavailable)) << result.message();
    EXPECT_EQ(result.bytes(), 0u);
  }
  EXPECT_THAT(DestinationTree(), IsEmpty());
}

TEST_F(FileCopierTest, AFailedSyncAfterTheRenamesFailsTheFilesSoTheyAreCopiedAgain) {
  std::vector<v1::FileTask> files = {Source("a", "alpha"), Source("b", "bravo")};
  fs_.AddFault({FaultOp::kSyncFileSystem, "", FaultKind::kEio, /*skip=*/1, /*times=*/1});
  const v1::TaskReport report = Run(MakeTask(files));
  ASSERT_EQ(report.files_size(), 2);
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), Code(absl::StatusCode::kUnavailable)) << result.message();
  }
  // The retry (attempt 2) counts the targets its first attempt renamed as copied.
  v1::Task retry = MakeTask(files);
  retry.set_attempt(2);
  const v1::TaskReport again = Run(retry);
  ASSERT_EQ(again.files_size(), 2);
  ExpectCopied(again.files(0), "alpha");
  ExpectCopied(again.files(1), "bravo");
}

TEST_F(FileCopierTest, ASparseFileKeepsItsHolesAndItsChecksum) {
  constexpr uint64_t kSize = 64 * kBlockSize;
  absl::StatusOr<storage::TempFile> temp = mem_.CreateTemp("src/sparse");
  ASSERT_TRUE(temp.ok());
  ASSERT_TRUE(temp->file->WriteAt(8 * kBlockSize, TestData(kBlockSize)).ok());
  ASSERT_TRUE(temp->file->Truncate(kSize).ok());  // Ends in a hole.
  ASSERT_TRUE(temp->file->Close().ok());
  ASSERT_TRUE(mem_.Rename(temp->path, "src/sparse", storage::CommitMode::kReplace).ok());
  ASSERT_TRUE(mem_.SetModeAndMtime("src/sparse", kSourceMode, kSourceMtime).ok());
  const std::string expected = std::string(8 * kBlockSize, '\0') + TestData(kBlockSize) +
                               std::string(kSize - 9 * kBlockSize, '\0');
  ExpectCopied(RunOne(Planned("sparse")), expected);
  EXPECT_EQ(Content("dst/sparse"), expected);
  absl::StatusOr<std::unique_ptr<storage::ReadableFile>> copy = mem_.OpenForRead("dst/sparse");
  ASSERT_TRUE(copy.ok());
  absl::StatusOr<std::vector<storage::Extent>> extents = (*copy)->DataExtents(0, kSize);
  ASSERT_TRUE(extents.ok());
  uint64_t allocated = 0;
  for (const storage::Extent& extent : *extents) allocated += extent.length;
  EXPECT_EQ(allocated, kBlockSize);
}

TEST_F(FileCopierTest, PathsThatAreNotAbsoluteAreInvalid) {
  const v1::FileTask good = Source("a", "data");
  v1::FileTask relative_source = good;
  relative_source.set_source_path("src/a");
  v1::FileTask relative_destination = good;
  relative_destination.set_destination_path("dst/a");
  v1::FileTask escaping_destination = good;
  escaping_destination.set_destination_path("/dst/../../a");
  for (const v1::FileTask& file : {relative_source, relative_destination, escaping_destination}) {
    SCOPED_TRACE(file.source_path() + " -> " + file.destination_path());
    const v1::FileResult result = RunOne(file);
    EXPECT_EQ(result.code(), Code(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(result.message(), HasSubstr("_path"));  // Names the field.
  }
  EXPECT_EQ(fs_.Count(FaultOp::kOpenForRead), 0);
  EXPECT_EQ(fs_.Count(FaultOp::kCreateTemp), 0);
  EXPECT_THAT(DestinationTree(), IsEmpty());
}

TEST_F(FileCopierTest, UnknownTaskKindIsUnimplemented) {
  v1::Task task = MakeTask({Source("a", "data")});
  task.set_kind(v1::TASK_KIND_UNSPECIFIED);
  const v1::TaskReport report = Run(task);
  EXPECT_EQ(report.code(), Code(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(DestinationTree(), IsEmpty());
}

TEST_F(FileCopierTest, FinalizeDirsSetsTheDirectoriesAttributesEvenForARemoteSource) {
  ASSERT_TRUE(mem_.MakeDirs("src/d", 0555).ok());
  ASSERT_TRUE(mem_.SetModeAndMtime("src/d", 0555, kSourceMtime).ok());
  ASSERT_EQ(RunOne(Planned("d")).code(), 0);
  EXPECT_EQ(StatOf("dst/d").mode, 0755u);  // Writable while it is filled.
  v1::FileTask gone = Planned("d");
  gone.set_destination_path("/dst/gone");
  v1::Task finalize = MakeTask({Planned("d"), gone});
  finalize.set_kind(v1::TASK_KIND_FINALIZE_DIRS);
  finalize.add_source_data_addresses("127.0.0.1:1");  // Nothing is read from there.
  const v1::TaskReport report = Run(finalize);
  EXPECT_EQ(report.code(), 0) << report.message();
  ASSERT_EQ(report.files_size(), 2);
  EXPECT_EQ(report.files(0).code(), 0) << report.files(0).message();
  EXPECT_EQ(report.files(1).code(), Code(absl::StatusCode::kNotFound));
  EXPECT_EQ(StatOf("dst/d").mode, 0555u);
  EXPECT_EQ(StatOf("dst/d").mtime_ns, kSourceMtime);
}

// Planned as owned by 1234:5678, with a set-user-ID mode that chown would clear.
v1::FileTask OwnedBySomeoneElse(v1::FileTask file) {
  file.mutable_source_info()->set_uid(1234);
  file.mutable_source_info()->set_gid(5678);
  if (file.source_info().type() == v1::FILE_TYPE_REGULAR) {
    file.mutable_source_info()->set_mode(04755);
  }
  return file;
}

TEST_F(FileCopierTest, OwnersAreGivenBeforeTheModeWhenThisCopydMaySetThem) {
  if (geteuid() != 0) GTEST_SKIP() << "only root may give files away";
  CopierOptions options = Options();
  options.can_set_owner = true;
  FileCopier copier(&fs_, &clock_, options);
  const v1::FileTask file = OwnedBySomeoneElse(Source("a", "data"));
  ASSERT_TRUE(mem_.CreateSymlink("a", "src/link").ok());
  const v1::FileTask link = OwnedBySomeoneElse(Planned("link"));
  v1::FileTask alone = file;
  alone.set_destination_path("/dst/alone");
  for (v1::Task task : {MakeTask({file, link}), MakeTask({alone})}) {  // Batched or not.
    task.mutable_preserve()->set_owner(true);
    const v1::TaskReport report = copier.Execute(task, &abort_, &bytes_done_);
    for (const v1::FileResult& result : report.files()) {
      EXPECT_EQ(result.code(), 0) << result.message();
    }
  }
  fs_.SimulateCrash();
  for (const char* path : {"dst/a", "dst/link", "dst/alone"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(StatOf(path).uid, 1234u);
    EXPECT_EQ(StatOf(path).gid, 5678u);
  }
  EXPECT_EQ(StatOf("dst/a").mode, 04755u);
  EXPECT_EQ(StatOf("dst/alone").mode, 04755u);
}

TEST_F(FileCopierTest, OwnersAreNotSetWhenThisCopydMayNotSetThem) {
  const v1::FileTask file = OwnedBySomeoneElse(Source("a", "data"));
  ASSERT_TRUE(mem_.CreateSymlink("a", "src/link").ok());
  v1::Task task = MakeTask({file, OwnedBySomeoneElse(Planned("link"))});
  task.mutable_preserve()->set_owner(true);
  const v1::TaskReport report = Run(task);
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), 0) << result.message();
  }
  EXPECT_EQ(fs_.Count(FaultOp::kSetOwner), 0);
  EXPECT_EQ(StatOf("dst/a").uid, geteuid());
  EXPECT_EQ(StatOf("dst/a").mode, 04755u);
}

// ---- Hard links: src/b is another name of src/a, whose copy dst/a is committed. ----

class HardLinkTest : public FileCopierTest {
 protected:
  void SetUp() override {
    first_ = Source("a", data_);
    ASSERT_EQ(RunOne(first_).code(), 0);
    ASSERT_TRUE(mem_.Link("src/a", "src/b").ok());
    mem_.SyncAll();
  }

  // src/b -> dst/b, to be linked to `link_target`.
  v1::FileTask Second(const std::string& link_target = "/dst/a") {
    v1::FileTask file = Planned("b");
    file.set_link_target(link_target);
    return file;
  }

  bool SameInode(const std::string& a, const std::string& b) {
    const storage::FileInfo x = StatOf(a), y = StatOf(b);
    return x.device == y.device && x.inode == y.inode;
  }

  // `result` is of dst/b made another name of dst/a: nothing read or written.
  void ExpectLinked(const v1::FileResult& result) {
    EXPECT_EQ(result.code(), 0) << result.message();
    EXPECT_FALSE(result.skipped());
    EXPECT_EQ(result.bytes(), 0u);
    EXPECT_TRUE(SameInode("dst/a", "dst/b"));
    EXPECT_EQ(StatOf("dst/a").nlink, 2u);
    EXPECT_THAT(DestinationTree(), ElementsAre("dst/a", "dst/b"));  // No temporary name.
  }

  const std::string data_ = TestData(kBlockSize + 10);
  v1::FileTask first_;
};

TEST_F(HardLinkTest, TheSecondNameIsLinkedDurablyWithoutReadingTheSource) {
  const int64_t opened = fs_.Count(FaultOp::kOpenForRead);
  ExpectLinked(RunOne(Second()));
  EXPECT_EQ(fs_.Count(FaultOp::kOpenForRead), opened);
  EXPECT_EQ(fs_.Count(FaultOp::kCreateTemp), 1);  // dst/a's only.
  fs_.SimulateCrash();
  EXPECT_TRUE(SameInode("dst/a", "dst/b"));
  EXPECT_TRUE(Content("dst/b") == data_);
}

TEST_F(HardLinkTest, ALinkInABatchedTaskIsDurableWithTheTasksSync) {
  v1::FileTask other = Source("c", "other");
  v1::FileTask deeper = Second();
  deeper.set_destination_path("/dst/new/b");
  const int64_t synced_dirs = fs_.Count(FaultOp::kSyncDir);
  const v1::TaskReport report = Run(MakeTask({deeper, other}));
  ASSERT_EQ(report.files_size(), 2);
  EXPECT_EQ(report.files(0).code(), 0) << report.files(0).message();
  EXPECT_EQ(report.files(0).bytes(), 0u);
  ExpectCopied(report.files(1), "other");
  EXPECT_EQ(fs_.Count(FaultOp::kSyncDir), synced_dirs);
  EXPECT_EQ(fs_.Count(FaultOp::kSyncFileSystem), 2);
  fs_.SimulateCrash();
  EXPECT_TRUE(SameInode("dst/a", "dst/new/b"));
  EXPECT_EQ(Content("dst/c"), "other");
}

TEST_F(HardLinkTest, AMissingLinkTargetIsCopiedInstead) {
  const v1::FileResult result = RunOne(Second("/dst/elsewhere"));
  ExpectCopied(result, data_);
  EXPECT_FALSE(SameInode("dst/a", "dst/b"));
  EXPECT_TRUE(Content("dst/b") == data_);
}

TEST_F(HardLinkTest, ALinkTargetThatNoLongerLooksLikeTheSourceIsNotLinked) {
  struct Case {
    const char* what;
    std::function<void()> change;
    bool preserve_mtime;
    bool linked;
  };
  const Case cases[] = {
      {"other size", [&] { ASSERT_TRUE(WriteFile(mem_, "dst/a", data_ + "x").ok()); }, true,
       false},
      {"other mtime",
       [&] { ASSERT_TRUE(mem_.SetModeAndMtime("dst/a", kSourceMode, kSourceMtime + 1).ok()); },
       true, false},
      {"other mtime, mtimes not preserved",
       [&] { ASSERT_TRUE(mem_.SetModeAndMtime("dst/a", kSourceMode, kSourceMtime + 1).ok()); },
       false, true},
      {"a directory",
       [&] {
         ASSERT_TRUE(mem_.Remove("dst/a").ok());
         ASSERT_TRUE(mem_.MakeDirs("dst/a", 0755).ok());
       },
       true, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_TRUE(mem_.Remove("dst/a").ok());
    ASSERT_EQ(RunOne(first_).code(), 0);
    c.change();
    v1::FileTask second = Second();
    const v1::FileResult result =
        RunOne(second, v1::OVERWRITE_POLICY_NEVER, /*preserve=*/c.preserve_mtime);
    EXPECT_EQ(result.code(), 0) << result.message();
    if (c.linked) {
      EXPECT_TRUE(SameInode("dst/a", "dst/b"));
      EXPECT_EQ(result.bytes(), 0u);
    } else {
      ExpectCopied(result, data_);
      EXPECT_FALSE(SameInode("dst/a", "dst/b"));
    }
    ASSERT_TRUE(mem_.Remove("dst/b").ok());
  }
}

TEST_F(HardLinkTest, NeverKeepsAnExistingDestination) {
  Existing("b", "old", kSourceMtime);
  const v1::FileResult result = RunOne(Second());
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(result.message(), HasSubstr("overwrite policy is never"));
  EXPECT_EQ(Content("dst/b"), "old");
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/a", "dst/b"));
}

TEST_F(HardLinkTest, ReplaceLinksOverAnExistingDifferentFile) {
  Existing("b", "old", kSourceMtime + 7);
  ExpectLinked(RunOne(Second(), v1::OVERWRITE_POLICY_REPLACE));
  EXPECT_TRUE(Content("dst/b") == data_);
}

TEST_F(HardLinkTest, SkipIdenticalKeepsAnIdenticalLookingDestination) {
  Existing("b", std::string(data_.size(), 'x'), kSourceMtime);
  const v1::FileResult result = RunOne(Second(), v1::OVERWRITE_POLICY_SKIP_IDENTICAL);
  EXPECT_EQ(result.code(), 0) << result.message();
  EXPECT_TRUE(result.skipped());
  EXPECT_FALSE(SameInode("dst/a", "dst/b"));
}

TEST_F(HardLinkTest, ARetryFindingItsLinkReportsItDone) {
  const v1::Task task = MakeTask({Second()});
  ExpectLinked(Run(task).files(0));
  for (v1::OverwritePolicy policy :
       {v1::OVERWRITE_POLICY_NEVER, v1::OVERWRITE_POLICY_REPLACE}) {
    v1::Task retry = Retried(task);
    retry.set_overwrite(policy);
    ExpectLinked(Run(retry).files(0));
  }
}

TEST_F(HardLinkTest, ReplaceRacedByTheSameLinkLeavesNoTemporaryName) {
  // Someone makes dst/b that same inode between the check and the rename, which then
  // does nothing (rename(2) of two names of one inode).
  mem_.on_link = [this] {
    mem_.on_link = nullptr;
    EXPECT_TRUE(mem_.Link("dst/a", "dst/b").ok());
  };
  ExpectLinked(RunOne(Second(), v1::OVERWRITE_POLICY_REPLACE));
}

TEST_F(HardLinkTest, AMalformedLinkTargetIsInvalid) {
  const v1::FileResult result = RunOne(Second("dst/a"));  // Not absolute.
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(result.message(), HasSubstr("link_target"));
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/a"));
}

// A DataService of another cluster on 127.0.0.1 serving `fs`; records the path of
// every data block it sends.
class SourceCluster {
 public:
  SourceCluster()
      : service_(&fs, [this](absl::string_view path, v1::DataBlock*) {
          absl::MutexLock lock(&mu_);
          served_.insert(std::string(path));
        }) {
    grpc::ServerBuilder builder;
    int port = 0;
    AddListeningPort(builder, "127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    absl::StatusOr<std::unique_ptr<grpc::Server>> server =
        StartServer(builder, &port, "127.0.0.1:0");
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = *std::move(server);
    address = absl::StrCat("127.0.0.1:", port);
  }
  ~SourceCluster() {
    if (server_ != nullptr) server_->Shutdown();
  }

  std::set<std::string> served() {
    absl::MutexLock lock(&mu_);
    return served_;
  }

  storage::MemFileSystem fs;
  std::string address;

 private:
  DataServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  absl::Mutex mu_;
  std::set<std::string> served_ ABSL_GUARDED_BY(mu_);
};

TEST_F(FileCopierTest, ABatchedRemoteTaskStreamsOnlyTheFilesItDoesNotLink) {
  SourceCluster source;
  ASSERT_TRUE(source.fs.MakeDirs("src", 0755).ok());
  const std::string data = TestData(kBlockSize + 3);
  std::vector<v1::FileTask> files;
  // x1 and x2 are names of one inode whose first name the transfer committed as dst/x;
  // c1 and c2 are copied.
  for (const char* name : {"x1", "c1", "x2", "c2"}) {
    const std::string path = absl::StrCat("src/", name);
    ASSERT_TRUE(WriteFile(source.fs, path, absl::StrCat(data, name)).ok());
    ASSERT_TRUE(source.fs.SetModeAndMtime(path, kSourceMode, kSourceMtime).ok());
    v1::FileTask file;
    file.set_source_path(absl::StrCat("/", path));
    file.set_destination_path(absl::StrCat("/dst/", name));
    *file.mutable_source_info() = ToProtoFileInfo(*source.fs.Stat(path), "src");
    if (name[0] == 'x') file.set_link_target("/dst/x");
    files.push_back(file);
  }
  Existing("x", absl::StrCat(data, "x1"), kSourceMtime);
  DataChannels channels;
  FileCopier copier(&fs_, &clock_, Options(), &channels);
  v1::Task task = MakeTask(files);
  task.add_source_data_addresses(source.address);
  const v1::TaskReport report = copier.Execute(task, &abort_, &bytes_done_);
  ASSERT_EQ(report.code(), 0) << report.message();
  ASSERT_EQ(report.files_size(), 4);
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), 0) << result.message();
  }
  EXPECT_EQ(report.files(0).bytes(), 0u);
  EXPECT_EQ(report.files(2).bytes(), 0u);
  ExpectCopied(report.files(1), absl::StrCat(data, "c1"));
  ExpectCopied(report.files(3), absl::StrCat(data, "c2"));
  EXPECT_THAT(source.served(), ElementsAre("/src/c1", "/src/c2"));
  EXPECT_EQ(StatOf("dst/x").nlink, 3u);
  EXPECT_TRUE(Content("dst/c2") == absl::StrCat(data, "c2"));
}

// What the copier reports as done survives a crash right after (the durability model of
// MemFileSystem loses every write, create and rename that was not synced).
TEST_F(FileCopierTest, EverythingReportedDoneSurvivesACrash) {
  const std::string data = TestData(kBlockSize + 7);
  v1::FileTask file = Source("a", data);
  file.set_destination_path("/dst/new/sub/a");
  ASSERT_TRUE(mem_.MakeDirs("src/d", 0750).ok());
  v1::FileTask directory = Planned("d");
  directory.set_destination_path("/dst/deep/d");
  ASSERT_TRUE(mem_.CreateSymlink("a", "src/link").ok());
  v1::FileTask link = Planned("link");
  link.set_destination_path("/dst/links/link");
  mem_.SyncAll();

  const v1::TaskReport report = Run(MakeTask({file, directory, link}));
  ASSERT_EQ(report.files_size(), 3);
  for (const v1::FileResult& result : report.files()) {
    ASSERT_EQ(result.code(), 0) << result.message();
  }
  fs_.SimulateCrash();

  EXPECT_TRUE(Content("dst/new/sub/a") == data);
  EXPECT_EQ(StatOf("dst/new/sub/a").mode, kSourceMode);
  EXPECT_EQ(StatOf("dst/new/sub/a").mtime_ns, kSourceMtime);
  EXPECT_EQ(StatOf("dst/deep/d").type, storage::FileType::kDirectory);
  EXPECT_EQ(StatOf("dst/deep/d").mode, 0750u);
  EXPECT_EQ(StatOf("dst/links/link").symlink_target, "a");
}

}  // namespace
}  // namespace ferry::copyd
