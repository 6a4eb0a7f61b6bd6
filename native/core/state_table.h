// Two bits of state per granule (16 bytes for the slab allocator) of a
// region, kept OUTSIDE the region in memory that JavaScript reads as an
// Int32Array too: it is what makes the JS fast path's double-free and
// interior-pointer checks one array read. Only the first granule of a slot
// ever holds a state other than kNone, so "is this a live slot start" and
// "was it freed" are the same O(1) lookup.
//
// Several threads (JS fast paths and the native depot) change states of
// different granules that share a 32-bit word, so every change here is an
// atomic read-modify-write on the word; JS uses Atomics on shared
// allocators for the same reason.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace offheap {

/// The life of a slot, as the state table records it. The encoding is part of
/// the JS contract (lib/state-table.ts): kCached <-> kLive is bit 0 alone.
enum class SlotState : uint32_t {
  kNone = 0,    ///< not a slot start, never carved, or its slab was released
  kFree = 1,    ///< on its slab's free list (in the depot)
  kCached = 2,  ///< free, in some thread's magazine
  kLive = 3,    ///< allocated to the user
};

class StateTable {
 public:
  StateTable() = default;
  /// A view over `words` (bytes_for() bytes, zeroed) covering `region_bytes`
  /// in granules of 2^granule_shift bytes.
  StateTable(uint32_t* words, size_t region_bytes, uint32_t granule_shift) noexcept
      : words_(words), region_bytes_(region_bytes), shift_(granule_shift) {}

  /// Bytes of table for a region of `region_bytes` (16 granules per word).
  static constexpr size_t bytes_for(size_t region_bytes, uint32_t granule_shift) noexcept {
    return (((region_bytes >> granule_shift) + 15) / 16) * 4;
  }

  /// True when `off` is inside the region and granule-aligned.
  bool valid(size_t off) const noexcept {
    return off < region_bytes_ && (off & ((size_t{1} << shift_) - 1)) == 0;
  }

  /// The state of the granule at byte offset `off` (valid(off) holds).
  SlotState get(size_t off) const noexcept {
    return static_cast<SlotState>((word(off).load(std::memory_order_acquire) >> bit(off)) & 3u);
  }

  /// Sets the state of the granule at `off`, whatever it was.
  void set(size_t off, SlotState s) noexcept {
    auto w = word(off);
    const uint32_t b = bit(off);
    uint32_t v = w.load(std::memory_order_relaxed);
    while (!w.compare_exchange_weak(v, (v & ~(3u << b)) | (static_cast<uint32_t>(s) << b),
                                    std::memory_order_acq_rel)) {
    }
  }

  /// Changes the state at `off` from `from` to `to` if it is `from`; returns
  /// the state found (== from when the change was made).
  SlotState exchange_if(size_t off, SlotState from, SlotState to) noexcept {
    auto w = word(off);
    const uint32_t b = bit(off);
    uint32_t v = w.load(std::memory_order_relaxed);
    for (;;) {
      const auto found = static_cast<SlotState>((v >> b) & 3u);
      if (found != from) return found;
      if (w.compare_exchange_weak(v, (v & ~(3u << b)) | (static_cast<uint32_t>(to) << b),
                                  std::memory_order_acq_rel))
        return from;
    }
  }

  /// kCached -> kLive (the magazine pop of the owning thread): one atomic OR.
  void cached_to_live(size_t off) noexcept {
    word(off).fetch_or(1u << bit(off), std::memory_order_acq_rel);
  }

  /// Resets every granule of [off, off+bytes) (whole words: callers pass
  /// ranges of 16 granules or more, aligned to them) to kNone.
  void clear_range(size_t off, size_t bytes) noexcept {
    const size_t first = (off >> shift_) / 16, last = ((off + bytes) >> shift_) / 16;
    for (size_t i = first; i < last; ++i)
      std::atomic_ref<uint32_t>(words_[i]).store(0, std::memory_order_release);
  }

  uint32_t* words() const noexcept { return words_; }
  uint32_t granule_shift() const noexcept { return shift_; }

 private:
  std::atomic_ref<uint32_t> word(size_t off) const noexcept {
    return std::atomic_ref<uint32_t>(words_[(off >> shift_) >> 4]);
  }
  uint32_t bit(size_t off) const noexcept { return static_cast<uint32_t>((off >> shift_) & 15) * 2; }

  uint32_t* words_ = nullptr;   ///< 2 bits per granule, 16 granules per word
  size_t region_bytes_ = 0;     ///< bytes of region covered
  uint32_t shift_ = 4;          ///< log2 of the granule size
};

}  // namespace offheap
