// broker_bench: how long the bandwidth broker takes to recompute its allocation, on the
// real libraries in-process (//bwbroker:allocator, :broker, :metrics; no gRPC).
//
// Workload (fixed --seed): --links directed links between the fewest clusters that
// have that many pairs, capacities log-uniform in 100 MB/s .. 100 GB/s; --users users,
// a third of them with a weight in 0.5 .. 8, three quotas of 5% of capacity per link;
// --groups distinct flow groups (random link, user and class: 10% GUARANTEED, 70% BATCH,
// 20% BEST_EFFORT) with demands log-uniform in 1 MB/s .. 10 GB/s, so links are
// oversubscribed and every rule of the allocator runs. The groups are reported by
// --clients clients, each group by one client and one group in ten by a second one.
//
// Figures (medians of --runs timed runs after one untimed run):
//   allocate_ms        Allocator::Allocate over all groups (target < 100 ms, issue 6)
//   recompute_ms       Broker::Tick: forget silent clients, sum demands per group over
//                      clients, allocate, publish the snapshot to the metrics, as the
//                      broker does every period (target < 100 ms)
//   report_changed_ms  one client's ReportDemands whose demands changed: validation,
//                      recompute, the reply (no target: it bounds how many changing
//                      reports per second the broker answers)
//   metrics_refresh_ms BrokerMetrics::Refresh after a recompute: every link and group
//                      gauge set from the new snapshot, as a Prometheus scrape does (no
//                      target; not part of a recompute)
// Every run checks that no link is granted more than its capacity and no group more
// than its demand, so a broken allocator fails the run instead of looking fast.
//
// Output: a header line (sizes, build type), a table of median/min/max, then per figure
//   FIGURE name=<name> value=<ms> target=<100|none unit=ms met=yes|no|n/a
// Exit status: 0 ran (targets met or not), 1 a check failed, 2 bad flags.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bwbroker/allocator.h"
#include "bwbroker/broker.h"
#include "bwbroker/config.h"
#include "bwbroker/metrics.h"
#include "common/clock.h"

ABSL_FLAG(int32_t, groups, 10000, "Flow groups with a demand.");
ABSL_FLAG(int32_t, links, 100, "Configured links the groups spread over.");
ABSL_FLAG(int32_t, users, 500, "Distinct users.");
ABSL_FLAG(int32_t, clients, 50, "Clients (controllers) reporting the demands.");
ABSL_FLAG(int32_t, runs, 21, "Timed runs per figure; the median is reported.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the workload.");
ABSL_FLAG(bool, quick, false, "Small sizes for CI: 1000 groups, 20 links, 5 runs.");
ABSL_FLAG(std::string, dir, "",
          "Unused: broker_bench writes no files. Accepted so that the shared smoke harness "
          "(smoke_lib.sh) runs it like the other benchmarks.");

namespace ferry::bench {
namespace {

using bwbroker::Allocation;
using bwbroker::Allocator;
using bwbroker::BrokerConfig;
using bwbroker::GroupDemand;
using Steady = std::chrono::steady_clock;

constexpr double kTargetMs = 100;

struct Sizes {
  int groups;
  int links;
  int users;
  int clients;
  int runs;
};

struct Workload {
  BrokerConfig config;
  std::vector<GroupDemand> demands;
  std::vector<v1::ReportDemandsRequest> reports;  // One per client.
};

double LogUniform(std::mt19937_64& rng, double low, double high) {
  return std::exp(std::uniform_real_distribution<double>(std::log(low), std::log(high))(rng));
}

std::string Cluster(int i) { return absl::StrFormat("c%03d", i); }
std::string User(int i) { return absl::StrFormat("user-%04d", i); }

BrokerConfig MakeConfig(std::mt19937_64& rng, const Sizes& sizes) {
  BrokerConfig config;
  int clusters = 2;
  while (clusters * (clusters - 1) < sizes.links) ++clusters;
  std::uniform_int_distribution<int> user(0, sizes.users - 1);
  for (int s = 0; s < clusters && config.links_size() < sizes.links; ++s) {
    for (int d = 0; d < clusters && config.links_size() < sizes.links; ++d) {
      if (s == d) continue;
      bwbroker::Link* link = config.add_links();
      link->set_source_cluster(Cluster(s));
      link->set_destination_cluster(Cluster(d));
      link->set_capacity_bytes_per_second(std::floor(LogUniform(rng, 1e8, 1e11)));
      absl::flat_hash_set<int> quota_users;
      while (static_cast<int>(quota_users.size()) < std::min(3, sizes.users)) {
        quota_users.insert(user(rng));
      }
      for (int u : quota_users) {
        bwbroker::Quota* quota = config.add_quotas();
        quota->set_source_cluster(link->source_cluster());
        quota->set_destination_cluster(link->destination_cluster());
        quota->set_user(User(u));
        quota->set_bytes_per_second(std::floor(link->capacity_bytes_per_second() * 0.05));
      }
    }
  }
  for (int u = 0; u < sizes.users; u += 3) {
    bwbroker::UserWeight* weight = config.add_user_weights();
    weight->set_user(User(u));
    weight->set_weight(std::uniform_real_distribution<double>(0.5, 8)(rng));
  }
  return config;
}

v1::PriorityClass RandomClass(std::mt19937_64& rng) {
  const double p = std::uniform_real_distribution<double>(0, 1)(rng);
  if (p < 0.1) return v1::PRIORITY_CLASS_GUARANTEED;
  return p < 0.8 ? v1::PRIORITY_CLASS_BATCH : v1::PRIORITY_CLASS_BEST_EFFORT;
}

void AddDemand(const GroupDemand& demand, double rate, v1::ReportDemandsRequest& report) {
  v1::FlowDemand* flow = report.add_demands();
  flow->mutable_group()->set_source_cluster(demand.group.source_cluster);
  flow->mutable_group()->set_destination_cluster(demand.group.destination_cluster);
  flow->mutable_group()->set_user(demand.group.user);
  flow->mutable_group()->set_priority(demand.group.priority);
  flow->set_demand_bytes_per_second(rate);
}

Workload MakeWorkload(uint64_t seed, const Sizes& sizes) {
  std::mt19937_64 rng(seed);
  Workload workload;
  workload.config = MakeConfig(rng, sizes);
  std::uniform_int_distribution<int> link(0, workload.config.links_size() - 1);
  std::uniform_int_distribution<int> user(0, sizes.users - 1);
  absl::flat_hash_set<bwbroker::FlowGroupKey> seen;
  while (static_cast<int>(workload.demands.size()) < sizes.groups) {
    const bwbroker::Link& on = workload.config.links(link(rng));
    bwbroker::FlowGroupKey key{on.source_cluster(), on.destination_cluster(), User(user(rng)),
                               RandomClass(rng)};
    if (!seen.insert(key).second) continue;
    workload.demands.push_back({std::move(key), std::floor(LogUniform(rng, 1e6, 1e10))});
  }
  workload.reports.resize(sizes.clients);
  std::uniform_int_distribution<int> client(0, sizes.clients - 1);
  for (int c = 0; c < sizes.clients; ++c)
    workload.reports[c].set_client_id(absl::StrCat("client-", c));
  for (size_t i = 0; i < workload.demands.size(); ++i) {
    const GroupDemand& demand = workload.demands[i];
    const int first = client(rng);
    if (i % 10 == 0 && sizes.clients > 1) {  // Shared with a second client.
      const int second = (first + 1) % sizes.clients;
      AddDemand(demand, demand.bytes_per_second / 2, workload.reports[first]);
      AddDemand(demand, demand.bytes_per_second / 2, workload.reports[second]);
    } else {
      AddDemand(demand, demand.bytes_per_second, workload.reports[first]);
    }
  }
  return workload;
}

// No link above its capacity, no group above its demand.
absl::Status Check(const std::vector<GroupDemand>& demands, const Allocation& allocation) {
  for (size_t i = 0; i < demands.size(); ++i) {
    if (allocation.grants[i] > demands[i].bytes_per_second) {
      return absl::InternalError(absl::StrCat("group ", i, " granted above its demand"));
    }
  }
  for (const bwbroker::LinkUsage& link : allocation.links) {
    double sum = 0;
    for (size_t i : link.groups) sum += allocation.grants[i];
    if (sum > link.capacity_bytes_per_second) {
      return absl::InternalError(absl::StrCat("link ", link.source_cluster, " -> ",
                                              link.destination_cluster, " over capacity"));
    }
  }
  return absl::OkStatus();
}

struct Timing {
  std::string name;
  std::vector<double> ms;       // Sorted.
  std::optional<double> below;  // Target: median below this many ms.

  double median() const { return ms[ms.size() / 2]; }
};

// Runs `body` once untimed, then `runs` times timed, each after an untimed `setup`.
Timing Measure(
    const std::string& name, int runs, std::optional<double> below,
    const std::function<void()>& body, const std::function<void()>& setup = [] {}) {
  setup();
  body();
  Timing timing{name, {}, below};
  for (int r = 0; r < runs; ++r) {
    setup();
    const Steady::time_point start = Steady::now();
    body();
    timing.ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
  }
  std::sort(timing.ms.begin(), timing.ms.end());
  return timing;
}

void PrintResults(const std::vector<Timing>& timings) {
  absl::PrintF("%-20s %10s %10s %10s\n", "figure", "median ms", "min ms", "max ms");
  for (const Timing& t : timings) {
    absl::PrintF("%-20s %10.3f %10.3f %10.3f\n", t.name, t.median(), t.ms.front(), t.ms.back());
  }
  for (const Timing& t : timings) {
    const std::string target = t.below ? absl::StrCat("<", *t.below) : "none";
    const std::string met = !t.below ? "n/a" : t.median() < *t.below ? "yes" : "no";
    absl::PrintF("FIGURE name=%s value=%.3f target=%s unit=ms met=%s\n", t.name, t.median(), target,
                 met);
  }
  std::fflush(stdout);
}

absl::Status RunAll(uint64_t seed, const Sizes& sizes) {
  Workload workload = MakeWorkload(seed, sizes);
  if (absl::Status s = bwbroker::ValidateAndComplete(workload.config); !s.ok()) return s;
  std::vector<Timing> timings;
  const Allocator allocator(workload.config);
  absl::Status checked;
  timings.push_back(Measure("allocate_ms", sizes.runs, kTargetMs, [&] {
    const Allocation allocation = allocator.Allocate(workload.demands);
    if (checked.ok()) checked = Check(workload.demands, allocation);
  }));
  if (!checked.ok()) return checked;

  SimulatedClock clock;
  bwbroker::BrokerMetrics metrics;
  bwbroker::Broker broker(workload.config, &clock, &metrics);
  for (const v1::ReportDemandsRequest& report : workload.reports) {
    absl::StatusOr<v1::ReportDemandsResponse> response = broker.ReportDemands(report);
    if (!response.ok()) return response.status();
  }
  timings.push_back(Measure("recompute_ms", sizes.runs, kTargetMs, [&] { broker.Tick(); }));
  const v1::ListAllocationsResponse list = broker.ListAllocations();
  int listed = 0;
  for (const v1::LinkAllocation& link : list.links()) listed += link.grants_size();
  if (listed != sizes.groups) {
    return absl::InternalError(
        absl::StrCat("broker lists ", listed, " groups, want ", sizes.groups));
  }

  v1::ReportDemandsRequest changing = workload.reports[0];
  int flips = 0;
  timings.push_back(Measure("report_changed_ms", sizes.runs, std::nullopt, [&] {
    v1::FlowDemand* first = changing.mutable_demands(0);
    first->set_demand_bytes_per_second(first->demand_bytes_per_second() + (++flips % 2 ? 1 : -1));
    absl::StatusOr<v1::ReportDemandsResponse> response = broker.ReportDemands(changing);
    if (checked.ok() && !response.ok()) checked = response.status();
  }));
  if (!checked.ok()) return checked;
  timings.push_back(Measure(
      "metrics_refresh_ms", sizes.runs, std::nullopt, [&] { metrics.Refresh(); },
      [&] { broker.Tick(); }));
  PrintResults(timings);
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Recompute time of the bandwidth broker (allocator, broker, metrics) in-process.\n"
      "Usage: broker_bench [--quick] [--groups=N --links=N --users=N --clients=N --runs=N "
      "--seed=N]\nPrints one FIGURE line per figure on stdout.");
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  Sizes sizes{absl::GetFlag(FLAGS_groups), absl::GetFlag(FLAGS_links), absl::GetFlag(FLAGS_users),
              absl::GetFlag(FLAGS_clients), absl::GetFlag(FLAGS_runs)};
  const bool quick = absl::GetFlag(FLAGS_quick);
  if (quick) sizes = {1000, 20, 100, 10, 5};
  if (positional.size() > 1 || sizes.groups < 1 || sizes.links < 1 || sizes.users < 1 ||
      sizes.clients < 1 || sizes.runs < 1 ||
      static_cast<int64_t>(sizes.links) * sizes.users * 3 < 2LL * sizes.groups) {
    absl::FPrintF(stderr,
                  "broker_bench: no arguments; --groups, --links, --users, --clients, --runs "
                  ">= 1, and --links x --users x 3 >= 2 x --groups (distinct groups)\n");
    return 2;
  }
#ifdef __OPTIMIZE__
  constexpr const char* kBuild = "optimized";
#else
  constexpr const char* kBuild = "UNOPTIMIZED (build with -c opt for figures that mean anything)";
#endif
  absl::PrintF(
      "broker_bench%s: %d flow groups over %d links, %d users, %d clients, %d runs, seed %d: "
      "%s build, pid %d\n",
      quick ? " --quick" : "", sizes.groups, sizes.links, sizes.users, sizes.clients, sizes.runs,
      absl::GetFlag(FLAGS_seed), kBuild, getpid());
  if (absl::Status s = RunAll(absl::GetFlag(FLAGS_seed), sizes); !s.ok()) {
    absl::FPrintF(stderr, "broker_bench: %s\n", s.ToString());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) { return ferry::bench::Main(argc, argv); }
