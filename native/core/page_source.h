// The only door to the operating system's virtual memory. Everything above
// this file asks a PageSource for address space; tests plug in one that fails.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace offheap {

/// Reserves, decommits and releases page-aligned ranges of address space.
/// Failures are returned as values (nullptr / false); nothing here throws.
class PageSource {
 public:
  virtual ~PageSource() = default;

  /// Reserves `bytes` (a multiple of page_size()) of readable, writable,
  /// zeroed, not-yet-committed memory, page-aligned unless host_owned().
  /// Returns nullptr when refused.
  virtual void* reserve(size_t bytes) noexcept = 0;

  /// Gives the pages of [addr, addr+bytes) back to the OS; the range stays
  /// mapped and reads as zeros afterwards. Returns false when refused.
  virtual bool decommit(void* addr, size_t bytes) noexcept = 0;

  /// Unmaps a range returned by reserve(). Returns false when refused.
  virtual bool release(void* addr, size_t bytes) noexcept = 0;

  /// Asks the OS to back the whole pages inside [addr, addr+bytes) with huge
  /// pages where it can (Linux: MADV_HUGEPAGE, honoured when transparent
  /// huge pages are enabled for madvised memory). A hint: false when the OS
  /// refused it, and nothing else changes either way.
  virtual bool advise_huge_pages(void* addr, size_t bytes) noexcept;

  /// Faults in the whole pages inside [addr, addr+bytes) now, in one call
  /// rather than one trap per page (Linux 5.14+: MADV_POPULATE_WRITE; the
  /// bytes are left as they are). For pages an allocator is about to hand
  /// out. A hint: false when the OS refused it (an older kernel, no memory
  /// to spare), and the pages then fault in when first written, as before.
  virtual bool populate(void* addr, size_t bytes) noexcept;

  /// The whole pages inside [addr, addr+bytes), by address (a host's range
  /// need not start on a page): [first, last), empty when last <= first.
  struct Pages {
    uintptr_t first, last;
    bool empty() const noexcept { return last <= first; }
    void* start() const noexcept { return reinterpret_cast<void*>(first); }
    size_t bytes() const noexcept { return empty() ? 0 : last - first; }
  };
  static Pages whole_pages(const void* addr, size_t bytes) noexcept;

  /// True when the ranges come from the host runtime (memory a JavaScript
  /// engine allocated, see DESIGN.md section 11) rather than from mmap: they
  /// need not start on a page boundary, only whole pages inside them can be
  /// decommitted, and release() hands them back to the host, which frees
  /// them when nothing of its own uses them any more.
  virtual bool host_owned() const noexcept { return false; }

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

  /// Consumes one planned fault of that kind (true: refuse this call). Every
  /// source the process uses honours the same plan through this.
  static bool take_reserve_fault() noexcept;
  static bool take_decommit_fault() noexcept;

  /// Counts a reservation of another source in live_reservations() and
  /// reserved_bytes(): +bytes when made, -bytes when released.
  static void count_reservation(ptrdiff_t bytes) noexcept;
};

}  // namespace offheap
