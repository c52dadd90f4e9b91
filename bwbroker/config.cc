#include "bwbroker/config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/location.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace ferry::bwbroker {
namespace {

constexpr int64_t kDefaultRecomputePeriodMs = 1000;
constexpr int64_t kDefaultReportIntervalMs = 1000;
constexpr int64_t kDefaultLeaseIntervals = 5;  // lease = 5 report intervals
constexpr int32_t kDefaultClientExpiryIntervals = 5;
constexpr int64_t kMaxMs = 86'400'000;  // One day: no timing needs more.
constexpr int32_t kMaxExpiryIntervals = 1'000'000;
constexpr double kMaxWeight = 1e6;
constexpr size_t kMaxConfigBytes = 64 << 20;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// Keeps the first error protobuf's parser reports, with 1-based line and column.
class FirstErrorCollector final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty())
      first_ = absl::StrCat("line ", line + 1, " column ", column + 1, ": ", message);
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("config ", path));
  std::string text;
  char buffer[64 << 10];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return absl::ErrnoToStatus(error, absl::StrCat("config ", path));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat("config ", path, ": larger than ", kMaxConfigBytes, " bytes"));
    }
  }
  if (close(fd) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("config ", path));
  return text;
}

using LinkKey = std::pair<std::string, std::string>;  // (source, destination)

absl::Status ValidatePair(const std::string& source, const std::string& destination,
                          absl::string_view field) {
  if (absl::Status s = ValidateClusterName(source, absl::StrCat(field, ".source_cluster"));
      !s.ok()) {
    return s;
  }
  return ValidateClusterName(destination, absl::StrCat(field, ".destination_cluster"));
}

absl::Status ValidateLinks(const BrokerConfig& config, absl::flat_hash_map<LinkKey, int>& index) {
  for (int i = 0; i < config.links_size(); ++i) {
    const Link& link = config.links(i);
    const std::string field = absl::StrCat("links[", i, "]");
    if (absl::Status s = ValidatePair(link.source_cluster(), link.destination_cluster(), field);
        !s.ok()) {
      return s;
    }
    const double capacity = link.capacity_bytes_per_second();
    if (!(capacity >= 1 && capacity <= kMaxCapacityBytesPerSecond)) {
      return Invalid(absl::StrCat(field, ".capacity_bytes_per_second"),
                     absl::StrCat("must be >= 1 and <= 1e15 bytes/s (got ", capacity, ")"));
    }
    const auto [it, inserted] =
        index.try_emplace(LinkKey(link.source_cluster(), link.destination_cluster()), i);
    if (!inserted) {
      return Invalid(field,
                     absl::StrCat("duplicate of links[", it->second, "] (", link.source_cluster(),
                                  " -> ", link.destination_cluster(), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateWeights(const BrokerConfig& config) {
  absl::flat_hash_map<std::pair<std::string, int>, int> seen;
  for (int i = 0; i < config.user_weights_size(); ++i) {
    const UserWeight& entry = config.user_weights(i);
    const std::string field = absl::StrCat("user_weights[", i, "]");
    if (entry.user().empty()) return Invalid(absl::StrCat(field, ".user"), "required");
    if (!(entry.weight() > 0 && entry.weight() <= kMaxWeight)) {
      return Invalid(absl::StrCat(field, ".weight"),
                     absl::StrCat("must be > 0 and <= 1e6 (got ", entry.weight(), ")"));
    }
    if (!v1::PriorityClass_IsValid(entry.priority())) {
      return Invalid(absl::StrCat(field, ".priority"),
                     absl::StrCat("unknown priority class ", entry.priority()));
    }
    const auto [it, inserted] = seen.try_emplace({entry.user(), entry.priority()}, i);
    if (!inserted) {
      return Invalid(field, absl::StrCat("duplicate of user_weights[", it->second,
                                         "] (same user and priority)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateQuotas(const BrokerConfig& config,
                            const absl::flat_hash_map<LinkKey, int>& links) {
  absl::flat_hash_map<std::pair<LinkKey, std::string>, int> seen;
  absl::flat_hash_map<int, double> quota_sum;  // by link index
  for (int i = 0; i < config.quotas_size(); ++i) {
    const Quota& quota = config.quotas(i);
    const std::string field = absl::StrCat("quotas[", i, "]");
    if (absl::Status s = ValidatePair(quota.source_cluster(), quota.destination_cluster(), field);
        !s.ok()) {
      return s;
    }
    if (quota.user().empty()) return Invalid(absl::StrCat(field, ".user"), "required");
    const LinkKey key(quota.source_cluster(), quota.destination_cluster());
    const auto link = links.find(key);
    if (link == links.end()) {
      return Invalid(field, absl::StrCat("no link ", key.first, " -> ", key.second,
                                         " in links (a quota needs a configured link)"));
    }
    const double capacity = config.links(link->second).capacity_bytes_per_second();
    const double rate = quota.bytes_per_second();
    if (!(rate > 0 && std::isfinite(rate))) {
      return Invalid(absl::StrCat(field, ".bytes_per_second"),
                     absl::StrCat("must be > 0 (got ", rate, ")"));
    }
    const auto [it, inserted] = seen.try_emplace({key, quota.user()}, i);
    if (!inserted) {
      return Invalid(field,
                     absl::StrCat("duplicate of quotas[", it->second, "] (same link and user)"));
    }
    double& sum = quota_sum[link->second];
    sum += rate;
    if (sum > capacity) {
      return Invalid(absl::StrCat(field, ".bytes_per_second"),
                     absl::StrCat("the quotas on link ", key.first, " -> ", key.second,
                                  " add up to ", sum, " bytes/s, above links[", link->second,
                                  "].capacity_bytes_per_second (", capacity, ")"));
    }
  }
  return absl::OkStatus();
}

// A field left at 0 gets `fallback`; a negative or huge one is an error.
template <typename T>
absl::Status Default(absl::string_view field, T value, T fallback, T max, BrokerConfig& config,
                     void (BrokerConfig::*set)(T)) {
  if (value < 0 || value > max) {
    return Invalid(field, absl::StrCat("must be >= 0 and <= ", max, " (got ", value, ")"));
  }
  if (value == 0) (config.*set)(fallback);
  return absl::OkStatus();
}

absl::Status CompleteTimings(BrokerConfig& config) {
  absl::Status s = Default<int64_t>("recompute_period_ms", config.recompute_period_ms(),
                                    kDefaultRecomputePeriodMs, kMaxMs, config,
                                    &BrokerConfig::set_recompute_period_ms);
  if (!s.ok()) return s;
  s = Default<int64_t>("report_interval_ms", config.report_interval_ms(), kDefaultReportIntervalMs,
                       kMaxMs, config, &BrokerConfig::set_report_interval_ms);
  if (!s.ok()) return s;
  s = Default<int64_t>("lease_duration_ms", config.lease_duration_ms(),
                       kDefaultLeaseIntervals * config.report_interval_ms(), kMaxMs, config,
                       &BrokerConfig::set_lease_duration_ms);
  if (!s.ok()) return s;
  s = Default<int32_t>("client_expiry_intervals", config.client_expiry_intervals(),
                       kDefaultClientExpiryIntervals, kMaxExpiryIntervals, config,
                       &BrokerConfig::set_client_expiry_intervals);
  if (!s.ok()) return s;
  if (config.lease_duration_ms() <= config.report_interval_ms()) {
    return Invalid("lease_duration_ms",
                   absl::StrCat("must be longer than report_interval_ms (",
                                config.lease_duration_ms(), " <= ", config.report_interval_ms(),
                                "): leases would expire between reports"));
  }
  if (ClientExpiry(config) < LeaseDuration(config)) {
    return Invalid("client_expiry_intervals",
                   absl::StrCat(config.client_expiry_intervals(), " x report_interval_ms (",
                                config.report_interval_ms(),
                                ") is shorter than lease_duration_ms (", config.lease_duration_ms(),
                                "): a silent client's share would go to others while its "
                                "grant is still valid"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAndComplete(BrokerConfig& config) {
  absl::flat_hash_map<LinkKey, int> links;
  if (absl::Status s = ValidateLinks(config, links); !s.ok()) return s;
  if (absl::Status s = ValidateWeights(config); !s.ok()) return s;
  if (absl::Status s = ValidateQuotas(config, links); !s.ok()) return s;
  const double fallback = config.default_capacity_bytes_per_second();
  if (!(fallback == 0 || (fallback >= 1 && fallback <= kMaxCapacityBytesPerSecond))) {
    return Invalid(
        "default_capacity_bytes_per_second",
        absl::StrCat("must be 0 (unconstrained) or >= 1 and <= 1e15 (got ", fallback, ")"));
  }
  return CompleteTimings(config);
}

absl::StatusOr<BrokerConfig> ParseConfig(absl::string_view text) {
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  BrokerConfig config;
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(errors.first().empty() ? "cannot parse the configuration"
                                                             : errors.first());
  }
  if (absl::Status s = ValidateAndComplete(config); !s.ok()) return s;
  return config;
}

absl::StatusOr<BrokerConfig> LoadConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<BrokerConfig> config = ParseConfig(*text);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat("config ", path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace ferry::bwbroker
