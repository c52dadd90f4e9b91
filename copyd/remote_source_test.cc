// FileCopier pulling from another cluster (RemoteChunkSource): a real DataServiceImpl
// over an in-memory source root behind a gRPC server on 127.0.0.1, reached either
// directly or through a fault-injecting proxy that flips a bit in, drops or repeats one
// block. Contiguous blocks are copied byte-identically (COPY_FILES, and COPY_CHUNK +
// COMMIT_FILE); every fault is DATA_LOSS with nothing committed.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/server_util.h"
#include "copyd/chunk_source.h"
#include "copyd/data_service.h"
#include "copyd/file_copier.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "storage/fault_injection_file_system.h"
#include "storage/mem_file_system.h"
#include "storage/test_util.h"

namespace ferry::copyd {
namespace {

using ::testing::HasSubstr;
using storage::testing::ReadAll;
using storage::testing::WriteFile;

constexpr int64_t kMtime = 1'600'000'000'123'456'789;
// Three 1 MiB blocks and a part of a fourth.
constexpr size_t kBigSize = 3 * kRemoteBlockSize + 12345;

int32_t Code(absl::StatusCode code) { return static_cast<int32_t>(code); }

enum class Fault { kNone, kFlipBitOnce, kFlipBitAlways, kDropBlock, kRepeatBlock };

// Forwards to the real DataService. kFlipBitOnce flips a bit of the block at offset
// kRemoteBlockSize the first time it passes, kFlipBitAlways every time; kDropBlock and
// kRepeatBlock damage the second block of every ReadChunk.
class FaultyDataService final : public v1::DataService::Service {
 public:
  FaultyDataService(const std::string& upstream, Fault fault)
      : stub_(v1::DataService::NewStub(grpc::CreateChannel(
            upstream, grpc::InsecureChannelCredentials()))),
        fault_(fault) {}

  grpc::Status ReadChunk(grpc::ServerContext* /*context*/,
                         const v1::ReadChunkRequest* request,
                         grpc::ServerWriter<v1::DataBlock>* writer) override {
    read_chunk_calls_.fetch_add(1);
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::DataBlock>> reader =
        stub_->ReadChunk(&context, *request);
    v1::DataBlock block;
    for (int index = 0; reader->Read(&block); ++index) {
      if (index == 1 && fault_ == Fault::kDropBlock) continue;
      Damage(&block);
      writer->Write(block);
      if (index == 1 && fault_ == Fault::kRepeatBlock) writer->Write(block);
    }
    return reader->Finish();
  }

  grpc::Status Stat(grpc::ServerContext* /*context*/, const v1::StatRequest* request,
                    v1::FileInfo* response) override {
    grpc::ClientContext context;
    return stub_->Stat(&context, *request, response);
  }

  // Forwards as it comes; only the bit flips apply.
  grpc::Status ReadFiles(grpc::ServerContext* /*context*/, const v1::ReadFilesRequest* request,
                         grpc::ServerWriter<v1::DataBlock>* writer) override {
    read_files_calls_.fetch_add(1);
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::DataBlock>> reader =
        stub_->ReadFiles(&context, *request);
    for (v1::DataBlock block; reader->Read(&block);) {
      Damage(&block);
      writer->Write(block);
    }
    return reader->Finish();
  }

  int sends_of_second_block() const { return sends_of_second_block_.load(); }
  int read_chunk_calls() const { return read_chunk_calls_.load(); }
  int read_files_calls() const { return read_files_calls_.load(); }

 private:
  void Damage(v1::DataBlock* block) {
    if (block->offset() != kRemoteBlockSize || block->data().empty()) return;
    const int sent = sends_of_second_block_.fetch_add(1);
    if (fault_ == Fault::kFlipBitAlways || (fault_ == Fault::kFlipBitOnce && sent == 0)) {
      (*block->mutable_data())[17] ^= 0x04;
    }
  }

  std::atomic<int> read_chunk_calls_{0};
  std::atomic<int> read_files_calls_{0};
  std::atomic<int> sends_of_second_block_{0};
  std::unique_ptr<v1::DataService::Stub> stub_;
  const Fault fault_;
};

std::unique_ptr<grpc::Server> Serve(grpc::Service* service, std::string* address) {
  grpc::ServerBuilder builder;
  int port = 0;
  AddListeningPort(builder, "127.0.0.1:0", &port);
  builder.RegisterService(service);
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartServer(builder, &port, "127.0.0.1:0");
  EXPECT_TRUE(server.ok()) << server.status();
  *address = absl::StrCat("127.0.0.1:", port);
  return server.ok() ? *std::move(server) : nullptr;
}

class RemoteSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (size_t i = 0; i < kBigSize; ++i) big_.push_back(static_cast<char>(i * 131 + i / 4096));
    ASSERT_TRUE(source_.MakeDirs("src/sub", 0755).ok());
    ASSERT_TRUE(WriteFile(source_, "src/big", big_).ok());
    ASSERT_TRUE(WriteFile(source_, "src/sub/small", "small file").ok());
    ASSERT_TRUE(WriteFile(source_, "src/empty", "").ok());
    ASSERT_TRUE(source_.CreateSymlink("sub/small", "src/link").ok());
    for (const char* path : {"src/big", "src/sub/small", "src/empty"}) {
      ASSERT_TRUE(source_.SetModeAndMtime(path, 0640, kMtime).ok());
    }
    source_.SyncAll();
    server_ = Serve(&service_, &address_);
  }

  void TearDown() override {
    for (auto& server : {proxy_server_.get(), server_.get()}) {
      if (server != nullptr) server->Shutdown();
    }
  }

  // A proxy in front of the source that injects `fault`; its address.
  std::string Proxy(Fault fault) {
    proxy_ = std::make_unique<FaultyDataService>(address_, fault);
    std::string address;
    proxy_server_ = Serve(proxy_.get(), &address);
    return address;
  }

  v1::FileTask FileOf(const std::string& name) {
    v1::FileTask file;
    file.set_source_path(absl::StrCat("/src/", name));
    file.set_destination_path(absl::StrCat("/dst/", name));
    absl::StatusOr<storage::FileInfo> info = source_.Stat(absl::StrCat("src/", name));
    EXPECT_TRUE(info.ok()) << name;
    *file.mutable_source_info() = ToProtoFileInfo(*info, "src");
    return file;
  }

  v1::Task TaskOf(v1::TaskKind kind, std::vector<std::string> addresses) {
    v1::Task task;
    task.set_task_id("t-1/0");
    task.set_lease_generation(1);
    task.set_kind(kind);
    task.set_source_cluster("a");
    for (std::string& address : addresses) task.add_source_data_addresses(address);
    task.set_overwrite(v1::OVERWRITE_POLICY_NEVER);
    task.mutable_preserve()->set_mode(true);
    task.mutable_preserve()->set_mtime(true);
    task.set_attempt(1);
    return task;
  }

  v1::TaskReport Run(const v1::Task& task) {
    FileCopier copier(&counted_destination_, &clock_, {}, &channels_);
    return copier.Execute(task, nullptr, nullptr);
  }

  // Nothing of dst/big: no target, no temporary file.
  void ExpectNothingCommitted() {
    EXPECT_FALSE(destination_.Stat("dst/big").ok());
    if (absl::StatusOr<std::vector<std::string>> all =
            storage::testing::WalkAll(destination_, "dst");
        all.ok()) {
      for (const std::string& path : *all) {
        EXPECT_THAT(path, ::testing::Not(HasSubstr("big"))) << "left behind";
      }
    }
  }

  std::string big_;
  storage::MemFileSystem source_;
  storage::MemFileSystem destination_;
  // What the copier sees: counts its calls.
  storage::FaultInjectionFileSystem counted_destination_{&destination_};
  DataServiceImpl service_{&source_};
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<FaultyDataService> proxy_;
  std::unique_ptr<grpc::Server> proxy_server_;
  DataChannels channels_;
  SimulatedClock clock_;
};

TEST_F(RemoteSourceTest, CopyFilesPullsATreeByteIdenticallyPastAnUnreachableAddress) {
  // The first address refuses connections: the copier moves on to the next one.
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {"127.0.0.1:1", address_});
  for (const char* name : {"sub", "big", "sub/small", "empty", "link"}) {
    *task.add_files() = FileOf(name);
  }
  v1::TaskReport report = Run(task);
  ASSERT_EQ(report.code(), 0) << report.message();
  ASSERT_EQ(report.files_size(), 5);
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), 0) << result.message();
  }
  EXPECT_EQ(report.files(1).crc32c(), Crc32c(big_));
  EXPECT_EQ(report.files(1).bytes(), kBigSize);
  EXPECT_EQ(ReadAll(destination_, "dst/big").value_or("?"), big_);
  EXPECT_EQ(ReadAll(destination_, "dst/sub/small").value_or("?"), "small file");
  EXPECT_EQ(ReadAll(destination_, "dst/empty").value_or("?"), "");
  absl::StatusOr<storage::FileInfo> big = destination_.Stat("dst/big");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->mtime_ns, kMtime);
  EXPECT_EQ(big->mode & 0777, 0640u);
  absl::StatusOr<storage::FileInfo> link = destination_.Stat("dst/link");
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->type, storage::FileType::kSymlink);
  EXPECT_EQ(link->symlink_target, "sub/small");
}

TEST_F(RemoteSourceTest, ATaskOfSeveralFilesReadsThemAllInOneReadFilesCall) {
  const std::string proxy = Proxy(Fault::kNone);
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {proxy});
  for (const char* name : {"sub", "big", "sub/small", "empty", "link"}) {
    *task.add_files() = FileOf(name);
  }
  v1::TaskReport report = Run(task);
  ASSERT_EQ(report.files_size(), 5) << report.message();
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), 0) << result.message();
  }
  EXPECT_EQ(report.files(1).crc32c(), Crc32c(big_));
  EXPECT_EQ(ReadAll(destination_, "dst/big").value_or("?"), big_);
  EXPECT_EQ(ReadAll(destination_, "dst/sub/small").value_or("?"), "small file");
  EXPECT_EQ(ReadAll(destination_, "dst/empty").value_or("?"), "");
  EXPECT_EQ(proxy_->read_files_calls(), 1);
  EXPECT_EQ(proxy_->read_chunk_calls(), 0);
}

TEST_F(RemoteSourceTest, ABatchOfNewFilesLooksUpEachTargetAndDirectoryOnce) {
  const std::string proxy = Proxy(Fault::kNone);
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {proxy});
  for (const char* name : {"big", "empty", "big", "empty"}) *task.add_files() = FileOf(name);
  for (int i = 2; i < 4; ++i) {  // Two more names in dst/, same sources.
    task.mutable_files(i)->set_destination_path(absl::StrCat("/dst/copy", i));
  }
  v1::TaskReport report = Run(task);
  ASSERT_EQ(report.files_size(), 4) << report.message();
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), 0) << result.message();
  }
  EXPECT_EQ(ReadAll(destination_, "dst/copy2").value_or("?"), big_);
  // One lookup per target (deciding what to stream), then dst/ and its parent once:
  // no second lookup of a target nor of its directory per file.
  EXPECT_LE(counted_destination_.Count(storage::FaultOp::kStat), 4 + 2);
}

TEST_F(RemoteSourceTest, ACorruptedBlockInABatchFallsBackToSingleReadsAndIsRepaired) {
  const std::string proxy = Proxy(Fault::kFlipBitOnce);
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {proxy});
  for (const char* name : {"big", "sub/small", "empty"}) *task.add_files() = FileOf(name);
  v1::TaskReport report = Run(task);
  ASSERT_EQ(report.files_size(), 3) << report.message();
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), 0) << result.message();
  }
  EXPECT_EQ(ReadAll(destination_, "dst/big").value_or("?"), big_);
  EXPECT_EQ(ReadAll(destination_, "dst/sub/small").value_or("?"), "small file");
  EXPECT_EQ(proxy_->read_files_calls(), 1);
  EXPECT_GE(proxy_->read_chunk_calls(), 1);  // The rest, file by file.
}

TEST_F(RemoteSourceTest, OneChangedFileOfABatchFailsAloneAndTheOthersAreCopied) {
  const std::string proxy = Proxy(Fault::kNone);
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {proxy});
  for (const char* name : {"big", "sub/small", "empty"}) *task.add_files() = FileOf(name);
  ASSERT_TRUE(source_.SetModeAndMtime("src/sub/small", 0640, kMtime + 5).ok());
  v1::TaskReport report = Run(task);
  ASSERT_EQ(report.files_size(), 3) << report.message();
  EXPECT_EQ(report.files(0).code(), 0) << report.files(0).message();
  EXPECT_EQ(report.files(1).code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(report.files(1).source_changed());
  EXPECT_EQ(report.files(2).code(), 0) << report.files(2).message();
  EXPECT_FALSE(destination_.Stat("dst/sub/small").ok());
  EXPECT_EQ(proxy_->read_files_calls(), 1);
  EXPECT_EQ(proxy_->read_chunk_calls(), 0);
}

TEST_F(RemoteSourceTest, ChunksAndCommitPullRangesIntoOneTemporaryFile) {
  constexpr uint64_t kChunk = kRemoteBlockSize + 4096 + 7;  // Not block-aligned.
  const std::string temp = "/dst/.ferry-tmp.big.t-0000000000000001-0";
  uint32_t composite = kCrc32cEmpty;
  for (uint64_t offset = 0; offset < kBigSize; offset += kChunk) {
    v1::Task task = TaskOf(v1::TASK_KIND_COPY_CHUNK, {address_});
    v1::FileTask* file = task.add_files();
    *file = FileOf("big");
    file->set_temp_path(temp);
    file->set_offset(offset);
    file->set_length(std::min<uint64_t>(kChunk, kBigSize - offset));
    v1::TaskReport report = Run(task);
    ASSERT_EQ(report.files_size(), 1) << report.message();
    ASSERT_EQ(report.files(0).code(), 0) << report.files(0).message();
    EXPECT_EQ(report.files(0).crc32c(),
              Crc32c(absl::string_view(big_).substr(offset, file->length())));
    composite = Crc32cCombine(composite, report.files(0).crc32c(), file->length());
  }
  EXPECT_EQ(composite, Crc32c(big_));
  v1::Task commit = TaskOf(v1::TASK_KIND_COMMIT_FILE, {address_});
  v1::FileTask* file = commit.add_files();
  *file = FileOf("big");
  file->set_temp_path(temp);
  file->set_expected_crc32c(composite);
  file->set_has_expected_crc32c(true);
  v1::TaskReport report = Run(commit);
  ASSERT_EQ(report.files_size(), 1) << report.message();
  ASSERT_EQ(report.files(0).code(), 0) << report.files(0).message();
  EXPECT_EQ(ReadAll(destination_, "dst/big").value_or("?"), big_);
}

TEST_F(RemoteSourceTest, ABlockCorruptedOnceIsRefetchedAndTheCopyIsExact) {
  const std::string proxy = Proxy(Fault::kFlipBitOnce);
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {proxy});
  *task.add_files() = FileOf("big");
  v1::TaskReport report = Run(task);
  ASSERT_EQ(report.files_size(), 1) << report.message();
  EXPECT_EQ(report.files(0).code(), 0) << report.files(0).message();
  EXPECT_EQ(report.files(0).crc32c(), Crc32c(big_));
  EXPECT_EQ(ReadAll(destination_, "dst/big").value_or("?"), big_);
  EXPECT_EQ(proxy_->sends_of_second_block(), 2);  // The bad one and its refetch.
}

TEST_F(RemoteSourceTest, PersistentCorruptionIsDataLossNamingPathAndOffsetAfterRefetches) {
  const std::string proxy = Proxy(Fault::kFlipBitAlways);
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {proxy});
  *task.add_files() = FileOf("big");
  v1::TaskReport report = Run(task);
  ASSERT_EQ(report.files_size(), 1) << report.message();
  EXPECT_EQ(report.files(0).code(), Code(absl::StatusCode::kDataLoss))
      << report.files(0).message();
  EXPECT_THAT(report.files(0).message(), HasSubstr("/src/big"));
  EXPECT_THAT(report.files(0).message(), HasSubstr(absl::StrCat("offset ", kRemoteBlockSize)));
  EXPECT_THAT(report.files(0).message(), HasSubstr("refetches"));
  EXPECT_EQ(proxy_->sends_of_second_block(), 1 + kMaxBlockRefetches);
  ExpectNothingCommitted();
}

TEST_F(RemoteSourceTest, CorruptedMissingOrRepeatedBlockIsDataLossAndCommitsNothing) {
  for (Fault fault : {Fault::kFlipBitAlways, Fault::kDropBlock, Fault::kRepeatBlock}) {
    SCOPED_TRACE(static_cast<int>(fault));
    const std::string proxy = Proxy(fault);
    v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {proxy});
    *task.add_files() = FileOf("big");
    v1::TaskReport report = Run(task);
    ASSERT_EQ(report.files_size(), 1) << report.message();
    EXPECT_EQ(report.files(0).code(), Code(absl::StatusCode::kDataLoss))
        << report.files(0).message();
    EXPECT_THAT(report.files(0).message(), HasSubstr("/src/big"));
    EXPECT_THAT(report.files(0).message(), HasSubstr(absl::StrCat(kRemoteBlockSize)));
    ExpectNothingCommitted();
    proxy_server_->Shutdown();
    proxy_server_.reset();
  }
}

TEST_F(RemoteSourceTest, CorruptedBlockOfAChunkIsDataLoss) {
  const std::string proxy = Proxy(Fault::kFlipBitAlways);
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_CHUNK, {proxy});
  v1::FileTask* file = task.add_files();
  *file = FileOf("big");
  file->set_temp_path("/dst/.ferry-tmp.big.t-0000000000000001-0");
  file->set_length(kBigSize);
  v1::TaskReport report = Run(task);
  ASSERT_EQ(report.files_size(), 1) << report.message();
  EXPECT_EQ(report.files(0).code(), Code(absl::StatusCode::kDataLoss))
      << report.files(0).message();
  EXPECT_FALSE(destination_.Stat("dst/big").ok());
}

TEST_F(RemoteSourceTest, SourceChangedSincePlanningCommitsNothing) {
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {address_});
  *task.add_files() = FileOf("big");
  ASSERT_TRUE(source_.SetModeAndMtime("src/big", 0640, kMtime + 1).ok());
  v1::TaskReport report = Run(task);
  ASSERT_EQ(report.files_size(), 1) << report.message();
  EXPECT_EQ(report.files(0).code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(report.files(0).message(), HasSubstr("source changed"));
  EXPECT_TRUE(report.files(0).source_changed());  // The controller's signal, and
  EXPECT_EQ(report.files(0).source_now().mtime_ns(), kMtime + 1);  // what to copy next.
  ExpectNothingCommitted();
}

TEST_F(RemoteSourceTest, WithoutChannelsARemoteTaskFailsAsAWhole) {
  v1::Task task = TaskOf(v1::TASK_KIND_COPY_FILES, {address_});
  *task.add_files() = FileOf("big");
  FileCopier copier(&destination_, &clock_);
  v1::TaskReport report = copier.Execute(task, nullptr, nullptr);
  EXPECT_EQ(report.code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(report.message(), HasSubstr("'a'"));
}

}  // namespace
}  // namespace ferry::copyd
