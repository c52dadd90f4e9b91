// Test builds of copyd only (see fault_hooks.h).
#include "copyd/fault_hooks.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, testonly_corrupt_blocks, "",
          "TEST BUILDS ONLY. PATH_SUBSTRING:COUNT flips one bit in each of the first COUNT "
          "data blocks served of files whose path contains PATH_SUBSTRING (-1: every such "
          "block), after their CRC32C is computed.");

namespace ferry::copyd {

absl::StatusOr<DataServiceImpl::BlockHook> BlockFaultHookFromFlags() {
  const std::string spec = absl::GetFlag(FLAGS_testonly_corrupt_blocks);
  if (spec.empty()) return nullptr;
  const size_t colon = spec.rfind(':');
  int64_t count = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(spec.substr(colon + 1), &count) || count < -1 || count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--testonly_corrupt_blocks: '", spec, "' is not PATH_SUBSTRING:COUNT (COUNT > 0 or -1)"));
  }
  LOG(WARNING) << "fault injection on: --testonly_corrupt_blocks=" << spec;
  const bool forever = count == -1;
  auto remaining = std::make_shared<std::atomic<int64_t>>(count);
  return DataServiceImpl::BlockHook(
      [substring = spec.substr(0, colon), forever, remaining](absl::string_view path,
                                                              v1::DataBlock* block) {
        if (block->data().empty() || !absl::StrContains(path, substring)) return;
        if (!forever && remaining->fetch_sub(1) <= 0) return;
        (*block->mutable_data())[block->data().size() / 2] ^= 0x10;
        LOG(WARNING) << "fault injection: flipped a bit in the block at offset "
                     << block->offset() << " of " << path;
      });
}

}  // namespace ferry::copyd
