// The allocators the native benchmark compares, each behind one small adapter
// so every workload is the same template instantiated per allocator (and so the
// compiler can inline whatever the allocator lets it inline):
//
//   struct SomeAdapter {
//     static constexpr const char* kKey = "key";    // command-line name
//     static constexpr const char* kName = "name";  // row name in the report
//     static constexpr bool kPeer = true;           // false for offheap's own
//     explicit SomeAdapter(const Shape& shape);     // setup, never measured
//     void* alloc(size_t size);                     // nullptr when out of room
//     void free(void* p, size_t size);              // size: as given to alloc
//     // optional:
//     static constexpr unsigned kWorkloads = kChurn | ...;  // default kAll
//     static constexpr const char* kWhyNot = "...";  // why not the others
//     void free_all();  // after alloc-free-all's frees, inside the measured loop
//   };
//
// Each thread of a workload constructs its own adapter; an adapter over a shared
// allocator (malloc, or a shared offheap pool) just points at the shared one.
// To add one: write the struct here (or in its own header), then one line in
// the registry of bench_main.cc.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#if defined(BENCH_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif
#if defined(BENCH_MIMALLOC)
#include <mimalloc.h>
#endif

#define BENCH_NOINLINE __attribute__((noinline))
#define BENCH_INLINE __attribute__((always_inline))
#define BENCH_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace bench {

/// Workload bits, for an adapter's kWorkloads.
enum : unsigned { kChurn = 1, kAllocFreeAll = 2, kMixed = 4, kTwoThreads = 8, kAll = 15 };

/// What a workload will ask of an adapter, so fixed-size ones can size themselves.
struct Shape {
  size_t max_size;  ///< largest single request
  size_t max_live;  ///< most blocks live at once (per thread)
};

/// Anonymous pages for the reference allocators (setup, never measured).
inline void* map_pages(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) std::abort();
  return p;
}

/// glibc's malloc/free (the process's malloc in the binary built without peers).
struct GlibcMalloc {
  static constexpr const char* kKey = "glibc";
  static constexpr const char* kName = "glibc malloc";
  static constexpr bool kPeer = true;
  explicit GlibcMalloc(const Shape&) {}
  void* alloc(size_t size) { return std::malloc(size); }
  void free(void* p, size_t) { std::free(p); }
};

#if defined(BENCH_JEMALLOC)
/// jemalloc (Debian's libjemalloc, unprefixed: it is this binary's malloc).
struct Jemalloc {
  static constexpr const char* kKey = "jemalloc";
  static constexpr const char* kName = "jemalloc";
  static constexpr bool kPeer = true;
  explicit Jemalloc(const Shape&) {}
  void* alloc(size_t size) { return malloc(size); }
  void free(void* p, size_t) { ::free(p); }
};
#endif

#if defined(BENCH_MIMALLOC)
/// mimalloc (Debian's libmimalloc) through its own mi_ entry points.
struct Mimalloc {
  static constexpr const char* kKey = "mimalloc";
  static constexpr const char* kName = "mimalloc";
  static constexpr bool kPeer = true;
  explicit Mimalloc(const Shape&) {}
  void* alloc(size_t size) { return mi_malloc(size); }
  void free(void* p, size_t) { mi_free(p); }
};
#endif

/// The floor for an arena: an inlined bump over one mapping, 16-byte aligned,
/// free a no-op. When the mapping is used up it starts over (a reset), which
/// the slow path does out of line, as a real arena's would.
struct RefBump {
  static constexpr const char* kKey = "ref-bump";
  static constexpr const char* kName = "reference inlined bump";
  static constexpr bool kPeer = true;
  explicit RefBump(const Shape& s) : bytes_(64u << 20), base_(static_cast<uint8_t*>(map_pages(bytes_))), cur_(base_), end_(base_ + bytes_) {
    (void)s;
  }
  ~RefBump() { munmap(base_, bytes_); }
  void* alloc(size_t size) {
    uint8_t* p = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(cur_) + 15) & ~uintptr_t{15});
    if (BENCH_UNLIKELY(p + size > end_)) return allocSlow(size);
    cur_ = p + size;
    return p;
  }
  void free(void*, size_t) {}
  void free_all() { cur_ = base_; }

 private:
  BENCH_NOINLINE void* allocSlow(size_t size) {
    if (size > bytes_) return nullptr;
    cur_ = base_ + size;
    return base_;
  }
  size_t bytes_;
  uint8_t* base_;
  uint8_t* cur_;
  uint8_t* end_;
};

/// The floor for an object pool: an inlined union-slot pool (a free slot holds
/// the pointer to the next one, zero header), slots of the workload's largest
/// size, all threaded onto the free list at setup.
struct RefPool {
  static constexpr const char* kKey = "ref-pool";
  static constexpr const char* kName = "reference union-slot pool";
  static constexpr bool kPeer = true;
  union Slot {
    Slot* next;
    alignas(16) unsigned char bytes[16];
  };
  explicit RefPool(const Shape& s)
      : slot_((s.max_size + 15) & ~size_t{15}), count_(s.max_live + 1), base_(static_cast<uint8_t*>(map_pages(slot_ * count_))) {
    for (size_t i = count_; i-- > 0;) free(base_ + i * slot_, 0);
  }
  ~RefPool() { munmap(base_, slot_ * count_); }
  void* alloc(size_t) {
    Slot* s = head_;
    if (BENCH_UNLIKELY(s == nullptr)) return nullptr;
    head_ = s->next;
    return s;
  }
  void free(void* p, size_t) {
    Slot* s = static_cast<Slot*>(p);
    s->next = head_;
    head_ = s;
  }

 private:
  size_t slot_;
  size_t count_;
  uint8_t* base_;
  Slot* head_ = nullptr;
};

}  // namespace bench
