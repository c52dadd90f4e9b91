#include "controller/planner.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/test_util.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using testing::Directory;
using testing::HardLinkedFile;
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
  const std::vector<TaskRecord> tasks = PlanEntries(entries, limits, &record).tasks;
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
      limits, &record).tasks;
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
      limits, &record).tasks;
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
      PlanEntries({Directory(""), Directory("sub"), file}, PlanLimits(), &record).tasks;
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
      PlanEntries({RegularFile("a", 1)}, PlanLimits(), &record).tasks;
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
      PlanEntries({RegularFile("b", 24)}, limits, &record).tasks;
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].seq(), 2u);
  EXPECT_EQ(record.transfer().progress().files_total(), 4);
  EXPECT_EQ(record.transfer().progress().bytes_total(), 1024);
  EXPECT_EQ(record.open_tasks(), 3);
}

TEST(PlannerTest, AnEmptyPagePlansNothing) {
  TransferRecord record = NewRecord();
  const PlannedEntries plan = PlanEntries({}, PlanLimits(), &record);
  EXPECT_TRUE(plan.tasks.empty());
  EXPECT_TRUE(plan.files.empty());
  EXPECT_EQ(record.next_task_seq(), 0u);
  EXPECT_EQ(record.open_tasks(), 0);
  EXPECT_EQ(record.transfer().progress().files_total(), 0);
}

TEST(PlannerTest, AFileOverTheChunkSizeIsCopiedInChunksIntoOneTempFile) {
  TransferRecord record = NewRecord();
  PlanLimits limits;
  limits.chunk_bytes = 100;
  const PlannedEntries plan = PlanEntries(
      {RegularFile("a", 10), RegularFile("sub/big", 250), RegularFile("b", 10),
       RegularFile("exact", 100)},
      limits, &record);
  // Small files keep batching around the chunked one; a file of exactly one chunk is
  // not chunked.
  EXPECT_EQ(Layout(plan.tasks),
            (Layouts{{"a", "b", "exact"}, {"sub/big"}, {"sub/big"}, {"sub/big"}}));
  const std::string temp = "/dst/sub/.ferry-tmp.big." + TransferId(5) + "-0";
  for (uint32_t i = 0; i < 3; ++i) {
    const TaskRecord& chunk = plan.tasks[1 + i];
    EXPECT_EQ(chunk.kind(), v1::TASK_KIND_COPY_CHUNK);
    EXPECT_EQ(chunk.seq(), 1 + i);
    EXPECT_EQ(chunk.file_number(), 0u);
    EXPECT_EQ(chunk.chunk_index(), i);
    ASSERT_EQ(chunk.files_size(), 1);
    const v1::FileTask& range = chunk.files(0);
    EXPECT_EQ(range.offset(), 100 * i);
    EXPECT_EQ(range.length(), i < 2 ? 100u : 50u);
    EXPECT_EQ(range.temp_path(), temp);
    EXPECT_EQ(range.source_path(), "/src/sub/big");
    EXPECT_EQ(range.destination_path(), "/dst/sub/big");
    EXPECT_EQ(range.source_info().size(), 250u);
  }
  ASSERT_EQ(plan.files.size(), 1u);
  const FileRecord& file = plan.files[0];
  EXPECT_EQ(file.number(), 0u);
  EXPECT_EQ(file.state(), FILE_STATE_COPYING);
  EXPECT_EQ(file.chunk_bytes(), 100u);
  EXPECT_EQ(file.chunk_count(), 3u);
  EXPECT_EQ(file.first_chunk_seq(), 1u);
  EXPECT_EQ(file.open_chunks(), 3u);
  EXPECT_EQ(file.chunk_done_size(), 3);
  EXPECT_EQ(file.chunk_crc32c_size(), 3);
  EXPECT_EQ(file.file().length(), 250u);
  EXPECT_EQ(file.file().temp_path(), temp);
  EXPECT_FALSE(file.file().has_expected_crc32c());
  // The chunked file counts once.
  EXPECT_EQ(record.transfer().progress().files_total(), 4);
  EXPECT_EQ(record.transfer().progress().bytes_total(), 370);
  EXPECT_EQ(record.open_tasks(), 4);
  EXPECT_EQ(record.next_task_seq(), 4u);
  EXPECT_EQ(record.next_file_number(), 1u);
}

TEST(PlannerTest, ChunkTempPathIsBesideTheTargetAndFitsTheNameLimit) {
  EXPECT_EQ(ChunkTempPath("/big", "t-0000000000000001", 3),
            "/.ferry-tmp.big.t-0000000000000001-3");
  const std::string temp =
      ChunkTempPath("/dst/sub/" + std::string(255, 'x'), "t-0000000000000001", 12);
  ASSERT_EQ(temp.rfind('/'), 8u);
  EXPECT_EQ(temp.substr(0, 9), "/dst/sub/");
  EXPECT_EQ(temp.size() - 9, 255u);
  EXPECT_EQ(temp.substr(temp.size() - 22), ".t-0000000000000001-12");
}

TEST(PlannerTest, AHugeFileGetsLargerChunksRatherThanTooMany) {
  TransferRecord record = NewRecord();
  PlanLimits limits;
  limits.chunk_bytes = 100;
  const uint64_t size = kMaxChunksPerFile * 100 + 1;
  const PlannedEntries plan = PlanEntries({RegularFile("huge", size)}, limits, &record);
  ASSERT_EQ(plan.files.size(), 1u);
  EXPECT_LE(plan.files[0].chunk_count(), kMaxChunksPerFile);
  EXPECT_EQ(plan.tasks.size(), plan.files[0].chunk_count());
  uint64_t next = 0;
  for (const TaskRecord& chunk : plan.tasks) {
    EXPECT_EQ(chunk.files(0).offset(), next);
    next += chunk.files(0).length();
  }
  EXPECT_EQ(next, size);
}

TEST(PlannerTest, FileNumbersContinueAcrossPages) {
  TransferRecord record = NewRecord();
  PlanLimits limits;
  limits.chunk_bytes = 10;
  EXPECT_EQ(PlanEntries({RegularFile("a", 11)}, limits, &record).files[0].number(), 0u);
  const PlannedEntries second = PlanEntries({RegularFile("b", 30)}, limits, &record);
  EXPECT_EQ(second.files[0].number(), 1u);
  EXPECT_EQ(second.files[0].first_chunk_seq(), 2u);
  EXPECT_EQ(second.tasks[0].file_number(), 1u);
  EXPECT_EQ(second.tasks[0].files(0).temp_path(), "/dst/.ferry-tmp.b." + TransferId(5) + "-1");
}

// The index a test keeps across pages, as the store does between batches.
class MapHardLinkIndex : public HardLinkIndex {
 public:
  std::optional<std::string> Find(uint64_t device, uint64_t inode) override {
    auto it = first_.find({device, inode});
    if (it == first_.end()) return std::nullopt;
    return it->second;
  }
  void Record(uint64_t device, uint64_t inode, const std::string& path) override {
    first_[{device, inode}] = path;
  }
  std::map<std::pair<uint64_t, uint64_t>, std::string> first_;
};

TransferRecord HardLinkRecord() {
  TransferRecord record = NewRecord();
  record.mutable_transfer()->mutable_preserve()->set_hard_links(true);
  return record;
}

TEST(PlannerHardLinkTest, FirstNameIsCopiedFurtherNamesAreDeferredWithTheTarget) {
  TransferRecord record = HardLinkRecord();
  MapHardLinkIndex links;
  const PlannedEntries plan = PlanEntries(
      {HardLinkedFile("a", 10, 7), RegularFile("b", 5), HardLinkedFile("c", 10, 7, 3),
       HardLinkedFile("d", 10, 7, 3)},
      PlanLimits(), &record, &links);
  EXPECT_EQ(Layout(plan.tasks), (Layouts{{"a", "b"}}));
  EXPECT_EQ(links.first_, (std::map<std::pair<uint64_t, uint64_t>, std::string>{
                              {{9, 7}, "/dst/a"}}));
  ASSERT_EQ(plan.deferred.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const DeferredEntry& link = plan.deferred[i];
    EXPECT_EQ(link.phase, FINALIZE_PHASE_LINKS);
    EXPECT_EQ(link.seq, i);
    EXPECT_EQ(link.file.link_target(), "/dst/a");
    EXPECT_EQ(link.file.length(), 10u);
    EXPECT_EQ(link.file.source_info().inode(), 7u);
  }
  EXPECT_EQ(plan.deferred[0].file.source_path(), "/src/c");
  EXPECT_EQ(plan.deferred[1].file.destination_path(), "/dst/d");
  EXPECT_EQ(record.next_deferred_seq(), 2u);
  // Every name counts as a file; a further name's bytes are not copied.
  EXPECT_EQ(record.transfer().progress().files_total(), 4);
  EXPECT_EQ(record.transfer().progress().bytes_total(), 15);
  EXPECT_EQ(record.open_tasks(), 1);
}

TEST(PlannerHardLinkTest, AFurtherNameOnALaterPageFindsTheFirst) {
  TransferRecord record = HardLinkRecord();
  MapHardLinkIndex links;
  PlanLimits limits;
  limits.chunk_bytes = 4;  // The first name is chunked: it is still the link target.
  const PlannedEntries first =
      PlanEntries({HardLinkedFile("big", 10, 1)}, limits, &record, &links);
  EXPECT_EQ(first.files.size(), 1u);
  EXPECT_TRUE(first.deferred.empty());
  const PlannedEntries second =
      PlanEntries({HardLinkedFile("x/other", 10, 2), HardLinkedFile("x/big2", 10, 1)}, limits,
                  &record, &links);
  ASSERT_EQ(second.deferred.size(), 1u);
  EXPECT_EQ(second.deferred[0].file.link_target(), "/dst/big");
  EXPECT_EQ(second.deferred[0].file.destination_path(), "/dst/x/big2");
  EXPECT_EQ(second.files.size(), 1u);  // x/other, another inode, is chunked itself.
}

TEST(PlannerHardLinkTest, SingleLinksHardLinksOffAndNoIndexAreCopied) {
  const std::vector<v1::FileInfo> same_inode = {HardLinkedFile("a", 1, 7),
                                                HardLinkedFile("b", 1, 7)};
  {
    TransferRecord record = HardLinkRecord();
    MapHardLinkIndex links;
    const PlannedEntries plan =
        PlanEntries({HardLinkedFile("a", 1, 7, 1), HardLinkedFile("b", 1, 7, 1)}, PlanLimits(),
                    &record, &links);
    EXPECT_EQ(Layout(plan.tasks), (Layouts{{"a", "b"}}));
    EXPECT_TRUE(plan.deferred.empty());
    EXPECT_TRUE(links.first_.empty());
  }
  {
    TransferRecord record = NewRecord();  // preserve.hard_links off
    MapHardLinkIndex links;
    const PlannedEntries plan = PlanEntries(same_inode, PlanLimits(), &record, &links);
    EXPECT_EQ(Layout(plan.tasks), (Layouts{{"a", "b"}}));
    EXPECT_TRUE(plan.deferred.empty());
    EXPECT_TRUE(links.first_.empty());
  }
  {
    TransferRecord record = HardLinkRecord();
    const PlannedEntries plan = PlanEntries(same_inode, PlanLimits(), &record);
    EXPECT_EQ(Layout(plan.tasks), (Layouts{{"a", "b"}}));
    EXPECT_TRUE(plan.deferred.empty());
    EXPECT_EQ(record.transfer().progress().bytes_total(), 2);
  }
}

TEST(PlannerFinalizeTest, DirectoriesAreDeferredOnlyWithAPreserveFlag) {
  const std::vector<v1::FileInfo> entries = {Directory(""), RegularFile("a", 1),
                                             Directory("sub"), Symlink("l", "a")};
  TransferRecord plain = NewRecord();
  EXPECT_TRUE(PlanEntries(entries, PlanLimits(), &plain).deferred.empty());
  for (int flag = 0; flag < 3; ++flag) {
    TransferRecord record = NewRecord();
    v1::PreserveFlags* preserve = record.mutable_transfer()->mutable_preserve();
    if (flag == 0) preserve->set_mode(true);
    if (flag == 1) preserve->set_mtime(true);
    if (flag == 2) preserve->set_owner(true);
    const PlannedEntries plan = PlanEntries(entries, PlanLimits(), &record);
    // Still created by the copy; their attributes are set at the end.
    EXPECT_EQ(Layout(plan.tasks), (Layouts{{"", "a", "sub", "l"}}));
    ASSERT_EQ(plan.deferred.size(), 2u) << flag;
    EXPECT_EQ(plan.deferred[0].phase, FINALIZE_PHASE_DIRS);
    EXPECT_EQ(plan.deferred[0].file.destination_path(), "/dst");
    EXPECT_EQ(plan.deferred[1].file.destination_path(), "/dst/sub");
    EXPECT_EQ(plan.deferred[1].file.source_info().type(), v1::FILE_TYPE_DIRECTORY);
    EXPECT_EQ(record.transfer().progress().files_total(), 4);  // Not counted again.
  }
}

TEST(PlannerFinalizeTest, ADryRunDefersNothing) {
  TransferRecord record = HardLinkRecord();
  record.mutable_transfer()->set_dry_run(true);
  record.mutable_transfer()->mutable_preserve()->set_mode(true);
  MapHardLinkIndex links;
  const PlannedEntries plan = PlanEntries(
      {Directory(""), HardLinkedFile("a", 3, 7), HardLinkedFile("b", 3, 7)}, PlanLimits(),
      &record, &links);
  EXPECT_TRUE(plan.deferred.empty());
  EXPECT_TRUE(links.first_.empty());
  EXPECT_EQ(record.next_deferred_seq(), 0u);
  EXPECT_EQ(record.transfer().progress().files_total(), 3);
  EXPECT_EQ(record.transfer().progress().bytes_total(), 6);
}

TEST(StoreHardLinkIndexTest, SeesCommittedRecordsAndItsOwnAndWritesToTheBatch) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(testing::MakeTempDir());
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string id = TransferId(5);
  {
    rocksdb::WriteBatch batch;
    StoreHardLinkIndex index(store->get(), id, &batch);
    EXPECT_EQ(index.Find(1, 2), std::nullopt);
    index.Record(1, 2, "/dst/first");
    EXPECT_EQ(index.Find(1, 2), "/dst/first");  // Before the batch is committed.
    EXPECT_EQ(index.Find(1, 3), std::nullopt);
    FERRY_EXPECT_OK(index.status());
    FERRY_ASSERT_OK((*store)->Commit(&batch, Durability::kSynced));
  }
  rocksdb::WriteBatch batch;
  StoreHardLinkIndex later(store->get(), id, &batch);
  EXPECT_EQ(later.Find(1, 2), "/dst/first");
  StoreHardLinkIndex other_transfer(store->get(), TransferId(6), &batch);
  EXPECT_EQ(other_transfer.Find(1, 2), std::nullopt);
  EXPECT_EQ(batch.Count(), 0u);
}

}  // namespace
}  // namespace ferry::controller
