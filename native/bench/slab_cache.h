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

 public:
  /// Attaches to `a` (which must outlive the cache). ok() is false when the
  /// block could not be allocated.
  explicit BasicSlabCache(SlabAllocator& a) noexcept
      : a_(a),
        layout_(MagazineBlock::layout(a.classes())),
        mem_(std::calloc(1, layout_.bytes)),
        block_(mem_, a.classes(), a.magazine_capacities()),
        words_(static_cast<int32_t*>(mem_)),
        states_(reinterpret_cast<Byte*>(a.states().bytes())),
        class_ids_(a.class_ids().data()),
        ends_(layout_.ends),
        max_small_(a.max_small()),
        classes_(a.classes()) {
    if (mem_ != nullptr) a_.attach(&block_);
  }

  ~BasicSlabCache() {
    if (mem_ == nullptr) return;
    publish();
    uint32_t bad;
    a_.detach(&block_, &bad);
    std::free(mem_);
  }

  BasicSlabCache(const BasicSlabCache&) = delete;
  BasicSlabCache& operator=(const BasicSlabCache&) = delete;

  bool ok() const noexcept { return mem_ != nullptr; }
  MagazineBlock& block() noexcept { return block_; }

  /// Allocates `size` bytes; *off is the handle (byte offset into the region).
  Status alloc(size_t size, uint32_t* off) noexcept {
    if (OFFHEAP_UNLIKELY(size > max_small_)) return alloc_single(size, off);
    const uint32_t k = class_ids_[(size + SlabAllocator::kGranule - 1) >> SlabAllocator::kGranuleShift];
    int32_t top = word(k);
    if (OFFHEAP_UNLIKELY(top % MagazineBlock::kStride == 0) && (top = refill(k)) % MagazineBlock::kStride == 0)
      return refill_failed();
    set_word(k, --top);
    const auto h = static_cast<uint32_t>(words_[top]);
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
    if (OFFHEAP_UNLIKELY(k - 1 >= classes_)) return free_slow(off);  // large, free already, or no slot
    if constexpr (Shared) {
      Byte want = Byte(k);
      if (!std::atomic_ref<Byte>(state).compare_exchange_strong(want, Byte(SlotState::kCached))) return free_slow(off);
    } else {
      state = Byte(SlotState::kCached);
    }
    int32_t top = word(k);
    if (OFFHEAP_UNLIKELY(top == word(ends_ + k))) top = drain(k);
    words_[top] = static_cast<int32_t>(off);
    set_word(k, top + 1);
    ++frees_;
    return Status::kOk;
  }

  /// Returns every cached handle to the depot (so empty slabs can be trimmed).
  Status flush() noexcept {
    publish();
    uint32_t bad;
    return block_.flush(a_, &bad);
  }

 private:
  int32_t word(uint32_t i) const noexcept {
    if constexpr (Shared) return std::atomic_ref<int32_t>(words_[i]).load(std::memory_order_relaxed);
    else return words_[i];
  }
  void set_word(uint32_t i, int32_t v) noexcept {
    if constexpr (Shared) std::atomic_ref<int32_t>(words_[i]).store(v, std::memory_order_relaxed);
    else words_[i] = v;
  }

  /// The fast path counts frees as an integer; the block's counter (a double,
  /// as JS keeps it) is brought up to date at every slow path.
  void publish() noexcept {
    std::atomic_ref<double>(block_.counters()[MagazineBlock::kCounterFrees])
        .store(static_cast<double>(frees_), std::memory_order_relaxed);
  }

  OFFHEAP_NOINLINE int32_t refill(uint32_t k) noexcept {
    publish();
    uint32_t got;
    last_ = block_.refill(a_, k - 1, &got);
    return word(k);
  }

  OFFHEAP_NOINLINE Status refill_failed() noexcept { return last_ == Status::kOk ? Status::kExhausted : last_; }

  OFFHEAP_NOINLINE int32_t drain(uint32_t k) noexcept {
    publish();
    uint32_t bad;
    block_.drain(a_, k - 1, block_.capacity(k - 1) / 2, &bad);
    return word(k);
  }

  OFFHEAP_NOINLINE Status free_slow(uint32_t off) noexcept {
    uint32_t bad;
    if (a_.states().get(off) == SlotState::kLiveLarge) return a_.free(off, &bad);
    const Status st = a_.classify(off);
    return st == Status::kOk ? Status::kInvalidHandle : st;  // freed meanwhile by another thread
  }

  OFFHEAP_NOINLINE Status alloc_single(size_t size, uint32_t* off) noexcept {
    uint32_t bad;
    return a_.alloc(size, off, &bad);
  }

  SlabAllocator& a_;
  MagazineBlock::Layout layout_;
  void* mem_;
  MagazineBlock block_;
  int32_t* words_;             ///< the block: tops, ends, handles
  Byte* states_;               ///< the allocator's state bytes
  const uint8_t* class_ids_;   ///< (size + 15) >> 4 -> class id
  // 64-bit on purpose: stores through the int32 block cannot alias them,
  // so the compiler keeps them in registers across a loop of operations.
  uint64_t ends_;              ///< word index of ends[0]
  uint64_t max_small_;
  uint64_t classes_;
  uint64_t frees_ = 0;
  Status last_ = Status::kOk;
};

/// Caches on several threads over one allocator.
using SlabCache = BasicSlabCache<true>;
/// The one cache of an allocator used by one thread only.
using LocalSlabCache = BasicSlabCache<false>;

}  // namespace offheap
