// One contiguous range of reserved address space under one allocator.
//
// A Region is reference counted: the allocator holds one reference and every
// ArrayBuffer that JavaScript has over the range holds another, so the range
// stays mapped (and a stale view reads zeros instead of faulting) until the
// last of them lets go. destroy() gives the pages back at once regardless.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "page_source.h"
#include "status.h"

namespace offheap {

class Region {
 public:
  /// Largest region: offsets stay below 2^31, so a handle is a small integer.
  static constexpr size_t kMaxBytes = size_t{1} << 31;

  /// Reserves `max_bytes` (rounded up to whole pages, 1..kMaxBytes) from
  /// `source`. On success *out holds a region with one reference.
  /// Returns kInvalidArgument for a bad size, kOsFailure when refused.
  static Status create(size_t max_bytes, PageSource& source, Region** out) noexcept;

  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  uint8_t* base() const noexcept { return base_; }
  size_t size() const noexcept { return size_; }
  PageSource& source() const noexcept { return source_; }

  /// True when [offset, offset+bytes) lies inside the region.
  bool contains(size_t offset, size_t bytes) const noexcept {
    return offset <= size_ && bytes <= size_ - offset;
  }

  /// Bytes the allocators above have handed out pages for (their accounting).
  size_t committed() const noexcept { return committed_.load(std::memory_order_relaxed); }
  /// Adds to (or, negative, subtracts from) the committed figure.
  void add_committed(ptrdiff_t delta) noexcept {
    committed_.fetch_add(static_cast<size_t>(delta), std::memory_order_relaxed);
  }

  /// Accounts [from, to) (from <= to, inside the region) as committed and
  /// faults its pages in now (PageSource::populate), so the allocator that
  /// is about to hand them out pays one call rather than a trap per page.
  /// False when the OS refused the populate: the pages then fault in when
  /// first written.
  bool commit(size_t from, size_t to) noexcept {
    add_committed(static_cast<ptrdiff_t>(to - from));
    return to == from || source_.populate(base_ + from, to - from);
  }

  /// Returns the whole pages inside [offset, offset+bytes) to the OS; partial
  /// pages at either end are kept. Accounting is the caller's. Returns
  /// kInvalidArgument outside the region, kOsFailure when refused.
  Status decommit(size_t offset, size_t bytes) noexcept;

  /// Gives every page back and marks the region destroyed; the range stays
  /// mapped (reads as zeros) until the last reference is released. Idempotent.
  void destroy() noexcept;
  bool destroyed() const noexcept { return destroyed_.load(std::memory_order_acquire); }

  /// Reference counting; release() of the last reference unmaps the range.
  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;
  int32_t refs() const noexcept { return refs_.load(std::memory_order_relaxed); }

 private:
  Region(uint8_t* base, size_t size, PageSource& source) noexcept
      : base_(base), size_(size), source_(source) {}
  ~Region() = default;

  uint8_t* const base_;               ///< first byte of the reservation
  const size_t size_;                 ///< reserved bytes, a multiple of the page size
  PageSource& source_;                ///< where the range came from and goes back to
  std::atomic<size_t> committed_{0};  ///< allocator-reported committed bytes
  std::atomic<int32_t> refs_{1};      ///< allocator + ArrayBuffers + attachments
  std::atomic<bool> destroyed_{false};
};

/// Rounds `n` up to a multiple of `align` (a power of two).
constexpr size_t align_up(size_t n, size_t align) noexcept {
  return (n + align - 1) & ~(align - 1);
}

constexpr bool is_pow2(size_t n) noexcept { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace offheap
