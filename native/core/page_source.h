// The only door to the operating system's virtual memory. Everything above
// this file asks a PageSource for address space; tests plug in one that fails.
#pragma once

#include <atomic>
#include <cstddef>

namespace offheap {

/// Reserves, decommits and releases page-aligned ranges of address space.
/// Failures are returned as values (nullptr / false); nothing here throws.
class PageSource {
 public:
  virtual ~PageSource() = default;

  /// Reserves `bytes` (a multiple of page_size()) of readable, writable,
  /// private, not-yet-committed memory. Returns nullptr when refused.
  virtual void* reserve(size_t bytes) noexcept = 0;

  /// Gives the pages of [addr, addr+bytes) back to the OS; the range stays
  /// mapped and reads as zeros afterwards. Returns false when refused.
  virtual bool decommit(void* addr, size_t bytes) noexcept = 0;

  /// Unmaps a range returned by reserve(). Returns false when refused.
  virtual bool release(void* addr, size_t bytes) noexcept = 0;

  /// The process-wide mmap-backed source.
  static PageSource& system() noexcept;

  /// The OS page size (4096 on x86-64 Linux).
  static size_t page_size() noexcept;

  /// Live reservations of the system source (for tests and stats).
  static size_t live_reservations() noexcept;
  /// Bytes reserved by the system source and not yet released.
  static size_t reserved_bytes() noexcept;

  /// Fault injection (tests, from C++ or JS): the system source refuses its
  /// next `reserves` reserve() calls and its next `decommits` decommit()
  /// calls, as if the OS had. Zero clears a plan. Costs one relaxed load.
  static void inject_faults(int reserves, int decommits) noexcept;
};

}  // namespace offheap
