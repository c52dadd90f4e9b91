// DataServiceImpl end to end: a real gRPC server on 127.0.0.1:0 over a POSIX root in
// TEST_TMPDIR, called through a real stub.
#include "copyd/data_service.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/server_util.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "storage/posix_file_system.h"
#include "storage/test_util.h"

namespace ferry::copyd {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint32_t kBlock = 4096;
const size_t kBigSize = 3 * kBlock + 100;

std::string TestData(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 7 + i / kBlock);
  return data;
}

std::vector<std::string> PathsOf(const std::vector<v1::ListResponse>& pages) {
  std::vector<std::string> paths;
  for (const v1::ListResponse& page : pages) {
    for (const v1::FileInfo& entry : page.entries()) paths.push_back(entry.path());
  }
  return paths;
}

class DataServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<storage::FileSystem>> fs =
        storage::NewPosixFileSystem(storage::testing::MakeTempDir());
    ASSERT_TRUE(fs.ok()) << fs.status();
    fs_ = std::move(*fs);
    // tree/{a.txt, b/{c.txt, d/}, e -> a.txt, f.txt} and a multi-block file.
    ASSERT_TRUE(fs_->MakeDirs("tree/b/d", 0755).ok());
    ASSERT_TRUE(storage::testing::WriteFile(*fs_, "tree/a.txt", "alpha").ok());
    ASSERT_TRUE(storage::testing::WriteFile(*fs_, "tree/b/c.txt", "charlie").ok());
    ASSERT_TRUE(fs_->CreateSymlink("a.txt", "tree/e").ok());
    ASSERT_TRUE(storage::testing::WriteFile(*fs_, "tree/f.txt", "foxtrot").ok());
    ASSERT_TRUE(storage::testing::WriteFile(*fs_, "big", TestData(kBigSize)).ok());

    service_ = std::make_unique<DataServiceImpl>(
        fs_.get(), [this](absl::string_view path, v1::DataBlock* block) {
          if (on_block_) on_block_(path, block);
        });
    grpc::ServerBuilder builder;
    int port = 0;
    AddListeningPort(builder, "127.0.0.1:0", &port);
    builder.RegisterService(service_.get());
    absl::StatusOr<std::unique_ptr<grpc::Server>> server =
        StartServer(builder, &port, "127.0.0.1:0");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::DataService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  static std::unique_ptr<grpc::ClientContext> NewContext() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  grpc::Status Stat(const std::string& path, v1::FileInfo* info) {
    v1::StatRequest request;
    request.set_path(path);
    return stub_->Stat(NewContext().get(), request, info);
  }

  grpc::Status List(const std::string& path, const std::string& cursor, int max_entries,
                    std::vector<v1::ListResponse>* pages) {
    v1::ListRequest request;
    request.set_path(path);
    request.set_cursor(cursor);
    request.set_max_entries(max_entries);
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    std::unique_ptr<grpc::ClientReader<v1::ListResponse>> reader =
        stub_->List(context.get(), request);
    for (v1::ListResponse page; reader->Read(&page);) pages->push_back(page);
    return reader->Finish();
  }

  grpc::Status Read(const v1::ReadChunkRequest& request, std::vector<v1::DataBlock>* blocks) {
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    std::unique_ptr<grpc::ClientReader<v1::DataBlock>> reader =
        stub_->ReadChunk(context.get(), request);
    for (v1::DataBlock block; reader->Read(&block);) blocks->push_back(block);
    return reader->Finish();
  }

  static v1::ReadChunkRequest ReadRequest(const std::string& path, uint64_t offset,
                                          uint64_t length, uint32_t block_size = kBlock) {
    v1::ReadChunkRequest request;
    request.set_path(path);
    request.set_offset(offset);
    request.set_length(length);
    request.set_block_size(block_size);
    return request;
  }

  grpc::StatusCode ReadCode(const v1::ReadChunkRequest& request) {
    std::vector<v1::DataBlock> blocks;
    const grpc::Status status = Read(request, &blocks);
    EXPECT_THAT(blocks, IsEmpty());  // Nothing is sent before a refusal.
    return status.error_code();
  }

  grpc::StatusCode ListCode(const std::string& path, const std::string& cursor = "",
                            int max_entries = 0) {
    std::vector<v1::ListResponse> pages;
    const grpc::Status status = List(path, cursor, max_entries, &pages);
    EXPECT_THAT(pages, IsEmpty());
    return status.error_code();
  }

  // Checks that `blocks` cover exactly [offset, offset + length) of "big", each with its
  // CRC, no block larger than `block_size`.
  static void ExpectRange(const std::vector<v1::DataBlock>& blocks, uint64_t offset,
                          uint64_t length, uint32_t block_size = kBlock) {
    std::string joined;
    uint64_t next = offset;
    for (const v1::DataBlock& block : blocks) {
      EXPECT_EQ(block.offset(), next);
      EXPECT_EQ(block.crc32c(), Crc32c(block.data())) << "block at " << block.offset();
      EXPECT_LE(block.data().size(), block_size);
      EXPECT_GT(block.data().size(), 0u);
      next += block.data().size();
      joined += block.data();
    }
    EXPECT_EQ(next, offset + length);
    EXPECT_TRUE(joined == TestData(kBigSize).substr(offset, length)) << "content differs";
  }

  std::unique_ptr<storage::FileSystem> fs_;
  // Set by a test before it reads; called by the service for every data block.
  DataServiceImpl::BlockHook on_block_;
  std::unique_ptr<DataServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::DataService::Stub> stub_;
};

TEST_F(DataServiceTest, StatDescribesThePathItself) {
  v1::FileInfo info;
  ASSERT_TRUE(Stat("/tree/a.txt", &info).ok());
  absl::StatusOr<storage::FileInfo> local = fs_->Stat("tree/a.txt");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(info.path(), "");
  EXPECT_EQ(info.type(), v1::FILE_TYPE_REGULAR);
  EXPECT_EQ(info.size(), 5u);
  EXPECT_EQ(info.mode(), local->mode);
  EXPECT_EQ(info.mtime_ns(), local->mtime_ns);
  EXPECT_EQ(info.inode(), local->inode);

  ASSERT_TRUE(Stat("/tree/e", &info).ok());
  EXPECT_EQ(info.type(), v1::FILE_TYPE_SYMLINK);  // Not followed.
  EXPECT_EQ(info.symlink_target(), "a.txt");

  ASSERT_TRUE(Stat("/tree/b", &info).ok());
  EXPECT_EQ(info.type(), v1::FILE_TYPE_DIRECTORY);
  ASSERT_TRUE(Stat("/", &info).ok());
  EXPECT_EQ(info.type(), v1::FILE_TYPE_DIRECTORY);
}

TEST_F(DataServiceTest, StatRefusesBadPathsAndReportsMissingOnes) {
  v1::FileInfo info;
  EXPECT_EQ(Stat("/tree/missing", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Stat("tree/a.txt", &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Stat("/tree/../big", &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Stat("/../etc/passwd", &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Stat("", &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DataServiceTest, ListStreamsTheTreeInSmallPagesInOrder) {
  std::vector<v1::ListResponse> pages;
  ASSERT_TRUE(List("/tree", "", 2, &pages).ok());
  ASSERT_EQ(pages.size(), 3u);
  for (const v1::ListResponse& page : pages) {
    EXPECT_EQ(page.entries_size(), 2);
    EXPECT_FALSE(page.cursor().empty());
  }
  EXPECT_THAT(PathsOf(pages), ElementsAre("a.txt", "b", "b/c.txt", "b/d", "e", "f.txt"));
  const v1::FileInfo& a = pages[0].entries(0);
  EXPECT_EQ(a.type(), v1::FILE_TYPE_REGULAR);
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(pages[0].entries(1).type(), v1::FILE_TYPE_DIRECTORY);
  const v1::FileInfo& e = pages[2].entries(0);
  EXPECT_EQ(e.type(), v1::FILE_TYPE_SYMLINK);
  EXPECT_EQ(e.symlink_target(), "a.txt");
}

TEST_F(DataServiceTest, ListResumesExactlyAfterAMidStreamCursor) {
  std::vector<v1::ListResponse> pages;
  ASSERT_TRUE(List("/tree", "", 2, &pages).ok());
  ASSERT_EQ(pages.size(), 3u);
  const std::vector<std::string> all = PathsOf(pages);
  for (size_t i = 0; i < pages.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "after page " << i);
    std::vector<v1::ListResponse> rest;
    ASSERT_TRUE(List("/tree", pages[i].cursor(), 2, &rest).ok());
    EXPECT_THAT(PathsOf(rest),
                ElementsAreArray(std::vector<std::string>(all.begin() + 2 * (i + 1),
                                                          all.end())));
  }
  // Page size may change between calls; the cursor is about entries, not pages.
  std::vector<v1::ListResponse> rest;
  ASSERT_TRUE(List("/tree", pages[0].cursor(), 0, &rest).ok());
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_THAT(PathsOf(rest), ElementsAre("b/c.txt", "b/d", "e", "f.txt"));
}

TEST_F(DataServiceTest, ListOfASingleFileOrSymlinkIsOneEntryWithEmptyPath) {
  std::vector<v1::ListResponse> pages;
  ASSERT_TRUE(List("/tree/a.txt", "", 2, &pages).ok());
  ASSERT_EQ(pages.size(), 1u);
  ASSERT_EQ(pages[0].entries_size(), 1);
  EXPECT_EQ(pages[0].entries(0).path(), "");
  EXPECT_EQ(pages[0].entries(0).type(), v1::FILE_TYPE_REGULAR);
  EXPECT_EQ(pages[0].entries(0).size(), 5u);

  pages.clear();
  ASSERT_TRUE(List("/tree/e", "", 0, &pages).ok());
  ASSERT_EQ(pages.size(), 1u);
  ASSERT_EQ(pages[0].entries_size(), 1);
  EXPECT_EQ(pages[0].entries(0).path(), "");
  EXPECT_EQ(pages[0].entries(0).type(), v1::FILE_TYPE_SYMLINK);
}

TEST_F(DataServiceTest, ListOfTheRootHasRootRelativePaths) {
  std::vector<v1::ListResponse> pages;
  ASSERT_TRUE(List("/", "", 0, &pages).ok());
  EXPECT_THAT(PathsOf(pages), ElementsAre("big", "tree", "tree/a.txt", "tree/b",
                                          "tree/b/c.txt", "tree/b/d", "tree/e",
                                          "tree/f.txt"));
}

TEST_F(DataServiceTest, ListOfAnEmptyDirectoryEndsWithoutPages) {
  std::vector<v1::ListResponse> pages;
  ASSERT_TRUE(List("/tree/b/d", "", 0, &pages).ok());
  EXPECT_THAT(pages, IsEmpty());
}

TEST_F(DataServiceTest, ListRefusesBadRequests) {
  EXPECT_EQ(ListCode("/tree/missing"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ListCode("tree"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ListCode("/tree/../.."), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ListCode("/tree", "not a cursor"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ListCode("/tree", "", -1), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ListCode("/tree", "", 10001), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DataServiceTest, ReadChunkStreamsTheWholeFileInContiguousBlocks) {
  std::vector<v1::DataBlock> blocks;
  ASSERT_TRUE(Read(ReadRequest("/big", 0, 0), &blocks).ok());
  EXPECT_EQ(blocks.size(), 4u);
  ExpectRange(blocks, 0, kBigSize);
}

TEST_F(DataServiceTest, ReadChunkStreamsAnUnalignedRange) {
  std::vector<v1::DataBlock> blocks;
  ASSERT_TRUE(Read(ReadRequest("/big", 100, 2 * kBlock + 50), &blocks).ok());
  EXPECT_EQ(blocks.size(), 3u);
  ExpectRange(blocks, 100, 2 * kBlock + 50);

  blocks.clear();  // The last byte alone.
  ASSERT_TRUE(Read(ReadRequest("/big", kBigSize - 1, 1), &blocks).ok());
  ExpectRange(blocks, kBigSize - 1, 1);

  blocks.clear();  // The server's default block size.
  ASSERT_TRUE(Read(ReadRequest("/big", 0, 0, /*block_size=*/0), &blocks).ok());
  EXPECT_EQ(blocks.size(), 1u);
  ExpectRange(blocks, 0, kBigSize, 4 << 20);
}

TEST_F(DataServiceTest, ReadChunkWithTheLargestBlockSizeReachesAPlainClient) {
  const std::string data(5 << 20, 'x');
  ASSERT_TRUE(storage::testing::WriteFile(*fs_, "huge", data).ok());
  std::vector<v1::DataBlock> blocks;
  const grpc::Status status = Read(ReadRequest("/huge", 0, 0, 4 << 20), &blocks);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(blocks.size(), 2u);
  // A block's data is cut so that the whole message fits the default limit.
  EXPECT_EQ(blocks[0].data().size(), (4u << 20) - kBlock);
  EXPECT_EQ(blocks[1].offset(), (4u << 20) - kBlock);
  EXPECT_EQ(blocks[0].data().size() + blocks[1].data().size(), data.size());
  EXPECT_EQ(blocks[1].crc32c(), Crc32c(blocks[1].data()));
}

TEST_F(DataServiceTest, ReadChunkOfNothingAtEndOfFileIsEmptyAndOk) {
  std::vector<v1::DataBlock> blocks;
  EXPECT_TRUE(Read(ReadRequest("/big", kBigSize, 0), &blocks).ok());
  EXPECT_THAT(blocks, IsEmpty());
}

TEST_F(DataServiceTest, ReadChunkChecksTheExpectedVersion) {
  absl::StatusOr<storage::FileInfo> info = fs_->Stat("big");
  ASSERT_TRUE(info.ok());
  v1::ReadChunkRequest request = ReadRequest("/big", 0, 0);
  request.set_expected_size(info->size);
  request.set_expected_mtime_ns(info->mtime_ns);
  std::vector<v1::DataBlock> blocks;
  ASSERT_TRUE(Read(request, &blocks).ok());
  ExpectRange(blocks, 0, kBigSize);

  v1::ReadChunkRequest other_size = request;
  other_size.set_expected_size(info->size + 1);
  v1::ReadChunkRequest other_mtime = request;
  other_mtime.set_expected_mtime_ns(info->mtime_ns - 1);
  for (const v1::ReadChunkRequest& stale : {other_size, other_mtime}) {
    blocks.clear();
    const grpc::Status status = Read(stale, &blocks);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(status.error_message(), HasSubstr("source changed"));
    EXPECT_THAT(blocks, IsEmpty());
  }
}

TEST_F(DataServiceTest, ReadChunkSendsTheHolesOfASparseFileAsHoleBlocks) {
  constexpr uint64_t kMiB = 1 << 20;
  absl::StatusOr<storage::TempFile> temp = fs_->CreateTemp("sparse");
  ASSERT_TRUE(temp.ok()) << temp.status();
  ASSERT_TRUE(temp->file->WriteAt(0, std::string(kBlock, 'a')).ok());
  ASSERT_TRUE(temp->file->WriteAt(kMiB, std::string(kBlock, 'b')).ok());
  ASSERT_TRUE(temp->file->Truncate(3 * kMiB).ok());
  ASSERT_TRUE(temp->file->Close().ok());
  ASSERT_TRUE(fs_->Rename(temp->path, "sparse", storage::CommitMode::kReplace).ok());
  absl::StatusOr<std::unique_ptr<storage::ReadableFile>> file = fs_->OpenForRead("sparse");
  ASSERT_TRUE(file.ok());
  absl::StatusOr<std::vector<storage::Extent>> extents = (*file)->DataExtents(0, 3 * kMiB);
  ASSERT_TRUE(extents.ok());
  if (extents->size() != 2) GTEST_SKIP() << "this file system reports no holes";

  std::vector<v1::DataBlock> blocks;
  ASSERT_TRUE(Read(ReadRequest("/sparse", 0, 0), &blocks).ok());
  ASSERT_EQ(blocks.size(), 4u);
  EXPECT_EQ(blocks[0].offset(), 0u);
  EXPECT_EQ(blocks[0].data(), std::string(kBlock, 'a'));
  EXPECT_EQ(blocks[0].crc32c(), Crc32c(blocks[0].data()));
  EXPECT_EQ(blocks[1].offset(), kBlock);
  EXPECT_EQ(blocks[1].hole_length(), kMiB - kBlock);
  EXPECT_THAT(blocks[1].data(), IsEmpty());
  EXPECT_EQ(blocks[2].offset(), kMiB);
  EXPECT_EQ(blocks[2].data(), std::string(kBlock, 'b'));
  EXPECT_EQ(blocks[3].offset(), kMiB + kBlock);
  EXPECT_EQ(blocks[3].hole_length(), 2 * kMiB - kBlock);
}

TEST_F(DataServiceTest, ReadChunkFailsWhenTheSourceIsModifiedDuringTheStream) {
  absl::StatusOr<storage::FileInfo> info = fs_->Stat("big");
  ASSERT_TRUE(info.ok());
  v1::ReadChunkRequest request = ReadRequest("/big", 0, 0);
  request.set_expected_size(info->size);
  request.set_expected_mtime_ns(info->mtime_ns);
  on_block_ = [this, info](absl::string_view, v1::DataBlock* block) {
    if (block->offset() == 0) {
      ASSERT_TRUE(fs_->SetModeAndMtime("big", info->mode, info->mtime_ns + 1).ok());
    }
  };
  std::vector<v1::DataBlock> blocks;
  const grpc::Status status = Read(request, &blocks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("source changed"));
  EXPECT_THAT(status.error_message(), HasSubstr("/big"));
}

TEST_F(DataServiceTest, TheBlockHookSeesEveryDataBlockAfterItsCrcIsComputed) {
  on_block_ = [](absl::string_view path, v1::DataBlock* block) {
    EXPECT_EQ(path, "/big");
    if (block->offset() == kBlock) (*block->mutable_data())[5] ^= 0x01;
  };
  std::vector<v1::DataBlock> blocks;
  ASSERT_TRUE(Read(ReadRequest("/big", 0, 0), &blocks).ok());
  ASSERT_EQ(blocks.size(), 4u);
  EXPECT_EQ(blocks[0].crc32c(), Crc32c(blocks[0].data()));
  EXPECT_NE(blocks[1].crc32c(), Crc32c(blocks[1].data()));  // Flipped after the CRC.
}

TEST_F(DataServiceTest, ReadFilesStreamsEachFileThenItsOutcome) {
  v1::ReadFilesRequest request;
  request.set_block_size(kBlock);
  request.add_files()->set_path("/big");
  request.add_files()->set_path("/missing");
  v1::FileRead* changed = request.add_files();
  changed->set_path("/tree/a.txt");
  changed->set_expected_size(5);
  changed->set_expected_mtime_ns(1);  // Not its mtime: the source changed.
  request.add_files()->set_path("/tree/f.txt");
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  auto reader = stub_->ReadFiles(context.get(), request);
  std::vector<v1::DataBlock> blocks;
  for (v1::DataBlock block; reader->Read(&block);) blocks.push_back(block);
  ASSERT_TRUE(reader->Finish().ok());
  // big: 4 data blocks and its end; missing: end; a.txt: end; f.txt: 1 block and end.
  ASSERT_EQ(blocks.size(), 9u);
  std::string big;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(blocks[i].file_index(), 0u);
    EXPECT_FALSE(blocks[i].end_of_file());
    EXPECT_EQ(blocks[i].offset(), big.size());
    big += blocks[i].data();
  }
  EXPECT_EQ(big, TestData(kBigSize));
  EXPECT_TRUE(blocks[4].end_of_file());
  EXPECT_EQ(blocks[4].file_code(), 0);
  EXPECT_EQ(blocks[5].file_index(), 1u);
  EXPECT_TRUE(blocks[5].end_of_file());
  EXPECT_EQ(blocks[5].file_code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(blocks[6].file_index(), 2u);
  EXPECT_TRUE(blocks[6].end_of_file());
  EXPECT_EQ(blocks[6].file_code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(blocks[6].file_message(), HasSubstr("source changed"));
  EXPECT_EQ(blocks[7].file_index(), 3u);
  EXPECT_EQ(blocks[7].data(), "foxtrot");
  EXPECT_TRUE(blocks[8].end_of_file());
  EXPECT_EQ(blocks[8].file_code(), 0);
}

TEST_F(DataServiceTest, ReadFilesRefusesNoFilesTooManyAndBadBlockSizes) {
  const auto code = [this](const v1::ReadFilesRequest& request) {
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    auto reader = stub_->ReadFiles(context.get(), request);
    for (v1::DataBlock block; reader->Read(&block);) ADD_FAILURE() << "sent a block";
    return reader->Finish().error_code();
  };
  EXPECT_EQ(code(v1::ReadFilesRequest()), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ReadFilesRequest too_many;
  for (int i = 0; i < 1025; ++i) too_many.add_files()->set_path("/big");
  EXPECT_EQ(code(too_many), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ReadFilesRequest tiny_blocks;
  tiny_blocks.add_files()->set_path("/big");
  tiny_blocks.set_block_size(1);
  EXPECT_EQ(code(tiny_blocks), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DataServiceTest, ReadChunkBeyondEndOfFileIsOutOfRange) {
  EXPECT_EQ(ReadCode(ReadRequest("/big", kBigSize + 1, 0)), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(ReadCode(ReadRequest("/big", kBigSize - 10, 11)), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(ReadCode(ReadRequest("/big", 10, std::numeric_limits<uint64_t>::max())),
            grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(DataServiceTest, ReadChunkRefusesBadBlockSizes) {
  EXPECT_EQ(ReadCode(ReadRequest("/big", 0, 0, 100)), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadCode(ReadRequest("/big", 0, 0, kBlock - 1)),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadCode(ReadRequest("/big", 0, 0, (4 << 20) + 1)),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DataServiceTest, ReadChunkRefusesBadPathsAndWhatIsNotARegularFile) {
  EXPECT_EQ(ReadCode(ReadRequest("big", 0, 0)), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadCode(ReadRequest("/tree/../big", 0, 0)), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadCode(ReadRequest("/../big", 0, 0)), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadCode(ReadRequest("/tree/missing", 0, 0)), grpc::StatusCode::NOT_FOUND);
  // A symlink is never followed, even to a file inside the root.
  EXPECT_EQ(ReadCode(ReadRequest("/tree/e", 0, 0)), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace ferry::copyd
