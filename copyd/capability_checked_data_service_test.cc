// copyd's rows of the denial table (issue 7): hostile DataService requests against a
// real DataServiceImpl over a real root, behind CapabilityCheckedDataService. Each row
// asserts the exact status and that nothing was read (no block left the source, no
// stat or listing came back).
#include "copyd/capability_checked_data_service.h"

#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "auth/capability.h"
#include "common/server_util.h"
#include "copyd/data_service.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "storage/posix_file_system.h"
#include "storage/test_util.h"

namespace ferry::copyd {
namespace {

constexpr char kAlice[] = "ferry://user/alice";
constexpr char kBob[] = "ferry://user/bob";
constexpr char kCluster[] = "a";
constexpr char kContent[] = "the bytes of /data/a/f";

// Alice may read a:/data/a; nobody else anything.
constexpr char kPolicy[] = R"(
grants { principals: "ferry://user/alice" cluster: "a" path_prefix: "/data/a"
         permissions: PERMISSION_READ }
)";

std::unique_ptr<auth::KeyRing> RingOf(absl::string_view text) {
  absl::StatusOr<std::shared_ptr<const auth::KeySet>> keys = auth::KeySet::Parse(text, "keys");
  EXPECT_TRUE(keys.ok()) << keys.status();
  return auth::KeyRing::FromKeySet(*keys);
}

class NullSink : public auth::AuditSink {
 public:
  void Write(absl::string_view /*line*/) override { ++lines; }
  std::atomic<int> lines{0};
};

enum class Verb { kRead, kStat, kList };

struct Row {
  std::string name;
  Verb verb;
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  v1::Capability capability;
  absl::StatusCode code;
};

class CapabilityCheckedDataServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string root = storage::testing::MakeTempDir();
    absl::StatusOr<std::unique_ptr<storage::FileSystem>> fs = storage::NewPosixFileSystem(root);
    ASSERT_TRUE(fs.ok()) << fs.status();
    fs_ = std::move(*fs);
    ASSERT_TRUE(fs_->MakeDirs("data/a/sub", 0755).ok());
    ASSERT_TRUE(fs_->MakeDirs("data/ab", 0755).ok());
    ASSERT_TRUE(fs_->MakeDirs("secret", 0755).ok());
    ASSERT_TRUE(storage::testing::WriteFile(*fs_, "data/a/f", kContent).ok());
    ASSERT_TRUE(storage::testing::WriteFile(*fs_, "data/ab/g", "sibling").ok());
    ASSERT_TRUE(storage::testing::WriteFile(*fs_, "secret/s", "secret").ok());
    // Inside the granted prefix, pointing out of it.
    ASSERT_TRUE(fs_->CreateSymlink("../../secret/s", "data/a/link").ok());
    ASSERT_TRUE(fs_->CreateSymlink("../../secret", "data/a/dirlink").ok());

    policy_path_ = absl::StrCat(root, ".policy");
    std::ofstream(policy_path_, std::ios::trunc) << kPolicy;
    absl::StatusOr<std::unique_ptr<auth::PolicyStore>> store =
        auth::PolicyStore::Open(policy_path_);
    ASSERT_TRUE(store.ok()) << store.status();
    policy_ = *std::move(store);
    keys_ = RingOf(absl::StrCat("k0 ", std::string(64, '1'), "\nk1 ", std::string(64, '2'),
                                " signing\n"));
    stranger_keys_ = RingOf(absl::StrCat("k9 ", std::string(64, '3'), " signing\n"));
    authorizer_ = std::make_unique<DataRequestAuthorizer>(keys_.get(), policy_.get(), &sink_,
                                                          &clock_, kCluster);

    inner_ = std::make_unique<DataServiceImpl>(
        fs_.get(), [this](absl::string_view, v1::DataBlock*) { ++blocks_sent_; });
    service_ = std::make_unique<CapabilityCheckedDataService>(authorizer_.get(), inner_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    AddListeningPort(builder, "127.0.0.1:0", &port);
    builder.RegisterService(service_.get());
    absl::StatusOr<std::unique_ptr<grpc::Server>> server =
        StartServer(builder, &port, "127.0.0.1:0");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::DataService::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                                         grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    unlink(policy_path_.c_str());
  }

  v1::CapabilityClaims Claims(v1::CapabilityOperation operation, const std::string& path,
                              uint64_t offset = 0, uint64_t length = 0) const {
    v1::CapabilityClaims claims;
    claims.set_transfer_id("t-1");
    claims.set_user(kAlice);
    claims.set_issuer_cluster("b");
    claims.set_audience_cluster(kCluster);
    claims.set_path(path);
    claims.set_operation(operation);
    claims.set_offset(offset);
    claims.set_length(length);
    claims.set_expiry_unix_ms(absl::ToUnixMillis(clock_.Now() + absl::Minutes(5)));
    return claims;
  }

  v1::Capability Signed(const v1::CapabilityClaims& claims,
                        const auth::KeyRing* ring = nullptr) const {
    absl::StatusOr<v1::Capability> capability =
        auth::Sign(ring == nullptr ? *keys_ : *ring, claims);
    EXPECT_TRUE(capability.ok()) << capability.status();
    return capability.ok() ? *capability : v1::Capability();
  }

  // A READ of all of /data/a/f.
  v1::Capability GoodRead() const {
    return Signed(Claims(v1::CAPABILITY_OPERATION_READ, "/data/a/f", 0, sizeof(kContent) - 1));
  }

  // GoodRead's capability with its claims changed after signing, MAC kept.
  v1::Capability Tampered(const std::function<void(v1::CapabilityClaims*)>& change) const {
    v1::Capability capability = GoodRead();
    v1::CapabilityClaims claims;
    EXPECT_TRUE(claims.ParseFromString(capability.claims()));
    change(&claims);
    capability.set_claims(claims.SerializeAsString());
    return capability;
  }

  // Runs one row; returns the status, and counts in *received what came back.
  grpc::Status Run(const Row& row, int* received) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    *received = 0;
    if (row.verb == Verb::kStat) {
      v1::StatRequest request;
      *request.mutable_capability() = row.capability;
      request.set_path(row.path);
      v1::FileInfo info;
      grpc::Status status = stub_->Stat(&context, request, &info);
      if (info.ByteSizeLong() != 0) ++*received;
      return status;
    }
    if (row.verb == Verb::kList) {
      v1::ListRequest request;
      *request.mutable_capability() = row.capability;
      request.set_path(row.path);
      std::unique_ptr<grpc::ClientReader<v1::ListResponse>> reader =
          stub_->List(&context, request);
      for (v1::ListResponse page; reader->Read(&page);) *received += page.entries_size();
      return reader->Finish();
    }
    v1::ReadChunkRequest request;
    *request.mutable_capability() = row.capability;
    request.set_path(row.path);
    request.set_offset(row.offset);
    request.set_length(row.length);
    std::unique_ptr<grpc::ClientReader<v1::DataBlock>> reader =
        stub_->ReadChunk(&context, request);
    for (v1::DataBlock block; reader->Read(&block);) *received += block.data().size();
    return reader->Finish();
  }

  SimulatedClock clock_;
  NullSink sink_;
  std::unique_ptr<storage::FileSystem> fs_;
  std::string policy_path_;
  std::unique_ptr<auth::PolicyStore> policy_;
  std::unique_ptr<auth::KeyRing> keys_;
  std::unique_ptr<auth::KeyRing> stranger_keys_;
  std::unique_ptr<DataRequestAuthorizer> authorizer_;
  std::unique_ptr<DataServiceImpl> inner_;
  std::unique_ptr<CapabilityCheckedDataService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::DataService::Stub> stub_;
  std::atomic<int> blocks_sent_{0};
};

TEST_F(CapabilityCheckedDataServiceTest, GrantedRequestsAreServed) {
  const uint64_t size = sizeof(kContent) - 1;
  int received = 0;
  grpc::Status status = Run({"read", Verb::kRead, "/data/a/f", 0, size, GoodRead()}, &received);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(received, static_cast<int>(size));
  const v1::Capability list = Signed(Claims(v1::CAPABILITY_OPERATION_LIST, "/data/a"));
  status = Run({"list", Verb::kList, "/data/a", 0, 0, list}, &received);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(received, 0);
  status = Run({"stat under list", Verb::kStat, "/data/a/f", 0, 0, list}, &received);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(received, 1);
}

TEST_F(CapabilityCheckedDataServiceTest, DenialTable) {
  using Code = absl::StatusCode;
  const uint64_t size = sizeof(kContent) - 1;
  const v1::Capability good = GoodRead();
  v1::Capability bad_mac = good;
  bad_mac.mutable_mac()->back() ^= 1;
  v1::Capability short_mac = good;
  short_mac.mutable_mac()->pop_back();
  v1::Capability other_key = good;  // A known key that did not sign it.
  other_key.set_key_id("k0");
  v1::Capability unknown_key = good;
  unknown_key.set_key_id("k-none");
  v1::CapabilityClaims expired = Claims(v1::CAPABILITY_OPERATION_READ, "/data/a/f", 0, size);
  expired.set_expiry_unix_ms(absl::ToUnixMillis(clock_.Now()) - 1);
  v1::CapabilityClaims for_b = Claims(v1::CAPABILITY_OPERATION_READ, "/data/a/f", 0, size);
  for_b.set_audience_cluster("b");
  v1::CapabilityClaims for_bob = Claims(v1::CAPABILITY_OPERATION_READ, "/data/a/f", 0, size);
  for_bob.set_user(kBob);
  const v1::Capability partial =
      Signed(Claims(v1::CAPABILITY_OPERATION_READ, "/data/a/f", 4, 4));
  const v1::Capability list_a = Signed(Claims(v1::CAPABILITY_OPERATION_LIST, "/data/a"));
  const v1::Capability list_data = Signed(Claims(v1::CAPABILITY_OPERATION_LIST, "/data"));
  const v1::Capability read_sibling =
      Signed(Claims(v1::CAPABILITY_OPERATION_READ, "/data/ab/g", 0, 7));
  const v1::Capability read_link =
      Signed(Claims(v1::CAPABILITY_OPERATION_READ, "/data/a/link", 0, 6));
  const v1::Capability list_dirlink =
      Signed(Claims(v1::CAPABILITY_OPERATION_LIST, "/data/a/dirlink"));

  const std::vector<Row> rows = {
      {"no capability", Verb::kRead, "/data/a/f", 0, size, v1::Capability(),
       Code::kUnauthenticated},
      {"no capability (stat)", Verb::kStat, "/data/a/f", 0, 0, v1::Capability(),
       Code::kUnauthenticated},
      {"no capability (list)", Verb::kList, "/data/a", 0, 0, v1::Capability(),
       Code::kUnauthenticated},
      {"unknown key id", Verb::kRead, "/data/a/f", 0, size, unknown_key, Code::kUnauthenticated},
      {"signed by a key this cluster does not hold", Verb::kRead, "/data/a/f", 0, size,
       Signed(Claims(v1::CAPABILITY_OPERATION_READ, "/data/a/f", 0, size),
              stranger_keys_.get()),
       Code::kUnauthenticated},
      {"key id swapped for another known key", Verb::kRead, "/data/a/f", 0, size, other_key,
       Code::kUnauthenticated},
      {"MAC flipped", Verb::kRead, "/data/a/f", 0, size, bad_mac, Code::kUnauthenticated},
      {"MAC truncated", Verb::kRead, "/data/a/f", 0, size, short_mac, Code::kUnauthenticated},
      {"tampered path", Verb::kRead, "/data/ab/g", 0, 7,
       Tampered([](v1::CapabilityClaims* c) { c->set_path("/data/ab/g"); }),
       Code::kUnauthenticated},
      {"tampered offset", Verb::kRead, "/data/a/f", 0, size,
       Tampered([](v1::CapabilityClaims* c) { c->set_offset(1); }), Code::kUnauthenticated},
      {"tampered length", Verb::kRead, "/data/a/f", 0, size,
       Tampered([](v1::CapabilityClaims* c) { c->set_length(0); }), Code::kUnauthenticated},
      {"tampered user", Verb::kRead, "/data/a/f", 0, size,
       Tampered([](v1::CapabilityClaims* c) { c->set_user(kBob); }), Code::kUnauthenticated},
      {"tampered audience", Verb::kRead, "/data/a/f", 0, size,
       Tampered([](v1::CapabilityClaims* c) { c->set_audience_cluster("c"); }),
       Code::kUnauthenticated},
      {"tampered issuer", Verb::kRead, "/data/a/f", 0, size,
       Tampered([](v1::CapabilityClaims* c) { c->set_issuer_cluster("c"); }),
       Code::kUnauthenticated},
      {"tampered transfer id", Verb::kRead, "/data/a/f", 0, size,
       Tampered([](v1::CapabilityClaims* c) { c->set_transfer_id("t-2"); }),
       Code::kUnauthenticated},
      {"tampered operation", Verb::kList, "/data/a", 0, 0,
       Tampered([](v1::CapabilityClaims* c) { c->set_operation(v1::CAPABILITY_OPERATION_LIST); }),
       Code::kUnauthenticated},
      {"tampered expiry", Verb::kRead, "/data/a/f", 0, size,
       Tampered([](v1::CapabilityClaims* c) { c->set_expiry_unix_ms(c->expiry_unix_ms() + 1); }),
       Code::kUnauthenticated},
      {"expired", Verb::kRead, "/data/a/f", 0, size, Signed(expired), Code::kUnauthenticated},
      {"for another audience", Verb::kRead, "/data/a/f", 0, size, Signed(for_b),
       Code::kUnauthenticated},
      {"replayed for a wider range", Verb::kRead, "/data/a/f", 4, 5, partial,
       Code::kPermissionDenied},
      {"replayed for an earlier offset", Verb::kRead, "/data/a/f", 3, 4, partial,
       Code::kPermissionDenied},
      {"replayed to end of file", Verb::kRead, "/data/a/f", 4, 0, partial,
       Code::kPermissionDenied},
      {"replayed for another file", Verb::kRead, "/data/ab/g", 0, 7, good,
       Code::kPermissionDenied},
      {"READ capability used to list", Verb::kList, "/data/a", 0, 0, good,
       Code::kPermissionDenied},
      {"READ capability used to stat a neighbour", Verb::kStat, "/data/a/sub", 0, 0, good,
       Code::kPermissionDenied},
      {"LIST capability used to read", Verb::kRead, "/data/a/f", 0, size, list_a,
       Code::kPermissionDenied},
      {"LIST of the parent of the root", Verb::kList, "/data", 0, 0, list_a,
       Code::kPermissionDenied},
      {"LIST of a sibling prefix", Verb::kList, "/data/ab", 0, 0, list_a,
       Code::kPermissionDenied},
      {"dot-dot out of the LIST root", Verb::kList, "/data/a/../ab", 0, 0, list_a,
       Code::kInvalidArgument},
      {"dot-dot out of the READ path", Verb::kRead, "/data/a/f/../../ab/g", 0, 7, good,
       Code::kInvalidArgument},
      {"doubled slash", Verb::kStat, "/data/a//f", 0, 0, list_a, Code::kInvalidArgument},
      {"NUL in the path", Verb::kStat, std::string("/data/a/f\0x", 11), 0, 0, list_a,
       Code::kInvalidArgument},
      {"valid capability, local policy refuses the user", Verb::kRead, "/data/a/f", 0, size,
       Signed(for_bob), Code::kPermissionDenied},
      {"valid capability on a sibling prefix the policy does not grant", Verb::kRead,
       "/data/ab/g", 0, 7, read_sibling, Code::kPermissionDenied},
      {"valid LIST above what the policy grants", Verb::kList, "/data", 0, 0, list_data,
       Code::kPermissionDenied},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const int blocks_before = blocks_sent_.load();
    int received = 0;
    const grpc::Status status = Run(row, &received);
    EXPECT_EQ(static_cast<int>(status.error_code()), static_cast<int>(row.code))
        << status.error_message();
    EXPECT_EQ(received, 0);
    EXPECT_EQ(blocks_sent_.load(), blocks_before);
  }
  std::cout << "copyd DataService denial rows: " << rows.size() << "\n";
  EXPECT_GE(sink_.lines.load(), static_cast<int>(rows.size()));

  // Symlinks inside the granted prefix that point out of it: checks pass on the
  // spelling, storage refuses to follow them, and nothing of /secret comes back.
  for (const Row& row :
       std::vector<Row>{{"symlink to a file outside", Verb::kRead, "/data/a/link", 0, 6,
                         read_link, Code::kOk},
                        {"symlink to a directory outside", Verb::kList, "/data/a/dirlink/s",
                         0, 0, list_dirlink, Code::kOk}}) {
    SCOPED_TRACE(row.name);
    int received = 0;
    const grpc::Status status = Run(row, &received);
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(received, 0);
  }
}

// ReadFiles: every file needs its own capability for the whole file; one refusal
// refuses the request before anything is read.
TEST_F(CapabilityCheckedDataServiceTest, ReadFilesNeedsACapabilityForEachWholeFile) {
  const uint64_t size = sizeof(kContent) - 1;
  auto read_files = [&](const std::vector<std::pair<std::string, v1::Capability>>& files,
                        int* received) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ReadFilesRequest request;
    for (const auto& [path, capability] : files) {
      v1::FileRead* read = request.add_files();
      *read->mutable_capability() = capability;
      read->set_path(path);
      // The planned stat, as a copyd sends it (each file's outcome depends on it).
      absl::StatusOr<storage::FileInfo> info = fs_->Stat(path.substr(1));
      read->set_expected_size(info.ok() ? info->size : 1);
      read->set_expected_mtime_ns(info.ok() ? info->mtime_ns : 1);
    }
    *received = 0;
    auto reader = stub_->ReadFiles(&context, request);
    for (v1::DataBlock block; reader->Read(&block);) *received += block.data().size();
    return reader->Finish();
  };
  const v1::Capability good = GoodRead();
  ASSERT_TRUE(storage::testing::WriteFile(*fs_, "data/a/g", "second").ok());
  const v1::Capability second =
      Signed(Claims(v1::CAPABILITY_OPERATION_READ, "/data/a/g", 0, 6));
  const v1::Capability first_half =
      Signed(Claims(v1::CAPABILITY_OPERATION_READ, "/data/a/f", 0, size / 2));
  int received = 0;
  grpc::Status status = read_files({{"/data/a/f", good}, {"/data/a/g", second}}, &received);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(received, static_cast<int>(size + 6));

  struct FilesRow {
    const char* name;
    std::vector<std::pair<std::string, v1::Capability>> files;
    grpc::StatusCode code;
  };
  const std::vector<FilesRow> rows = {
      {"second file without a capability",
       {{"/data/a/f", good}, {"/data/a/g", v1::Capability()}},
       grpc::StatusCode::UNAUTHENTICATED},
      {"one capability reused for another file",
       {{"/data/a/f", good}, {"/data/a/g", good}},
       grpc::StatusCode::PERMISSION_DENIED},
      {"a capability for part of the file", {{"/data/a/f", first_half}},
       grpc::StatusCode::PERMISSION_DENIED},
      {"a file outside the local grant", {{"/data/a/f", good}, {"/data/ab/g", good}},
       grpc::StatusCode::PERMISSION_DENIED},
  };
  for (const FilesRow& row : rows) {
    SCOPED_TRACE(row.name);
    const int blocks_before = blocks_sent_.load();
    status = read_files(row.files, &received);
    EXPECT_EQ(status.error_code(), row.code) << status.error_message();
    EXPECT_EQ(received, 0);
    EXPECT_EQ(blocks_sent_.load(), blocks_before);
  }
}

}  // namespace
}  // namespace ferry::copyd
