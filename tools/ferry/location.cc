#include "tools/ferry/location.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ferry::cli {
namespace {

constexpr absl::string_view kSyntaxHint = "write it as cluster:/path, e.g. local:/data/logs";
constexpr size_t kMaxQuotedBytes = 200;

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(QuoteForMessage(text), ": ", why));
}

// "/data/a:b" has a colon, but only inside a path: the cluster is still missing.
bool HasCluster(absl::string_view text, size_t colon) {
  return colon != absl::string_view::npos && colon > 0 &&
         text.substr(0, colon).find('/') == absl::string_view::npos;
}

// Only a single trailing '/' goes ("/a/" -> "/a"; "/" stays); doubled slashes were
// refused before.
absl::string_view StripTrailingSlash(absl::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

}  // namespace

absl::StatusOr<ferry::v1::Location> ParseLocation(absl::string_view text) {
  if (text.empty()) return Invalid(text, absl::StrCat("empty location: ", kSyntaxHint));
  const size_t colon = text.find(':');
  if (!HasCluster(text, colon)) {
    return Invalid(text, absl::StrCat("missing cluster: ", kSyntaxHint));
  }
  const absl::string_view cluster = text.substr(0, colon);
  const std::string field = QuoteForMessage(text);
  if (absl::Status status = ValidateClusterName(cluster, field); !status.ok()) return status;
  absl::string_view path = text.substr(colon + 1);
  if (path.empty()) return Invalid(text, absl::StrCat("empty path: ", kSyntaxHint));
  // Checked before stripping, so that "/a//" is not mistaken for a trailing slash.
  if (path.find("//") != absl::string_view::npos) {
    return Invalid(text, "path has an empty component ('//')");
  }
  path = StripTrailingSlash(path);
  if (absl::Status status = ValidateAbsolutePath(path, field); !status.ok()) return status;
  ferry::v1::Location location;
  location.set_cluster(std::string(cluster));
  location.set_path(std::string(path));
  return location;
}

std::string QuoteForMessage(absl::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return absl::StrCat("\"", absl::CEscape(text), "\"");
  return absl::StrCat("\"", absl::CEscape(text.substr(0, kMaxQuotedBytes)), "\"...(",
                      text.size(), " bytes)");
}

}  // namespace ferry::cli
