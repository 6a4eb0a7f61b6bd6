#include "page_source.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace offheap {
namespace {

std::atomic<size_t> g_live_reservations{0};
std::atomic<size_t> g_reserved_bytes{0};
std::atomic<int> g_fail_reserves{0};
std::atomic<int> g_fail_decommits{0};

// Consumes one planned fault; false when none is planned.
bool take_fault(std::atomic<int>& plan) noexcept {
  int n = plan.load(std::memory_order_relaxed);
  while (n > 0 && !plan.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
  return n > 0;
}

#ifdef MADV_HUGEPAGE
constexpr int kAdviseHugePage = MADV_HUGEPAGE;
#else
constexpr int kAdviseHugePage = -1;  // no such advice here
#endif
#ifdef __linux__
// Linux 5.14's value, for C libraries whose headers predate it; an older
// kernel answers EINVAL.
constexpr int kAdvisePopulateWrite = 23;
#ifdef MADV_POPULATE_WRITE
static_assert(MADV_POPULATE_WRITE == kAdvisePopulateWrite, "Linux's MADV_POPULATE_WRITE");
#endif
#else
constexpr int kAdvisePopulateWrite = -1;
#endif

// madvise over the whole pages inside [addr, addr+bytes) (a host's range
// need not start on a page); false when there are none or it was refused.
bool advise_whole_pages(void* addr, size_t bytes, int advice) noexcept {
  const PageSource::Pages pages = PageSource::whole_pages(addr, bytes);
  return advice >= 0 && !pages.empty() && madvise(pages.start(), pages.bytes(), advice) == 0;
}

class MmapPageSource final : public PageSource {
 public:
  void* reserve(size_t bytes) noexcept override {
    if (take_reserve_fault()) return nullptr;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    count_reservation(static_cast<ptrdiff_t>(bytes));
    return p;
  }

  bool decommit(void* addr, size_t bytes) noexcept override {
    if (take_decommit_fault()) return false;
    return bytes == 0 || madvise(addr, bytes, MADV_DONTNEED) == 0;
  }

  bool release(void* addr, size_t bytes) noexcept override {
    if (munmap(addr, bytes) != 0) return false;
    count_reservation(-static_cast<ptrdiff_t>(bytes));
    return true;
  }
};

}  // namespace

PageSource::Pages PageSource::whole_pages(const void* addr, size_t bytes) noexcept {
  const uintptr_t page = page_size();
  const uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  return Pages{(start + page - 1) & ~(page - 1), (start + bytes) & ~(page - 1)};
}

bool PageSource::advise_huge_pages(void* addr, size_t bytes) noexcept {
  return advise_whole_pages(addr, bytes, kAdviseHugePage);
}

bool PageSource::populate(void* addr, size_t bytes) noexcept {
  return advise_whole_pages(addr, bytes, kAdvisePopulateWrite);
}

PageSource& PageSource::system() noexcept {
  static MmapPageSource source;
  return source;
}

size_t PageSource::page_size() noexcept {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

size_t PageSource::live_reservations() noexcept {
  return g_live_reservations.load(std::memory_order_relaxed);
}

size_t PageSource::reserved_bytes() noexcept {
  return g_reserved_bytes.load(std::memory_order_relaxed);
}

void PageSource::count_reservation(ptrdiff_t bytes) noexcept {
  g_live_reservations.fetch_add(bytes >= 0 ? size_t{1} : ~size_t{0}, std::memory_order_relaxed);
  g_reserved_bytes.fetch_add(static_cast<size_t>(bytes), std::memory_order_relaxed);
}

bool PageSource::take_reserve_fault() noexcept { return take_fault(g_fail_reserves); }
bool PageSource::take_decommit_fault() noexcept { return take_fault(g_fail_decommits); }

void PageSource::inject_faults(int reserves, int decommits) noexcept {
  g_fail_reserves.store(reserves > 0 ? reserves : 0, std::memory_order_relaxed);
  g_fail_decommits.store(decommits > 0 ? decommits : 0, std::memory_order_relaxed);
}

}  // namespace offheap
