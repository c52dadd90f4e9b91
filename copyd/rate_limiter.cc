#include "copyd/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "glog/logging.h"

namespace ferry::copyd {

RateLimiter::RateLimiter(const Clock* clock, RateLimiterOptions options)
    : clock_(clock), options_(options) {}

void RateLimiter::Update(const google::protobuf::RepeatedPtrField<v1::RateLimit>& limits) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (const v1::RateLimit& limit : limits) {
    const double rate = limit.bytes_per_second();
    if (limit.flow_group().empty() || !std::isfinite(rate) || rate < 0) {
      LOG(ERROR) << "ignoring rate limit '" << limit.flow_group() << "' of " << rate
                 << " bytes/s from the controller";
      continue;
    }
    SetLocked(limit.flow_group(), rate, now);
  }
  std::vector<std::string> forgotten;
  for (const auto& [name, group] : groups_) {
    if (now - group.last_listed >= options_.keep_absent) forgotten.push_back(name);
  }
  for (const std::string& name : forgotten) groups_.erase(name);
}

void RateLimiter::SetLocked(const std::string& flow_group, double bytes_per_second,
                            absl::Time now) {
  if (bytes_per_second == 0) {
    groups_.erase(flow_group);
    return;
  }
  Group& group = groups_[flow_group];
  if (group.bucket == nullptr) group.bucket = std::make_shared<TokenBucket>(clock_);
  group.last_listed = now;
  const int64_t burst = std::max<int64_t>(
      options_.min_burst_bytes,
      static_cast<int64_t>(bytes_per_second * absl::ToDoubleSeconds(options_.burst_time)));
  // Valid by construction: finite, > 0, burst >= 0.
  absl::Status s = group.bucket->SetRate(bytes_per_second, burst);
  if (!s.ok()) LOG(ERROR) << "rate of flow group " << flow_group << ": " << s;
}

absl::Status RateLimiter::Acquire(const std::string& flow_group, int64_t bytes,
                                  const std::atomic<bool>* abort) {
  std::shared_ptr<TokenBucket> bucket;
  {
    absl::MutexLock lock(&mu_);
    auto group = groups_.find(flow_group);
    if (group == groups_.end()) return absl::OkStatus();
    bucket = group->second.bucket;
  }
  return bucket->Acquire(bytes, abort);
}

double RateLimiter::RateOf(const std::string& flow_group) const {
  absl::MutexLock lock(&mu_);
  auto group = groups_.find(flow_group);
  return group == groups_.end() ? 0 : group->second.bucket->bytes_per_second();
}

}  // namespace ferry::copyd
