// Store: the controller's RocksDB database, its column families and key encoding.
//
// Every state change of the controller is one WriteBatch applied through Commit, so a
// controller killed at any instant restarts into a consistent state. Durability is
// chosen per batch: kSynced fsyncs the WAL before returning (used before acknowledging
// a CreateTransfer or a cancel); kProcessCrashSafe leaves the WAL in the OS page cache,
// which survives SIGKILL of the controller but not a machine crash (used for the
// high-rate task transitions, whose loss only repeats idempotent work).
//
// Column families and keys (all keys are byte strings that sort in scan order):
//   transfers    TransferKey(id)                         -> TransferRecord
//   request_ids  user \0 request_id                      -> transfer id
//   tasks        transfer id / %016x seq                 -> TaskRecord
//   queue        (255 - priority) user \0 %016x transfer_number / %016x seq -> task key
//   delayed      %016x not_before_unix_ms task key         -> "" (retry backoff)
//   leases       task key                                -> "" (task is LEASED)
//   files        transfer id / %016x file number         -> FileRecord (chunked files)
//   deferred     transfer id / %02x phase / %016x seq    -> v1::FileTask: work the transfer
//                runs after its copying (FinalizePhase in records.proto);
//                transfer id / 00 / destination path   -> "": a directory whose copy
//                failed (phase 00 is never run)
//   inodes       transfer id / %016x device / %016x inode -> InodeRecord (hard links)
//   meta         "schema_version", "next_transfer_number"
//
// Thread safety: Store is safe for concurrent use (RocksDB is); callers serialize
// their read-modify-write sequences themselves.
#ifndef FERRY_CONTROLLER_STORE_H_
#define FERRY_CONTROLLER_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace ferry::controller {

enum class Family {
  kMeta, kTransfers, kRequestIds, kTasks, kQueue, kLeases, kDelayed, kFiles, kDeferred,
  kInodes
};

enum class Durability { kSynced, kProcessCrashSafe };

// 2: the `files` family (chunked files). 3: the `deferred` and `inodes` families (hard
// links, directory attributes). Opening an older database creates the families it
// lacks and records version 3; nothing else changes.
inline constexpr int kSchemaVersion = 3;

std::string TransferId(uint64_t number);
std::string TaskKey(absl::string_view transfer_id, uint64_t seq);
std::string FileKey(absl::string_view transfer_id, uint64_t number);
// The prefix shared by one user's queued tasks of one priority class.
std::string QueuePrefix(int priority, absl::string_view user);
std::string QueueKey(int priority, absl::string_view user, uint64_t transfer_number,
                     uint64_t seq);
std::string RequestIdKey(absl::string_view user, absl::string_view request_id);
// `phase` is a FinalizePhase number (0-255).
std::string DeferredPrefix(absl::string_view transfer_id, int phase);
std::string DeferredKey(absl::string_view transfer_id, int phase, uint64_t seq);
std::string FailedDirectoryKey(absl::string_view transfer_id,
                               absl::string_view destination_path);
std::string InodeKey(absl::string_view transfer_id, uint64_t device, uint64_t inode);
// Adds to `batch` the deletion of every key of transfer `transfer_id` in `family`, whose
// keys start with "<transfer id>/" (tasks, files, deferred, inodes).
void DeleteTransferRange(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* family,
                         absl::string_view transfer_id);

class Store {
 public:
  // Opens (creating if needed) the database in `dir`. FAILED_PRECONDITION if it was
  // written by a newer schema; UNAVAILABLE if RocksDB cannot open it (locked by another
  // controller, I/O error).
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir);
  ~Store();

  rocksdb::ColumnFamilyHandle* Handle(Family family) const;

  // Reads one record. NOT_FOUND if absent; DATA_LOSS if it does not parse.
  absl::Status Get(Family family, absl::string_view key,
                   google::protobuf::Message* record) const;
  absl::StatusOr<std::string> GetRaw(Family family, absl::string_view key) const;

  // Adds a Put of `record` to `batch`.
  void Put(rocksdb::WriteBatch* batch, Family family, absl::string_view key,
           const google::protobuf::Message& record) const;

  absl::Status Commit(rocksdb::WriteBatch* batch, Durability durability);

  // An iterator over one column family (caller owns it).
  std::unique_ptr<rocksdb::Iterator> NewIterator(Family family) const;

  // A RocksDB integer property (rocksdb/db.h, DB::Properties), e.g.
  // "rocksdb.is-write-stopped"; nullopt if RocksDB does not know it. Per-family
  // properties such as "rocksdb.total-sst-files-size" are summed over all families when
  // `all_families`, else read from the default (meta) family.
  std::optional<uint64_t> GetIntProperty(absl::string_view name,
                                         bool all_families = false) const;

 private:
  Store(std::unique_ptr<rocksdb::DB> db,
        std::vector<rocksdb::ColumnFamilyHandle*> handles);
  absl::Status CheckSchema();

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // Indexed by Family.
};

// Converts a RocksDB status: busy/IO errors are UNAVAILABLE (retry), corruption is
// DATA_LOSS.
absl::Status FromRocksStatus(const rocksdb::Status& status, absl::string_view what);

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_STORE_H_
