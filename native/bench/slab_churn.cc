// Mixed-size churn with a live set: the same loop over glibc malloc, jemalloc,
// mimalloc (linked in, replacing malloc) and the slab core through its C++
// cache (the native mirror of the JS fast path).
//   slab-churn-<allocator> <iterations>
// Each iteration frees a random member of a live set of 1024 objects and
// allocates 16..1024 bytes in its place, writing its first word; the random
// choices come from a table made up front, so the loop itself costs a few
// instructions (slab-churn-none measures it) and the allocators' own work
// dominates the count. The driver is run under callgrind twice (N and 2N
// iterations); the difference / N is the count of one iteration, with
// set-up cancelled out.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#ifdef USE_SLAB
#include "../core/slab.h"
#include "../core/slab_cache.h"
#endif

namespace {

constexpr uint32_t kLive = 1024;
constexpr uint32_t kTable = 1 << 16;

inline uint32_t next(uint32_t& s) {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

#if defined(USE_SLAB)
#ifdef SHARED_CACHE
using Cache = offheap::SlabCache;  // atomic state changes, as when shared between threads
#else
using Cache = offheap::LocalSlabCache;  // one thread, as an unshared allocator
#endif
struct Allocator {
  offheap::SlabAllocator* slab;
  Cache* cache;
  uint8_t* base;
  Allocator() {
    offheap::SlabConfig config;
    config.max_bytes = size_t{256} << 20;
    if (offheap::SlabAllocator::create(config, offheap::PageSource::system(), &slab) != offheap::Status::kOk) std::abort();
    cache = new Cache(*slab);
    base = slab->region()->base();
  }
  void* alloc(size_t n) {
    uint32_t off;
    if (cache->alloc(n, &off) != offheap::Status::kOk) std::abort();
    return base + off;
  }
  void release(void* p) {
    if (cache->free(static_cast<uint32_t>(static_cast<uint8_t*>(p) - base)) != offheap::Status::kOk) std::abort();
  }
};
#elif defined(USE_NONE)
// The loop alone: a fixed buffer, no allocator (to read the others' counts net).
alignas(64) uint8_t g_none[4096];
struct Allocator {
  void* alloc(size_t) { return g_none; }
  void release(void* p) { asm volatile("" : : "r"(p)); }
};
#else
struct Allocator {
  void* alloc(size_t n) { return std::malloc(n); }
  void release(void* p) { std::free(p); }
};
#endif

}  // namespace

int main(int argc, char** argv) {
  const long iters = argc > 1 ? std::atol(argv[1]) : 1000000;
  Allocator a;
  static void* live[kLive];
  static uint32_t ops[kTable];  // index in the live set | size << 10
  uint32_t rng = 2463534242u;
  for (uint32_t i = 0; i < kTable; ++i) {
    const uint32_t r = next(rng);
    ops[i] = (r & (kLive - 1)) | (16 + (r >> 10) % 1009) << 10;
  }
  for (uint32_t i = 0; i < kLive; ++i) live[i] = a.alloc(ops[i] >> 10);
  for (long i = 0; i < iters; ++i) {
    const uint32_t r = ops[i & (kTable - 1)];
    const uint32_t j = r & (kLive - 1);
    a.release(live[j]);
    void* p = a.alloc(r >> 10);
    *static_cast<volatile uint32_t*>(p) = static_cast<uint32_t>(i);
    live[j] = p;
  }
  uint64_t sum = 0;
  for (uint32_t i = 0; i < kLive; ++i) sum += reinterpret_cast<uintptr_t>(live[i]) & 0xFF;
  std::printf("%llu\n", static_cast<unsigned long long>(sum));
  return 0;
}
