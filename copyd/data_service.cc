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

// A write reactor that finishes with `status` at once (validation failed).
template <typename Message>
class FailedStream final : public grpc::ServerWriteReactor<Message> {
 public:
  explicit FailedStream(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// Streams DataBlocks of [offset, end) from an open file, one write outstanding.
class ReadChunkReactor final : public grpc::ServerWriteReactor<v1::DataBlock> {
 public:
  ReadChunkReactor(std::unique_ptr<storage::ReadableFile> file, uint64_t offset,
                   uint64_t end, uint32_t block_size)
      : file_(std::move(file)), offset_(offset), end_(end), block_size_(block_size) {
    SendNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "reader went away"));
      return;
    }
    SendNext();
  }
  void OnDone() override { delete this; }

 private:
  void SendNext() {
    if (offset_ >= end_) {
      Finish(grpc::Status::OK);
      return;
    }
    const size_t want = std::min<uint64_t>(block_size_, end_ - offset_);
    std::string* data = block_.mutable_data();
    data->resize(want);  // Keeps its capacity from the previous block.
    absl::StatusOr<size_t> got = file_->ReadAt(offset_, data->data(), want);
    if (!got.ok()) {
      Finish(ToGrpcStatus(got.status()));
      return;
    }
    if (*got != want) {
      Finish(ToGrpcStatus(absl::FailedPreconditionError(
          "source changed: file ended before the requested range")));
      return;
    }
    block_.set_offset(offset_);
    block_.set_crc32c(Crc32c(*data));
    offset_ += want;
    StartWrite(&block_);
  }

  std::unique_ptr<storage::ReadableFile> file_;
  uint64_t offset_;
  const uint64_t end_;
  const uint32_t block_size_;
  v1::DataBlock block_;
};

// Streams pages of a directory walk, one write outstanding.
class ListReactor final : public grpc::ServerWriteReactor<v1::ListResponse> {
 public:
  ListReactor(std::unique_ptr<storage::DirectoryWalker> walker, std::string base,
              int page_entries)
      : walker_(std::move(walker)), base_(std::move(base)), page_entries_(page_entries) {
    SendNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "lister went away"));
      return;
    }
    SendNext();
  }
  void OnDone() override { delete this; }

 private:
  void SendNext() {
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

absl::StatusOr<std::unique_ptr<storage::ReadableFile>> OpenChecked(
    storage::FileSystem* fs, const v1::ReadChunkRequest& request, uint64_t* end) {
  absl::StatusOr<std::string> path = RootRelativePath(request.path(), "path");
  if (!path.ok()) return path.status();
  absl::StatusOr<std::unique_ptr<storage::ReadableFile>> file = fs->OpenForRead(*path);
  if (!file.ok()) return file.status();
  absl::StatusOr<storage::FileInfo> info = (*file)->Stat();
  if (!info.ok()) return info.status();
  const bool check_version = request.expected_size() != 0 || request.expected_mtime_ns() != 0;
  if (check_version && (info->size != request.expected_size() ||
                        info->mtime_ns != request.expected_mtime_ns())) {
    return absl::FailedPreconditionError(
        absl::StrCat("source changed: ", request.path(), " differs from the planned stat"));
  }
  if (request.offset() > info->size) {
    return absl::OutOfRangeError(absl::StrCat("offset: beyond end of file (",
                                              info->size, " bytes)"));
  }
  *end = request.length() == 0 ? info->size : request.offset() + request.length();
  if (*end > info->size || *end < request.offset()) {
    return absl::OutOfRangeError(absl::StrCat("length: range beyond end of file (",
                                              info->size, " bytes)"));
  }
  return file;
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
  const uint32_t block_size = request->block_size() == 0 ? kDefaultBlockSize
                                                         : request->block_size();
  if (block_size < kMinBlockSize || block_size > kMaxBlockSize) {
    return new FailedStream<v1::DataBlock>(
        absl::InvalidArgumentError("block_size: must be 4 KiB - 4 MiB, or 0"));
  }
  uint64_t end = 0;
  absl::StatusOr<std::unique_ptr<storage::ReadableFile>> file =
      OpenChecked(fs_, *request, &end);
  if (!file.ok()) return new FailedStream<v1::DataBlock>(file.status());
  return new ReadChunkReactor(std::move(*file), request->offset(), end,
                              std::min(block_size, kMaxBlockData));
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
