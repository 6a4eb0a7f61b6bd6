// SlabCache: one thread's magazines over a SlabAllocator, in C++. It is the
// native mirror of the JavaScript fast path (lib/slab.ts): a size -> class
// table read, a magazine pop and one atomic OR on the state table to
// allocate; a state CAS, a slab-class read and a magazine push to free; a
// batch crosses the depot's mutex only when a magazine is empty or full.
// Used by the core's tests and benchmarks; not thread-safe itself (one per
// thread), but any number of caches may share one allocator.
#pragma once

#include <atomic>
#include <cstdlib>

#include "guards.h"
#include "magazine_block.h"
#include "slab.h"

namespace offheap {

class SlabCache {
 public:
  /// Attaches to `a` (which must outlive the cache). ok() is false when the
  /// block could not be allocated.
  explicit SlabCache(SlabAllocator& a) noexcept
      : a_(a),
        layout_(MagazineBlock::layout(a.classes())),
        mem_(std::calloc(1, layout_.bytes)),
        block_(mem_, a.classes(), a.magazine_capacities()),
        counts_(static_cast<int32_t*>(mem_) + layout_.counts),
        handles_(static_cast<int32_t*>(mem_) + layout_.handles),
        counters_(block_.counters()),
        class_index_(a.class_index().data()),
        slab_classes_(a.slab_classes()),
        caps_(a.magazine_capacities().data()) {
    if (mem_ != nullptr) a_.attach(&block_);
  }

  ~SlabCache() {
    if (mem_ == nullptr) return;
    uint32_t bad;
    a_.detach(&block_, &bad);
    std::free(mem_);
  }

  SlabCache(const SlabCache&) = delete;
  SlabCache& operator=(const SlabCache&) = delete;

  bool ok() const noexcept { return mem_ != nullptr; }
  MagazineBlock& block() noexcept { return block_; }

  /// Allocates `size` bytes; *off is the handle (byte offset into the region).
  Status alloc(size_t size, uint32_t* off) noexcept {
    if (OFFHEAP_UNLIKELY(size > a_.max_small())) return alloc_single(size, off);
    const uint32_t c = class_index_[(size + SlabAllocator::kGranule - 1) >> SlabAllocator::kGranuleShift];
    int32_t n = count(c);
    if (OFFHEAP_UNLIKELY(n == 0)) {
      const Status st = refill(c, &n);
      if (st != Status::kOk) return st;
    }
    set_count(c, --n);
    const auto h = static_cast<uint32_t>(handles_[c * MagazineBlock::kStride + n]);
    a_.states().cached_to_live(h);
    counters_[MagazineBlock::kCounterAllocs] += 1;
    *off = h;
    return Status::kOk;
  }

  /// Frees a handle from alloc() of any cache of the same allocator.
  /// kDoubleFree / kInvalidHandle for anything else.
  Status free(uint32_t off) noexcept {
    StateTable& states = a_.states();
    if (OFFHEAP_UNLIKELY(!states.valid(off))) return Status::kInvalidHandle;
    const uint32_t c = slab_classes_[off >> a_.slab_shift()];
    if (OFFHEAP_UNLIKELY(c >= a_.classes())) return free_single(off);
    if (OFFHEAP_UNLIKELY(states.exchange_if(off, SlotState::kLive, SlotState::kCached) != SlotState::kLive))
      return not_live(off);
    int32_t n = count(c);
    if (OFFHEAP_UNLIKELY(static_cast<uint32_t>(n) == caps_[c])) {
      const Status st = drain(c, &n);
      if (st != Status::kOk) return st;
    }
    handles_[c * MagazineBlock::kStride + n] = static_cast<int32_t>(off);
    set_count(c, n + 1);
    counters_[MagazineBlock::kCounterFrees] += 1;
    return Status::kOk;
  }

  /// Returns every cached handle to the depot (so empty slabs can be trimmed).
  Status flush() noexcept {
    uint32_t bad;
    return block_.flush(a_, &bad);
  }

 private:
  int32_t count(uint32_t c) const noexcept {
    return std::atomic_ref<int32_t>(counts_[c]).load(std::memory_order_relaxed);
  }
  void set_count(uint32_t c, int32_t n) noexcept {
    std::atomic_ref<int32_t>(counts_[c]).store(n, std::memory_order_relaxed);
  }

  OFFHEAP_NOINLINE Status refill(uint32_t c, int32_t* n) noexcept {
    uint32_t got;
    const Status st = block_.refill(a_, c, &got);
    *n = count(c);
    return *n > 0 ? Status::kOk : (st == Status::kOk ? Status::kExhausted : st);
  }

  OFFHEAP_NOINLINE Status drain(uint32_t c, int32_t* n) noexcept {
    uint32_t bad;
    const Status st = block_.drain(a_, c, caps_[c] / 2, &bad);
    *n = count(c);
    return st;
  }

  OFFHEAP_NOINLINE Status not_live(uint32_t off) noexcept {
    const Status st = a_.classify(off);
    return st == Status::kOk ? Status::kInvalidHandle : st;  // freed meanwhile by another thread
  }

  OFFHEAP_NOINLINE Status alloc_single(size_t size, uint32_t* off) noexcept {
    uint32_t bad;
    return a_.alloc(size, off, &bad);
  }

  OFFHEAP_NOINLINE Status free_single(uint32_t off) noexcept {
    uint32_t bad;
    return a_.free(off, &bad);
  }

  SlabAllocator& a_;
  MagazineBlock::Layout layout_;
  void* mem_;
  MagazineBlock block_;
  int32_t* counts_;
  int32_t* handles_;
  double* counters_;
  const uint8_t* class_index_;
  const uint8_t* slab_classes_;
  const uint32_t* caps_;
};

}  // namespace offheap
