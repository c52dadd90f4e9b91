// LocalCluster: one ferry cluster on 127.0.0.1 for end-to-end tests: a controller over
// a RocksDB directory and any number of copyd workers over one storage root, all real
// processes started through //tests/harness, plus the CopyService calls tests make.
//
//   ClusterOptions options;
//   options.name = "seed7";
//   options.controller_flags = {"--lease_duration=3s"};
//   absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Create(options);
//   ASSERT_TRUE(cluster.ok()) << cluster.status();
//   ASSERT_TRUE((*cluster)->StartController().ok());
//   ASSERT_TRUE((*cluster)->StartCopyd(1).ok());
//
// mTLS everywhere, as in production: Create() makes the cluster's certificates with
// tools/gen-certs.sh (TestCertificates, in $TEST_TMPDIR), every process gets its
// --tls_ca/--tls_cert/--tls_key, readiness is gRPC health over TLS, and copy_service()
// calls as the user options.user (ferry://user/<user>). A CLI gets the user's
// certificates through TestCertificates::UserTlsDir (FERRY_TLS_DIR) or Flags.
//
// Two clusters: give each its ferry cluster name (options.cluster = "a") and the same
// TestCertificates (options.certificates = first->certificates()), so that they trust
// each other, and the destination's controller "--peer=a=" + source->copyd_address(1).
//   ... (*cluster)->copy_service().CreateTransfer(...) ...
//   absl::StatusOr<v1::Transfer> done =
//       (*cluster)->WaitForTransfer(id, IsTerminal, absl::Now() + absl::Seconds(60));
//
// Restarts: StopController then StartController again on the same --data_dir (on a new
// port, or on the old one when asked, so running copyds find the new incarnation).
// Copyds are told the controller address when they start, so after a restart on a new
// port they must be stopped and started again.
//
// Ownership and failure: the cluster owns its processes and both directories; its
// destructor kills every process (the harness kills whole process groups) before the
// directories go, so a test that fails at any ASSERT leaves nothing behind. Methods
// report failures as absl::Status and never abort. Process names (and so log files,
// <OutputDir()>/<name>-<role>-<incarnation>.log) carry the cluster name, which must be
// unique among the clusters alive in one test process. Thread-compatible: use from the
// test's main thread (the harness requires it for starting processes).
#ifndef FERRY_TESTS_LOCAL_CLUSTER_H_
#define FERRY_TESTS_LOCAL_CLUSTER_H_

#include <signal.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/tls.h"
#include "grpcpp/security/credentials.h"
#include "proto/copy_service.grpc.pb.h"
#include "tests/harness/process_harness.h"

namespace ferry::e2e {

// Writes `data` to `path` (created or truncated).
absl::Status WriteFile(const std::string& path, absl::string_view data);

// `size` pseudo-random bytes, the same for the same seed.
std::string RandomBytes(size_t size, uint64_t seed);

// SUCCEEDED, FAILED or CANCELLED.
bool IsTerminal(const v1::Transfer& transfer);

// A recursive copy within cluster "local" (the default of both binaries), with the
// defaults of everything else (overwrite policy "never", nothing preserved).
v1::CreateTransferRequest LocalCopyRequest(const std::string& request_id,
                                           const std::string& source_path,
                                           const std::string& destination_path);

// The certificates of one test: tools/gen-certs.sh run in a scratch directory (one CA),
// for clusters and users added as needed. Shared by the clusters of a test; the
// directory goes with the last owner. Thread-compatible (the harness runs the script).
class TestCertificates {
 public:
  static absl::StatusOr<std::shared_ptr<TestCertificates>> Create();

  // Runs gen-certs.sh with `args` (e.g. {"--user", "mallory", "--other-ca"}); what
  // exists already is kept.
  absl::Status Generate(const std::vector<std::string>& args);
  // The certificates of `cluster`'s processes: <cluster>-controller, -copyd, -bwbroker.
  absl::Status AddCluster(const std::string& cluster) { return Generate({"--cluster", cluster}); }
  // user-<user>.
  absl::Status AddUser(const std::string& user) { return Generate({"--user", user}); }
  // The capability key file every process of the test shares (made once,
  // 0600, one random signing key), for --capability_keys.
  absl::StatusOr<std::string> CapabilityKeys();

  const std::string& dir() const { return dir_.path(); }
  // The CA and certificate `name` (gen-certs.sh's file name without .pem).
  auth::TlsConfig Config(absl::string_view name) const;
  // --tls_ca, --tls_cert and --tls_key of `name`, for a process's command line.
  std::vector<std::string> Flags(absl::string_view name) const;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
      absl::string_view name) const;
  // A FERRY_TLS_DIR for `user` (added first): ca.pem, user.pem and user.key, copied.
  absl::StatusOr<std::string> UserTlsDir(const std::string& user);

 private:
  explicit TestCertificates(harness::TempDir dir) : dir_(std::move(dir)) {}
  harness::TempDir dir_;
};

struct ClusterOptions {
  // Prefix of process names and log files; letters, digits, '-', '_', '.'.
  std::string name = "cluster";
  // The ferry cluster name (--cluster of both binaries; cluster:/path locations).
  std::string cluster = "local";
  // The user copy_service() calls as.
  std::string user = "e2e";
  // Shared with the other clusters of the test; Create() makes one when null.
  std::shared_ptr<TestCertificates> certificates;
  // Added to the controller's command line after --data_dir, --listen, --cluster and
  // the --tls_* flags.
  std::vector<std::string> controller_flags;
  // Added to each copyd's command line after --controller, --root, --listen, --name,
  // --cluster and the --tls_* flags.
  std::vector<std::string> copyd_flags;
  // The copyd binary, a runfiles path: "copyd/copyd_with_fault_hooks" (the
  // test's data must hold //copyd:copyd_with_fault_hooks) for --testonly_* flags.
  std::string copyd_binary = "copyd/copyd";
  // How long a process may take to serve (port file, then grpc health SERVING).
  absl::Duration start_timeout = absl::Seconds(30);
  // The policy textproto of this cluster's processes (--policy); empty:
  // DefaultTestPolicy(user).
  std::string policy;
};

// `user` may READ and WRITE everything in clusters local, a, b and c, and
// is an admin: what the end-to-end tests that are not about authorization need.
std::string DefaultTestPolicy(const std::string& user);

class LocalCluster {
 public:
  // Creates the two scratch directories (RocksDB and storage root); starts nothing.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Create(ClusterOptions options);

  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;
  ~LocalCluster();

  // The storage root every copyd serves (cluster paths "/x" are root().Join("x")).
  const harness::TempDir& root() const { return root_; }
  const harness::TempDir& data_dir() const { return data_dir_; }
  const std::shared_ptr<TestCertificates>& certificates() const {
    return options_.certificates;
  }

  // Starts the controller on --data_dir and waits until it serves, then points
  // copy_service() at it. `port` 0 lets the kernel choose; otherwise that port is
  // bound (as a restarted controller would keep its address), which fails with
  // FailedPrecondition when the process exits because the port is taken.
  // FailedPrecondition too while a controller process is still running.
  absl::Status StartController(int port = 0);
  // Sends `signal` to the controller, waits for it to end and forgets it.
  absl::Status StopController(int signal = SIGKILL);

  // Starts copyd number `index` (worker name <name>-copyd-<index>, stable across
  // restarts) against the current controller address and waits until it serves.
  absl::Status StartCopyd(int index);
  // The DataService address (host:port) of running copyd `index`, or "" if none; what
  // another cluster's controller takes in --peer.
  std::string copyd_address(int index) const;
  // Sends `signal` to every copyd; waits up to `grace` for each to end, then SIGKILLs
  // what is left; forgets them all.
  absl::Status StopCopyds(int signal = SIGKILL, absl::Duration grace = absl::Seconds(10));

  const std::string& controller_address() const { return controller_address_; }
  int controller_port() const { return controller_port_; }
  // The running controller process, or null.
  harness::ManagedProcess* controller() { return controller_.get(); }
  // The file given as --policy to this cluster's processes. Replace it with
  // SetPolicy, then signal SIGHUP to the process that should reload it.
  std::string policy_path() const;
  absl::Status SetPolicy(absl::string_view text);
  // Valid once StartController succeeded; follows restarts.
  v1::CopyService::Stub& copy_service() { return *copy_service_; }

  absl::StatusOr<v1::Transfer> CreateTransfer(const v1::CreateTransferRequest& request);
  absl::StatusOr<v1::Transfer> GetTransfer(const std::string& id);
  // Every transfer of every user, newest first (follows page tokens).
  absl::StatusOr<std::vector<v1::Transfer>> ListAllTransfers();
  // Polls GetTransfer every `interval` until `done` holds (returns that transfer) or
  // `deadline` passes (DeadlineExceeded with the last transfer seen). RPC errors are
  // retried until the deadline.
  absl::StatusOr<v1::Transfer> WaitForTransfer(
      const std::string& id, const std::function<bool(const v1::Transfer&)>& done,
      absl::Time deadline, absl::Duration interval = absl::Milliseconds(50));

 private:
  LocalCluster(ClusterOptions options, harness::TempDir data_dir, harness::TempDir root,
               std::shared_ptr<grpc::ChannelCredentials> user_credentials,
               std::shared_ptr<grpc::ChannelCredentials> health_credentials)
      : options_(std::move(options)),
        data_dir_(std::move(data_dir)),
        root_(std::move(root)),
        user_credentials_(std::move(user_credentials)),
        health_credentials_(std::move(health_credentials)) {}

  // Starts `process` as this cluster's `role` ("controller", "copyd": adds --cluster and
  // the --tls_* flags of <cluster>-<role> before the extra flags of the options) and
  // waits until it serves; returns the process and its address.
  absl::StatusOr<std::pair<std::unique_ptr<harness::ManagedProcess>, std::string>>
  StartDaemon(harness::ProcessOptions process, absl::string_view role,
              const std::vector<std::string>& extra_flags);

  const ClusterOptions options_;
  harness::TempDir data_dir_;
  harness::TempDir root_;
  const std::shared_ptr<grpc::ChannelCredentials> user_credentials_;    // options_.user
  const std::shared_ptr<grpc::ChannelCredentials> health_credentials_;  // the controller's
  int starts_ = 0;  // Process incarnations so far, for unique process names.
  std::unique_ptr<harness::ManagedProcess> controller_;
  std::string controller_address_;
  int controller_port_ = 0;
  std::unique_ptr<v1::CopyService::Stub> copy_service_;
  std::map<int, std::unique_ptr<harness::ManagedProcess>> copyds_;  // By index.
  std::map<int, std::string> copyd_addresses_;                       // By index.
};

}  // namespace ferry::e2e

#endif  // FERRY_TESTS_LOCAL_CLUSTER_H_
