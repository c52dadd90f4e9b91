// End-to-end bandwidth management with real processes: a bwbroker whose config caps the
// link a -> b, cluster a (source: controller, one copyd) and cluster b (destination:
// controller with --bwbroker, one copyd running 4 tasks at once), every channel mTLS.
// Two users (alice, bob: their own certificates) copy a -> b at once.
//
//   1. Both copy: each gets half the cap within 10% over a 10 s window.
//   2. bob's transfer is cancelled: alice alone holds the cap within 10% over 10 s.
//   3. The broker is SIGKILLed: copying goes on at the last grant until its lease ends,
//      then at --bandwidth_floor; the broker restarts on its port: the grant is back
//      within two recompute periods (plus a heartbeat).
//
// Rates come from the transfers' progress bytes (chunks of 512 KiB, so the counter moves
// in small steps), polled every 100 ms and fitted by least squares over each window.
// The rates are far below what this machine moves (8 MB/s over the link), so the broker
// and the token buckets are what limits them. Measured figures are printed as FIGURE
// lines.
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "proto/copy_service.grpc.pb.h"
#include "tests/harness/process_harness.h"
#include "tests/local_cluster.h"

namespace ferry {
namespace {

constexpr double kLinkCap = 8e6;   // Bytes/s of a -> b in the broker's config.
constexpr double kFloor = 2e6;     // b's --bandwidth_floor.
constexpr int kFileMiB = 64;
constexpr int kAliceFiles = 5;     // 320 MiB: enough for every phase at the cap.
constexpr int kBobFiles = 2;

std::string PolicyForBoth() {
  return e2e::DefaultTestPolicy("alice") + e2e::DefaultTestPolicy("bob");
}

std::unique_ptr<e2e::LocalCluster> NewCluster(const std::string& name,
                                              std::vector<std::string> controller_flags,
                                              std::vector<std::string> copyd_flags,
                                              std::shared_ptr<e2e::TestCertificates> certs) {
  e2e::ClusterOptions options;
  options.name = absl::StrCat("bw-", name);
  options.cluster = name;
  options.user = "alice";
  options.certificates = std::move(certs);
  options.policy = PolicyForBoth();
  options.controller_flags = std::move(controller_flags);
  options.copyd_flags = std::move(copyd_flags);
  absl::StatusOr<std::unique_ptr<e2e::LocalCluster>> cluster =
      e2e::LocalCluster::Create(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

v1::CreateTransferRequest PullRequest(const std::string& id, const std::string& path) {
  v1::CreateTransferRequest request;
  request.set_request_id(id);
  request.mutable_source()->set_cluster("a");
  request.mutable_source()->set_path(path);
  v1::Location* destination = request.add_destinations();
  destination->set_cluster("b");
  destination->set_path(path + "-copy");
  request.set_recursive(true);
  return request;
}

// Polls a transfer's progress bytes.
class ProgressProbe {
 public:
  ProgressProbe(v1::CopyService::Stub* stub, std::string id) : stub_(stub), id_(std::move(id)) {}

  absl::StatusOr<int64_t> BytesDone() const {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::GetTransferRequest request;
    request.set_id(id_);
    v1::Transfer transfer;
    grpc::Status status = stub_->GetTransfer(&context, request, &transfer);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return transfer.progress().bytes_done();
  }

 private:
  v1::CopyService::Stub* const stub_;
  const std::string id_;
};

// Samples every probe every 100 ms for `window`; each one's least-squares rate
// (bytes/s). A probe that fails is retried at the next sample.
std::vector<double> MeasureRates(const std::vector<const ProgressProbe*>& probes,
                                 absl::Duration window) {
  struct Fit {
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  };
  std::vector<Fit> fits(probes.size());
  const absl::Time start = absl::Now();
  for (absl::Time now = start; now - start < window; now = absl::Now()) {
    for (size_t i = 0; i < probes.size(); ++i) {
      absl::StatusOr<int64_t> bytes = probes[i]->BytesDone();
      if (!bytes.ok()) continue;
      const double x = absl::ToDoubleSeconds(absl::Now() - start);
      const double y = static_cast<double>(*bytes);
      Fit& f = fits[i];
      f.n += 1;
      f.sx += x;
      f.sy += y;
      f.sxx += x * x;
      f.sxy += x * y;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::vector<double> rates;
  for (const Fit& f : fits) {
    const double denominator = f.n * f.sxx - f.sx * f.sx;
    rates.push_back(f.n < 3 || denominator <= 0 ? 0
                                                 : (f.n * f.sxy - f.sx * f.sy) / denominator);
  }
  return rates;
}

double RelativeError(double measured, double expected) {
  return std::abs(measured - expected) / expected;
}

class BandwidthEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::shared_ptr<e2e::TestCertificates>> certs =
        e2e::TestCertificates::Create();
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
    for (const char* cluster : {"a", "b"}) ASSERT_TRUE(certs_->AddCluster(cluster).ok());
    for (const char* user : {"alice", "bob"}) ASSERT_TRUE(certs_->AddUser(user).ok());
    const std::string config_path = certs_->dir() + "/bwbroker.textproto";
    ASSERT_TRUE(e2e::WriteFile(config_path,
                               absl::StrCat("links { source_cluster: \"a\" "
                                            "destination_cluster: \"b\" "
                                            "capacity_bytes_per_second: ",
                                            kLinkCap,
                                            " }\n"
                                            "recompute_period_ms: 1000\n"
                                            "report_interval_ms: 1000\n"
                                            "lease_duration_ms: 5000\n"))
                    .ok());
    config_path_ = config_path;
    ASSERT_NO_FATAL_FAILURE(StartBroker(0));
  }

  void StartBroker(int port) {
    harness::ProcessOptions options;
    options.name = absl::StrCat("bw-broker-", ++broker_incarnation_);
    options.binary = harness::RunfilePath("bwbroker/bwbroker");
    options.args = {absl::StrCat("--config=", config_path_),
                    absl::StrCat("--listen=127.0.0.1:", port)};
    for (std::string& flag : certs_->Flags("b-bwbroker")) options.args.push_back(flag);
    options.port_file = true;
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> health =
        certs_->ChannelCredentials("b-controller");
    ASSERT_TRUE(health.ok()) << health.status();
    options.health_credentials = *health;
    absl::StatusOr<std::unique_ptr<harness::ManagedProcess>> broker =
        harness::ManagedProcess::Start(options);
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    absl::StatusOr<std::string> address =
        broker_->WaitServing(absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(address.ok()) << address.status();
    broker_address_ = *address;
  }

  void WriteSource(e2e::LocalCluster& cluster, const std::string& dir, int files,
                   uint64_t seed) {
    const std::string path = cluster.root().Join(dir);
    ASSERT_EQ(mkdir(path.c_str(), 0755), 0);
    for (int i = 0; i < files; ++i) {
      ASSERT_TRUE(e2e::WriteFile(absl::StrCat(path, "/f", i),
                                 e2e::RandomBytes(size_t{kFileMiB} << 20, seed + i))
                      .ok());
    }
  }

  std::shared_ptr<e2e::TestCertificates> certs_;
  std::string config_path_;
  int broker_incarnation_ = 0;
  std::unique_ptr<harness::ManagedProcess> broker_;
  std::string broker_address_;
};

TEST_F(BandwidthEndToEndTest, UsersShareTheLinkOneHoldsTheCapAndOutagesFailStatic) {
  std::unique_ptr<e2e::LocalCluster> a = NewCluster("a", {}, {}, certs_);
  ASSERT_NE(a, nullptr);
  ASSERT_NO_FATAL_FAILURE(WriteSource(*a, "alice", kAliceFiles, 100));
  ASSERT_NO_FATAL_FAILURE(WriteSource(*a, "bob", kBobFiles, 200));
  ASSERT_TRUE(a->StartController().ok());
  absl::Status started = a->StartCopyd(1);
  ASSERT_TRUE(started.ok()) << started;

  std::unique_ptr<e2e::LocalCluster> b = NewCluster(
      "b",
      {"--chunk_size=512KiB", "--heartbeat_interval=250ms", "--lease_duration=20s",
       absl::StrCat("--peer=a=", a->copyd_address(1)),
       absl::StrCat("--bwbroker=", broker_address_), absl::StrCat("--bandwidth_floor=", kFloor)},
      {"--max_tasks=4"}, certs_);
  ASSERT_NE(b, nullptr);
  started = b->StartController();
  ASSERT_TRUE(started.ok()) << started;
  started = b->StartCopyd(1);
  ASSERT_TRUE(started.ok()) << started;

  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> bob_credentials =
      certs_->ChannelCredentials("user-bob");
  ASSERT_TRUE(bob_credentials.ok()) << bob_credentials.status();
  std::unique_ptr<v1::CopyService::Stub> as_bob =
      v1::CopyService::NewStub(grpc::CreateChannel(b->controller_address(), *bob_credentials));

  absl::StatusOr<v1::Transfer> alice = b->CreateTransfer(PullRequest("alice-1", "/alice"));
  ASSERT_TRUE(alice.ok()) << alice.status();
  v1::Transfer bob;
  {
    grpc::ClientContext context;
    grpc::Status status = as_bob->CreateTransfer(&context, PullRequest("bob-1", "/bob"), &bob);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const ProgressProbe alice_probe(&b->copy_service(), alice->id());
  const ProgressProbe bob_probe(as_bob.get(), bob.id());

  // 1. Both at once: half the cap each. Grants settle within a few recompute periods.
  absl::SleepFor(absl::Seconds(5));
  std::vector<double> rates = MeasureRates({&alice_probe, &bob_probe}, absl::Seconds(10));
  const double half = kLinkCap / 2;
  printf("FIGURE share: alice %.0f B/s (%.1f%% off half), bob %.0f B/s (%.1f%% off half), "
         "split %.3f:%.3f of a %.0f B/s link\n",
         rates[0], 100 * RelativeError(rates[0], half), rates[1],
         100 * RelativeError(rates[1], half), rates[0] / (rates[0] + rates[1]),
         rates[1] / (rates[0] + rates[1]), kLinkCap);
  EXPECT_LT(RelativeError(rates[0], half), 0.10) << rates[0];
  EXPECT_LT(RelativeError(rates[1], half), 0.10) << rates[1];

  // 2. bob cancels: alice alone holds the cap.
  {
    grpc::ClientContext context;
    v1::CancelTransferRequest cancel;
    cancel.set_id(bob.id());
    v1::Transfer cancelled;
    grpc::Status status = as_bob->CancelTransfer(&context, cancel, &cancelled);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  absl::SleepFor(absl::Seconds(4));
  const double alone = MeasureRates({&alice_probe}, absl::Seconds(10))[0];
  printf("FIGURE cap: one user %.0f B/s on a %.0f B/s link, error %.1f%%\n", alone, kLinkCap,
         100 * RelativeError(alone, kLinkCap));
  EXPECT_LT(RelativeError(alone, kLinkCap), 0.10) << alone;

  // 3. The broker dies: the last grant holds while its lease lasts (5 s from the last
  // report), then the floor.
  const int broker_port = std::stoi(broker_address_.substr(broker_address_.rfind(':') + 1));
  ASSERT_TRUE(broker_->Kill(SIGKILL).ok());
  ASSERT_TRUE(broker_->Wait(absl::Now() + absl::Seconds(10)).ok());
  broker_.reset();
  const double leased = MeasureRates({&alice_probe}, absl::Seconds(3))[0];
  absl::SleepFor(absl::Seconds(4));  // The lease (5 s) has ended by now.
  const double floor = MeasureRates({&alice_probe}, absl::Seconds(4))[0];
  printf("FIGURE outage: %.0f B/s during the lease (grant %.0f), %.0f B/s after it "
         "(floor %.0f)\n",
         leased, kLinkCap, floor, kFloor);
  EXPECT_LT(RelativeError(leased, kLinkCap), 0.25) << leased;
  EXPECT_LT(RelativeError(floor, kFloor), 0.25) << floor;

  // The broker is back on its port: the grant returns within two recompute periods
  // (the client's backoff, of reports and of reconnects, is at most 1 s) plus a
  // heartbeat.
  ASSERT_NO_FATAL_FAILURE(StartBroker(broker_port));
  absl::SleepFor(absl::Seconds(2) + absl::Milliseconds(250));
  const double recovered = MeasureRates({&alice_probe}, absl::Seconds(4))[0];
  printf("FIGURE recovery: %.0f B/s from 2.25 s after the broker restarted (grant %.0f), "
         "error %.1f%%\n",
         recovered, kLinkCap, 100 * RelativeError(recovered, kLinkCap));
  EXPECT_LT(RelativeError(recovered, kLinkCap), 0.25) << recovered;
}

}  // namespace
}  // namespace ferry
