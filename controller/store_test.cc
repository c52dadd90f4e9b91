#include "controller/store.h"

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "controller/records.pb.h"
#include "controller/test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::MakeTempDir;

std::unique_ptr<Store> OpenOrDie(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Keys of `family` in scan order.
std::vector<std::string> Keys(const Store& store, Family family) {
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(family);
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return keys;
}

TransferRecord SampleRecord() {
  TransferRecord record;
  record.mutable_transfer()->set_id(TransferId(7));
  record.mutable_transfer()->set_user("alice");
  record.mutable_transfer()->set_state(v1::TRANSFER_STATE_RUNNING);
  (*record.mutable_transfer()->mutable_labels())["team"] = "storage";
  record.set_list_cursor("a/b/c");
  record.set_next_task_seq(12);
  record.set_open_tasks(3);
  record.set_number(7);
  return record;
}

TEST(StoreTest, OpenCreatesEveryFamilyAndRecordsTheSchema) {
  std::unique_ptr<Store> store = OpenOrDie(MakeTempDir());
  ASSERT_NE(store, nullptr);
  const std::vector<std::pair<Family, std::string>> families = {
      {Family::kMeta, "default"},     {Family::kTransfers, "transfers"},
      {Family::kRequestIds, "request_ids"}, {Family::kTasks, "tasks"},
      {Family::kQueue, "queue"},      {Family::kLeases, "leases"},
      {Family::kDelayed, "delayed"},  {Family::kFiles, "files"},
      {Family::kDeferred, "deferred"}, {Family::kInodes, "inodes"}};
  for (const auto& [family, name] : families) {
    ASSERT_NE(store->Handle(family), nullptr) << name;
    EXPECT_EQ(store->Handle(family)->GetName(), name);
  }
  absl::StatusOr<std::string> version = store->GetRaw(Family::kMeta, "schema_version");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, std::to_string(kSchemaVersion));
}

TEST(StoreTest, GetOfAMissingKeyIsNotFound) {
  std::unique_ptr<Store> store = OpenOrDie(MakeTempDir());
  ASSERT_NE(store, nullptr);
  TransferRecord record;
  EXPECT_TRUE(absl::IsNotFound(store->Get(Family::kTransfers, TransferId(1), &record)));
  EXPECT_TRUE(absl::IsNotFound(store->GetRaw(Family::kTasks, "nothing").status()));
}

TEST(StoreTest, PutIsInvisibleUntilCommitThenRoundTrips) {
  std::unique_ptr<Store> store = OpenOrDie(MakeTempDir());
  ASSERT_NE(store, nullptr);
  const TransferRecord written = SampleRecord();
  rocksdb::WriteBatch batch;
  store->Put(&batch, Family::kTransfers, written.transfer().id(), written);
  TransferRecord read;
  EXPECT_TRUE(absl::IsNotFound(store->Get(Family::kTransfers, written.transfer().id(), &read)));

  FERRY_ASSERT_OK(store->Commit(&batch, Durability::kSynced));
  FERRY_ASSERT_OK(store->Get(Family::kTransfers, written.transfer().id(), &read));
  EXPECT_TRUE(MessageDifferencer::Equals(read, written)) << read.DebugString();
  // Families are separate key spaces.
  EXPECT_TRUE(absl::IsNotFound(store->GetRaw(Family::kTasks, written.transfer().id()).status()));
}

TEST(StoreTest, OneBatchCommitsWritesToSeveralFamiliesTogether) {
  std::unique_ptr<Store> store = OpenOrDie(MakeTempDir());
  ASSERT_NE(store, nullptr);
  TaskRecord task;
  task.set_transfer_id(TransferId(1));
  task.set_seq(3);
  task.set_state(TASK_STATE_QUEUED);
  const std::string task_key = TaskKey(task.transfer_id(), task.seq());
  rocksdb::WriteBatch batch;
  store->Put(&batch, Family::kTasks, task_key, task);
  batch.Put(store->Handle(Family::kQueue), QueueKey(2, "alice", 1, 3), task_key);
  FERRY_ASSERT_OK(store->Commit(&batch, Durability::kProcessCrashSafe));

  TaskRecord read;
  FERRY_EXPECT_OK(store->Get(Family::kTasks, task_key, &read));
  EXPECT_EQ(read.seq(), 3u);
  absl::StatusOr<std::string> queued = store->GetRaw(Family::kQueue, QueueKey(2, "alice", 1, 3));
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(*queued, task_key);
}

TEST(StoreTest, UnparsableRecordIsDataLoss) {
  std::unique_ptr<Store> store = OpenOrDie(MakeTempDir());
  ASSERT_NE(store, nullptr);
  rocksdb::WriteBatch batch;
  // Field 1, length-delimited, claims 5 bytes but carries 2.
  batch.Put(store->Handle(Family::kTransfers), "t-bad", std::string("\x0a\x05" "ab", 4));
  FERRY_ASSERT_OK(store->Commit(&batch, Durability::kSynced));
  TransferRecord record;
  EXPECT_EQ(store->Get(Family::kTransfers, "t-bad", &record).code(),
            absl::StatusCode::kDataLoss);
}

TEST(StoreTest, QueueKeysSortByPriorityThenUserThenTransferNumberThenSeq) {
  std::unique_ptr<Store> store = OpenOrDie(MakeTempDir());
  ASSERT_NE(store, nullptr);
  // Numbers chosen where decimal or unpadded encodings would sort wrongly.
  // priority, user, number, seq. "al" must sort before "alice" (the \0 separator).
  using Entry = std::tuple<int, std::string, uint64_t, uint64_t>;
  std::vector<Entry> entries;
  for (int priority : {v1::PRIORITY_CLASS_BEST_EFFORT, v1::PRIORITY_CLASS_BATCH,
                       v1::PRIORITY_CLASS_GUARANTEED}) {
    for (const char* user : {"al", "alice", "bob"}) {
      for (uint64_t number : {1ull, 9ull, 10ull, 16ull, 255ull, 256ull, 1ull << 40}) {
        for (uint64_t seq : {0ull, 2ull, 15ull, 16ull, 4096ull}) {
          entries.emplace_back(priority, user, number, seq);
        }
      }
    }
  }
  std::vector<Entry> shuffled = entries;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(42));
  rocksdb::WriteBatch batch;
  for (const auto& [priority, user, number, seq] : shuffled) {
    batch.Put(store->Handle(Family::kQueue), QueueKey(priority, user, number, seq), "");
  }
  FERRY_ASSERT_OK(store->Commit(&batch, Durability::kProcessCrashSafe));

  // What the scheduler needs: higher priority first, then each user's queue together,
  // then older transfer, then seq.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::make_tuple(-std::get<0>(a), std::get<1>(a), std::get<2>(a), std::get<3>(a)) <
           std::make_tuple(-std::get<0>(b), std::get<1>(b), std::get<2>(b), std::get<3>(b));
  });
  std::vector<std::string> expected;
  for (const auto& [priority, user, number, seq] : entries) {
    expected.push_back(QueueKey(priority, user, number, seq));
  }
  EXPECT_EQ(Keys(*store, Family::kQueue), expected);
}

TEST(StoreTest, TransferIdsSortByNumberAndTaskKeysBySeqWithinTheirTransfer) {
  std::unique_ptr<Store> store = OpenOrDie(MakeTempDir());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(TransferId(42), "t-0000000000000042");
  const std::vector<uint64_t> numbers = {1, 2, 9, 10, 11, 99, 100, 12345678};
  const std::vector<uint64_t> seqs = {0, 1, 15, 16, 255, 256};
  rocksdb::WriteBatch batch;
  for (auto number = numbers.rbegin(); number != numbers.rend(); ++number) {
    batch.Put(store->Handle(Family::kTransfers), TransferId(*number), "");
    for (auto seq = seqs.rbegin(); seq != seqs.rend(); ++seq) {
      batch.Put(store->Handle(Family::kTasks), TaskKey(TransferId(*number), *seq), "");
    }
  }
  FERRY_ASSERT_OK(store->Commit(&batch, Durability::kProcessCrashSafe));

  std::vector<std::string> expected_ids, expected_tasks;
  for (uint64_t number : numbers) {
    expected_ids.push_back(TransferId(number));
    for (uint64_t seq : seqs) expected_tasks.push_back(TaskKey(TransferId(number), seq));
  }
  EXPECT_EQ(Keys(*store, Family::kTransfers), expected_ids);
  // The tasks of one transfer are contiguous and in seq order (CancelTransfer scans
  // them by prefix).
  EXPECT_EQ(Keys(*store, Family::kTasks), expected_tasks);
}

TEST(StoreTest, RequestIdKeysDoNotCollideAcrossUsers) {
  EXPECT_NE(RequestIdKey("a", "bc"), RequestIdKey("ab", "c"));
  EXPECT_EQ(RequestIdKey("alice", "r1"), std::string("alice\0r1", 8));
}

TEST(StoreTest, DataSurvivesCloseAndReopen) {
  const std::string dir = MakeTempDir();
  const TransferRecord written = SampleRecord();
  {
    std::unique_ptr<Store> store = OpenOrDie(dir);
    ASSERT_NE(store, nullptr);
    rocksdb::WriteBatch synced;
    store->Put(&synced, Family::kTransfers, written.transfer().id(), written);
    FERRY_ASSERT_OK(store->Commit(&synced, Durability::kSynced));
    rocksdb::WriteBatch unsynced;
    unsynced.Put(store->Handle(Family::kLeases), "t-0000000000000007/0000000000000001", "");
    FERRY_ASSERT_OK(store->Commit(&unsynced, Durability::kProcessCrashSafe));
  }
  std::unique_ptr<Store> store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  TransferRecord read;
  FERRY_ASSERT_OK(store->Get(Family::kTransfers, written.transfer().id(), &read));
  EXPECT_TRUE(MessageDifferencer::Equals(read, written)) << read.DebugString();
  EXPECT_EQ(Keys(*store, Family::kLeases),
            std::vector<std::string>{"t-0000000000000007/0000000000000001"});
}

TEST(StoreTest, SecondOpenOfALockedDirectoryIsUnavailable) {
  const std::string dir = MakeTempDir();
  std::unique_ptr<Store> first = OpenOrDie(dir);
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<Store>> second = Store::Open(dir);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

void WriteSchemaVersion(const std::string& dir, const std::string& version) {
  std::unique_ptr<Store> store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  rocksdb::WriteBatch batch;
  batch.Put(store->Handle(Family::kMeta), "schema_version", version);
  FERRY_ASSERT_OK(store->Commit(&batch, Durability::kSynced));
}

TEST(StoreTest, VersionOneDatabaseIsUpgradedOnOpen) {
  const std::string dir = MakeTempDir();
  WriteSchemaVersion(dir, "1");
  std::unique_ptr<Store> store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->GetRaw(Family::kMeta, "schema_version"), std::to_string(kSchemaVersion));
  EXPECT_EQ(store->Handle(Family::kFiles)->GetName(), "files");
}

// A database as a version 2 controller left it: eight families, no `deferred` or
// `inodes`.
void WriteVersionTwoDatabase(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : {"default", "transfers", "request_ids", "tasks", "queue",
                           "leases", "delayed", "files"}) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions(options));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir, families, &handles, &db).ok());
  EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[0], "schema_version", "2").ok());
  EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[7], "t-1/0", "kept").ok());
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
  delete db;
}

TEST(StoreTest, VersionTwoDatabaseGainsDeferredAndInodes) {
  const std::string dir = MakeTempDir();
  WriteVersionTwoDatabase(dir);
  std::unique_ptr<Store> store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->GetRaw(Family::kMeta, "schema_version"), "3");
  EXPECT_EQ(store->Handle(Family::kDeferred)->GetName(), "deferred");
  EXPECT_EQ(store->Handle(Family::kInodes)->GetName(), "inodes");
  EXPECT_EQ(*store->GetRaw(Family::kFiles, "t-1/0"), "kept");
}

TEST(StoreTest, DeferredKeysSortByPhaseThenSequence) {
  const std::string id = TransferId(3);
  EXPECT_EQ(DeferredKey(id, 2, 1), "t-0000000000000003/02/0000000000000001");
  EXPECT_LT(DeferredKey(id, 1, 0xffff), DeferredKey(id, 2, 0));
  EXPECT_LT(DeferredKey(id, 1, 9), DeferredKey(id, 1, 10));
  EXPECT_TRUE(absl::StartsWith(DeferredKey(id, 1, 5), DeferredPrefix(id, 1)));
  EXPECT_FALSE(absl::StartsWith(DeferredKey(id, 2, 5), DeferredPrefix(id, 1)));
  EXPECT_EQ(InodeKey(id, 0x801, 42), "t-0000000000000003/0000000000000801/000000000000002a");
}

TEST(StoreTest, DeleteTransferRangeLeavesOtherTransfers) {
  std::unique_ptr<Store> store = OpenOrDie(MakeTempDir());
  ASSERT_NE(store, nullptr);
  rocksdb::WriteBatch batch;
  for (uint64_t number : {1, 2, 3}) {
    batch.Put(store->Handle(Family::kDeferred), DeferredKey(TransferId(number), 1, 0), "");
    batch.Put(store->Handle(Family::kInodes), InodeKey(TransferId(number), 1, 2), "");
  }
  FERRY_ASSERT_OK(store->Commit(&batch, Durability::kSynced));
  rocksdb::WriteBatch drop;
  DeleteTransferRange(&drop, store->Handle(Family::kDeferred), TransferId(2));
  DeleteTransferRange(&drop, store->Handle(Family::kInodes), TransferId(2));
  FERRY_ASSERT_OK(store->Commit(&drop, Durability::kSynced));
  EXPECT_EQ(Keys(*store, Family::kDeferred),
            (std::vector<std::string>{DeferredKey(TransferId(1), 1, 0),
                                      DeferredKey(TransferId(3), 1, 0)}));
  EXPECT_EQ(Keys(*store, Family::kInodes),
            (std::vector<std::string>{InodeKey(TransferId(1), 1, 2),
                                      InodeKey(TransferId(3), 1, 2)}));
}

TEST(StoreTest, NewerSchemaIsFailedPrecondition) {
  const std::string dir = MakeTempDir();
  WriteSchemaVersion(dir, std::to_string(kSchemaVersion + 1));
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_NE(store.status().message().find(std::to_string(kSchemaVersion + 1)),
            absl::string_view::npos)
      << store.status();
  // The refused open released the database lock: trying again is refused the same way,
  // not with UNAVAILABLE.
  EXPECT_EQ(Store::Open(dir).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StoreTest, UnreadableSchemaVersionIsFailedPrecondition) {
  const std::string dir = MakeTempDir();
  WriteSchemaVersion(dir, "two");
  EXPECT_EQ(Store::Open(dir).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ferry::controller
