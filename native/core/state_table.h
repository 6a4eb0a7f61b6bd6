// One byte of state per granule (16 bytes for the slab allocator) of a
// region, kept OUTSIDE the region in memory that JavaScript reads as a
// Uint8Array too. Only the first granule of a slot ever holds a state other
// than kNone, and a live slot's byte is its class id, so one byte read is
// the whole O(1) check of a free on the fast path (JS and C++): live (and of
// which class), freed already, or not a slot start at all.
//
// The table spans 2 GiB of offsets whatever the region's size (reserved, so
// only the pages of slabs in use are ever committed): any offset below 2^31
// indexes it without a bounds check. Threads change states of different
// granules independently (bytes); a transition that must not race (live ->
// cached on a free, which two threads could attempt at once) is a CAS.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace offheap {

/// What a state byte says (part of the JS contract, lib/state-table.ts).
struct SlotState {
  static constexpr uint8_t kNone = 0;         ///< not a slot start, never carved, or given back
  static constexpr uint8_t kMaxLive = 0xFC;   ///< 1..kMaxLive: live, the value is the class id
  static constexpr uint8_t kLiveLarge = 0xFD; ///< live, a large run of its own
  static constexpr uint8_t kCached = 0xFE;    ///< free, in some thread's magazine
  static constexpr uint8_t kFree = 0xFF;      ///< free, on its slab's free list (in the depot)
};

/// Atomic access to state bytes indexed directly (an ObjectPool's table:
/// one byte per slot). JavaScript reads and writes them too; relaxed loads
/// and stores are plain moves on x86, a free's live -> cached is a CAS.
inline uint8_t load_state(const uint8_t* table, size_t i) noexcept {
  return std::atomic_ref<uint8_t>(const_cast<uint8_t&>(table[i])).load(std::memory_order_relaxed);
}
inline void store_state(uint8_t* table, size_t i, uint8_t v) noexcept {
  std::atomic_ref<uint8_t>(table[i]).store(v, std::memory_order_relaxed);
}
/// Sets `to` if the state is `from`; returns the state found (== from on success).
inline uint8_t exchange_state_if(uint8_t* table, size_t i, uint8_t from, uint8_t to) noexcept {
  uint8_t found = from;
  std::atomic_ref<uint8_t>(table[i]).compare_exchange_strong(found, to, std::memory_order_acq_rel,
                                                             std::memory_order_relaxed);
  return found;
}

/// The table for granules of 2^Shift bytes.
template <uint32_t Shift>
class BasicStateTable {
 public:
  static constexpr uint32_t kShift = Shift;
  /// Offsets below this index the table (2 GiB, the largest region).
  static constexpr size_t kSpan = size_t{1} << 31;
  static constexpr size_t kBytes = kSpan >> Shift;

  BasicStateTable() = default;
  /// A view over `bytes` (kBytes of zeroed memory) for a region of `region_bytes`.
  BasicStateTable(uint8_t* bytes, size_t region_bytes) noexcept : bytes_(bytes), region_bytes_(region_bytes) {}

  /// True when `off` is inside the region and granule-aligned.
  bool valid(size_t off) const noexcept {
    return off < region_bytes_ && (off & ((size_t{1} << Shift) - 1)) == 0;
  }

  /// The state of the granule at `off` (valid(off) holds).
  uint8_t get(size_t off) const noexcept { return ref(off).load(std::memory_order_acquire); }
  /// Sets the state of the granule at `off`.
  void set(size_t off, uint8_t s) noexcept { ref(off).store(s, std::memory_order_release); }
  /// Sets `to` if the state is `from`; returns the state found (== from on success).
  uint8_t exchange_if(size_t off, uint8_t from, uint8_t to) noexcept {
    uint8_t found = from;
    ref(off).compare_exchange_strong(found, to, std::memory_order_acq_rel);
    return found;
  }

  /// Resets [off, off+bytes) (a whole slab: 8-byte multiples of the table) to kNone.
  void clear_range(size_t off, size_t bytes) noexcept {
    auto* words = reinterpret_cast<uint64_t*>(bytes_ + (off >> Shift));
    for (size_t i = 0; i < (bytes >> Shift) / 8; ++i)
      std::atomic_ref<uint64_t>(words[i]).store(0, std::memory_order_release);
  }

  uint8_t* bytes() const noexcept { return bytes_; }
  size_t region_bytes() const noexcept { return region_bytes_; }

 private:
  std::atomic_ref<uint8_t> ref(size_t off) const noexcept { return std::atomic_ref<uint8_t>(bytes_[off >> Shift]); }

  uint8_t* bytes_ = nullptr;  ///< one byte per granule over kSpan
  size_t region_bytes_ = 0;   ///< bytes of region in use
};

}  // namespace offheap
