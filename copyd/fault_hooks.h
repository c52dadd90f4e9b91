// Fault hooks of copyd's data path, for end-to-end tests with real processes.
//
// Two implementations of one function, chosen at link time: `//copyd:no_fault_hooks`
// (the production `copyd` binary: always null) and `//copyd:fault_hooks` (testonly, in
// the `copyd_with_fault_hooks` binary only), whose flag
//   --testonly_corrupt_blocks=PATH_SUBSTRING:COUNT
// flips one bit of each of the first COUNT data blocks DataService sends of files whose
// path contains PATH_SUBSTRING (COUNT -1: every such block), after their CRC32C is
// computed: a bit flipped on the wire, which the reader must catch and refetch.
// Thread safety: the hook may run on many gRPC threads at once.
#ifndef FERRY_COPYD_FAULT_HOOKS_H_
#define FERRY_COPYD_FAULT_HOOKS_H_

#include "absl/status/statusor.h"
#include "copyd/data_service.h"

namespace ferry::copyd {

// The hook the flags ask for (null when none); INVALID_ARGUMENT for a bad flag value.
absl::StatusOr<DataServiceImpl::BlockHook> BlockFaultHookFromFlags();

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_FAULT_HOOKS_H_
