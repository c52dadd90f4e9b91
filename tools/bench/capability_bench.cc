// capability_bench: the cost of issue 7's capability checks on the data path, as a ratio
// of copy throughput with and without them, in one process over loopback gRPC.
//
// A real DataServiceImpl over a real root serves ReadChunk twice: bare, and behind
// CapabilityCheckedDataService (HMAC-SHA256 Verify, range check, local policy check,
// audit line to a discarding sink). A client reads whole files as copyd does (one
// ReadChunk per file, 1 MiB blocks), alternating the two servers for `rounds` rounds,
// and prints the median throughput of each and their ratio, for big files (one 64 MiB
// file per request: the per-request check is amortized) and small ones (64 KiB per
// request: the worst case for a per-request cost).
//
//   bazel build -c opt //tools/bench:capability_bench && bazel-bin/tools/bench/capability_bench
//   ... --quick   (fewer, smaller reads; CI)
//
// Output: "RATIO <name> checked/unchecked=<x>" lines (1.00 = free; 0.98 = 2% slower).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/audit.h"
#include "auth/capability.h"
#include "auth/key_ring.h"
#include "auth/policy_store.h"
#include "common/clock.h"
#include "common/server_util.h"
#include "copyd/capability_checked_data_service.h"
#include "copyd/data_service.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "storage/posix_file_system.h"

namespace ferry {
namespace {

constexpr char kUser[] = "ferry://user/bench";
constexpr char kCluster[] = "a";

class DiscardingSink : public auth::AuditSink {
 public:
  void Write(absl::string_view /*line*/) override {}
};

struct Server {
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::DataService::Stub> stub;
};

Server Serve(grpc::Service* service) {
  grpc::ServerBuilder builder;
  int port = 0;
  AddListeningPort(builder, "127.0.0.1:0", &port);
  builder.RegisterService(service);
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartServer(builder, &port, "127.0.0.1:0");
  if (!server.ok()) {
    std::fprintf(stderr, "capability_bench: %s\n", server.status().ToString().c_str());
    std::exit(1);
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  Server out;
  out.server = *std::move(server);
  out.stub = v1::DataService::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), arguments));
  return out;
}

// Reads each of `paths` whole with one ReadChunk; returns bytes per second.
double ReadAll(v1::DataService::Stub* stub, const std::vector<std::string>& paths,
               const std::vector<v1::Capability>& capabilities, uint64_t size) {
  const auto start = std::chrono::steady_clock::now();
  uint64_t bytes = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    grpc::ClientContext context;
    v1::ReadChunkRequest request;
    *request.mutable_capability() = capabilities[i];
    request.set_path(paths[i]);
    request.set_length(size);
    request.set_block_size(1 << 20);
    auto reader = stub->ReadChunk(&context, request);
    for (v1::DataBlock block; reader->Read(&block);) bytes += block.data().size();
    grpc::Status status = reader->Finish();
    if (!status.ok()) {
      std::fprintf(stderr, "capability_bench: %s\n", status.error_message().c_str());
      std::exit(1);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return bytes / seconds;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int Run(bool quick) {
  char dir_template[] = "/tmp/capability_bench.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return 1;
  const std::string root = absl::StrCat(dir, "/root");
  const std::string policy_file = absl::StrCat(dir, "/policy");
  if (mkdir(root.c_str(), 0755) != 0) return 1;
  std::ofstream(policy_file) << "grants { principals: \"" << kUser << "\" cluster: \"a\" "
                             << "path_prefix: \"/\" permissions: PERMISSION_READ }\n";
  absl::StatusOr<std::unique_ptr<auth::PolicyStore>> policy = auth::PolicyStore::Open(policy_file);
  absl::StatusOr<std::shared_ptr<const auth::KeySet>> key_set =
      auth::KeySet::Parse(absl::StrCat("k1 ", std::string(64, '5'), " signing\n"), "bench");
  absl::StatusOr<std::unique_ptr<storage::FileSystem>> fs = storage::NewPosixFileSystem(root);
  if (!policy.ok() || !key_set.ok() || !fs.ok()) return 1;
  std::unique_ptr<auth::KeyRing> keys = auth::KeyRing::FromKeySet(*key_set);
  RealClock clock;
  DiscardingSink sink;
  copyd::DataServiceImpl bare(fs->get());
  copyd::DataRequestAuthorizer authorizer(keys.get(), policy->get(), &sink, &clock, kCluster);
  copyd::CapabilityCheckedDataService checked(&authorizer, &bare);
  Server bare_server = Serve(&bare);
  Server checked_server = Serve(&checked);

  struct Case {
    std::string name;
    uint64_t size;
    int files;
  };
  const std::vector<Case> cases =
      quick ? std::vector<Case>{{"big_files_4MiB", 4 << 20, 4}, {"small_files_64KiB", 64 << 10, 64}}
            : std::vector<Case>{{"big_files_64MiB", 64 << 20, 8},
                                {"small_files_64KiB", 64 << 10, 2000}};
  const int rounds = quick ? 3 : 11;
  const std::string block(1 << 20, 'x');
  for (const Case& c : cases) {
    std::vector<std::string> paths;
    std::vector<v1::Capability> capabilities;
    for (int i = 0; i < c.files; ++i) {
      const std::string name = absl::StrCat(c.name, "-", i);
      std::ofstream out(absl::StrCat(root, "/", name), std::ios::binary);
      for (uint64_t written = 0; written < c.size; written += block.size()) {
        out.write(block.data(), std::min<uint64_t>(block.size(), c.size - written));
      }
      paths.push_back("/" + name);
      v1::CapabilityClaims claims;
      claims.set_transfer_id("t-bench");
      claims.set_user(kUser);
      claims.set_issuer_cluster("b");
      claims.set_audience_cluster(kCluster);
      claims.set_path(paths.back());
      claims.set_operation(v1::CAPABILITY_OPERATION_READ);
      claims.set_length(c.size);
      claims.set_expiry_unix_ms(absl::ToUnixMillis(absl::Now() + absl::Hours(1)));
      absl::StatusOr<v1::Capability> capability = auth::Sign(*keys, claims);
      if (!capability.ok()) return 1;
      capabilities.push_back(*capability);
    }
    ReadAll(bare_server.stub.get(), paths, capabilities, c.size);  // Warm the page cache.
    std::vector<double> unchecked_rates, checked_rates;
    // Alternating which goes first, so drift (page cache, other load) hits both.
    for (int round = 0; round < rounds; ++round) {
      for (int turn = 0; turn < 2; ++turn) {
        const bool check = (round + turn) % 2 == 1;
        (check ? checked_rates : unchecked_rates)
            .push_back(ReadAll((check ? checked_server : bare_server).stub.get(), paths,
                               capabilities, c.size));
      }
    }
    const double unchecked = Median(unchecked_rates), with_checks = Median(checked_rates);
    std::printf("FIGURE %s unchecked=%.1f MB/s checked=%.1f MB/s\n", c.name.c_str(),
                unchecked / 1e6, with_checks / 1e6);
    std::printf("RATIO %s checked/unchecked=%.4f\n", c.name.c_str(), with_checks / unchecked);
  }
  bare_server.server->Shutdown();
  checked_server.server->Shutdown();
  std::string remove = absl::StrCat("rm -rf ", dir);
  return std::system(remove.c_str()) == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ferry

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  return ferry::Run(quick);
}
