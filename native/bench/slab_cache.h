// SlabCache (tests and the native benchmark; not part of the addon): one thread's magazines over a SlabAllocator, in C++. It is the
// native mirror of the JavaScript fast path (lib/slab.ts), step for step:
//   alloc: size -> class id (one table read), pop the class's magazine, write
//          the id into the slot's state byte;
//   free:  one state-byte read says live (and of which class) or not, mark it
//          cached, push it on that class's magazine;
// so the release-mode guards (double free, interior, foreign or unaligned
// offsets) cost one byte read. Only an empty or full magazine crosses the
// depot's mutex, with a batch.
//
// Shared = true: caches on several threads share the allocator; the free's
// live -> cached change is a CAS (two threads may free one handle at once).
// Shared = false: one thread uses the allocator (an unshared JS allocator).
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "../core/guards.h"
#include "../core/magazine_block.h"
#include "../core/slab.h"

namespace offheap {

template <bool Shared>
class BasicSlabCache {
  /// The state bytes as a type of their own: unlike uint8_t (a character
  /// type, which may alias anything) a store through it does not make the
  /// compiler reload every member after it. Same size, same values.
  enum class Byte : uint8_t {};

  /// What only the slow paths touch, on the heap: the fast path's own state
  /// (below) is never handed to a call, so the compiler may keep it in
  /// registers across a loop of operations.
  struct Attachment {
    SlabAllocator& a;
    MagazineBlock block;
    std::vector<uint8_t> by_size;  ///< size (0..max_small) -> class id
    Status last = Status::kOk;     ///< the last refill's status
  };

 public:
  /// Attaches to `a` (which must outlive the cache). ok() is false when the
  /// block could not be allocated.
  __attribute__((always_inline)) explicit BasicSlabCache(SlabAllocator& a) noexcept : att_(attach(a)) {
    if (att_ == nullptr) return;
    words_ = reinterpret_cast<uint32_t*>(att_->block.words());
    states_ = reinterpret_cast<Byte*>(a.states().bytes());
    by_size_ = att_->by_size.data();
    max_small_ = a.max_small();
    classes_ = a.classes();
  }

  __attribute__((always_inline)) ~BasicSlabCache() { detach(att_, frees_); }

  BasicSlabCache(const BasicSlabCache&) = delete;
  BasicSlabCache& operator=(const BasicSlabCache&) = delete;

  bool ok() const noexcept { return att_ != nullptr; }
  MagazineBlock& block() noexcept { return att_->block; }

  /// Allocates `size` bytes; *off is the handle (byte offset into the region).
  Status alloc(size_t size, uint32_t* off) noexcept {
    if (OFFHEAP_UNLIKELY(size > max_small_)) return alloc_single(att_, size, off);
    const uint32_t k = by_size_[size];
    uint32_t top = word(k);
    if (OFFHEAP_UNLIKELY(top % MagazineBlock::kStride == 0) && (top = refill(att_, k, frees_)) % MagazineBlock::kStride == 0)
      return refill_failed(att_);
    set_word(k, --top);
    const uint32_t h = words_[top];
    if constexpr (Shared) std::atomic_ref<Byte>(states_[h >> SlabAllocator::kGranuleShift]).store(Byte(k), std::memory_order_relaxed);
    else states_[h >> SlabAllocator::kGranuleShift] = Byte(k);
    *off = h;
    return Status::kOk;
  }

  /// Frees a handle from alloc() of any cache of the same allocator.
  /// kDoubleFree / kInvalidHandle for anything else.
  Status free(uint32_t off) noexcept {
    if (OFFHEAP_UNLIKELY((off & (0x80000000u | (SlabAllocator::kGranule - 1))) != 0)) return Status::kInvalidHandle;
    Byte& state = states_[off >> SlabAllocator::kGranuleShift];
    const auto k = static_cast<uint32_t>(Shared ? std::atomic_ref<Byte>(state).load(std::memory_order_relaxed) : state);
    // Any byte value indexes the tops and ends (kAllIds); they are equal for
    // an id of no class, so one test sends both a full magazine and a state
    // that is no live small object (large, free already, no slot) aside.
    uint32_t top = word(k);
    if (OFFHEAP_UNLIKELY(top == words_[MagazineBlock::kAllIds + k])) {
      if (k - 1 >= classes_) return free_slow(att_, off);
      top = drain(att_, k, frees_);
    }
    if constexpr (Shared) {
      Byte want = Byte(k);
      if (!std::atomic_ref<Byte>(state).compare_exchange_strong(want, Byte(SlotState::kCached))) return free_slow(att_, off);
    } else {
      state = Byte(SlotState::kCached);
    }
    words_[top] = off;
    set_word(k, top + 1);
    ++frees_;
    return Status::kOk;
  }

  /// Returns every cached handle to the depot (so empty slabs can be trimmed).
  Status flush() noexcept {
    publish(att_, frees_);
    uint32_t bad;
    return att_->block.flush(att_->a, &bad);
  }

 private:
  /// The block has tops and ends for every byte value (kAllIds): the ends
  /// lie at a fixed distance from the tops, so the full-magazine test of a
  /// free needs no register of its own.
  static_assert(SlabAllocator::kMaxClasses < MagazineBlock::kAllIds);

  static Attachment* attach(SlabAllocator& a) noexcept {
    const auto layout = MagazineBlock::layout(a.classes(), MagazineBlock::kStride, MagazineBlock::kAllIds);
    void* mem = std::calloc(1, layout.bytes);
    if (mem == nullptr) return nullptr;
    auto* at = new (std::nothrow)
        Attachment{a, MagazineBlock(mem, a.classes(), a.magazine_capacities(), MagazineBlock::kStride, MagazineBlock::kAllIds), {}};
    if (at == nullptr) {
      std::free(mem);
      return nullptr;
    }
    try {
      at->by_size.resize(size_t{a.max_small()} + 1);
    } catch (const std::bad_alloc&) {
      delete at;
      std::free(mem);
      return nullptr;
    }
    for (size_t n = 0; n < at->by_size.size(); ++n) at->by_size[n] = static_cast<uint8_t>(a.class_for(n) + 1);
    a.attach(&at->block);
    return at;
  }

  OFFHEAP_NOINLINE static void detach(Attachment* at, uint64_t frees) noexcept {
    if (at == nullptr) return;
    publish(at, frees);
    uint32_t bad;
    at->a.detach(&at->block, &bad);
    void* mem = at->block.words();
    delete at;
    std::free(mem);
  }

  uint32_t word(uint32_t i) const noexcept {
    if constexpr (Shared) return std::atomic_ref<uint32_t>(words_[i]).load(std::memory_order_relaxed);
    else return words_[i];
  }
  void set_word(uint32_t i, uint32_t v) noexcept {
    if constexpr (Shared) std::atomic_ref<uint32_t>(words_[i]).store(v, std::memory_order_relaxed);
    else words_[i] = v;
  }

  /// The fast path counts frees as an integer; the block's counter (a double,
  /// as JS keeps it) is brought up to date at every slow path.
  static void publish(Attachment* at, uint64_t frees) noexcept {
    std::atomic_ref<double>(at->block.counters()[MagazineBlock::kCounterFrees])
        .store(static_cast<double>(frees), std::memory_order_relaxed);
  }

  OFFHEAP_NOINLINE static uint32_t refill(Attachment* at, uint32_t k, uint64_t frees) noexcept {
    publish(at, frees);
    uint32_t got;
    at->last = at->block.refill(at->a, k - 1, &got);
    return static_cast<uint32_t>(at->block.words()[k]);
  }

  OFFHEAP_NOINLINE static Status refill_failed(Attachment* at) noexcept {
    return at->last == Status::kOk ? Status::kExhausted : at->last;
  }

  OFFHEAP_NOINLINE static uint32_t drain(Attachment* at, uint32_t k, uint64_t frees) noexcept {
    publish(at, frees);
    uint32_t bad;
    at->block.drain(at->a, k - 1, at->block.capacity(k - 1) / 2, &bad);
    return static_cast<uint32_t>(at->block.words()[k]);
  }

  OFFHEAP_NOINLINE static Status free_slow(Attachment* at, uint32_t off) noexcept {
    uint32_t bad;
    if (at->a.states().get(off) == SlotState::kLiveLarge) return at->a.free(off, &bad);
    const Status st = at->a.classify(off);
    return st == Status::kOk ? Status::kInvalidHandle : st;  // freed meanwhile by another thread
  }

  OFFHEAP_NOINLINE static Status alloc_single(Attachment* at, size_t size, uint32_t* off) noexcept {
    uint32_t bad;
    return at->a.alloc(size, off, &bad);
  }

  Attachment* att_;                  ///< the block and the allocator, for the slow paths
  uint32_t* words_ = nullptr;        ///< the block: tops, then handles (unsigned: no sign extension)
  Byte* states_ = nullptr;           ///< the allocator's state bytes
  const uint8_t* by_size_ = nullptr;  ///< size -> class id
  uint64_t max_small_ = 0;
  uint64_t classes_ = 0;
  uint64_t frees_ = 0;
};

/// Caches on several threads over one allocator.
using SlabCache = BasicSlabCache<true>;
/// The one cache of an allocator used by one thread only.
using LocalSlabCache = BasicSlabCache<false>;

}  // namespace offheap
