// Sample ferry.v1.Transfer values shared by the CLI's tests (testonly).
//
// Every sample is transfer kSampleId copying local:/src to local:/dst.
#ifndef FERRY_TOOLS_FERRY_SAMPLE_TRANSFERS_H_
#define FERRY_TOOLS_FERRY_SAMPLE_TRANSFERS_H_

#include "proto/copy_service.pb.h"

namespace ferry::cli {

inline constexpr char kSampleId[] = "t-0000000000000042";

// The route and state only; no progress, times or errors.
ferry::v1::Transfer SampleTransfer(ferry::v1::TransferState state);

// SUCCEEDED: 203 files, 67318579 bytes (64.2 MiB) in 3.1 s by the server's times.
ferry::v1::Transfer SampleSucceeded();
// The result line `ferry cp` prints for SampleSucceeded(), newline included.
inline constexpr char kSampleSucceededLine[] =
    "SUCCEEDED t-0000000000000042 local:/src -> local:/dst: 203 files, 64.2 MiB in 3.1 s "
    "(20.7 MiB/s)\n";

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_SAMPLE_TRANSFERS_H_
