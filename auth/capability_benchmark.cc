// What authorization costs a DataService request: Verify + CheckRead of a capability,
// and the serving cluster's policy Check for its user, against a policy of 10,000
// grants. Also Sign (the controller, once per task).
//   bazel run -c opt //auth:capability_benchmark
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "auth/capability.h"
#include "auth/key_ring.h"
#include "auth/policy.h"
#include "benchmark/benchmark.h"
#include "proto/capability.pb.h"
#include "proto/policy.pb.h"

namespace ferry::auth {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

std::unique_ptr<KeyRing> MakeRing() {
  absl::StatusOr<std::shared_ptr<const KeySet>> keys =
      KeySet::Parse(absl::StrCat("k1 ", std::string(64, '1'), "\n"), "bench");
  return KeyRing::FromKeySet(*keys);
}

v1::CapabilityClaims MakeClaims() {
  v1::CapabilityClaims claims;
  claims.set_transfer_id("0123456789abcdef");
  claims.set_user("ferry://user/u4242");
  claims.set_issuer_cluster("b");
  claims.set_audience_cluster("a");
  claims.set_path("/home/u4242/project/data/part-00017.parquet");
  claims.set_operation(v1::CAPABILITY_OPERATION_READ);
  claims.set_offset(64 << 20);
  claims.set_length(64 << 20);
  claims.set_expiry_unix_ms(absl::ToUnixMillis(kNow + absl::Hours(1)));
  return claims;
}

void BM_Sign(benchmark::State& state) {
  const std::unique_ptr<KeyRing> ring = MakeRing();
  const v1::CapabilityClaims claims = MakeClaims();
  for (auto _ : state) benchmark::DoNotOptimize(Sign(*ring, claims));
}
BENCHMARK(BM_Sign);

void BM_VerifyAndCheckRead(benchmark::State& state) {
  const std::unique_ptr<KeyRing> ring = MakeRing();
  const v1::CapabilityClaims claims = MakeClaims();
  const v1::Capability capability = *Sign(*ring, claims);
  for (auto _ : state) {
    absl::StatusOr<v1::CapabilityClaims> verified = Verify(*ring, capability, kNow, "a");
    benchmark::DoNotOptimize(CheckRead(*verified, claims.path(), 64 << 20, 1 << 20));
  }
}
BENCHMARK(BM_VerifyAndCheckRead);

void BM_PolicyCheck10kGrants(benchmark::State& state) {
  v1::Policy policy;
  for (int i = 0; i < 10000; ++i) {
    v1::PolicyGrant* grant = policy.add_grants();
    grant->add_principals(absl::StrCat("ferry://user/u", i));
    grant->set_cluster("a");
    grant->set_path_prefix(absl::StrCat("/home/u", i));
    grant->add_permissions(v1::PERMISSION_READ);
  }
  const std::shared_ptr<const Authorizer> authorizer = *Authorizer::Compile(policy);
  const std::string path = MakeClaims().path();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        authorizer->Check("ferry://user/u4242", v1::PERMISSION_READ, "a", path));
  }
}
BENCHMARK(BM_PolicyCheck10kGrants);

}  // namespace
}  // namespace ferry::auth

BENCHMARK_MAIN();
