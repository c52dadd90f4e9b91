// bwbroker: the bandwidth broker. Serves BandwidthBroker (proto/bandwidth_broker.proto)
// to the controllers' bwclients, allocating the links of --config by weighted max-min
// fairness; its state is soft (rebuilt from the next reports after a restart). Served
// over mTLS with the certificate of --tls_cert (common/server_util.h); only
// controllers may call it (broker_service.h).
#include <chrono>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "bwbroker/broker.h"
#include "bwbroker/broker_service.h"
#include "bwbroker/config.h"
#include "bwbroker/metrics.h"
#include "common/clock.h"
#include "common/process.h"
#include "common/server_util.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, config, "",
          "Broker configuration, a text-format ferry.bwbroker.BrokerConfig (required).");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port to serve gRPC on; port 0 picks one.");
ABSL_FLAG(std::string, port_file, "", "Write the bound port here once serving.");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port to serve Prometheus metrics on at /metrics (port 0 picks one); "
          "empty: no metrics.");
ABSL_FLAG(std::string, metrics_port_file, "", "Write the bound metrics port here.");

namespace ferry::bwbroker {
namespace {

// Starts the metrics endpoint of --metrics_listen and announces its port.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> ServeMetrics(const BrokerMetrics& metrics) {
  const std::string address = absl::GetFlag(FLAGS_metrics_listen);
  int port = 0;
  absl::StatusOr<std::unique_ptr<prometheus::Exposer>> exposer =
      StartMetricsExposer(address, metrics, &port);
  if (!exposer.ok()) return exposer.status();
  if (absl::Status s = WritePortFile(absl::GetFlag(FLAGS_metrics_port_file), port); !s.ok()) {
    return s;
  }
  LOG(INFO) << "metrics at http://" << address.substr(0, address.rfind(':')) << ":" << port
            << "/metrics";
  return exposer;
}

int Run() {
  const std::string config_path = absl::GetFlag(FLAGS_config);
  if (config_path.empty()) {
    LOG(ERROR) << "--config is required";
    return 2;
  }
  absl::StatusOr<BrokerConfig> config = LoadConfig(config_path);
  if (!config.ok()) {
    LOG(ERROR) << config.status();
    return 2;
  }
  // Before anything is served: a broker without its certificates must not start.
  absl::StatusOr<DaemonCredentials> credentials = DaemonCredentialsFromFlags();
  if (!credentials.ok()) {
    LOG(ERROR) << credentials.status();
    return 2;
  }
  RealClock clock;
  std::unique_ptr<BrokerMetrics> metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    metrics = std::make_unique<BrokerMetrics>();
    absl::StatusOr<std::unique_ptr<prometheus::Exposer>> started = ServeMetrics(*metrics);
    if (!started.ok()) {
      LOG(ERROR) << started.status();
      return 1;
    }
    exposer = *std::move(started);
  }
  const int links = config->links_size();
  Broker broker(*std::move(config), &clock, metrics.get());
  BandwidthBrokerService service(&broker);
  ConfigureCommonServerOptions();
  grpc::ServerBuilder builder;
  int port = 0;
  AddListeningPort(builder, absl::GetFlag(FLAGS_listen), credentials->server, &port);
  builder.RegisterService(&service);
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartServer(builder, &port, absl::GetFlag(FLAGS_listen));
  if (!server.ok()) {
    LOG(ERROR) << server.status();
    return 1;
  }
  broker.Start();
  if (absl::Status s = WritePortFile(absl::GetFlag(FLAGS_port_file), port); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  LOG(INFO) << "bwbroker serving on port " << port << ", " << links << " links from "
            << config_path;

  const int signal_number = WaitForTerminationSignal();
  LOG(INFO) << "signal " << signal_number << ": shutting down";
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  broker.Stop();
  return 0;
}

}  // namespace
}  // namespace ferry::bwbroker

int main(int argc, char** argv) {
  ferry::InitDaemon(argc, argv,
                    "bwbroker --config=FILE --tls_ca=FILE --tls_cert=FILE --tls_key=FILE "
                    "[--listen=HOST:PORT] [--port_file=FILE] "
                    "[--metrics_listen=HOST:PORT] [--metrics_port_file=FILE]");
  return ferry::bwbroker::Run();
}
