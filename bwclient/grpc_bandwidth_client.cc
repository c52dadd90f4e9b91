#include "bwclient/grpc_bandwidth_client.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "glog/logging.h"

namespace ferry::bwclient {
namespace {

absl::Status OptionError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("GrpcBandwidthClientOptions.", what));
}

absl::Status ValidateOptions(const GrpcBandwidthClientOptions& options) {
  const absl::Duration zero = absl::ZeroDuration();
  if (options.client_id.empty()) return OptionError("client_id must not be empty");
  if (!std::isfinite(options.floor_bytes_per_second) || options.floor_bytes_per_second <= 0) {
    return OptionError("floor_bytes_per_second must be finite and > 0");
  }
  if (options.min_report_interval <= zero ||
      options.max_report_interval < options.min_report_interval) {
    return OptionError("min_report_interval must be > 0 and <= max_report_interval");
  }
  if (options.default_report_interval < options.min_report_interval ||
      options.default_report_interval > options.max_report_interval) {
    return OptionError(
        "default_report_interval must be within [min_report_interval, max_report_interval]");
  }
  if (options.rpc_timeout <= zero) return OptionError("rpc_timeout must be > 0");
  if (options.initial_backoff <= zero || options.max_backoff < options.initial_backoff) {
    return OptionError("initial_backoff must be > 0 and <= max_backoff");
  }
  if (options.max_lease <= zero) return OptionError("max_lease must be > 0");
  return absl::OkStatus();
}

bool IsUnset(const v1::FlowGroup& group) { return group.ByteSizeLong() == 0; }

// Whether `response` answers `request` usably; the error says what is wrong with it.
absl::Status CheckResponse(const v1::ReportDemandsRequest& request,
                           const v1::ReportDemandsResponse& response) {
  if (response.grants_size() != request.demands_size()) {
    return absl::InternalError(absl::StrCat("broker returned ", response.grants_size(),
                                            " grants for ", request.demands_size(), " demands"));
  }
  for (int i = 0; i < response.grants_size(); ++i) {
    const v1::FlowGrant& grant = response.grants(i);
    const v1::FlowGroup& asked = request.demands(i).group();
    if (!IsUnset(grant.group()) && KeyOf(grant.group()) != KeyOf(asked)) {
      return absl::InternalError(absl::StrCat(
          "grants[", i, "] is for ", FlowGroupName(grant.group()), ", not ", FlowGroupName(asked)));
    }
    const double rate = grant.rate_bytes_per_second();
    if (!std::isfinite(rate) || rate < 0) {
      return absl::InternalError(absl::StrCat("grants[", i, "].rate_bytes_per_second is ", rate));
    }
    const int32_t nanos = grant.lease_expiry().nanos();
    if (nanos < 0 || nanos >= 1'000'000'000) {
      return absl::InternalError(absl::StrCat("grants[", i, "].lease_expiry.nanos is ", nanos));
    }
  }
  return absl::OkStatus();
}

absl::Time FromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

// Logs the first failure of a run and then every power of two, not every retry.
bool WorthLogging(int consecutive_failures) {
  return (consecutive_failures & (consecutive_failures - 1)) == 0;
}

}  // namespace

grpc::ChannelArguments BrokerChannelArguments(const GrpcBandwidthClientOptions& options) {
  grpc::ChannelArguments args;
  const int initial = static_cast<int>(absl::ToInt64Milliseconds(options.initial_backoff));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, initial);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, initial);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.max_backoff)));
  return args;
}

absl::StatusOr<std::unique_ptr<GrpcBandwidthClient>> GrpcBandwidthClient::Create(
    v1::BandwidthBroker::StubInterface* stub, const Clock* clock,
    GrpcBandwidthClientOptions options) {
  if (stub == nullptr) return absl::InvalidArgumentError("stub must not be null");
  if (clock == nullptr) return absl::InvalidArgumentError("clock must not be null");
  if (absl::Status status = ValidateOptions(options); !status.ok()) return status;
  return std::unique_ptr<GrpcBandwidthClient>(
      new GrpcBandwidthClient(stub, clock, std::move(options)));
}

GrpcBandwidthClient::GrpcBandwidthClient(v1::BandwidthBroker::StubInterface* stub,
                                         const Clock* clock, GrpcBandwidthClientOptions options)
    : stub_(stub),
      clock_(clock),
      options_(std::move(options)),
      report_interval_(options_.default_report_interval) {}

GrpcBandwidthClient::~GrpcBandwidthClient() { Stop(); }

void GrpcBandwidthClient::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread(&GrpcBandwidthClient::ReportLoop, this);
}

void GrpcBandwidthClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    ++schedule_generation_;
    if (in_flight_ != nullptr) in_flight_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status GrpcBandwidthClient::ReplaceDemands(absl::Span<const v1::FlowDemand> demands) {
  if (absl::Status status = ValidateDemands(demands); !status.ok()) return status;
  absl::MutexLock lock(&mu_);
  for (auto& [key, state] : groups_) state.demand = 0;
  bool new_demand = false;
  for (const v1::FlowDemand& demand : demands) {
    GroupState& state = groups_[KeyOf(demand.group())];
    state.demand = demand.demand_bytes_per_second();
    new_demand |= state.demand > 0 && !state.in_last_report;
  }
  if (new_demand && consecutive_failures_ == 0) {
    ReportNoLaterThanLocked(last_attempt_ + options_.min_report_interval);
  }
  return absl::OkStatus();
}

double GrpcBandwidthClient::RateFor(const v1::FlowGroup& group) const {
  const FlowGroupKey key = KeyOf(group);
  absl::MutexLock lock(&mu_);
  const auto it = groups_.find(key);
  if (it == groups_.end()) return options_.floor_bytes_per_second;
  return RateLocked(key, it->second, clock_->Now()).rate_bytes_per_second;
}

BandwidthSnapshot GrpcBandwidthClient::Snapshot() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  BandwidthSnapshot snapshot;
  for (const auto& [key, state] : groups_) snapshot.groups.push_back(RateLocked(key, state, now));
  snapshot.broker_reachable = last_success_ != absl::InfinitePast() && consecutive_failures_ == 0;
  snapshot.consecutive_failures = consecutive_failures_;
  snapshot.last_error = last_error_;
  snapshot.last_success = last_success_;
  snapshot.next_report = next_report_;
  snapshot.reports_attempted = reports_attempted_;
  return snapshot;
}

FlowGroupRate GrpcBandwidthClient::RateLocked(const FlowGroupKey& key, const GroupState& state,
                                              absl::Time now) const {
  FlowGroupRate rate;
  rate.group = GroupOf(key);
  rate.demand_bytes_per_second = state.demand;
  rate.last_grant_bytes_per_second = state.last_grant;
  rate.lease_expiry = state.lease_expiry;
  if (state.granted && now < state.lease_expiry) {
    rate.basis = RateBasis::kGrant;
    rate.rate_bytes_per_second = state.last_grant;
  } else if (state.granted && state.last_grant > 0) {
    rate.basis = RateBasis::kExpiredGrant;
    rate.rate_bytes_per_second = std::min(options_.floor_bytes_per_second, state.last_grant);
  } else {
    rate.basis = RateBasis::kFloor;
    rate.rate_bytes_per_second = options_.floor_bytes_per_second;
  }
  return rate;
}

// ---------------------------------------------------------------- the report loop

void GrpcBandwidthClient::ReportLoop() {
  while (WaitUntilReportDue()) {
    v1::ReportDemandsRequest request;
    {
      absl::MutexLock lock(&mu_);
      request = BuildRequestLocked();
    }
    v1::ReportDemandsResponse response;
    const absl::Status sent = Report(request, &response);
    const absl::Status usable = sent.ok() ? CheckResponse(request, response) : sent;

    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    last_attempt_ = now;
    ++reports_attempted_;
    if (!sent.ok()) {
      RecordFailureLocked(sent, now);
      LOG_IF(WARNING, WorthLogging(consecutive_failures_))
          << "bandwidth broker report failed (" << consecutive_failures_ << " in a row): " << sent;
    } else if (!usable.ok()) {
      RecordFailureLocked(usable, now);
      LOG(ERROR) << "ignoring the bandwidth broker's response: " << usable;
    } else {
      ApplyGrantsLocked(request, response, now);
    }
  }
}

bool GrpcBandwidthClient::WaitUntilReportDue() {
  absl::MutexLock lock(&mu_);
  while (!stopping_ && clock_->Now() < next_report_) {
    const uint64_t generation = schedule_generation_;
    auto rescheduled = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return schedule_generation_ != generation;
    };
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&rescheduled), next_report_);
  }
  return !stopping_;
}

v1::ReportDemandsRequest GrpcBandwidthClient::BuildRequestLocked() {
  v1::ReportDemandsRequest request;
  request.set_client_id(options_.client_id);
  for (auto& [key, state] : groups_) {
    state.in_last_report = state.demand > 0;
    if (!state.in_last_report) continue;
    v1::FlowDemand* demand = request.add_demands();
    *demand->mutable_group() = GroupOf(key);
    demand->set_demand_bytes_per_second(state.demand);
  }
  return request;
}

absl::Status GrpcBandwidthClient::Report(const v1::ReportDemandsRequest& request,
                                         v1::ReportDemandsResponse* response) {
  grpc::ClientContext context;
  // gRPC deadlines are wall-clock time whatever clock drives the loop.
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    in_flight_ = &context;
  }
  const grpc::Status status = stub_->ReportDemands(&context, request, response);
  absl::MutexLock lock(&mu_);
  in_flight_ = nullptr;
  return FromGrpcStatus(status);
}

void GrpcBandwidthClient::ApplyGrantsLocked(const v1::ReportDemandsRequest& request,
                                            const v1::ReportDemandsResponse& response,
                                            absl::Time now) {
  for (int i = 0; i < response.grants_size(); ++i) {
    const v1::FlowGrant& grant = response.grants(i);
    GroupState& state = groups_[KeyOf(request.demands(i).group())];
    state.granted = true;
    state.last_grant = grant.rate_bytes_per_second();
    state.lease_expiry = std::min(FromProto(grant.lease_expiry()), now + options_.max_lease);
  }
  if (consecutive_failures_ > 0) {
    LOG(INFO) << "bandwidth broker answers again after " << consecutive_failures_
              << " failed reports";
  }
  consecutive_failures_ = 0;
  last_error_ = absl::OkStatus();
  last_success_ = now;
  const absl::Duration asked = absl::Milliseconds(response.report_interval_ms());
  report_interval_ =
      response.report_interval_ms() > 0
          ? std::clamp(asked, options_.min_report_interval, options_.max_report_interval)
          : options_.default_report_interval;
  PruneLocked(now);
  next_report_ = now + RenewalDelayLocked(now);
}

absl::Duration GrpcBandwidthClient::RenewalDelayLocked(absl::Time now) const {
  absl::Duration delay = report_interval_;
  for (const auto& [key, state] : groups_) {
    // Demand that arrived while the report was in flight.
    if (state.demand > 0 && !state.in_last_report) return options_.min_report_interval;
    if (state.demand > 0 && state.granted && state.lease_expiry > now) {
      delay = std::min(delay, (state.lease_expiry - now) / 2);
    }
  }
  return std::max(delay, options_.min_report_interval);
}

void GrpcBandwidthClient::RecordFailureLocked(const absl::Status& error, absl::Time now) {
  ++consecutive_failures_;
  last_error_ = error;
  absl::Duration ceiling = options_.initial_backoff;
  for (int i = 1; i < consecutive_failures_ && ceiling < options_.max_backoff; ++i) ceiling *= 2;
  ceiling = std::min({ceiling, options_.max_backoff, report_interval_});
  next_report_ = now + ceiling * absl::Uniform(jitter_, 0.5, 1.0);
}

void GrpcBandwidthClient::PruneLocked(absl::Time now) {
  for (auto it = groups_.begin(); it != groups_.end();) {
    const GroupState& state = it->second;
    const bool lease_over = !state.granted || state.lease_expiry <= now;
    it = state.demand == 0 && !state.in_last_report && lease_over ? groups_.erase(it)
                                                                  : std::next(it);
  }
}

void GrpcBandwidthClient::ReportNoLaterThanLocked(absl::Time when) {
  if (when >= next_report_) return;
  next_report_ = when;
  ++schedule_generation_;
}

}  // namespace ferry::bwclient
