#include "controller/planner.h"

#include <string>
#include <vector>

#include "controller/test_util.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using testing::Directory;
using testing::RegularFile;

TransferRecord NewRecord(const std::string& source = "/src",
                         const std::string& destination = "/dst") {
  TransferRecord record;
  v1::Transfer* transfer = record.mutable_transfer();
  transfer->set_id(TransferId(5));
  transfer->set_user("alice");
  transfer->set_priority(v1::PRIORITY_CLASS_GUARANTEED);
  transfer->mutable_source()->set_cluster("local");
  transfer->mutable_source()->set_path(source);
  v1::Location* to = transfer->add_destinations();
  to->set_cluster("local");
  to->set_path(destination);
  record.set_number(5);
  return record;
}

v1::FileInfo Symlink(const std::string& path, const std::string& target) {
  v1::FileInfo info;
  info.set_path(path);
  info.set_type(v1::FILE_TYPE_SYMLINK);
  info.set_size(target.size());
  info.set_symlink_target(target);
  return info;
}

// The relative paths of each task's files, task by task.
std::vector<std::vector<std::string>> Layout(const std::vector<TaskRecord>& tasks) {
  std::vector<std::vector<std::string>> layout;
  for (const TaskRecord& task : tasks) {
    layout.emplace_back();
    for (const v1::FileTask& file : task.files()) {
      layout.back().push_back(file.source_info().path());
    }
  }
  return layout;
}

using Layouts = std::vector<std::vector<std::string>>;

TEST(PlannerTest, BatchesSmallFilesUpToTheFileLimit) {
  TransferRecord record = NewRecord();
  PlanLimits limits;
  limits.max_files_per_task = 3;
  std::vector<v1::FileInfo> entries;
  for (const char* name : {"a", "b", "c", "d", "e", "f", "g"}) {
    entries.push_back(RegularFile(name, 1));
  }
  const std::vector<TaskRecord> tasks = PlanEntries(entries, limits, &record);
  EXPECT_EQ(Layout(tasks), (Layouts{{"a", "b", "c"}, {"d", "e", "f"}, {"g"}}));
  for (size_t i = 0; i < tasks.size(); ++i) EXPECT_EQ(tasks[i].seq(), i);
  EXPECT_EQ(record.next_task_seq(), 3u);
  EXPECT_EQ(record.open_tasks(), 3);
}

TEST(PlannerTest, BatchesUpToTheByteLimitInclusive) {
  TransferRecord record = NewRecord();
  PlanLimits limits;
  limits.max_bytes_per_task = 100;
  const std::vector<TaskRecord> tasks = PlanEntries(
      {RegularFile("a", 40), RegularFile("b", 40), RegularFile("c", 40),
       RegularFile("d", 50), RegularFile("e", 10), RegularFile("f", 1)},
      limits, &record);
  // a+b = 80; +c would be 120. c+d+e = 100 exactly fits; f starts the next.
  EXPECT_EQ(Layout(tasks), (Layouts{{"a", "b"}, {"c", "d", "e"}, {"f"}}));
}

TEST(PlannerTest, AFileOverTheByteLimitTravelsAlone) {
  TransferRecord record = NewRecord();
  PlanLimits limits;
  limits.max_bytes_per_task = 100;
  const std::vector<TaskRecord> tasks = PlanEntries(
      {RegularFile("a", 10), RegularFile("big1", 500), RegularFile("b", 10),
       Directory("d"), RegularFile("d/empty", 0), RegularFile("d/big2", 101),
       Directory("e"), RegularFile("e/big3", 200), RegularFile("e/c", 10)},
      limits, &record);
  // Entries without bytes (directories, empty files) do not ride along with a big file
  // either, before or after it.
  EXPECT_EQ(Layout(tasks), (Layouts{{"a"},
                                    {"big1"},
                                    {"b", "d", "d/empty"},
                                    {"d/big2"},
                                    {"e"},
                                    {"e/big3"},
                                    {"e/c"}}));
  EXPECT_EQ(record.open_tasks(), 7);
}

TEST(PlannerTest, MapsPathsUnderSourceAndDestinationIncludingTheRoot) {
  TransferRecord record = NewRecord("/data/in", "/backup/out");
  const v1::FileInfo file = RegularFile("sub/x.bin", 7);
  const std::vector<TaskRecord> tasks =
      PlanEntries({Directory(""), Directory("sub"), file}, PlanLimits(), &record);
  ASSERT_EQ(tasks.size(), 1u);
  ASSERT_EQ(tasks[0].files_size(), 3);
  // The root entry "" is the source itself and lands on the destination path itself.
  EXPECT_EQ(tasks[0].files(0).source_path(), "/data/in");
  EXPECT_EQ(tasks[0].files(0).destination_path(), "/backup/out");
  EXPECT_EQ(tasks[0].files(1).source_path(), "/data/in/sub");
  EXPECT_EQ(tasks[0].files(1).destination_path(), "/backup/out/sub");
  EXPECT_EQ(tasks[0].files(2).source_path(), "/data/in/sub/x.bin");
  EXPECT_EQ(tasks[0].files(2).destination_path(), "/backup/out/sub/x.bin");
  EXPECT_EQ(tasks[0].files(2).source_info().size(), 7u);
  EXPECT_EQ(tasks[0].files(2).length(), 7u);
  EXPECT_EQ(tasks[0].files(1).length(), 0u);
}

TEST(PlannerTest, DestinationAtTheRootOfTheCluster) {
  TransferRecord record = NewRecord("/src", "/");
  EXPECT_EQ(DestinationPathFor(record.transfer(), ""), "/");
  EXPECT_EQ(DestinationPathFor(record.transfer(), "a/b"), "/a/b");
  record = NewRecord("/src/file.txt", "/dst/copy.txt");
  EXPECT_EQ(DestinationPathFor(record.transfer(), ""), "/dst/copy.txt");
}

TEST(PlannerTest, TasksCarryTheTransfersSchedulingFields) {
  TransferRecord record = NewRecord();
  record.set_next_task_seq(40);
  const std::vector<TaskRecord> tasks =
      PlanEntries({RegularFile("a", 1)}, PlanLimits(), &record);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].transfer_id(), TransferId(5));
  EXPECT_EQ(tasks[0].seq(), 40u);
  EXPECT_EQ(tasks[0].kind(), v1::TASK_KIND_COPY_FILES);
  EXPECT_EQ(tasks[0].state(), TASK_STATE_QUEUED);
  EXPECT_EQ(tasks[0].priority(), v1::PRIORITY_CLASS_GUARANTEED);
  EXPECT_EQ(tasks[0].user(), "alice");
  EXPECT_EQ(tasks[0].transfer_number(), 5u);
  EXPECT_EQ(tasks[0].attempts(), 0);
  EXPECT_EQ(record.next_task_seq(), 41u);
}

TEST(PlannerTest, CountersCountEveryEntryButOnlyRegularBytes) {
  TransferRecord record = NewRecord();
  PlanLimits limits;
  limits.max_files_per_task = 2;
  PlanEntries({Directory(""), RegularFile("a", 1000), Symlink("l", "a-target")}, limits,
              &record);
  const v1::TransferProgress& progress = record.transfer().progress();
  EXPECT_EQ(progress.files_total(), 3);
  EXPECT_EQ(progress.bytes_total(), 1000);  // The symlink's text length is not data.
  EXPECT_EQ(record.open_tasks(), 2);

  // A second page adds to the counters and continues the sequence.
  const std::vector<TaskRecord> more =
      PlanEntries({RegularFile("b", 24)}, limits, &record);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].seq(), 2u);
  EXPECT_EQ(record.transfer().progress().files_total(), 4);
  EXPECT_EQ(record.transfer().progress().bytes_total(), 1024);
  EXPECT_EQ(record.open_tasks(), 3);
}

TEST(PlannerTest, AnEmptyPagePlansNothing) {
  TransferRecord record = NewRecord();
  EXPECT_TRUE(PlanEntries({}, PlanLimits(), &record).empty());
  EXPECT_EQ(record.next_task_seq(), 0u);
  EXPECT_EQ(record.open_tasks(), 0);
  EXPECT_EQ(record.transfer().progress().files_total(), 0);
}

}  // namespace
}  // namespace ferry::controller
