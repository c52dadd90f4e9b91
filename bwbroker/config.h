// Loading and validating the broker's configuration (bwbroker/config.proto).
//
// LoadConfig reads a text-format BrokerConfig, validates it and fills in the defaults
// of fields left at 0, so that everything downstream (Allocator, Broker) reads final
// values and may assume a valid configuration. Every error is INVALID_ARGUMENT naming
// the field ("links[2].capacity_bytes_per_second: must be >= 1 ...", "line 4 column 7:
// ..." for text that does not parse); a file that cannot be read keeps its errno's code
// (NOT_FOUND, PERMISSION_DENIED, ...).
//
// Thread safety: pure functions.
#ifndef FERRY_BWBROKER_CONFIG_H_
#define FERRY_BWBROKER_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bwbroker/config.pb.h"

namespace ferry::bwbroker {

// Largest capacity a link may have: grants are whole bytes per second kept in doubles,
// exact up to 2^53 (about 9e15).
inline constexpr double kMaxCapacityBytesPerSecond = 1e15;

// Reads, parses and validates `path`, with defaults filled in.
absl::StatusOr<BrokerConfig> LoadConfig(const std::string& path);

// The same for text already in memory.
absl::StatusOr<BrokerConfig> ParseConfig(absl::string_view text);

// Checks `config` as LoadConfig does and fills in defaults (in place).
absl::Status ValidateAndComplete(BrokerConfig& config);

// The durations of a completed config.
inline absl::Duration RecomputePeriod(const BrokerConfig& config) {
  return absl::Milliseconds(config.recompute_period_ms());
}
inline absl::Duration ReportInterval(const BrokerConfig& config) {
  return absl::Milliseconds(config.report_interval_ms());
}
inline absl::Duration LeaseDuration(const BrokerConfig& config) {
  return absl::Milliseconds(config.lease_duration_ms());
}
// How long a silent client's demands are kept.
inline absl::Duration ClientExpiry(const BrokerConfig& config) {
  return ReportInterval(config) * config.client_expiry_intervals();
}

}  // namespace ferry::bwbroker

#endif  // FERRY_BWBROKER_CONFIG_H_
