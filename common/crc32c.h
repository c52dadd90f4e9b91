// CRC32C (Castagnoli), the checksum ferry carries end to end.
//
// Computed with isa-l's crc32_iscsi (hardware accelerated). Values are the standard
// CRC-32C: Crc32c("123456789") == 0xE3069283. `Extend` continues a running checksum,
// so a file's CRC can be computed block by block; `Combine` joins the CRCs of two
// adjacent ranges knowing only the second range's length, which is how chunk CRCs
// computed by different workers become one whole-file CRC that does not depend on
// chunk size (the composite CRC users compare).
//
// Thread safety: pure functions.
#ifndef FERRY_COMMON_CRC32C_H_
#define FERRY_COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace ferry {

// CRC of the empty string.
inline constexpr uint32_t kCrc32cEmpty = 0;

// Returns the CRC32C of (the data whose CRC is `crc`) followed by `data`.
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t size);

inline uint32_t Crc32c(absl::string_view data) {
  return Crc32cExtend(kCrc32cEmpty, data.data(), data.size());
}

// Returns the CRC32C of A followed by B, given crc(A), crc(B) and len(B).
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);

// CRC32C of `length` zero bytes (for holes of sparse files), in O(log length).
uint32_t Crc32cOfZeros(uint64_t length);

}  // namespace ferry

#endif  // FERRY_COMMON_CRC32C_H_
