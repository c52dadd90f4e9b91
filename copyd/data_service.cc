#include "copyd/data_service.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/grpc_status.h"
#include "common/location.h"
#include "common/source_changed.h"
#include "common/utf8.h"
#include "copyd/extent_cursor.h"

namespace ferry::copyd {
namespace {

constexpr uint32_t kDefaultBlockSize = 1 << 20;
constexpr uint32_t kMinBlockSize = 4 << 10;
constexpr uint32_t kMaxBlockSize = 4 << 20;
// Data per DataBlock actually sent: a 4 MiB block plus its offset and CRC would exceed
// gRPC's default 4 MiB receive limit, which any plain client keeps; one 4 KiB page
// less keeps blocks page-aligned for the writer.
constexpr uint32_t kMaxBlockData = kMaxBlockSize - kMinBlockSize;
constexpr int kDefaultPageEntries = 1000;
constexpr int kMaxReadFiles = 1024;
constexpr int kMaxPageEntries = 10000;

v1::FileType ToProtoType(storage::FileType type) {
  switch (type) {
    case storage::FileType::kRegular:
      return v1::FILE_TYPE_REGULAR;
    case storage::FileType::kDirectory:
      return v1::FILE_TYPE_DIRECTORY;
    case storage::FileType::kSymlink:
      return v1::FILE_TYPE_SYMLINK;
    default:
      return v1::FILE_TYPE_OTHER;
  }
}

// The data bytes per block for a requested block_size (0: the server's choice):
// INVALID_ARGUMENT outside 4 KiB - 4 MiB.
absl::StatusOr<uint32_t> BlockDataSize(uint32_t requested) {
  const uint32_t block_size = requested == 0 ? kDefaultBlockSize : requested;
  if (block_size < kMinBlockSize || block_size > kMaxBlockSize) {
    return absl::InvalidArgumentError("block_size: must be 4 KiB - 4 MiB, or 0");
  }
  return std::min(block_size, kMaxBlockData);
}

// A write reactor that finishes with `status` at once (validation failed).
template <typename Message>
class FailedStream final : public grpc::ServerWriteReactor<Message> {
 public:
  explicit FailedStream(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// Where a ReadChunk stream reads from and what it must check.
struct ReadPlan {
  std::unique_ptr<storage::ReadableFile> file;
  std::string path;  // As requested, for messages.
  uint64_t offset = 0;
  uint64_t end = 0;
  uint32_t block_size = 0;
  bool check_version = false;  // expected_size / expected_mtime_ns were given.
  uint64_t expected_size = 0;
  int64_t expected_mtime_ns = 0;
};

// The blocks of [offset, end) of an open file: data blocks of at most block_size bytes
// within the file's data extents, one hole block for each gap between them. After the
// last block the file is checked against the planned stat once more, so a source
// modified during the stream ends it FAILED_PRECONDITION.
class FileStreamer {
 public:
  FileStreamer(ReadPlan plan, const DataServiceImpl::BlockHook* hook)
      : plan_(std::move(plan)), hook_(hook), cursor_(plan_.file.get(), plan_.offset, plan_.end) {}

  // Fills `block` with the next block (true), or checks the file once more at the end
  // of the range (false: the range is complete).
  absl::StatusOr<bool> Next(v1::DataBlock* block) {
    if (cursor_.position() >= plan_.end) {
      if (absl::Status s = Recheck(); !s.ok()) return s;
      return false;
    }
    if (absl::Status s = FillBlock(block); !s.ok()) return s;
    return true;
  }

 private:
  absl::Status Recheck() {
    if (!plan_.check_version) return absl::OkStatus();
    absl::StatusOr<storage::FileInfo> info = plan_.file->Stat();
    if (!info.ok()) return info.status();
    if (info->size != plan_.expected_size || info->mtime_ns != plan_.expected_mtime_ns) {
      return SourceChangedError(plan_.path, "modified while being read");
    }
    return absl::OkStatus();
  }

  // The next block: a hole up to the next data extent, or data.
  absl::Status FillBlock(v1::DataBlock* block) {
    ExtentCursor::Piece piece;
    absl::StatusOr<bool> more = cursor_.Next(plan_.block_size, &piece);
    if (!more.ok()) return more.status();
    block->set_offset(piece.offset);
    if (piece.hole) {
      block->mutable_data()->clear();  // Keeps its capacity for the next data block.
      block->set_crc32c(0);
      block->set_hole_length(piece.length);
      return absl::OkStatus();
    }
    std::string* data = block->mutable_data();
    data->resize(piece.length);  // Keeps its capacity from the previous block.
    absl::StatusOr<size_t> got = plan_.file->ReadAt(piece.offset, data->data(), piece.length);
    if (!got.ok()) return got.status();
    if (*got != piece.length) {
      return SourceChangedError(plan_.path, "file ended before the range");
    }
    block->set_hole_length(0);
    block->set_crc32c(Crc32c(*data));
    if (hook_ != nullptr && *hook_) (*hook_)(plan_.path, block);
    return absl::OkStatus();
  }

  ReadPlan plan_;
  const DataServiceImpl::BlockHook* const hook_;
  ExtentCursor cursor_;
};

// A server stream with one write outstanding: SendNext() starts the next write or
// finishes the call; a failed write means the reader went away (`gone` says who). The
// reactor deletes itself when done.
template <typename Message>
class OneWriteAtATimeReactor : public grpc::ServerWriteReactor<Message> {
 public:
  explicit OneWriteAtATimeReactor(const char* gone) : gone_(gone) {}

  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, gone_));
      return;
    }
    SendNext();
  }
  void OnDone() override { delete this; }

 protected:
  virtual void SendNext() = 0;

 private:
  const char* const gone_;
};

// ReadChunk: one file's range, one write outstanding; its outcome is the call's status.
class ReadChunkReactor final : public OneWriteAtATimeReactor<v1::DataBlock> {
 public:
  ReadChunkReactor(ReadPlan plan, const DataServiceImpl::BlockHook* hook)
      : OneWriteAtATimeReactor("reader went away"), streamer_(std::move(plan), hook) {
    SendNext();
  }

 private:
  void SendNext() override {
    absl::StatusOr<bool> more = streamer_.Next(&block_);
    if (!more.ok() || !*more) {
      Finish(ToGrpcStatus(more.status()));
      return;
    }
    StartWrite(&block_);
  }

  FileStreamer streamer_;
  v1::DataBlock block_;
};

absl::StatusOr<ReadPlan> OpenChecked(storage::FileSystem* fs, const std::string& request_path,
                                     uint64_t offset, uint64_t length,
                                     uint64_t expected_size, int64_t expected_mtime_ns);

// ReadFiles: whole files one after the other, each ended by an end_of_file block with
// its outcome; one write outstanding, one streamer (one open file) at a time.
class ReadFilesReactor final : public OneWriteAtATimeReactor<v1::DataBlock> {
 public:
  ReadFilesReactor(storage::FileSystem* fs, const v1::ReadFilesRequest* request,
                   uint32_t block_size, const DataServiceImpl::BlockHook* hook)
      : OneWriteAtATimeReactor("reader went away"),
        fs_(fs),
        request_(request),
        block_size_(block_size),
        hook_(hook) {
    SendNext();
  }

 private:
  void SendNext() override {
    if (index_ >= request_->files_size()) {
      Finish(grpc::Status::OK);
      return;
    }
    block_.Clear();  // Keeps the data buffer's capacity.
    block_.set_file_index(static_cast<uint32_t>(index_));
    absl::Status status = absl::OkStatus();
    if (streamer_ == nullptr) status = Open(request_->files(index_));
    if (status.ok()) {
      absl::StatusOr<bool> more = streamer_->Next(&block_);
      if (more.ok() && *more) {
        StartWrite(&block_);
        return;
      }
      status = more.status();
    }
    // The file is complete or failed: its end marker, then the next file.
    block_.clear_data();
    block_.set_offset(0);
    block_.set_crc32c(0);
    block_.set_hole_length(0);
    block_.set_end_of_file(true);
    block_.set_file_code(static_cast<int32_t>(status.code()));
    if (!status.ok()) block_.set_file_message(ToValidUtf8(status.message()));
    streamer_.reset();
    ++index_;
    StartWrite(&block_);
  }

  absl::Status Open(const v1::FileRead& file) {
    absl::StatusOr<ReadPlan> plan = OpenChecked(fs_, file.path(), 0, 0, file.expected_size(),
                                                file.expected_mtime_ns());
    if (!plan.ok()) return plan.status();
    plan->block_size = block_size_;
    streamer_ = std::make_unique<FileStreamer>(std::move(*plan), hook_);
    return absl::OkStatus();
  }

  storage::FileSystem* const fs_;
  const v1::ReadFilesRequest* const request_;
  const uint32_t block_size_;
  const DataServiceImpl::BlockHook* const hook_;
  int index_ = 0;
  std::unique_ptr<FileStreamer> streamer_;
  v1::DataBlock block_;
};

// Streams pages of a directory walk, one write outstanding.
class ListReactor final : public OneWriteAtATimeReactor<v1::ListResponse> {
 public:
  ListReactor(std::unique_ptr<storage::DirectoryWalker> walker, std::string base,
              int page_entries)
      : OneWriteAtATimeReactor("lister went away"),
        walker_(std::move(walker)),
        base_(std::move(base)),
        page_entries_(page_entries) {
    SendNext();
  }

 private:
  void SendNext() override {
    page_.Clear();
    storage::FileInfo entry;
    while (page_.entries_size() < page_entries_) {
      absl::StatusOr<bool> more = walker_->Next(&entry);
      if (!more.ok()) {
        Finish(ToGrpcStatus(more.status()));
        return;
      }
      if (!*more) break;
      *page_.add_entries() = ToProtoFileInfo(entry, base_);
    }
    if (page_.entries().empty()) {
      Finish(grpc::Status::OK);
      return;
    }
    page_.set_cursor(walker_->Cursor());
    StartWrite(&page_);
  }

  std::unique_ptr<storage::DirectoryWalker> walker_;
  const std::string base_;
  const int page_entries_;
  v1::ListResponse page_;
};

// Opens the requested file and checks the request (range, planned stat) against it.
absl::StatusOr<ReadPlan> OpenChecked(storage::FileSystem* fs, const std::string& request_path,
                                     uint64_t offset, uint64_t length,
                                     uint64_t expected_size, int64_t expected_mtime_ns) {
  absl::StatusOr<std::string> path = RootRelativePath(request_path, "path");
  if (!path.ok()) return path.status();
  ReadPlan plan;
  absl::StatusOr<std::unique_ptr<storage::ReadableFile>> file = fs->OpenForRead(*path);
  if (!file.ok()) return file.status();
  plan.file = std::move(*file);
  absl::StatusOr<storage::FileInfo> info = plan.file->Stat();
  if (!info.ok()) return info.status();
  plan.path = request_path;
  plan.check_version = expected_size != 0 || expected_mtime_ns != 0;
  plan.expected_size = expected_size;
  plan.expected_mtime_ns = expected_mtime_ns;
  if (plan.check_version &&
      (info->size != expected_size || info->mtime_ns != expected_mtime_ns)) {
    return SourceChangedError(request_path, "differs from the planned stat");
  }
  if (offset > info->size) {
    return absl::OutOfRangeError(absl::StrCat("offset: beyond end of file (",
                                              info->size, " bytes)"));
  }
  plan.offset = offset;
  plan.end = length == 0 ? info->size : offset + length;
  if (plan.end > info->size || plan.end < offset) {
    return absl::OutOfRangeError(absl::StrCat("length: range beyond end of file (",
                                              info->size, " bytes)"));
  }
  return plan;
}

}  // namespace

v1::FileInfo ToProtoFileInfo(const storage::FileInfo& info, absl::string_view base) {
  v1::FileInfo out;
  absl::string_view path = info.path;
  if (!base.empty() && absl::ConsumePrefix(&path, base)) absl::ConsumePrefix(&path, "/");
  out.set_path(std::string(path));
  out.set_type(ToProtoType(info.type));
  out.set_size(info.size);
  out.set_mode(info.mode);
  out.set_mtime_ns(info.mtime_ns);
  out.set_inode(info.inode);
  out.set_device(info.device);
  out.set_nlink(info.nlink);
  out.set_uid(info.uid);
  out.set_gid(info.gid);
  out.set_symlink_target(info.symlink_target);
  return out;
}

grpc::ServerWriteReactor<v1::DataBlock>* DataServiceImpl::ReadChunk(
    grpc::CallbackServerContext* /*context*/, const v1::ReadChunkRequest* request) {
  absl::StatusOr<uint32_t> block_size = BlockDataSize(request->block_size());
  if (!block_size.ok()) return new FailedStream<v1::DataBlock>(block_size.status());
  absl::StatusOr<ReadPlan> plan =
      OpenChecked(fs_, request->path(), request->offset(), request->length(),
                  request->expected_size(), request->expected_mtime_ns());
  if (!plan.ok()) return new FailedStream<v1::DataBlock>(plan.status());
  plan->block_size = *block_size;
  return new ReadChunkReactor(std::move(*plan), &block_hook_);
}

grpc::ServerWriteReactor<v1::DataBlock>* DataServiceImpl::ReadFiles(
    grpc::CallbackServerContext* /*context*/, const v1::ReadFilesRequest* request) {
  if (request->files().empty() || request->files_size() > kMaxReadFiles) {
    return new FailedStream<v1::DataBlock>(
        absl::InvalidArgumentError(absl::StrCat("files: must hold 1-", kMaxReadFiles)));
  }
  absl::StatusOr<uint32_t> block_size = BlockDataSize(request->block_size());
  if (!block_size.ok()) return new FailedStream<v1::DataBlock>(block_size.status());
  return new ReadFilesReactor(fs_, request, *block_size, &block_hook_);
}

grpc::ServerUnaryReactor* DataServiceImpl::Stat(grpc::CallbackServerContext* context,
                                                const v1::StatRequest* request,
                                                v1::FileInfo* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::string> path = RootRelativePath(request->path(), "path");
  absl::StatusOr<storage::FileInfo> info =
      path.ok() ? fs_->Stat(*path) : absl::StatusOr<storage::FileInfo>(path.status());
  if (info.ok()) *response = ToProtoFileInfo(*info, *path);
  reactor->Finish(ToGrpcStatus(info.status()));
  return reactor;
}

grpc::ServerWriteReactor<v1::ListResponse>* DataServiceImpl::List(
    grpc::CallbackServerContext* /*context*/, const v1::ListRequest* request) {
  if (request->max_entries() < 0 || request->max_entries() > kMaxPageEntries) {
    return new FailedStream<v1::ListResponse>(
        absl::InvalidArgumentError("max_entries: must be 0-10000"));
  }
  absl::StatusOr<std::string> path = RootRelativePath(request->path(), "path");
  if (!path.ok()) return new FailedStream<v1::ListResponse>(path.status());
  absl::StatusOr<std::unique_ptr<storage::DirectoryWalker>> walker =
      fs_->Walk(*path, request->cursor());
  if (!walker.ok()) return new FailedStream<v1::ListResponse>(walker.status());
  const int page = request->max_entries() == 0 ? kDefaultPageEntries : request->max_entries();
  return new ListReactor(std::move(*walker), *path, page);
}

}  // namespace ferry::copyd
