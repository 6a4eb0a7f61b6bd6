// The slot-state side table: one byte per slot, outside the region, so a
// free, a refill or a drain can tell in O(1) what a slot is. It is the truth
// the free list is checked (and, after corruption, rebuilt) against.
//
//   bits 0..6  kind: 0 never handed out, 1 free in the depot, 2 live,
//              3 + tag: free in the magazine of attachment `tag`
//   bit 7      ever: the slot has been live at least once
//
// JavaScript reads and writes these bytes too (the magazine fast path), so
// every access here is an atomic_ref: relaxed loads and stores compile to
// plain moves on x86; a compare-and-swap where two threads may race for the
// same slot (a free). Nothing in the table is an address: any byte value can
// only make a check refuse a slot, never steer a write outside the region.
#pragma once

#include <atomic>
#include <cstdint>

#include "status.h"

namespace offheap::slot_state {

inline constexpr uint8_t kNever = 0;     ///< never handed out of the carve area
inline constexpr uint8_t kDepot = 1;     ///< free, on the depot's free list
inline constexpr uint8_t kLive = 2;      ///< handed to the user
inline constexpr uint8_t kFirstTag = 3;  ///< 3 + tag: in attachment tag's magazine
inline constexpr uint8_t kKindMask = 0x7f;
inline constexpr uint8_t kEver = 0x80;
/// Attachments (threads) one allocator can have open at once.
inline constexpr uint32_t kMaxTags = kKindMask + 1 - kFirstTag;

/// The byte of a live slot (JS writes it on every magazine alloc).
inline constexpr uint8_t kLiveByte = kLive | kEver;

constexpr uint8_t kind(uint8_t s) noexcept { return s & kKindMask; }
constexpr uint8_t magazine(uint32_t tag) noexcept { return static_cast<uint8_t>(kFirstTag + tag); }
/// `s` moved to kind `k`, keeping its ever bit.
constexpr uint8_t with_kind(uint8_t s, uint8_t k) noexcept { return static_cast<uint8_t>((s & kEver) | k); }

inline uint8_t load(uint8_t* table, uint32_t i) noexcept {
  return std::atomic_ref<uint8_t>(table[i]).load(std::memory_order_relaxed);
}
inline void store(uint8_t* table, uint32_t i, uint8_t v) noexcept {
  std::atomic_ref<uint8_t>(table[i]).store(v, std::memory_order_relaxed);
}
/// Moves slot i from `expected` to `desired` unless another thread got there
/// first; on failure *seen holds what was there.
inline bool cas(uint8_t* table, uint32_t i, uint8_t expected, uint8_t desired, uint8_t* seen) noexcept {
  const bool ok = std::atomic_ref<uint8_t>(table[i]).compare_exchange_strong(
      expected, desired, std::memory_order_acq_rel, std::memory_order_relaxed);
  *seen = expected;
  return ok;
}

/// Why freeing a slot whose byte is `s` is refused (s is not kLiveByte):
/// never handed to a user -> invalid handle, otherwise -> double free.
constexpr Status free_refusal(uint8_t s) noexcept {
  return (s & kEver) == 0 ? Status::kInvalidHandle : Status::kDoubleFree;
}

}  // namespace offheap::slot_state
