// ChunkSource: where FileCopier reads a task's source from.
//
//  - LocalChunkSource: the source is this copyd's own storage root (Task.
//    source_data_addresses empty): pread through the FileCopier's one buffer, within the
//    file's data extents only.
//  - RemoteChunkSource: the source lives in another cluster (pull): DataService.Stat and
//    DataService.ReadChunk of that cluster's copyds (Task.source_data_addresses). Blocks
//    of 1 MiB arrive in one reused message; each block's CRC32C is recomputed and
//    compared before any of it is written, its offset must continue the previous block
//    and the stream must end exactly at the end of the range: a missing, duplicated or
//    short block is DATA_LOSS (naming the path and offset). A block whose CRC32C does not
//    match is asked for again (a new stream from its offset, up to kMaxBlockRefetches
//    times per read) before the read fails with DATA_LOSS naming the path and offset.
//    The bytes go to the sink in pieces of at most 256 KiB (larger writes into fresh page
//    cache are much slower here, see shared/notes/data-path.md). UNAVAILABLE from one
//    address moves the rest of the range to the next address (each address tried once
//    per read).
//
// Holes: both sources skip the holes of a sparse source (the remote one receives them
// as hole blocks); the sink sees only data, so what it writes into keeps the holes, and
// the caller sets the final size. The CRC32C returned covers the holes as zeros.
//
// Both check the planned stat (size and mtime) before and after the read (the remote
// one through the server, which checks the open file after the last block):
// FAILED_PRECONDITION "source changed" otherwise.
//
// Thread safety: a ChunkSource is used by one FileCopier thread; DataChannels is shared.
#ifndef FERRY_COPYD_CHUNK_SOURCE_H_
#define FERRY_COPYD_CHUNK_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/security/credentials.h"
#include "google/protobuf/repeated_field.h"
#include "proto/data_service.grpc.pb.h"
#include "proto/worker_service.pb.h"
#include "storage/file_system.h"

namespace ferry::copyd {

// Most bytes handed to a sink at once.
inline constexpr size_t kMaxSinkPiece = 256 << 10;
// Block size asked of a remote DataService.
inline constexpr uint32_t kRemoteBlockSize = 1 << 20;
// Times one read asks again for a block whose CRC32C did not match before it fails.
inline constexpr int kMaxBlockRefetches = 3;

// OK if `now` has the planned size and mtime of `file`, else FAILED_PRECONDITION
// "source changed since it was planned (`what`): <source path>".
absl::Status CheckPlannedStat(const storage::FileInfo& now, const v1::FileTask& file,
                              absl::string_view what);

class ChunkSource {
 public:
  // Receives the bytes of a range in order: `offset` is the file offset of `data`.
  using Sink = absl::FunctionRef<absl::Status(uint64_t offset, absl::string_view data)>;

  virtual ~ChunkSource() = default;

  // lstat of the source `file.source_path()` (`path` is its root-relative form).
  virtual absl::StatusOr<storage::FileInfo> Stat(const v1::FileTask& file,
                                                 const std::string& path) = 0;

  // Reads [offset, offset + length) of the source file of `file` (planned stat in
  // file.source_info()) into `sink`; its CRC32C. CANCELLED once `*abort` (may be null)
  // is true.
  virtual absl::StatusOr<uint32_t> Read(const v1::FileTask& file, const std::string& path,
                                        uint64_t offset, uint64_t length,
                                        const std::atomic<bool>* abort, Sink sink) = 0;

  // Copies [offset, offset + length) of the source into the same range of `target`,
  // keeping holes; its CRC32C (of the source's bytes), as Read. `bytes_done` (may be
  // null) advances as data lands. Default: Read into positional writes.
  virtual absl::StatusOr<uint32_t> CopyInto(const v1::FileTask& file, const std::string& path,
                                            uint64_t offset, uint64_t length,
                                            const std::atomic<bool>* abort,
                                            std::atomic<int64_t>* bytes_done,
                                            storage::WritableFile& target);
};

class LocalChunkSource final : public ChunkSource {
 public:
  static constexpr uint64_t kCopyPiece = 64 << 20;

  // `fs` and `buffer` (non-empty) must outlive the source; `copy_piece` > 0 is the most
  // CopyInto copies before it checks for an abort.
  LocalChunkSource(storage::FileSystem* fs, std::vector<char>* buffer,
                   uint64_t copy_piece = kCopyPiece)
      : fs_(fs), buffer_(buffer), copy_piece_(copy_piece) {}

  absl::StatusOr<storage::FileInfo> Stat(const v1::FileTask& file,
                                         const std::string& path) override;
  absl::StatusOr<uint32_t> Read(const v1::FileTask& file, const std::string& path,
                                uint64_t offset, uint64_t length,
                                const std::atomic<bool>* abort, Sink sink) override;
  // Within one root the bytes never pass through this process: WritableFile::CopyFrom
  // (copy_file_range on POSIX) in pieces of copy_piece, each followed by a CRC32C of the
  // same source range (warm in the page cache), so an abort is noticed between pieces.
  absl::StatusOr<uint32_t> CopyInto(const v1::FileTask& file, const std::string& path,
                                    uint64_t offset, uint64_t length,
                                    const std::atomic<bool>* abort,
                                    std::atomic<int64_t>* bytes_done,
                                    storage::WritableFile& target) override;

 private:
  // Extends the CRC32C `crc` over [at, at + n) of the open source, doing what the
  // caller wants with those bytes.
  using PieceFn = absl::FunctionRef<absl::StatusOr<uint32_t>(
      storage::ReadableFile& input, uint64_t at, uint64_t n, uint32_t crc)>;
  // Opens the source, checks the planned stat, runs `piece` over [offset, offset +
  // length) in pieces of copy_piece_ (checking for an abort between them), checks the
  // planned stat again; the range's CRC32C.
  absl::StatusOr<uint32_t> ReadInPieces(const v1::FileTask& file, const std::string& path,
                                        uint64_t offset, uint64_t length,
                                        const std::atomic<bool>* abort, PieceFn piece);
  // Opens the source and checks it against the planned stat.
  absl::StatusOr<std::unique_ptr<storage::ReadableFile>> OpenPlanned(const v1::FileTask& file,
                                                                     const std::string& path);
  // CRC32C of [offset, offset + length) of `input`, holes as zeros; extends `crc`.
  absl::StatusOr<uint32_t> ExtendCrc(const v1::FileTask& file, storage::ReadableFile& input,
                                     uint64_t offset, uint64_t length, uint32_t crc,
                                     const Sink* sink);
  // The planned-stat checks once the range is read: growth (a whole-file read) and the
  // open file's stat.
  absl::Status CheckAfter(const v1::FileTask& file, storage::ReadableFile& input,
                          uint64_t offset, uint64_t length);

  storage::FileSystem* const fs_;
  std::vector<char>* const buffer_;
  const uint64_t copy_piece_;
};

// DataService stubs of other clusters' copyds, one channel per address (max receive
// message size 64 MiB), created on first use with `credentials` and kept.
class DataChannels {
 public:
  // Plaintext channels: only for tests and the explicit unsafe mode.
  DataChannels();
  explicit DataChannels(std::shared_ptr<grpc::ChannelCredentials> credentials);
  // For tests: calls go to `stub` whatever the address.
  explicit DataChannels(std::unique_ptr<v1::DataService::StubInterface> stub);

  v1::DataService::StubInterface* StubFor(const std::string& address);

 private:
  absl::Mutex mu_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::unique_ptr<v1::DataService::StubInterface> fixed_;
  absl::flat_hash_map<std::string, std::unique_ptr<v1::DataService::StubInterface>> stubs_
      ABSL_GUARDED_BY(mu_);
};

class RemoteChunkSource final : public ChunkSource {
 public:
  // All pointers must outlive the source; `addresses` must not be empty; `block` is the
  // one message every block is received into.
  RemoteChunkSource(DataChannels* channels,
                    const google::protobuf::RepeatedPtrField<std::string>* addresses,
                    v1::DataBlock* block)
      : channels_(channels), addresses_(addresses), block_(block) {}

  absl::StatusOr<storage::FileInfo> Stat(const v1::FileTask& file,
                                         const std::string& path) override;
  absl::StatusOr<uint32_t> Read(const v1::FileTask& file, const std::string& path,
                                uint64_t offset, uint64_t length,
                                const std::atomic<bool>* abort, Sink sink) override;

 private:
  // One ReadChunk stream from `address` for [*next, end); advances *next and *crc by
  // the bytes verified and written.
  // *corrupt tells a block whose CRC32C did not match (worth refetching) from the
  // other failures.
  absl::Status ReadFrom(const std::string& address, const v1::FileTask& file, uint64_t end,
                        const std::atomic<bool>* abort, Sink sink, uint64_t* next,
                        uint32_t* crc, bool* corrupt);

  DataChannels* const channels_;
  const google::protobuf::RepeatedPtrField<std::string>* const addresses_;
  v1::DataBlock* const block_;
  size_t first_ = 0;  // Address to try first: the last one that answered.
};

// The whole-file sources of one task of many small files over ONE DataService.ReadFiles
// stream (one RPC instead of one per file: the per-call cost dominated small files).
// Built with the task's files expected to be read whole, in task order; the stream is
// opened at the first Read. Read of a listed file skips (receives and drops) listed
// files the copier no longer wants, then delivers that file's blocks with the same
// checks as RemoteChunkSource (contiguity, exact length, CRC32C per block). A file's
// own error (source changed, not found) comes from its end marker and leaves the
// stream usable. Anything else — a file not listed, a partial range, a file already
// passed, a corrupted block, a broken stream — is served by `single` (file by file,
// with its refetches and address failover), and once the stream broke, every later
// file is too; a file whose batched read failed midway is read again from its start,
// so its sink may see a range twice (positional writes make that harmless).
// Thread safety: one FileCopier thread.
class BatchedRemoteSource final : public ChunkSource {
 public:
  // All pointers must outlive the source; `files` point into the task.
  BatchedRemoteSource(RemoteChunkSource* single, DataChannels* channels,
                      const std::string& address, std::vector<const v1::FileTask*> files,
                      v1::DataBlock* block);
  ~BatchedRemoteSource() override;

  absl::StatusOr<storage::FileInfo> Stat(const v1::FileTask& file,
                                         const std::string& path) override;
  absl::StatusOr<uint32_t> Read(const v1::FileTask& file, const std::string& path,
                                uint64_t offset, uint64_t length,
                                const std::atomic<bool>* abort, Sink sink) override;

 private:
  void Open();
  // Cancels the stream; later reads go to `single`.
  void Abandon();
  // Receives the listed file `index` (skipping earlier ones); sets stream_failed_ when
  // the failure is the stream's rather than the file's.
  absl::StatusOr<uint32_t> Receive(size_t index, const v1::FileTask& file,
                                   const std::atomic<bool>* abort, Sink sink);

  RemoteChunkSource* const single_;
  DataChannels* const channels_;
  const std::string address_;
  const std::vector<const v1::FileTask*> files_;
  absl::flat_hash_map<const v1::FileTask*, size_t> index_of_;
  v1::DataBlock* const block_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderInterface<v1::DataBlock>> reader_;
  size_t streamed_ = 0;  // Listed files wholly received or skipped.
  bool broken_ = false;
  bool stream_failed_ = false;
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_CHUNK_SOURCE_H_
