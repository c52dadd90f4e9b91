#include "controller/store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"

namespace ferry::controller {
namespace {

// Indexed by Family; "default" holds kMeta.
constexpr const char* kFamilyNames[] = {"default", "transfers", "request_ids", "tasks",
                                        "queue",   "leases",    "delayed",     "files",
                                        "deferred", "inodes"};
constexpr int kFamilyCount = 10;

}  // namespace

std::string TransferId(uint64_t number) { return absl::StrFormat("t-%016d", number); }

std::string TaskKey(absl::string_view transfer_id, uint64_t seq) {
  return absl::StrFormat("%s/%016x", transfer_id, seq);
}

std::string FileKey(absl::string_view transfer_id, uint64_t number) {
  return absl::StrFormat("%s/%016x", transfer_id, number);
}

std::string QueuePrefix(int priority, absl::string_view user) {
  std::string prefix(1, static_cast<char>(255 - priority));
  absl::StrAppend(&prefix, user, absl::string_view("\0", 1));
  return prefix;
}

std::string QueueKey(int priority, absl::string_view user, uint64_t transfer_number,
                     uint64_t seq) {
  std::string key = QueuePrefix(priority, user);
  absl::StrAppendFormat(&key, "%016x/%016x", transfer_number, seq);
  return key;
}

std::string RequestIdKey(absl::string_view user, absl::string_view request_id) {
  return absl::StrCat(user, absl::string_view("\0", 1), request_id);
}

std::string DeferredPrefix(absl::string_view transfer_id, int phase) {
  return absl::StrFormat("%s/%02x/", transfer_id, phase);
}

std::string DeferredKey(absl::string_view transfer_id, int phase, uint64_t seq) {
  return absl::StrFormat("%s/%02x/%016x", transfer_id, phase, seq);
}

std::string FailedDirectoryKey(absl::string_view transfer_id,
                               absl::string_view destination_path) {
  return absl::StrCat(DeferredPrefix(transfer_id, 0), destination_path);
}

std::string InodeKey(absl::string_view transfer_id, uint64_t device, uint64_t inode) {
  return absl::StrFormat("%s/%016x/%016x", transfer_id, device, inode);
}

void DeleteTransferRange(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* family,
                         absl::string_view transfer_id) {
  // '0' is the byte after '/': [id "/", id "0") holds exactly the transfer's keys.
  batch->DeleteRange(family, absl::StrCat(transfer_id, "/"), absl::StrCat(transfer_id, "0"));
}

absl::Status FromRocksStatus(const rocksdb::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  return absl::UnavailableError(message);
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  // Point lookups of task and transfer records dominate; bloom filters keep them from
  // reading SST blocks that cannot hold the key.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : kFamilyNames) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions(options));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(options, dir, families, &handles, &raw_db);
  if (!status.ok()) return FromRocksStatus(status, absl::StrCat("open ", dir));
  std::unique_ptr<Store> store(new Store(std::unique_ptr<rocksdb::DB>(raw_db), handles));
  if (absl::Status schema = store->CheckSchema(); !schema.ok()) return schema;
  return store;
}

Store::Store(std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : db_(std::move(db)), handles_(std::move(handles)) {}

Store::~Store() {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle);
  }
  db_->Close();
}

absl::Status Store::CheckSchema() {
  absl::StatusOr<std::string> version = GetRaw(Family::kMeta, "schema_version");
  if (absl::IsNotFound(version.status())) {
    rocksdb::WriteBatch batch;
    batch.Put(Handle(Family::kMeta), "schema_version", absl::StrCat(kSchemaVersion));
    return Commit(&batch, Durability::kSynced);
  }
  if (!version.ok()) return version.status();
  int found = 0;
  if (!absl::SimpleAtoi(*version, &found) || found > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data_dir has schema version ", *version, "; this controller knows up to ",
        kSchemaVersion));
  }
  if (found == kSchemaVersion) return absl::OkStatus();
  // 1 -> 2 added the `files` family, 2 -> 3 `deferred` and `inodes`; the open created
  // them.
  rocksdb::WriteBatch batch;
  batch.Put(Handle(Family::kMeta), "schema_version", absl::StrCat(kSchemaVersion));
  return Commit(&batch, Durability::kSynced);
}

rocksdb::ColumnFamilyHandle* Store::Handle(Family family) const {
  return handles_[static_cast<int>(family)];
}

absl::StatusOr<std::string> Store::GetRaw(Family family, absl::string_view key) const {
  std::string value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), Handle(family), rocksdb::Slice(key.data(), key.size()),
               &value);
  if (!status.ok()) return FromRocksStatus(status, absl::StrCat("get ", key));
  return value;
}

absl::Status Store::Get(Family family, absl::string_view key,
                        google::protobuf::Message* record) const {
  absl::StatusOr<std::string> value = GetRaw(family, key);
  if (!value.ok()) return value.status();
  if (!record->ParseFromString(*value)) {
    return absl::DataLossError(absl::StrCat("unparsable record at ", key));
  }
  return absl::OkStatus();
}

void Store::Put(rocksdb::WriteBatch* batch, Family family, absl::string_view key,
                const google::protobuf::Message& record) const {
  batch->Put(Handle(family), rocksdb::Slice(key.data(), key.size()),
             record.SerializeAsString());
}

absl::Status Store::Commit(rocksdb::WriteBatch* batch, Durability durability) {
  rocksdb::WriteOptions options;
  options.sync = durability == Durability::kSynced;
  return FromRocksStatus(db_->Write(options, batch), "write batch");
}

std::unique_ptr<rocksdb::Iterator> Store::NewIterator(Family family) const {
  return std::unique_ptr<rocksdb::Iterator>(
      db_->NewIterator(rocksdb::ReadOptions(), Handle(family)));
}

std::optional<uint64_t> Store::GetIntProperty(absl::string_view name,
                                              bool all_families) const {
  const rocksdb::Slice property(name.data(), name.size());
  uint64_t value = 0;
  const bool known = all_families ? db_->GetAggregatedIntProperty(property, &value)
                                  : db_->GetIntProperty(property, &value);
  if (!known) return std::nullopt;
  return value;
}

static_assert(sizeof(kFamilyNames) / sizeof(kFamilyNames[0]) == kFamilyCount);

}  // namespace ferry::controller
