#include "common/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace ferry {
namespace {

// Reflected Castagnoli polynomial.
constexpr uint32_t kPolynomial = 0x82F63B78u;

// GF(2) arithmetic on 32x32 bit matrices, as zlib's crc32_combine does it: isa-l has no
// combine function. Applying the "append one zero bit" operator n times (by repeated
// squaring) shifts a CRC past n zero bits in O(log n).
uint32_t MultiplyMatrixVector(const uint32_t* matrix, uint32_t vector) {
  uint32_t sum = 0;
  for (int i = 0; vector != 0; ++i, vector >>= 1) {
    if (vector & 1) sum ^= matrix[i];
  }
  return sum;
}

void SquareMatrix(uint32_t* square, const uint32_t* matrix) {
  for (int i = 0; i < 32; ++i) square[i] = MultiplyMatrixVector(matrix, matrix[i]);
}

// Returns the CRC register state `crc` advanced over `length` zero bytes (no pre- or
// post-conditioning).
uint32_t ShiftOverZeros(uint32_t crc, uint64_t length) {
  uint32_t odd[32];
  uint32_t even[32];
  odd[0] = kPolynomial;  // Operator for one zero bit.
  for (int i = 1; i < 32; ++i) odd[i] = 1u << (i - 1);
  SquareMatrix(even, odd);  // Two zero bits.
  SquareMatrix(odd, even);  // Four zero bits.
  do {
    SquareMatrix(even, odd);  // First pass: one zero byte.
    if (length & 1) crc = MultiplyMatrixVector(even, crc);
    length >>= 1;
    if (length == 0) break;
    SquareMatrix(odd, even);
    if (length & 1) crc = MultiplyMatrixVector(odd, crc);
    length >>= 1;
  } while (length != 0);
  return crc;
}

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t size) {
  // isa-l takes an int length and works on the raw register (no final inversion).
  uint32_t state = ~crc;
  while (size > 0) {
    const size_t piece = std::min<size_t>(size, INT_MAX / 2);
    state = crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<char*>(data)),
                        static_cast<int>(piece), state);
    data += piece;
    size -= piece;
  }
  return ~state;
}

uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  if (length_b == 0) return crc_a;
  return ShiftOverZeros(crc_a, length_b) ^ crc_b;
}

uint32_t Crc32cOfZeros(uint64_t length) {
  if (length == 0) return kCrc32cEmpty;
  // The register starts at ~0 and is inverted at the end.
  return ~ShiftOverZeros(~0u, length);
}

}  // namespace ferry
