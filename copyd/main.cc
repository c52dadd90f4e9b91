// copyd: the worker daemon that moves bytes. Serves DataService for its cluster's
// storage root (--root) and works for its cluster's controller (--controller). Every
// channel, served or opened, is mTLS with the certificate of --tls_cert (see
// common/server_util.h).
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "auth/audit.h"
#include "auth/daemon_auth.h"
#include "common/clock.h"
#include "common/peer_checked_data_service.h"
#include "common/process.h"
#include "common/server_util.h"
#include "copyd/capability_checked_data_service.h"
#include "copyd/data_service.h"
#include "copyd/fault_hooks.h"
#include "copyd/file_copier.h"
#include "copyd/orphan_sweeper.h"
#include "copyd/rate_limiter.h"
#include "copyd/worker.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"
#include "storage/posix_file_system.h"

ABSL_FLAG(std::string, controller, "", "host:port of this cluster's controller (required).");
ABSL_FLAG(std::string, cluster, "local", "Name of the cluster this copyd belongs to.");
ABSL_FLAG(std::string, root, "", "The cluster's storage root directory (required).");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port for DataService; port 0 picks one.");
ABSL_FLAG(std::string, advertise_host, "127.0.0.1",
          "Host other processes use to reach this copyd's DataService.");
ABSL_FLAG(std::string, port_file, "", "Write the bound DataService port here once serving.");
ABSL_FLAG(std::string, name, "", "Stable worker name (default: copyd-<port>).");
ABSL_FLAG(int, max_tasks, 2, "Tasks this copyd runs at once.");
ABSL_FLAG(int, block_size_kib, 256, "Read/write block size in KiB.");
ABSL_FLAG(int64_t, max_inflight_bytes, int64_t{512} << 20,
          "Bytes the data path may hold at once over all running tasks (each: its block "
          "buffer, one received block, gRPC's copy of it and a stream window); caps how "
          "many of --max_tasks run at once.");
ABSL_FLAG(absl::Duration, orphan_temp_age, absl::Hours(6),
          "Ferry temporary files not written for this long are orphans (of a killed "
          "copyd) and removed; must exceed the longest pause between a file's chunks.");
ABSL_FLAG(absl::Duration, orphan_sweep_interval, absl::Hours(6),
          "How often the root is swept for orphan temporary files after the sweep at "
          "start; 0: only at start.");

namespace ferry::copyd {
namespace {

// gRPC's default HTTP/2 stream window grows with BDP probing up to about this.
constexpr int64_t kStreamWindowBytes = 4 << 20;

int Run() {
  const std::string controller = absl::GetFlag(FLAGS_controller);
  const std::string root = absl::GetFlag(FLAGS_root);
  if (controller.empty() || root.empty()) {
    LOG(ERROR) << "--controller and --root are required";
    return 2;
  }
  // --policy and --capability_keys, and their SIGHUP reloader, before any
  // other thread (auth/daemon_auth.h).
  absl::StatusOr<auth::DaemonAuth> daemon_auth = auth::DaemonAuthFromFlags();
  if (!daemon_auth.ok()) {
    LOG(ERROR) << daemon_auth.status();
    return 2;
  }
  absl::StatusOr<DaemonCredentials> credentials = DaemonCredentialsFromFlags();
  if (!credentials.ok()) {
    LOG(ERROR) << credentials.status();
    return 2;
  }
  absl::StatusOr<std::unique_ptr<storage::FileSystem>> fs = storage::NewPosixFileSystem(root);
  if (!fs.ok()) {
    LOG(ERROR) << "cannot open storage root " << root << ": " << fs.status();
    return 1;
  }
  absl::StatusOr<DataServiceImpl::BlockHook> block_hook = BlockFaultHookFromFlags();
  if (!block_hook.ok()) {
    LOG(ERROR) << block_hook.status();
    return 2;
  }
  DataServiceImpl data_service(fs->get(), *std::move(block_hook));
  // Requests need a capability and this cluster's policy (unless unsafe
  // mode left --capability_keys out).
  RealClock data_clock;
  auth::GlogAuditSink audit_sink;
  const DataRequestAuthorizer data_authorizer(daemon_auth->keys.get(),
                                              daemon_auth->policy.get(), &audit_sink,
                                              &data_clock, absl::GetFlag(FLAGS_cluster));
  CapabilityCheckedDataService capability_checked(&data_authorizer, &data_service);
  v1::DataService::CallbackService* served = &data_service;
  if (daemon_auth->keys != nullptr) served = &capability_checked;
  // Only ferry processes (ferry://cluster/...) reach it; see common/peer_role.h.
  PeerCheckedDataService checked_data_service(served);
  ConfigureCommonServerOptions();
  grpc::ServerBuilder builder;
  int port = 0;
  AddListeningPort(builder, absl::GetFlag(FLAGS_listen), credentials->server, &port);
  builder.RegisterService(&checked_data_service);
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartServer(builder, &port, absl::GetFlag(FLAGS_listen));
  if (!server.ok()) {
    LOG(ERROR) << server.status();
    return 1;
  }

  RealClock clock;
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  std::unique_ptr<v1::WorkerService::Stub> stub = v1::WorkerService::NewStub(
      grpc::CreateCustomChannel(controller, credentials->channel, arguments));
  WorkerOptions options;
  options.cluster = absl::GetFlag(FLAGS_cluster);
  options.data_address = absl::StrCat(absl::GetFlag(FLAGS_advertise_host), ":", port);
  options.worker_name = absl::GetFlag(FLAGS_name).empty() ? absl::StrCat("copyd-", port)
                                                           : absl::GetFlag(FLAGS_name);
  options.storage_root = root;
  // Memory is bounded by configuration, not by file sizes: each running task holds
  // its block buffer, one received block message, gRPC's receive copy of the next one
  // and a stream's flow-control window, whatever the size of the file it copies.
  const int64_t block_bytes = int64_t{absl::GetFlag(FLAGS_block_size_kib)} << 10;
  const int64_t per_task = block_bytes + 2 * int64_t{kRemoteBlockSize} + kStreamWindowBytes;
  const int64_t tasks_in_budget = absl::GetFlag(FLAGS_max_inflight_bytes) / per_task;
  if (tasks_in_budget < 1) {
    LOG(ERROR) << "--max_inflight_bytes=" << absl::GetFlag(FLAGS_max_inflight_bytes)
               << " is below what one task holds (" << per_task << " bytes)";
    return 2;
  }
  options.max_concurrent_tasks =
      static_cast<int>(std::min<int64_t>(absl::GetFlag(FLAGS_max_tasks), tasks_in_budget));
  if (options.max_concurrent_tasks < absl::GetFlag(FLAGS_max_tasks)) {
    LOG(WARNING) << "--max_inflight_bytes allows " << options.max_concurrent_tasks
                 << " tasks at once, fewer than --max_tasks";
  }
  // Flow-group rates from the controller's heartbeats, shared by every executor.
  RateLimiter rate_limiter(&clock);
  options.rate_limiter = &rate_limiter;
  CopierOptions copier_options;
  copier_options.rate_limiter = &rate_limiter;
  copier_options.block_size = static_cast<size_t>(absl::GetFlag(FLAGS_block_size_kib)) << 10;
  // Only root may give files away (chown to any owner); otherwise owners are not kept.
  copier_options.can_set_owner = geteuid() == 0;
  storage::FileSystem* file_system = fs->get();
  // Channels to other clusters' copyds, shared by all executors (pull).
  DataChannels channels(credentials->channel);
  Worker worker(stub.get(), &clock, options, [&]() -> TaskRunner {
    auto copier =
        std::make_shared<FileCopier>(file_system, &clock, copier_options, &channels);
    return [copier](const v1::Task& task, const std::atomic<bool>* abort,
                    std::atomic<int64_t>* bytes_done) {
      return copier->Execute(task, abort, bytes_done);
    };
  });
  worker.Start();
  OrphanSweeper sweeper(fs->get(), &clock, absl::GetFlag(FLAGS_orphan_temp_age),
                        absl::GetFlag(FLAGS_orphan_sweep_interval));
  sweeper.Start();
  if (absl::Status s = WritePortFile(absl::GetFlag(FLAGS_port_file), port); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  LOG(INFO) << "copyd " << options.worker_name << " serving " << root << " on port " << port
            << " for controller " << controller;

  const int signal_number = WaitForTerminationSignal();
  LOG(INFO) << "signal " << signal_number << ": shutting down";
  sweeper.Stop();
  worker.Stop();
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}

}  // namespace
}  // namespace ferry::copyd

int main(int argc, char** argv) {
  ferry::InitDaemon(argc, argv,
                    "copyd --controller=HOST:PORT --root=DIR --tls_ca=FILE "
                    "--tls_cert=FILE --tls_key=FILE --policy=FILE "
                    "--capability_keys=FILE [--cluster=NAME] "
                    "[--listen=HOST:PORT] [--port_file=FILE]");
  return ferry::copyd::Run();
}
