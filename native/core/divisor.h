// Division by a run-time constant without a divide instruction (Lemire, Kaser
// and Kurz, "Faster Remainder by Direct Computation", 2019): one 64-bit
// multiply says whether a 32-bit offset is an exact multiple, one 128-bit
// multiply gives the quotient. Used to turn a slot offset into its index.
#pragma once

#include <cstdint>

namespace offheap {

class Divisor32 {
 public:
  /// `d` must be at least 2 (the magic number of 1 overflows to 0).
  explicit constexpr Divisor32(uint32_t d) noexcept : d_(d), m_(~uint64_t{0} / d + 1) {}

  constexpr uint32_t divisor() const noexcept { return d_; }

  /// n / d, exact for every 32-bit n.
  constexpr uint32_t quotient(uint32_t n) const noexcept {
    return static_cast<uint32_t>((static_cast<unsigned __int128>(m_) * n) >> 64);
  }

  /// n % d == 0, exact for every 32-bit n.
  constexpr bool divides(uint32_t n) const noexcept { return n * m_ <= m_ - 1; }

 private:
  uint32_t d_;  ///< the divisor
  uint64_t m_;  ///< ceil(2^64 / d)
};

}  // namespace offheap
