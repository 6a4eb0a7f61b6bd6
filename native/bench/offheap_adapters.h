// offheap's core allocators behind the native benchmark's adapter interface
// (see adapters.h), each used the way its JavaScript facade uses it:
//
//   offheap Arena                   Arena::alloc inlined, size and alignment
//                                   known at compile time; free is a no-op and
//                                   free-all is one reset()
//   offheap Arena, size at run time the same with the size hidden from the
//                                   compiler (what ad-hoc callers pay)
//   offheap ObjectPool              the core ObjectPool::alloc / free (one owner)
//   offheap ObjectPool + magazines  a PoolDepot shared by the process and, per
//                                   thread, a magazine block of 256 offsets
//                                   refilled / drained by 128 (the JavaScript
//                                   fast path of lib/object-pool.ts, with its
//                                   state-byte guards, step for step)
//   offheap ObjectPool, locked per op  the same depot one slot at a time under
//                                   its mutex (debug mode's path, no poison)
//   offheap SlabAllocator           a LocalSlabCache over an unshared allocator
//   offheap SlabAllocator, shared   a SlabCache (atomic state bytes, CAS on free)
//                                   per thread over one allocator of the process
//
// An adapter lists the workloads it applies to (kWorkloads) and says why not
// for the others (kWhyNot): an arena frees only all at once, a single-owner
// core is not for two threads.
#pragma once

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "../core/arena.h"
#include "../core/divisor.h"
#include "../core/object_pool.h"
#include "../core/pool_depot.h"
#include "../core/slab.h"
#include "../bench/slab_cache.h"
#include "adapters.h"

namespace bench {

inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "offheap adapter: %s failed\n", what);
    std::abort();
  }
}

/// Arena::alloc inlined, as a C++ caller has it. The arena reserves 1 GiB
/// (address space; pages it never writes are never faulted in), more than any
/// workload here asks between two resets, so the loop has no wrap-around
/// branch of its own; the destructor checks that no allocation was refused.
template <bool kOpaqueSize>
struct OffheapArenaT {
  static constexpr unsigned kWorkloads = kChurn | kAllocFreeAll;
  static constexpr const char* kWhyNot = "an arena frees only all at once (reset): no live set of single frees";
  explicit OffheapArenaT(const Shape&) {
    offheap::ArenaOptions o;
    o.max_bytes = size_t{1} << 30;
    require(offheap::Arena::create(o, offheap::PageSource::system(), &state_, &arena_) == offheap::Status::kOk, "Arena::create");
  }
  ~OffheapArenaT() {
    require(arena_->stats().failed_count == 0, "Arena::alloc (refused)");
    arena_->destroy();
    delete arena_;
  }
  void* alloc(size_t size) {
    if constexpr (kOpaqueSize) asm volatile("" : "+r"(size));
    return arena_->alloc(size);
  }
  void free(void*, size_t) {}
  void free_all() { arena_->reset(); }

 private:
  offheap::ArenaState state_;
  offheap::Arena* arena_ = nullptr;
};

struct OffheapArena : OffheapArenaT<false> {
  static constexpr const char* kKey = "offheap-arena";
  static constexpr const char* kName = "offheap Arena";
  static constexpr bool kPeer = false;
  using OffheapArenaT::OffheapArenaT;
};

struct OffheapArenaRuntimeSize : OffheapArenaT<true> {
  static constexpr const char* kKey = "offheap-arena-rt";
  static constexpr const char* kName = "offheap Arena, size at run time";
  static constexpr bool kPeer = false;
  static constexpr unsigned kWorkloads = kChurn;
  static constexpr const char* kWhyNot = "churn only (the compile-time row covers alloc-all/free-all)";
  using OffheapArenaT::OffheapArenaT;
};

/// The core ObjectPool, one owner: slots of the workload's largest size
/// (16-aligned, as the reference pool), alloc/free through the inlined fast paths.
struct OffheapObjectPool {
  static constexpr const char* kKey = "offheap-pool";
  static constexpr const char* kName = "offheap ObjectPool";
  static constexpr bool kPeer = false;
  static constexpr unsigned kWorkloads = kChurn | kAllocFreeAll | kMixed;
  static constexpr const char* kWhyNot = "one owner: threads share a pool through magazines (next row)";
  explicit OffheapObjectPool(const Shape& s) {
    offheap::ObjectPoolOptions o;
    o.slot_size = static_cast<uint32_t>(s.max_size);
    o.align = 16;
    o.capacity = static_cast<uint32_t>(s.max_live + 1);
    // Created into a local: the member's address handed to create() would
    // make the whole adapter escape, and the loop reload its fields.
    offheap::ObjectPool* pool = nullptr;
    require(offheap::ObjectPool::create(o, offheap::PageSource::system(), &pool) == offheap::Status::kOk, "ObjectPool::create");
    pool_ = pool;
    base_ = pool->region()->base();
  }
  ~OffheapObjectPool() {
    pool_->destroy();
    delete pool_;
  }
  void* alloc(size_t) {
    uint32_t off;
    if (BENCH_UNLIKELY(pool_->alloc(&off) != offheap::Status::kOk)) return nullptr;
    return base_ + off;
  }
  void free(void* p, size_t) {
    if (BENCH_UNLIKELY(pool_->free(static_cast<uint32_t>(static_cast<uint8_t*>(p) - base_)) != offheap::Status::kOk)) std::abort();
  }

 private:
  offheap::ObjectPool* pool_ = nullptr;
  uint8_t* base_ = nullptr;
};

/// One depot per process (both threads of two-threads share it), made by the
/// first adapter from its shape, sized for two threads' live sets and magazines.
inline offheap::PoolDepot* shared_depot(const Shape& s) {
  static offheap::PoolDepot* depot = [&] {
    offheap::ObjectPoolOptions o;
    o.slot_size = static_cast<uint32_t>(s.max_size);
    o.align = 16;
    o.capacity = static_cast<uint32_t>(2 * (s.max_live + 1024));
    offheap::PoolDepot* d = nullptr;
    require(offheap::PoolDepot::create(o, offheap::PageSource::system(), &d) == offheap::Status::kOk, "PoolDepot::create");
    return d;  // its creation reference lives as long as the process
  }();
  return depot;
}

/// A thread's view of a shared ObjectPool: its magazine block (one class,
/// stride 512), attached to the depot. alloc: pop the block (refill half of
/// it from the depot when empty), mark the slot live. free: check the offset
/// and that the slot is live (CAS live -> cached, as lib/object-pool.ts does
/// for a shared pool), push (when full, drain half and free in one call).
/// The fast path counts frees in the block, as the facade does.
struct OffheapPoolMagazines {
  static constexpr const char* kKey = "offheap-pool-mag";
  static constexpr const char* kName = "offheap ObjectPool + magazines";
  static constexpr bool kPeer = false;
  static constexpr unsigned kWorkloads = kAll;
  static constexpr const char* kWhyNot = "";
  static constexpr uint32_t kStride = offheap::PoolDepot::kMagazineStride;

  explicit OffheapPoolMagazines(const Shape& s)
      : depot_(shared_depot(s)), div_(depot_->slot_size()), slot_(depot_->slot_size()),
        base_(depot_->region()->base()), states_(depot_->state_region()->base()),
        mem_(std::calloc(1, offheap::MagazineBlock::layout(1, kStride).bytes)),
        block_(mem_, 1, {depot_->magazine_capacity()}, kStride) {
    require(mem_ != nullptr, "calloc");
    require(depot_->try_retain(), "PoolDepot::try_retain");  // the reference released below
    depot_->attach(&block_);
    words_ = block_.words();
    frees_ = block_.counters() + offheap::MagazineBlock::kCounterFrees;
    end_ = static_cast<uint32_t>(words_[block_.block_layout().ends + 1]);
    limit_ = depot_->capacity();
  }
  ~OffheapPoolMagazines() {
    uint32_t bad = 0;
    depot_->detach(&block_, &bad);
    depot_->release();
    std::free(mem_);
  }

  void* alloc(size_t) {
    uint32_t t = static_cast<uint32_t>(words_[1]);
    if (BENCH_UNLIKELY(t % kStride == 0) && (t = refill()) % kStride == 0) return nullptr;
    const int32_t h = words_[--t];
    words_[1] = static_cast<int32_t>(t);
    offheap::store_state(states_, div_.quotient(static_cast<uint32_t>(h)), offheap::ObjectPool::kLive);
    return base_ + h;
  }
  void free(void* p, size_t) {
    const auto h = static_cast<uint32_t>(static_cast<uint8_t*>(p) - base_);
    const uint32_t i = div_.quotient(h);
    const auto t = static_cast<uint32_t>(words_[1]);
    if (BENCH_UNLIKELY(t == end_)) return drain(h);
    if (BENCH_UNLIKELY(i >= limit_ || i * slot_ != h ||
                       offheap::exchange_state_if(states_, i, offheap::ObjectPool::kLive, offheap::SlotState::kCached) !=
                           offheap::ObjectPool::kLive))
      std::abort();
    words_[t] = static_cast<int32_t>(h);
    words_[1] = static_cast<int32_t>(t + 1);
    ++*frees_;
  }

 private:
  BENCH_NOINLINE uint32_t refill() {
    uint32_t got = 0;
    block_.refill(*depot_, 0, &got);
    return block_.base(0) + block_.cached(0);
  }
  BENCH_NOINLINE void drain(uint32_t h) {
    uint32_t bad = 0;
    if (block_.free_into_full(*depot_, 0, h, &bad) != offheap::Status::kOk) std::abort();
  }

  offheap::PoolDepot* depot_;
  offheap::Divisor32 div_;
  uint32_t slot_;
  uint8_t* base_;
  uint8_t* states_;
  void* mem_;
  offheap::MagazineBlock block_;
  int32_t* words_ = nullptr;
  uint32_t end_ = 0;
  uint32_t limit_ = 0;
  double* frees_ = nullptr;  ///< the block's frees counter, which the facade's fast path bumps
};

/// A shared ObjectPool one slot at a time under the depot's mutex: the path
/// debug mode takes on every operation (here without poison), which the
/// magazines exist to avoid. Churn only: it shows what one locked op costs.
struct OffheapPoolLocked {
  static constexpr const char* kKey = "offheap-pool-locked";
  static constexpr const char* kName = "offheap ObjectPool, locked per op";
  static constexpr bool kPeer = false;
  static constexpr unsigned kWorkloads = kChurn;
  static constexpr const char* kWhyNot = "churn only (the cost of one locked op)";
  explicit OffheapPoolLocked(const Shape& s) : depot_(shared_depot(s)), base_(depot_->region()->base()) {}
  void* alloc(size_t) {
    uint32_t off;
    if (BENCH_UNLIKELY(depot_->alloc(&off) != offheap::Status::kOk)) return nullptr;
    return base_ + off;
  }
  void free(void* p, size_t) {
    if (BENCH_UNLIKELY(depot_->free(static_cast<uint32_t>(static_cast<uint8_t*>(p) - base_)) != offheap::Status::kOk)) std::abort();
  }

 private:
  offheap::PoolDepot* depot_;
  uint8_t* base_;
};

/// The slab through a per-thread cache (magazines per class in a native
/// block, one state byte per granule): Shared = false is an unshared
/// allocator (one per adapter), Shared = true one allocator of the process
/// that both threads of two-threads attach to.
template <bool Shared>
struct OffheapSlabT {
  using Cache = offheap::BasicSlabCache<Shared>;
  BENCH_INLINE explicit OffheapSlabT(const Shape&) : slab_(Shared ? shared_slab() : make_slab()), cache_(*slab_), base_(slab_->region()->base()) {
    require(cache_.ok(), "SlabCache");
  }
  void* alloc(size_t size) {
    uint32_t off;
    if (BENCH_UNLIKELY(cache_.alloc(size, &off) != offheap::Status::kOk)) return nullptr;
    return base_ + off;
  }
  void free(void* p, size_t) {
    if (BENCH_UNLIKELY(cache_.free(static_cast<uint32_t>(static_cast<uint8_t*>(p) - base_)) != offheap::Status::kOk)) std::abort();
  }

 private:
  static offheap::SlabAllocator* make_slab() {
    offheap::SlabConfig config;
    config.max_bytes = size_t{256} << 20;
    offheap::SlabAllocator* s = nullptr;
    require(offheap::SlabAllocator::create(config, offheap::PageSource::system(), &s) == offheap::Status::kOk, "SlabAllocator::create");
    return s;  // lives as long as the process (one workload run per process)
  }
  static offheap::SlabAllocator* shared_slab() {
    static offheap::SlabAllocator* s = make_slab();
    return s;
  }
  offheap::SlabAllocator* slab_;
  Cache cache_;
  uint8_t* base_;
};

struct OffheapSlab : OffheapSlabT<false> {
  static constexpr const char* kKey = "offheap-slab";
  static constexpr const char* kName = "offheap SlabAllocator";
  static constexpr bool kPeer = false;
  static constexpr unsigned kWorkloads = kChurn | kAllocFreeAll | kMixed;
  static constexpr const char* kWhyNot = "unshared (one thread): see the shared row";
  BENCH_INLINE explicit OffheapSlab(const Shape& s) : OffheapSlabT(s) {}
};

struct OffheapSlabShared : OffheapSlabT<true> {
  static constexpr const char* kKey = "offheap-slab-shared";
  static constexpr const char* kName = "offheap SlabAllocator, shared";
  static constexpr bool kPeer = false;
  static constexpr unsigned kWorkloads = kAll;
  static constexpr const char* kWhyNot = "";
  BENCH_INLINE explicit OffheapSlabShared(const Shape& s) : OffheapSlabT(s) {}
};

}  // namespace bench
