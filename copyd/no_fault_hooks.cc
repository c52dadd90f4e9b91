// The production copyd: no fault hooks (see fault_hooks.h).
#include "copyd/fault_hooks.h"

namespace ferry::copyd {

absl::StatusOr<DataServiceImpl::BlockHook> BlockFaultHookFromFlags() { return nullptr; }

}  // namespace ferry::copyd
