// controller: one per cluster. Serves CopyService (users) and WorkerService (copyd),
// keeps every transfer, file and task in RocksDB under --data_dir, plans sources into
// tasks and leases them to the cluster's copyd workers. Every channel, served or
// opened, is mTLS with the certificate of --tls_cert (see common/server_util.h).
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "auth/audit.h"
#include "auth/daemon_auth.h"
#include "bwclient/grpc_bandwidth_client.h"
#include "common/clock.h"
#include "common/location.h"
#include "common/process.h"
#include "common/server_util.h"
#include "controller/authorizer_hooks.h"
#include "controller/bandwidth_manager.h"
#include "controller/lease_wait_list.h"
#include "controller/metrics.h"
#include "controller/planning_loop.h"
#include "controller/services.h"
#include "controller/source_lister.h"
#include "controller/store.h"
#include "controller/transfer_manager.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"

ABSL_FLAG(std::string, cluster, "local", "Name of the cluster this controller owns.");
ABSL_FLAG(std::string, peer, "",
          "Other clusters this controller copies from (pull), with the DataService "
          "addresses of copyds serving their roots: CLUSTER=HOST:PORT[,HOST:PORT...], "
          "several separated by ';', e.g. a=10.0.0.1:7000,10.0.0.2:7000;c=10.2.0.1:7000.");
ABSL_FLAG(std::string, data_dir, "", "Directory of the RocksDB database (required).");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port to serve gRPC on; port 0 picks one.");
ABSL_FLAG(std::string, port_file, "", "Write the bound port here once serving.");
ABSL_FLAG(absl::Duration, lease_duration, absl::Seconds(30),
          "How long a task lease lasts without a heartbeat.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(1),
          "How often workers are asked to heartbeat.");
ABSL_FLAG(absl::Duration, worker_timeout, absl::Seconds(10),
          "A worker silent this long loses its leases.");
ABSL_FLAG(int, max_attempts, 5, "Attempts per task before its files fail.");
ABSL_FLAG(int, max_files_per_task, 256, "Small files batched into one task, at most.");
ABSL_FLAG(std::string, chunk_size, "64MiB",
          "Regular files larger than this are copied in chunks of this size, by several "
          "workers at once, then committed: bytes, or a number with KiB, MiB or GiB; "
          "64KiB to 64GiB.");
ABSL_FLAG(absl::Duration, retry_backoff, absl::Seconds(1),
          "First retry delay; doubles per attempt up to --retry_backoff_max, with jitter.");
ABSL_FLAG(absl::Duration, retry_backoff_max, absl::Seconds(60), "Longest retry delay.");
ABSL_FLAG(absl::Duration, stall_after, absl::Seconds(60),
          "Report a running transfer as stalled, with the reason, after this long "
          "without progress.");
ABSL_FLAG(absl::Duration, retention, absl::Hours(24 * 7),
          "Keep ended transfers this long, then delete them.");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port to serve Prometheus metrics on at /metrics (port 0 picks one); "
          "empty: no metrics.");
ABSL_FLAG(std::string, metrics_port_file, "", "Write the bound metrics port here.");
ABSL_FLAG(std::vector<std::string>, user_weights, {},
          "Fair-share weights within a priority class, e.g. alice=2,bob=1 (default 1): a "
          "user name stands for ferry://user/<name>; a principal URI is taken as is.");
ABSL_FLAG(std::string, bwbroker, "",
          "HOST:PORT of the bandwidth broker (bwbroker), reached over this daemon's mTLS "
          "channel; empty: no broker and no rate limits.");
ABSL_FLAG(double, bandwidth_floor, 1 << 20,
          "Bytes/s a flow group gets when the broker has not granted it anything (or its "
          "lease ended and the last grant was higher): the fail-static floor.");
ABSL_FLAG(double, bandwidth_task_ceiling, 1e9,
          "Demand of one leased task in bytes/s: a flow group asks the broker for its "
          "leased tasks times this.");
ABSL_FLAG(absl::Duration, bandwidth_max_backoff, absl::Seconds(1),
          "Longest wait between attempts to reach an unreachable broker (report loop and "
          "channel reconnects), so a restarted broker is heard from within about this.");

namespace ferry::controller {
namespace {

absl::StatusOr<absl::flat_hash_map<std::string, double>> ParseWeights(
    const std::vector<std::string>& specs) {
  absl::flat_hash_map<std::string, double> weights;
  for (const std::string& spec : specs) {
    std::pair<std::string, std::string> parts = absl::StrSplit(spec, absl::MaxSplits('=', 1));
    double weight = 0;
    if (parts.first.empty() || !absl::SimpleAtod(parts.second, &weight) || weight <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--user_weights: '", spec, "' is not USER=POSITIVE_NUMBER"));
    }
    // Transfers belong to principals (services.h); people write names.
    const bool is_uri = absl::StartsWith(parts.first, "ferry://");
    weights[is_uri ? parts.first : absl::StrCat("ferry://user/", parts.first)] = weight;
  }
  return weights;
}

// "a=h1:1,h2:2;b=h3:3" -> {a: [h1:1, h2:2], b: [h3:3]}.
absl::StatusOr<absl::flat_hash_map<std::string, std::vector<std::string>>> ParsePeers(
    const std::string& text, const std::string& own_cluster) {
  absl::flat_hash_map<std::string, std::vector<std::string>> peers;
  for (absl::string_view spec : absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    spec = absl::StripAsciiWhitespace(spec);
    const auto bad = [spec](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--peer: '", spec, "' ", why, "; want CLUSTER=HOST:PORT[,HOST:PORT...]"));
    };
    std::pair<std::string, std::string> parts = absl::StrSplit(spec, absl::MaxSplits('=', 1));
    if (absl::Status s = ValidateClusterName(parts.first, "cluster"); !s.ok()) {
      return bad(s.message());
    }
    if (parts.first == own_cluster) return bad("names this controller's own cluster");
    if (peers.contains(parts.first)) return bad("names a cluster given before");
    std::vector<std::string>& addresses = peers[parts.first];
    for (absl::string_view address : absl::StrSplit(parts.second, ',')) {
      const size_t colon = address.rfind(':');
      int port = 0;
      if (colon == absl::string_view::npos || colon == 0 ||
          !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
        return bad(absl::StrCat("has '", address, "', which is not HOST:PORT"));
      }
      addresses.emplace_back(address);
    }
  }
  return peers;
}

// "4194304", "512KiB", "64MiB", "1GiB" -> bytes.
absl::StatusOr<uint64_t> ParseChunkSize(absl::string_view text) {
  constexpr uint64_t kMin = 64ull << 10, kMax = 64ull << 30;
  uint64_t unit = 1;
  for (const auto& [suffix, bytes] : {std::pair<absl::string_view, uint64_t>{"KiB", 1ull << 10},
                                      {"MiB", 1ull << 20},
                                      {"GiB", 1ull << 30}}) {
    if (absl::ConsumeSuffix(&text, suffix)) {
      unit = bytes;
      break;
    }
  }
  uint64_t count = 0;
  if (!absl::SimpleAtoi(text, &count) || count > kMax / unit || count * unit < kMin) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--chunk_size: '", absl::GetFlag(FLAGS_chunk_size),
        "' is not a size from 64KiB to 64GiB (bytes, or a number with KiB, MiB or GiB)"));
  }
  return count * unit;
}

// What talks to --bwbroker (see controller/bandwidth_manager.h); all null
// without a broker.
struct Bandwidth {
  std::unique_ptr<v1::BandwidthBroker::Stub> stub;
  std::unique_ptr<bwclient::GrpcBandwidthClient> client;
  std::unique_ptr<BandwidthManager> manager;
};

absl::StatusOr<std::unique_ptr<Bandwidth>> StartBandwidthFromFlags(
    const std::string& cluster, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const Clock* clock) {
  auto bandwidth = std::make_unique<Bandwidth>();
  const std::string broker = absl::GetFlag(FLAGS_bwbroker);
  if (broker.empty()) return bandwidth;
  const BandwidthOptions options{absl::GetFlag(FLAGS_bandwidth_task_ceiling)};
  if (absl::Status s = BandwidthManager::Validate(options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--bandwidth_task_ceiling: ", s.message()));
  }
  bwclient::GrpcBandwidthClientOptions client_options;
  client_options.client_id = absl::StrCat("controller/", cluster);
  client_options.floor_bytes_per_second = absl::GetFlag(FLAGS_bandwidth_floor);
  client_options.max_backoff = absl::GetFlag(FLAGS_bandwidth_max_backoff);
  bandwidth->stub = v1::BandwidthBroker::NewStub(grpc::CreateCustomChannel(
      broker, credentials, bwclient::BrokerChannelArguments(client_options)));
  absl::StatusOr<std::unique_ptr<bwclient::GrpcBandwidthClient>> client =
      bwclient::GrpcBandwidthClient::Create(bandwidth->stub.get(), clock, client_options);
  if (!client.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bandwidth_floor, --bandwidth_max_backoff (or --cluster): ",
                     client.status().message()));
  }
  bandwidth->client = *std::move(client);
  bandwidth->client->Start();
  bandwidth->manager = std::make_unique<BandwidthManager>(bandwidth->client.get(), options);
  LOG(INFO) << "bandwidth from broker " << broker << ", floor "
            << client_options.floor_bytes_per_second << " bytes/s per flow group";
  return bandwidth;
}

absl::StatusOr<ManagerOptions> OptionsFromFlags() {
  ManagerOptions options;
  absl::StatusOr<uint64_t> chunk_bytes = ParseChunkSize(absl::GetFlag(FLAGS_chunk_size));
  if (!chunk_bytes.ok()) return chunk_bytes.status();
  options.plan_limits.chunk_bytes = *chunk_bytes;
  absl::StatusOr<absl::flat_hash_map<std::string, double>> weights =
      ParseWeights(absl::GetFlag(FLAGS_user_weights));
  if (!weights.ok()) return weights.status();
  options.user_weights = std::move(*weights);
  options.retry_backoff_base = absl::GetFlag(FLAGS_retry_backoff);
  options.stall_after = absl::GetFlag(FLAGS_stall_after);
  options.retention = absl::GetFlag(FLAGS_retention);
  options.retry_backoff_max = absl::GetFlag(FLAGS_retry_backoff_max);
  options.cluster = absl::GetFlag(FLAGS_cluster);
  absl::StatusOr<absl::flat_hash_map<std::string, std::vector<std::string>>> peers =
      ParsePeers(absl::GetFlag(FLAGS_peer), options.cluster);
  if (!peers.ok()) return peers.status();
  options.peers = std::move(*peers);
  options.lease_duration = absl::GetFlag(FLAGS_lease_duration);
  options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.worker_timeout = absl::GetFlag(FLAGS_worker_timeout);
  options.max_attempts = absl::GetFlag(FLAGS_max_attempts);
  options.plan_limits.max_files_per_task = absl::GetFlag(FLAGS_max_files_per_task);
  return options;
}

int Run() {
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (data_dir.empty()) {
    LOG(ERROR) << "--data_dir is required";
    return 2;
  }
  absl::StatusOr<ManagerOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    LOG(ERROR) << options.status();
    return 2;
  }
  // --policy and --capability_keys, and their SIGHUP reloader, before any
  // other thread (auth/daemon_auth.h).
  absl::StatusOr<auth::DaemonAuth> daemon_auth = auth::DaemonAuthFromFlags();
  if (!daemon_auth.ok()) {
    LOG(ERROR) << daemon_auth.status();
    return 2;
  }
  // Before anything is opened: a controller without its certificates must not start.
  absl::StatusOr<DaemonCredentials> credentials = DaemonCredentialsFromFlags();
  if (!credentials.ok()) {
    LOG(ERROR) << credentials.status();
    return 2;
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(data_dir);
  if (!store.ok()) {
    LOG(ERROR) << "cannot open store: " << store.status();
    return 1;
  }
  RealClock clock;
  auth::GlogAuditSink audit_sink;
  const ControllerAuthorization authorization(*daemon_auth, &audit_sink, &clock,
                                              options->cluster, options->lease_duration);
  options->task_authorizer = authorization.tasks.get();
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  std::unique_ptr<ControllerMetrics> metrics;
  if (!metrics_listen.empty()) metrics = std::make_unique<ControllerMetrics>(&clock);
  absl::StatusOr<std::unique_ptr<Bandwidth>> bandwidth =
      StartBandwidthFromFlags(options->cluster, credentials->channel, &clock);
  if (!bandwidth.ok()) {
    LOG(ERROR) << bandwidth.status();
    return 2;
  }
  options->bandwidth = (*bandwidth)->manager.get();
  // The observer sees the recovery events, so ferry_transfers starts out complete.
  TransferManager manager(store->get(), &clock, *std::move(options), metrics.get());
  if (absl::Status s = manager.Recover(); !s.ok()) {
    LOG(ERROR) << "recovery failed: " << s;
    return 1;
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  if (metrics != nullptr) {
    metrics->SetSources(&manager, store->get());
    int metrics_port = 0;
    absl::StatusOr<std::unique_ptr<prometheus::Exposer>> started =
        StartMetricsExposer(metrics_listen, *metrics, &metrics_port);
    if (!started.ok()) {
      LOG(ERROR) << started.status();
      return 1;
    }
    exposer = *std::move(started);
    if (absl::Status s = WritePortFile(absl::GetFlag(FLAGS_metrics_port_file), metrics_port);
        !s.ok()) {
      LOG(ERROR) << s;
      return 1;
    }
    LOG(INFO) << "metrics at http://" << metrics_listen.substr(0, metrics_listen.rfind(':'))
              << ":" << metrics_port << "/metrics";
  }
  GrpcSourceLister lister(credentials->channel, absl::Seconds(30));
  PlanningLoop planning(&manager, &lister, &clock, authorization.issuer.get());

  CopyServiceImpl copy_service(&manager, authorization.policy.get());
  // Long poll of LeaseTasks: idle workers hear of new tasks at once.
  LeaseWaitList lease_waits(&clock, [&manager](const v1::LeaseTasksRequest& request) {
    return manager.LeaseTasks(request);
  });
  manager.SetTasksRunnableListener([&lease_waits] { lease_waits.Wake(); });
  WorkerServiceImpl worker_service(&manager, &lease_waits, &clock);
  ConfigureCommonServerOptions();
  grpc::ServerBuilder builder;
  int port = 0;
  AddListeningPort(builder, absl::GetFlag(FLAGS_listen), credentials->server, &port);
  builder.RegisterService(&copy_service);
  builder.RegisterService(&worker_service);
  if (metrics != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(metrics->NewRpcInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartServer(builder, &port, absl::GetFlag(FLAGS_listen));
  if (!server.ok()) {
    LOG(ERROR) << server.status();
    return 1;
  }
  planning.Start();
  absl::Notification stop_housekeeping;
  std::thread housekeeping([&] {
    while (!stop_housekeeping.WaitForNotificationWithTimeout(absl::Milliseconds(250))) {
      manager.ExpireWorkersAndLeases();
    }
  });
  if (absl::Status s = WritePortFile(absl::GetFlag(FLAGS_port_file), port); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  LOG(INFO) << "controller of cluster '" << manager.options().cluster << "' serving on port "
            << port << ", data in " << data_dir;

  const int signal_number = WaitForTerminationSignal();
  LOG(INFO) << "signal " << signal_number << ": shutting down";
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  planning.Stop();
  stop_housekeeping.Notify();
  housekeeping.join();
  return 0;
}

}  // namespace
}  // namespace ferry::controller

int main(int argc, char** argv) {
  ferry::InitDaemon(argc, argv,
                    "controller --data_dir=DIR --tls_ca=FILE --tls_cert=FILE "
                    "--tls_key=FILE --policy=FILE --capability_keys=FILE [--cluster=NAME] [--listen=HOST:PORT] "
                    "[--peer=CLUSTER=HOST:PORT,...;...] [--port_file=FILE] "
                    "[--metrics_listen=HOST:PORT]");
  return ferry::controller::Run();
}
