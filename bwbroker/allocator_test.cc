#include "bwbroker/allocator.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bwbroker/config.h"
#include "gtest/gtest.h"

namespace ferry::bwbroker {
namespace {

constexpr v1::PriorityClass kGuaranteed = v1::PRIORITY_CLASS_GUARANTEED;
constexpr v1::PriorityClass kBatch = v1::PRIORITY_CLASS_BATCH;
constexpr v1::PriorityClass kBestEffort = v1::PRIORITY_CLASS_BEST_EFFORT;

BrokerConfig Config(const std::string& text) {
  absl::StatusOr<BrokerConfig> config = ParseConfig(text);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : BrokerConfig();
}

// One link a -> b of `capacity` bytes/s, plus `extra` config text.
BrokerConfig OneLink(double capacity, const std::string& extra = "") {
  return Config(absl::StrCat(R"pb(links { source_cluster: "a" destination_cluster: "b"
                                          capacity_bytes_per_second:)pb",
                             capacity, "}\n", extra));
}

// One link a -> b of `capacity` with a quota of `rate` for `user`.
BrokerConfig OneLinkWithQuota(double capacity, const std::string& user, double rate) {
  return OneLink(capacity, absl::StrCat(R"pb(quotas { source_cluster: "a" destination_cluster: "b"
                                                      user: ")pb",
                                        user, "\" bytes_per_second: ", rate, "}"));
}

GroupDemand On(const std::string& user, double demand, v1::PriorityClass priority = kBatch,
               const std::string& source = "a", const std::string& destination = "b") {
  return {{source, destination, user, priority}, demand};
}

std::vector<double> Grants(const BrokerConfig& config, const std::vector<GroupDemand>& demands) {
  return Allocator(config).Allocate(demands).grants;
}

TEST(AllocatorTest, EqualWeightsSplitEvenly) {
  EXPECT_EQ(Grants(OneLink(900), {On("u", 1000), On("v", 1000), On("w", 1000)}),
            (std::vector<double>{300, 300, 300}));
}

TEST(AllocatorTest, WeightsTwoToOneSplitTwoToOne) {
  const BrokerConfig config = OneLink(900, R"pb(user_weights { user: "u" weight: 2 })pb");
  EXPECT_EQ(Grants(config, {On("u", 1000), On("v", 1000)}), (std::vector<double>{600, 300}));
}

TEST(AllocatorTest, SmallDemandIsSatisfiedAndItsRemainderRedistributed) {
  EXPECT_EQ(Grants(OneLink(900), {On("u", 1000), On("small", 100), On("w", 1000)}),
            (std::vector<double>{400, 100, 400}));
  // Weighted: u (weight 3) and v (1) share what the small group leaves, 3:1.
  const BrokerConfig weighted = OneLink(900, R"pb(user_weights { user: "u" weight: 3 })pb");
  EXPECT_EQ(Grants(weighted, {On("u", 1000), On("v", 1000), On("small", 100)}),
            (std::vector<double>{600, 200, 100}));
}

TEST(AllocatorTest, NoGrantExceedsDemandWhenCapacityIsAmple) {
  EXPECT_EQ(Grants(OneLink(1e12), {On("u", 1000), On("v", 0), On("w", 12.7)}),
            (std::vector<double>{1000, 0, 12}));
}

TEST(AllocatorTest, GuaranteedQuotaIsHonouredBeforeBestEffortAndBatch) {
  const BrokerConfig config = OneLinkWithQuota(1000, "q", 300);
  EXPECT_EQ(Grants(config, {On("be", 1000, kBestEffort), On("q", 300, kGuaranteed),
                            On("batch", 1000, kBatch)}),
            (std::vector<double>{0, 300, 700}));
}

TEST(AllocatorTest, QuotaComesFirstThenTheRestIsSharedInTheClass) {
  // q gets its 600 first, then shares the remaining 400 with g at equal weight.
  const BrokerConfig config = OneLinkWithQuota(1000, "q", 600);
  EXPECT_EQ(Grants(config, {On("q", 1000, kGuaranteed), On("g", 1000, kGuaranteed)}),
            (std::vector<double>{800, 200}));
  // A quota not demanded is not held back: g may use it all.
  EXPECT_EQ(Grants(config, {On("q", 0, kGuaranteed), On("g", 1000, kGuaranteed)}),
            (std::vector<double>{0, 1000}));
  // A quota serves only the GUARANTEED group of its user.
  EXPECT_EQ(Grants(config, {On("q", 1000, kBatch), On("g", 1000, kBatch)}),
            (std::vector<double>{500, 500}));
}

TEST(AllocatorTest, PriorityClassesAreStrict) {
  const BrokerConfig config = OneLink(1000);
  EXPECT_EQ(Grants(config, {On("be", 1000, kBestEffort), On("x", 300, kBatch),
                            On("g", 600, kGuaranteed), On("y", 300, kBatch)}),
            (std::vector<double>{0, 200, 600, 200}));
  // What the higher classes leave flows down.
  EXPECT_EQ(Grants(config,
                   {On("be", 1000, kBestEffort), On("x", 100, kBatch), On("g", 600, kGuaranteed)}),
            (std::vector<double>{300, 100, 600}));
  // A heavy weight does not lift a lower class above a higher one.
  const BrokerConfig heavy = OneLink(1000, R"pb(user_weights { user: "be" weight: 1000 })pb");
  EXPECT_EQ(Grants(heavy, {On("be", 1000, kBestEffort), On("x", 1000, kBatch)}),
            (std::vector<double>{0, 1000}));
}

TEST(AllocatorTest, UnspecifiedPriorityCountsAsBatch) {
  EXPECT_EQ(Grants(OneLink(1000), {On("u", 1000, v1::PRIORITY_CLASS_UNSPECIFIED),
                                   On("v", 1000, kBatch), On("w", 1000, kBestEffort)}),
            (std::vector<double>{500, 500, 0}));
}

TEST(AllocatorTest, WeightsMayDifferPerClass) {
  const BrokerConfig config = OneLink(900, R"pb(
    user_weights { user: "u" weight: 2 }
    user_weights { user: "u" weight: 1 priority: PRIORITY_CLASS_BEST_EFFORT }
  )pb");
  const Allocator allocator(config);
  EXPECT_EQ(allocator.WeightOf("u", kBatch), 2);
  EXPECT_EQ(allocator.WeightOf("u", v1::PRIORITY_CLASS_UNSPECIFIED), 2);
  EXPECT_EQ(allocator.WeightOf("u", kBestEffort), 1);
  EXPECT_EQ(allocator.WeightOf("nobody", kBatch), 1);
  EXPECT_EQ(Grants(config, {On("u", 1000, kBestEffort), On("v", 1000, kBestEffort)}),
            (std::vector<double>{450, 450}));
}

TEST(AllocatorTest, LinksAreDirectedAndIndependent) {
  const BrokerConfig config = Config(R"pb(
    links { source_cluster: "a" destination_cluster: "b" capacity_bytes_per_second: 100 }
    links { source_cluster: "b" destination_cluster: "a" capacity_bytes_per_second: 1000 }
  )pb");
  EXPECT_EQ(Grants(config, {On("u", 1000, kBatch, "a", "b"), On("u", 1000, kBatch, "b", "a"),
                            On("v", 1000, kBatch, "a", "b")}),
            (std::vector<double>{50, 1000, 50}));
}

TEST(AllocatorTest, PairsWithoutLinkAreUnconstrainedOrGetTheDefaultCapacity) {
  const std::vector<GroupDemand> demands = {On("u", 5000, kBatch, "x", "y"),
                                            On("v", 5000, kBatch, "x", "y"),
                                            On("u", 7000, kBatch, "y", "x")};
  const Allocation open = Allocator(OneLink(100)).Allocate(demands);
  EXPECT_EQ(open.grants, (std::vector<double>{5000, 5000, 7000}));
  ASSERT_EQ(open.links.size(), 3u);
  EXPECT_TRUE(open.links[0].configured);
  EXPECT_FALSE(open.links[1].configured);
  EXPECT_TRUE(std::isinf(open.links[1].capacity_bytes_per_second));

  const Allocation capped =
      Allocator(OneLink(100, "default_capacity_bytes_per_second: 1000")).Allocate(demands);
  // Each unconfigured pair is a link of its own with the default capacity.
  EXPECT_EQ(capped.grants, (std::vector<double>{500, 500, 1000}));
  EXPECT_EQ(capped.links[2].capacity_bytes_per_second, 1000);
}

TEST(AllocatorTest, LinkUsageSumsDemandsAndGrants) {
  const Allocation allocation =
      Allocator(OneLink(900))
          .Allocate({On("u", 1000), On("v", 100), On("w", 50, kBatch, "x", "y")});
  ASSERT_EQ(allocation.links.size(), 2u);
  const LinkUsage& link = allocation.links[0];
  EXPECT_EQ(link.source_cluster, "a");
  EXPECT_EQ(link.destination_cluster, "b");
  EXPECT_EQ(link.capacity_bytes_per_second, 900);
  EXPECT_EQ(link.demand_bytes_per_second, 1100);
  EXPECT_EQ(link.allocated_bytes_per_second, 900);
  EXPECT_EQ(link.groups, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(allocation.links[1].groups, (std::vector<size_t>{2}));
}

TEST(AllocatorTest, ConfiguredLinksWithoutDemandAreListed) {
  const Allocation allocation = Allocator(OneLink(900)).Allocate({});
  ASSERT_EQ(allocation.links.size(), 1u);
  EXPECT_EQ(allocation.links[0].demand_bytes_per_second, 0);
  EXPECT_EQ(allocation.links[0].allocated_bytes_per_second, 0);
}

TEST(AllocatorTest, BadDemandsCountAsZero) {
  EXPECT_EQ(Grants(OneLink(900), {On("u", -5), On("v", std::nan("")), On("w", 1000)}),
            (std::vector<double>{0, 0, 900}));
}

TEST(AllocatorTest, RoundingNeverOvershootsCapacity) {
  // 1000 / 3 does not divide: grants are whole and add up to at most the capacity.
  const std::vector<double> grants =
      Grants(OneLink(1000), {On("u", 1e9), On("v", 1e9), On("w", 1e9)});
  EXPECT_LE(grants[0] + grants[1] + grants[2], 1000);
  EXPECT_GE(grants[0] + grants[1] + grants[2], 999);
  for (double grant : grants) EXPECT_NEAR(grant, 333, 1);
}

TEST(AllocatorTest, SameInputSameOutput) {
  std::vector<GroupDemand> demands;
  for (int i = 0; i < 50; ++i) demands.push_back(On(absl::StrCat("u", i), 10 + i * 7));
  const BrokerConfig config = OneLink(1234);
  EXPECT_EQ(Grants(config, demands), Grants(config, demands));
}

// ---------------------------------------------------------------- property test

struct Scenario {
  BrokerConfig config;
  std::vector<GroupDemand> demands;
};

double LogUniform(std::mt19937_64& rng, double low, double high) {
  return std::floor(
      std::exp(std::uniform_real_distribution<double>(std::log(low), std::log(high))(rng)));
}

Scenario RandomScenario(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  Scenario scenario;
  BrokerConfig& config = scenario.config;
  const int clusters = 2 + pick(4);
  const int users = 1 + pick(8);
  for (int s = 0; s < clusters; ++s) {
    for (int d = 0; d < clusters; ++d) {
      if (s == d || !chance(0.7)) continue;
      Link* link = config.add_links();
      link->set_source_cluster(absl::StrCat("c", s));
      link->set_destination_cluster(absl::StrCat("c", d));
      link->set_capacity_bytes_per_second(chance(0.2) ? 1 + pick(50) : LogUniform(rng, 1e3, 1e13));
      double left = link->capacity_bytes_per_second();
      for (int u = 0; u < users; ++u) {
        if (!chance(0.3)) continue;
        const double rate = std::floor(left * std::uniform_real_distribution<double>(0, 0.6)(rng));
        if (rate < 1) continue;
        Quota* quota = config.add_quotas();
        quota->set_source_cluster(link->source_cluster());
        quota->set_destination_cluster(link->destination_cluster());
        quota->set_user(absl::StrCat("u", u));
        quota->set_bytes_per_second(rate);
        left -= rate;
      }
    }
  }
  for (int u = 0; u < users; ++u) {
    if (chance(0.5)) {
      UserWeight* weight = config.add_user_weights();
      weight->set_user(absl::StrCat("u", u));
      weight->set_weight(std::uniform_real_distribution<double>(0.1, 10)(rng));
      if (chance(0.3)) weight->set_priority(static_cast<v1::PriorityClass>(1 + pick(3)));
    }
  }
  if (chance(0.5)) config.set_default_capacity_bytes_per_second(LogUniform(rng, 1, 1e9));
  EXPECT_TRUE(ValidateAndComplete(config).ok()) << "seed " << seed;
  for (int s = 0; s < clusters; ++s) {
    for (int d = 0; d < clusters; ++d) {
      for (int u = 0; u < users; ++u) {
        for (int p = 0; p <= 3; ++p) {
          if (!chance(0.4)) continue;
          // UNSPECIFIED (p == 0) is BATCH: never two of them for one user and link.
          if (p == 0 && chance(0.9)) continue;
          const double demand =
              chance(0.1) ? 0 : LogUniform(rng, 1, 1e13) + (chance(0.3) ? 0.5 : 0);
          scenario.demands.push_back({{absl::StrCat("c", s), absl::StrCat("c", d),
                                       absl::StrCat("u", u), static_cast<v1::PriorityClass>(p)},
                                      demand});
        }
      }
    }
  }
  return scenario;
}

double QuotaOf(const BrokerConfig& config, const FlowGroupKey& group) {
  if (EffectivePriority(group.priority) != kGuaranteed) return 0;
  for (const Quota& quota : config.quotas()) {
    if (quota.source_cluster() == group.source_cluster &&
        quota.destination_cluster() == group.destination_cluster && quota.user() == group.user) {
      return quota.bytes_per_second();
    }
  }
  return 0;
}

// The properties every allocation must have, checked on one link. Returns how many of
// its groups got less than they demanded (the cases the max-min check applies to).
int CheckLink(const Scenario& scenario, const Allocator& allocator, const Allocation& allocation,
              const LinkUsage& link, uint64_t seed) {
  SCOPED_TRACE(
      absl::StrCat("seed ", seed, " link ", link.source_cluster, " -> ", link.destination_cluster));
  // Rounding to whole bytes/s: each group may lose up to 1 byte/s to rounding, which
  // others pick up, and 1 byte/s of group i is 1 / w_i per unit of weight.
  double min_weight = 1e9, max_weight = 0;
  for (size_t i : link.groups) {
    const double weight =
        allocator.WeightOf(scenario.demands[i].group.user, scenario.demands[i].group.priority);
    min_weight = std::min(min_weight, weight);
    max_weight = std::max(max_weight, weight);
  }
  const double slack = 2.0 * link.groups.size() + max_weight / min_weight + 1;
  double sum = 0;
  for (size_t i : link.groups) {
    const double grant = allocation.grants[i];
    const double need = std::floor(scenario.demands[i].bytes_per_second);
    EXPECT_GE(grant, 0);
    EXPECT_LE(grant, scenario.demands[i].bytes_per_second);
    EXPECT_EQ(grant, std::floor(grant));
    if (std::isinf(link.capacity_bytes_per_second)) {
      EXPECT_EQ(grant, need);
    }
    sum += grant;
  }
  if (std::isinf(link.capacity_bytes_per_second)) return 0;
  EXPECT_LE(sum, link.capacity_bytes_per_second);
  EXPECT_EQ(sum, link.allocated_bytes_per_second);
  int unsatisfied = 0;
  for (size_t i : link.groups) {
    const GroupDemand& demand = scenario.demands[i];
    const double need = std::floor(demand.bytes_per_second);
    const double quota = std::min(need, std::floor(QuotaOf(scenario.config, demand.group)));
    EXPECT_GE(allocation.grants[i], quota) << "quota not honoured for " << demand.group.user;
    if (allocation.grants[i] >= need) continue;
    ++unsatisfied;
    // Group i wants more. It could gain only by taking from someone: the link must be
    // full, lower classes must hold nothing beyond their quota, and no group of its
    // class may have a larger share per unit of weight.
    EXPECT_EQ(sum, std::floor(link.capacity_bytes_per_second));
    const int rank = EffectivePriority(demand.group.priority);
    const double weight = allocator.WeightOf(demand.group.user, demand.group.priority);
    const double level = (allocation.grants[i] - quota + 1) / weight;
    for (size_t j : link.groups) {
      const GroupDemand& other = scenario.demands[j];
      const int other_rank = EffectivePriority(other.group.priority);
      const double other_quota = std::min(std::floor(other.bytes_per_second),
                                          std::floor(QuotaOf(scenario.config, other.group)));
      const double fair_part = allocation.grants[j] - other_quota;
      if (other_rank < rank) {
        EXPECT_EQ(fair_part, 0) << other.group.user << " of a lower class";
      } else if (other_rank == rank) {
        const double other_weight = allocator.WeightOf(other.group.user, other.group.priority);
        EXPECT_LE(fair_part, other_weight * level + slack + 1e-9 * fair_part)
            << other.group.user << " above " << demand.group.user << "'s level";
      }
    }
  }
  return unsatisfied;
}

TEST(AllocatorPropertyTest, RandomTopologiesKeepEveryInvariant) {
  int unsatisfied = 0;
  for (uint64_t seed : {1,   2,   3,   5,   8,   13,   21,   34,   55,   89,
                        144, 233, 377, 610, 987, 1597, 2584, 4181, 6765, 10946}) {
    const Scenario scenario = RandomScenario(seed);
    const Allocator allocator(scenario.config);
    const Allocation allocation = allocator.Allocate(scenario.demands);
    ASSERT_EQ(allocation.grants.size(), scenario.demands.size());
    size_t grouped = 0;
    for (const LinkUsage& link : allocation.links) {
      unsatisfied += CheckLink(scenario, allocator, allocation, link, seed);
      grouped += link.groups.size();
    }
    EXPECT_EQ(grouped, scenario.demands.size()) << "seed " << seed;
  }
  // The seeds must exercise the fairness check, not only the bounds.
  EXPECT_GT(unsatisfied, 100);
}

}  // namespace
}  // namespace ferry::bwbroker
