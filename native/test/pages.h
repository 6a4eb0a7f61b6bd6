// What the kernel holds for a range: the tests' view of committed pages.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/page_source.h"

namespace offheap::test {

// Resident pages of [p, p+bytes), as mincore() sees them. Unlike the process's
// RSS this counts only the range itself (under qemu-user the emulator's own
// page tables for a reservation show up in /proc/self/statm).
inline size_t resident_pages(const void* p, size_t bytes) {
  const size_t page = PageSource::page_size();
  std::vector<unsigned char> vec((bytes + page - 1) / page);
  if (mincore(const_cast<void*>(p), bytes, vec.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

// True when PageSource::populate() faults pages in on this platform (a probe
// of our own: a kernel before 5.14 refuses it, and an emulator such as
// qemu-user may accept the advice and do nothing).
inline bool populate_visible() {
  const size_t bytes = 2 * PageSource::page_size();
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool visible = PageSource::system().populate(p, bytes) && resident_pages(p, bytes) == 2;
  munmap(p, bytes);
  return visible;
}

}  // namespace offheap::test
