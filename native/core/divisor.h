// Division by a run-time constant without a divide instruction (Lemire, Kaser
// and Kurz, "Faster Remainder by Direct Computation", 2019): one 64x64->128
// multiply by m = ceil(2^64 / d) gives the quotient in its high half and, in
// its low half, whether a 32-bit offset is an exact multiple. Used to turn a
// slot offset into its index and refuse an offset inside a slot.
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
  constexpr bool divides(uint32_t n) const noexcept { return n * m_ < m_; }

  /// Whether d divides n, with n / d in *q, from the one multiply: its low
  /// half is n * m mod 2^64, below m exactly when d divides n.
  constexpr bool exact(uint32_t n, uint32_t* q) const noexcept {
    const unsigned __int128 p = static_cast<unsigned __int128>(m_) * n;
    *q = static_cast<uint32_t>(p >> 64);
    return static_cast<uint64_t>(p) < m_;
  }

 private:
  uint32_t d_;  ///< the divisor
  uint64_t m_;  ///< ceil(2^64 / d)
};

}  // namespace offheap
