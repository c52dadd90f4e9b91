#include "common/utf8.h"

#include <limits>

#include "absl/strings/escaping.h"
#include "google/protobuf/stubs/common.h"

namespace ferry {

std::string ToValidUtf8(absl::string_view text) {
  if (text.size() <= static_cast<size_t>(std::numeric_limits<int>::max()) &&
      google::protobuf::internal::IsStructurallyValidUTF8(text.data(),
                                                          static_cast<int>(text.size()))) {
    return std::string(text);
  }
  return absl::CHexEscape(text);
}

}  // namespace ferry
