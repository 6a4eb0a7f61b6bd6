// What every shareable allocator (ObjectPool, SlabAllocator) has for being
// shared between threads, written once (DESIGN.md section 7): the mutex its
// depot operations take, a reference per attachment (thread), its entry in
// the share registry once share() ran, and the magazine blocks of the
// attached threads (what they hold and count). The last release() takes it
// out of the registry and deletes the allocator.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "magazine_block.h"
#include "share_registry.h"

namespace offheap {

/// CRTP base: `Derived` is the allocator, a Depot (deleted by the last
/// release(); it befriends SharedDepot<Derived> when its destructor is
/// private). Derived::unhome_locked(block) lets go of what it kept for a
/// detaching block (a slab's home slabs; nothing for a pool).
template <typename Derived, uint32_t Kind>
class SharedDepot {
 public:
  static constexpr uint32_t kShareKind = Kind;

  /// The allocator filed under `id` by share(), with one more reference, or
  /// nullptr once it is gone (or of another kind).
  static Derived* acquire(uint32_t id) noexcept {
    return static_cast<Derived*>(share_registry::acquire(id, Kind));
  }

  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  /// Takes a reference unless the last one is already gone.
  bool try_retain() noexcept {
    int32_t n = refs_.load(std::memory_order_relaxed);
    while (n > 0) {
      if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  /// Drops a reference; the last one deletes the allocator. Out of the
  /// registry first: an acquire() in flight holds the registry's lock, so it
  /// ends (failing to retain) before the allocator goes.
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (share_id_ != 0) share_registry::remove(share_id_);
    delete static_cast<Derived*>(this);
  }
  /// Files the allocator in the share registry (once) and returns its id.
  uint32_t share() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    if (share_id_ == 0)
      share_id_ = share_registry::add(Kind, static_cast<Derived*>(this),
                                      [](void* p) noexcept { return static_cast<Derived*>(p)->try_retain(); });
    return share_id_;
  }
  /// Non-zero once shared.
  uint32_t share_id() const noexcept { return share_id_; }

  /// Registers a thread's magazines: stats count what they hold, and the
  /// depot keeps its bookkeeping for them under block->tag.
  void attach(MagazineBlock* block) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    block->tag = next_tag_++;
    if (next_tag_ == 0) next_tag_ = 1;
    blocks_.push_back(block);
  }
  /// Returns everything `block` holds (thread exit, destroy) and
  /// unregisters it; its counters join the totals. *bad names a magazine
  /// entry that was written over (kCorrupted): that object stays out.
  Status detach(MagazineBlock* block, uint32_t* bad) noexcept {
    const Status st = block->flush(*static_cast<Derived*>(this), bad);
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < blocks_.size(); ++i) {
      if (blocks_[i] != block) continue;
      retired_allocs_ += block->allocations();
      retired_frees_ += block->counter(MagazineBlock::kCounterFrees);
      blocks_.erase(blocks_.begin() + static_cast<ptrdiff_t>(i));
      break;
    }
    static_cast<Derived*>(this)->unhome_locked(block);
    return st;
  }

 protected:
  SharedDepot() = default;
  ~SharedDepot() = default;

  /// Allocations and frees the magazines counted, attached and detached
  /// (mutex held): the fast paths count frees; allocations follow from
  /// frees + refilled - drained - held.
  void block_totals(double* allocs, double* frees) const noexcept {
    *allocs = retired_allocs_;
    *frees = retired_frees_;
    for (const MagazineBlock* b : blocks_) {
      *allocs += b->allocations();
      *frees += b->counter(MagazineBlock::kCounterFrees);
    }
  }
  /// Free objects of class `cls` the attached magazines hold (mutex held).
  uint64_t cached_in_blocks(uint32_t cls) const noexcept {
    uint64_t n = 0;
    for (const MagazineBlock* b : blocks_) n += b->cached(cls);
    return n;
  }

  std::mutex mutex_;                    ///< every depot operation of the allocator
  std::vector<MagazineBlock*> blocks_;  ///< attached threads' magazines (mutex_)

 private:
  std::atomic<int32_t> refs_{1};  ///< one per attachment (and per acquire in flight)
  uint32_t share_id_ = 0;         ///< registry id, 0 until shared (mutex_)
  uint32_t next_tag_ = 1;         ///< for the next attached block (mutex_)
  double retired_allocs_ = 0;     ///< counters of detached blocks (mutex_)
  double retired_frees_ = 0;
};

}  // namespace offheap
