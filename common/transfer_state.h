// Facts about ferry.v1.TransferState that every component must agree on.
//
// Thread safety: pure functions.
#ifndef FERRY_COMMON_TRANSFER_STATE_H_
#define FERRY_COMMON_TRANSFER_STATE_H_

#include "proto/common.pb.h"

namespace ferry {

// SUCCEEDED, FAILED and CANCELLED: a transfer in one of them never changes state again.
inline bool IsTerminal(v1::TransferState state) {
  return state == v1::TRANSFER_STATE_SUCCEEDED || state == v1::TRANSFER_STATE_FAILED ||
         state == v1::TRANSFER_STATE_CANCELLED;
}

}  // namespace ferry

#endif  // FERRY_COMMON_TRANSFER_STATE_H_
