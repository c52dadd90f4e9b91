#include "copyd/chunk_source.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/grpc_status.h"
#include "common/source_changed.h"
#include "copyd/extent_cursor.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace ferry::copyd {
namespace {

constexpr size_t kCombineAbove = 64 << 10;

absl::Status Aborted() { return absl::CancelledError("task aborted by the controller"); }

storage::FileType FromProtoType(v1::FileType type) {
  switch (type) {
    case v1::FILE_TYPE_REGULAR:
      return storage::FileType::kRegular;
    case v1::FILE_TYPE_DIRECTORY:
      return storage::FileType::kDirectory;
    case v1::FILE_TYPE_SYMLINK:
      return storage::FileType::kSymlink;
    default:
      return storage::FileType::kOther;
  }
}

storage::FileInfo FromProto(const v1::FileInfo& info, const std::string& path) {
  storage::FileInfo out;
  out.path = path;
  out.type = FromProtoType(info.type());
  out.size = info.size();
  out.mode = info.mode();
  out.mtime_ns = info.mtime_ns();
  out.inode = info.inode();
  out.device = info.device();
  out.nlink = info.nlink();
  out.uid = info.uid();
  out.gid = info.gid();
  out.symlink_target = info.symlink_target();
  return out;
}

// A hole block must continue the range exactly like a data block, and carry no data.
absl::Status AcceptHole(const v1::DataBlock& block, const v1::FileTask& file, uint64_t end,
                        uint64_t next) {
  if (block.offset() != next || block.hole_length() > end - next || !block.data().empty()) {
    return absl::DataLossError(absl::StrCat(
        "hole block at offset ", block.offset(), " (", block.hole_length(), " bytes, ",
        block.data().size(), " data bytes) of ", file.source_path(),
        " does not continue the data received up to offset ", next, " (range ends at ", end,
        "); not committed"));
  }
  return absl::OkStatus();
}

// Checks one received block of `file` against what was received up to *next (range
// end `end`) and hands its data to `sink`; advances *next and *crc. DATA_LOSS for a
// block that does not continue the range exactly or whose CRC32C does not match (then
// *corrupt: worth asking for again).
absl::Status AcceptBlock(const v1::DataBlock& block, const v1::FileTask& file, uint64_t end,
                         ChunkSource::Sink sink, uint64_t* next, uint32_t* crc,
                         bool* corrupt) {
  const std::string& data = block.data();
  if (block.hole_length() != 0) {
    if (absl::Status s = AcceptHole(block, file, end, *next); !s.ok()) return s;
    // Nothing to write: the temporary file reads as zeros where nothing was written,
    // and its size is set to the planned one before it is committed.
    *crc = Crc32cCombine(*crc, Crc32cOfZeros(block.hole_length()), block.hole_length());
    *next += block.hole_length();
    return absl::OkStatus();
  }
  if (block.offset() != *next || data.size() > end - *next || data.empty()) {
    return absl::DataLossError(absl::StrCat(
        "block at offset ", block.offset(), " (", data.size(), " bytes) of ",
        file.source_path(), " does not continue the data received up to offset ", *next,
        " (range ends at ", end, "); not committed"));
  }
  const uint32_t block_crc = Crc32c(data);
  if (block_crc != block.crc32c()) {
    *corrupt = true;
    return absl::DataLossError(absl::StrCat(
        "CRC32C mismatch in the block at offset ", block.offset(), " (", data.size(),
        " bytes) of ", file.source_path(), ": sent ", block.crc32c(), ", received ",
        block_crc));
  }
  for (size_t piece = 0; piece < data.size(); piece += kMaxSinkPiece) {
    const size_t n = std::min(kMaxSinkPiece, data.size() - piece);
    if (absl::Status s = sink(*next + piece, absl::string_view(data.data() + piece, n));
        !s.ok()) {
      return s;
    }
  }
  // Combining costs a few matrix products whatever the length; extending costs a pass
  // over the bytes (~35 GB/s): cheaper for small blocks.
  *crc = data.size() < kCombineAbove ? Crc32cExtend(*crc, data.data(), data.size())
                                     : Crc32cCombine(*crc, block_crc, data.size());
  *next += data.size();
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPlannedStat(const storage::FileInfo& now, const v1::FileTask& file,
                              absl::string_view what) {
  if (now.size == file.source_info().size() && now.mtime_ns == file.source_info().mtime_ns()) {
    return absl::OkStatus();
  }
  return SourceChangedError(file.source_path(), what);
}

// ---------------------------------------------------------------- local

absl::StatusOr<storage::FileInfo> LocalChunkSource::Stat(const v1::FileTask& /*file*/,
                                                         const std::string& path) {
  return fs_->Stat(path);
}

absl::StatusOr<uint32_t> ChunkSource::CopyInto(const v1::FileTask& file,
                                               const std::string& path, uint64_t offset,
                                               uint64_t length, const std::atomic<bool>* abort,
                                               std::atomic<int64_t>* bytes_done,
                                               storage::WritableFile& target) {
  return Read(file, path, offset, length, abort,
              [&target, bytes_done](uint64_t at, absl::string_view data) {
                if (absl::Status s = target.WriteAt(at, data); !s.ok()) return s;
                if (bytes_done != nullptr) bytes_done->fetch_add(data.size());
                return absl::OkStatus();
              });
}

absl::StatusOr<std::unique_ptr<storage::ReadableFile>> LocalChunkSource::OpenPlanned(
    const v1::FileTask& file, const std::string& path) {
  absl::StatusOr<std::unique_ptr<storage::ReadableFile>> input = fs_->OpenForRead(path);
  if (!input.ok()) return input.status();
  absl::StatusOr<storage::FileInfo> before = (*input)->Stat();
  if (!before.ok()) return before.status();
  if (absl::Status s = CheckPlannedStat(*before, file, "size or mtime differs"); !s.ok()) return s;
  return input;
}

absl::StatusOr<uint32_t> LocalChunkSource::ExtendCrc(const v1::FileTask& file,
                                                     storage::ReadableFile& input,
                                                     uint64_t offset, uint64_t length,
                                                     uint32_t crc, const Sink* sink) {
  std::vector<char>& buffer = *buffer_;
  ExtentCursor cursor(&input, offset, offset + length);
  ExtentCursor::Piece piece;
  for (;;) {
    absl::StatusOr<bool> more = cursor.Next(buffer.size(), &piece);
    if (!more.ok()) return more.status();
    if (!*more) return crc;
    if (piece.hole) {
      crc = Crc32cCombine(crc, Crc32cOfZeros(piece.length), piece.length);
      continue;
    }
    absl::StatusOr<size_t> got = input.ReadAt(piece.offset, buffer.data(), piece.length);
    if (!got.ok()) return got.status();
    if (*got != piece.length) return SourceChangedError(file.source_path(), "shorter than planned");
    crc = Crc32cExtend(crc, buffer.data(), piece.length);
    if (sink != nullptr) {
      absl::Status written = (*sink)(piece.offset, absl::string_view(buffer.data(), *got));
      if (!written.ok()) return written;
    }
  }
}

absl::Status LocalChunkSource::CheckAfter(const v1::FileTask& file,
                                          storage::ReadableFile& input, uint64_t offset,
                                          uint64_t length) {
  if (offset == 0 && length == file.source_info().size()) {
    // The whole file: one byte more than planned means it grew.
    char probe;
    absl::StatusOr<size_t> extra = input.ReadAt(length, &probe, 1);
    if (!extra.ok()) return extra.status();
    if (*extra != 0) return SourceChangedError(file.source_path(), "longer than planned");
  }
  absl::StatusOr<storage::FileInfo> after = input.Stat();
  if (!after.ok()) return after.status();
  return CheckPlannedStat(*after, file, "modified while being copied");
}

absl::StatusOr<uint32_t> LocalChunkSource::ReadInPieces(const v1::FileTask& file,
                                                        const std::string& path,
                                                        uint64_t offset, uint64_t length,
                                                        const std::atomic<bool>* abort,
                                                        PieceFn piece) {
  absl::StatusOr<std::unique_ptr<storage::ReadableFile>> input = OpenPlanned(file, path);
  if (!input.ok()) return input.status();
  uint32_t crc = kCrc32cEmpty;
  // In pieces, so that an abort is noticed between them.
  for (uint64_t done = 0; done < length;) {
    if (abort != nullptr && abort->load()) return Aborted();
    const uint64_t n = std::min<uint64_t>(copy_piece_, length - done);
    absl::StatusOr<uint32_t> extended = piece(**input, offset + done, n, crc);
    if (!extended.ok()) return extended.status();
    crc = *extended;
    done += n;
  }
  if (absl::Status s = CheckAfter(file, **input, offset, length); !s.ok()) return s;
  return crc;
}

absl::StatusOr<uint32_t> LocalChunkSource::Read(const v1::FileTask& file,
                                                const std::string& path, uint64_t offset,
                                                uint64_t length,
                                                const std::atomic<bool>* abort, Sink sink) {
  return ReadInPieces(file, path, offset, length, abort,
                      [&](storage::ReadableFile& input, uint64_t at, uint64_t n, uint32_t crc) {
                        return ExtendCrc(file, input, at, n, crc, &sink);
                      });
}

absl::StatusOr<uint32_t> LocalChunkSource::CopyInto(const v1::FileTask& file,
                                                    const std::string& path, uint64_t offset,
                                                    uint64_t length,
                                                    const std::atomic<bool>* abort,
                                                    std::atomic<int64_t>* bytes_done,
                                                    storage::WritableFile& target) {
  return ReadInPieces(
      file, path, offset, length, abort,
      [&](storage::ReadableFile& input, uint64_t at, uint64_t n,
          uint32_t crc) -> absl::StatusOr<uint32_t> {
        absl::StatusOr<uint64_t> copied = target.CopyFrom(input, at, at, n);
        if (!copied.ok()) return copied.status();
        if (*copied != n) return SourceChangedError(file.source_path(), "shorter than planned");
        absl::StatusOr<uint32_t> extended = ExtendCrc(file, input, at, n, crc, nullptr);
        if (extended.ok() && bytes_done != nullptr) bytes_done->fetch_add(n);
        return extended;
      });
}

// ---------------------------------------------------------------- remote

DataChannels::DataChannels() : DataChannels(grpc::InsecureChannelCredentials()) {}

DataChannels::DataChannels(std::shared_ptr<grpc::ChannelCredentials> credentials)
    : credentials_(std::move(credentials)) {}

DataChannels::DataChannels(std::unique_ptr<v1::DataService::StubInterface> stub)
    : fixed_(std::move(stub)) {}

v1::DataService::StubInterface* DataChannels::StubFor(const std::string& address) {
  if (fixed_ != nullptr) return fixed_.get();
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    grpc::ChannelArguments arguments;
    // Blocks are 1 MiB; gRPC's default 4 MiB limit would refuse a larger server choice.
    arguments.SetMaxReceiveMessageSize(64 << 20);
    stub = v1::DataService::NewStub(
        grpc::CreateCustomChannel(address, credentials_, arguments));
  }
  return stub.get();
}

absl::StatusOr<storage::FileInfo> RemoteChunkSource::Stat(const v1::FileTask& file,
                                                          const std::string& path) {
  absl::Status last = absl::FailedPreconditionError("source_data_addresses: empty");
  const size_t count = addresses_->size();
  for (size_t i = 0; i < count; ++i) {
    const size_t index = (first_ + i) % count;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::StatRequest request;
    *request.mutable_capability() = file.source_capability();
    request.set_path(file.source_path());
    v1::FileInfo info;
    grpc::Status status =
        channels_->StubFor(addresses_->Get(index))->Stat(&context, request, &info);
    if (status.ok()) {
      first_ = index;
      return FromProto(info, path);
    }
    last = FromGrpcStatus(status);
    if (!absl::IsUnavailable(last) && !absl::IsDeadlineExceeded(last)) return last;
  }
  return last;
}

absl::StatusOr<uint32_t> RemoteChunkSource::Read(const v1::FileTask& file,
                                                 const std::string& path, uint64_t offset,
                                                 uint64_t length,
                                                 const std::atomic<bool>* abort, Sink sink) {
  const uint64_t size = file.source_info().size();
  if (offset > size || length > size - offset) {
    return absl::InvalidArgumentError(absl::StrCat("range [", offset, ", +", length,
                                                   ") lies beyond the planned size of ",
                                                   file.source_path()));
  }
  const uint64_t end = offset + length;
  uint64_t next = offset;
  uint32_t crc = kCrc32cEmpty;
  absl::Status status = absl::FailedPreconditionError("source_data_addresses: empty");
  const size_t count = addresses_->size();
  int refetches = 0;
  for (size_t i = 0; i < count;) {
    const size_t index = (first_ + i) % count;
    bool corrupt = false;
    status = ReadFrom(addresses_->Get(index), file, end, abort, sink, &next, &crc, &corrupt);
    if (status.ok()) {
      first_ = index;
      break;
    }
    if (corrupt && refetches < kMaxBlockRefetches) {
      // Read the range again from the corrupted block on: what was verified and
      // written before it stays.
      ++refetches;
      LOG(WARNING) << status.message() << "; refetching (" << refetches << " of "
                   << kMaxBlockRefetches << ")";
      continue;
    }
    if (corrupt) {
      return absl::DataLossError(absl::StrCat(status.message(), "; still corrupt after ",
                                              refetches, " refetches"));
    }
    if (!absl::IsUnavailable(status)) return status;
    ++i;
  }
  // The server checked the planned stat when it opened the file and again after the
  // last block (ReadChunkRequest.expected_*): a source modified meanwhile failed it.
  if (!status.ok()) return status;
  return crc;
}

absl::Status RemoteChunkSource::ReadFrom(const std::string& address, const v1::FileTask& file,
                                         uint64_t end, const std::atomic<bool>* abort,
                                         Sink sink, uint64_t* next, uint32_t* crc,
                                         bool* corrupt) {
  v1::ReadChunkRequest request;
  *request.mutable_capability() = file.source_capability();
  request.set_path(file.source_path());
  request.set_offset(*next);
  request.set_block_size(kRemoteBlockSize);
  request.set_expected_size(file.source_info().size());
  request.set_expected_mtime_ns(file.source_info().mtime_ns());
  if (*next == end) {
    // Nothing to read. An empty file is still opened at the source (length 0 reads to
    // its end, which is 0 bytes there), which checks the planned stat.
    request.set_length(0);
    if (end != file.source_info().size()) return absl::OkStatus();
  } else {
    request.set_length(end - *next);
  }
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderInterface<v1::DataBlock>> reader =
      channels_->StubFor(address)->ReadChunk(&context, request);
  v1::DataBlock& block = *block_;
  absl::Status failed;
  while (reader->Read(&block)) {
    if (abort != nullptr && abort->load()) {
      failed = Aborted();
      break;
    }
    failed = AcceptBlock(block, file, end, sink, next, crc, corrupt);
    if (!failed.ok()) break;
  }
  if (!failed.ok()) {
    context.TryCancel();
    reader->Finish().ok();
    return failed;
  }
  absl::Status finished = FromGrpcStatus(reader->Finish());
  if (!finished.ok()) return finished;
  if (*next != end) {
    return absl::DataLossError(absl::StrCat("the source of ", file.source_path(),
                                            " ended the stream at offset ", *next,
                                            ", short of ", end, "; not committed"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- batched

BatchedRemoteSource::BatchedRemoteSource(RemoteChunkSource* single, DataChannels* channels,
                                         const std::string& address,
                                         std::vector<const v1::FileTask*> files,
                                         v1::DataBlock* block)
    : single_(single),
      channels_(channels),
      address_(address),
      files_(std::move(files)),
      block_(block) {
  for (size_t i = 0; i < files_.size(); ++i) index_of_[files_[i]] = i;
}

BatchedRemoteSource::~BatchedRemoteSource() { Abandon(); }

void BatchedRemoteSource::Abandon() {
  if (reader_ != nullptr) {
    context_->TryCancel();
    reader_->Finish().ok();
  }
  reader_.reset();
  context_.reset();
  broken_ = true;
}

absl::StatusOr<storage::FileInfo> BatchedRemoteSource::Stat(const v1::FileTask& file,
                                                            const std::string& path) {
  return single_->Stat(file, path);
}

void BatchedRemoteSource::Open() {
  v1::ReadFilesRequest request;
  request.set_block_size(kRemoteBlockSize);
  for (const v1::FileTask* file : files_) {
    v1::FileRead* read = request.add_files();
    *read->mutable_capability() = file->source_capability();
    read->set_path(file->source_path());
    read->set_expected_size(file->source_info().size());
    read->set_expected_mtime_ns(file->source_info().mtime_ns());
  }
  context_ = std::make_unique<grpc::ClientContext>();
  reader_ = channels_->StubFor(address_)->ReadFiles(context_.get(), request);
  streamed_ = 0;
}

absl::StatusOr<uint32_t> BatchedRemoteSource::Read(const v1::FileTask& file,
                                                   const std::string& path, uint64_t offset,
                                                   uint64_t length,
                                                   const std::atomic<bool>* abort, Sink sink) {
  const auto listed = index_of_.find(&file);
  const bool whole = offset == 0 && length == file.source_info().size();
  if (broken_ || !whole || listed == index_of_.end() || listed->second < streamed_) {
    return single_->Read(file, path, offset, length, abort, sink);
  }
  if (reader_ == nullptr) Open();
  absl::StatusOr<uint32_t> crc = Receive(listed->second, file, abort, sink);
  if (crc.ok() || absl::IsCancelled(crc.status()) || !stream_failed_) return crc;
  // The stream broke (corruption, a lost connection): this file and the rest are read
  // one by one, this one again from its start.
  LOG(WARNING) << "ReadFiles stream from " << address_ << " abandoned: " << crc.status()
               << "; reading file by file";
  Abandon();
  return single_->Read(file, path, offset, length, abort, sink);
}

absl::StatusOr<uint32_t> BatchedRemoteSource::Receive(size_t index, const v1::FileTask& file,
                                                      const std::atomic<bool>* abort,
                                                      Sink sink) {
  stream_failed_ = true;
  const uint64_t end = file.source_info().size();
  uint64_t next = 0;
  uint32_t crc = kCrc32cEmpty;
  v1::DataBlock& block = *block_;
  while (reader_->Read(&block)) {
    if (abort != nullptr && abort->load()) return Aborted();
    if (block.file_index() < streamed_ || block.file_index() > index) {
      return absl::DataLossError(absl::StrCat("ReadFiles sent file ", block.file_index(),
                                              " while file ", streamed_, " was due"));
    }
    if (block.file_index() < index) {  // A listed file this task no longer copies.
      if (block.end_of_file()) streamed_ = block.file_index() + 1;
      continue;
    }
    if (block.end_of_file()) {
      streamed_ = index + 1;
      stream_failed_ = false;
      const absl::Status outcome(static_cast<absl::StatusCode>(block.file_code()),
                                 block.file_message());
      if (!outcome.ok()) return outcome;
      if (next != end) {
        stream_failed_ = true;
        return absl::DataLossError(absl::StrCat("the source of ", file.source_path(),
                                                " ended the file at offset ", next,
                                                ", short of ", end, "; not committed"));
      }
      return crc;
    }
    bool corrupt = false;
    const absl::Status accepted = AcceptBlock(block, file, end, sink, &next, &crc, &corrupt);
    // A bad block, or a sink failure (e.g. disk full) with this file's blocks still
    // in flight: the stream is given up (Read falls back to file-by-file reads).
    if (!accepted.ok()) return accepted;
  }
  const absl::Status finished = FromGrpcStatus(reader_->Finish());
  reader_.reset();
  return finished.ok() ? absl::DataLossError(absl::StrCat(
                             "ReadFiles ended before ", file.source_path(), "; not committed"))
                       : finished;
}

}  // namespace ferry::copyd
