#include "region.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace offheap {

Status Region::create(size_t max_bytes, PageSource& source, Region** out) noexcept {
  *out = nullptr;
  if (max_bytes == 0 || max_bytes > kMaxBytes) return Status::kInvalidArgument;
  const size_t size = align_up(max_bytes, PageSource::page_size());
  void* base = source.reserve(size);
  if (base == nullptr) return Status::kOsFailure;
  Region* region = new (std::nothrow) Region(static_cast<uint8_t*>(base), size, source);
  if (region == nullptr) {
    source.release(base, size);
    return Status::kOsFailure;
  }
  *out = region;
  return Status::kOk;
}

Status Region::decommit(size_t offset, size_t bytes) noexcept {
  if (!contains(offset, bytes)) return Status::kInvalidArgument;
  // Whole pages by address: a host-owned range need not start on a page.
  const size_t page = PageSource::page_size();
  const uintptr_t start = reinterpret_cast<uintptr_t>(base_) + offset;
  const uintptr_t first = align_up(start, page);
  const uintptr_t last = (start + bytes) & ~uintptr_t{page - 1};
  if (last <= first) return Status::kOk;
  return source_.decommit(reinterpret_cast<void*>(first), last - first) ? Status::kOk : Status::kOsFailure;
}

void Region::destroy() noexcept {
  if (destroyed_.exchange(true, std::memory_order_acq_rel)) return;
  // A failed madvise leaves the pages resident but harmless; nothing to undo.
  decommit(0, size_);
  // A host-owned range need not start or end on a page: nothing in it is live
  // any more, so zero the partial pages decommit() leaves, and old views read
  // zeros everywhere.
  const size_t page = PageSource::page_size();
  const uintptr_t start = reinterpret_cast<uintptr_t>(base_), end = start + size_;
  const uintptr_t first = std::min(align_up(start, page), end), last = std::max(end & ~uintptr_t{page - 1}, first);
  std::memset(base_, 0, first - start);
  std::memset(reinterpret_cast<void*>(last), 0, end - last);
  committed_.store(0, std::memory_order_relaxed);
}

void Region::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  source_.release(base_, size_);
  delete this;
}

}  // namespace offheap
