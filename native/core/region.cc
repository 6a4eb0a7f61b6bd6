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
  const PageSource::Pages pages = PageSource::whole_pages(base_ + offset, bytes);
  if (pages.empty()) return Status::kOk;
  return source_.decommit(pages.start(), pages.bytes()) ? Status::kOk : Status::kOsFailure;
}

void Region::destroy() noexcept {
  if (destroyed_.exchange(true, std::memory_order_acq_rel)) return;
  // A failed madvise leaves the pages resident but harmless; nothing to undo.
  decommit(0, size_);
  // A host-owned range need not start or end on a page: nothing in it is live
  // any more, so zero the partial pages decommit() leaves, and old views read
  // zeros everywhere.
  const PageSource::Pages pages = PageSource::whole_pages(base_, size_);
  const uintptr_t start = reinterpret_cast<uintptr_t>(base_), end = start + size_;
  if (pages.empty()) {
    std::memset(base_, 0, size_);
  } else {
    std::memset(base_, 0, pages.first - start);
    std::memset(reinterpret_cast<void*>(pages.last), 0, end - pages.last);
  }
  committed_.store(0, std::memory_order_relaxed);
}

void Region::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  source_.release(base_, size_);
  delete this;
}

}  // namespace offheap
