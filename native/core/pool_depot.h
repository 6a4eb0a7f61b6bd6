// The ObjectPool as threads share it (DESIGN.md section 7): the pool's one
// size class as a Depot, on the base every shareable allocator has
// (SharedDepot: the mutex around every depot operation, a reference per
// attachment, the share registry, the attached threads' magazine blocks).
// What is the pool's own here is only its geometry: one class, one magazine
// size. The magazines make the mutex rare: a thread takes it once per
// batch, not once per slot.
#pragma once

#include <algorithm>
#include <cstdint>

#include "magazine_block.h"
#include "object_pool.h"
#include "shared_depot.h"
#include "status.h"

namespace offheap {

struct PoolDepotStats {
  ObjectPoolStats pool;    ///< the core's own figures
  double allocs;           ///< every allocation, every path, every attachment
  double frees;
  double failed;
  double live;             ///< slots held by users: allocs - frees
  double peak_live;        ///< most `live` seen at a depot operation
  uint32_t attachments;    ///< open attachments (threads)
};

class PoolDepot final : public Depot, public SharedDepot<PoolDepot, 0x504F4F4C /* POOL */> {
 public:
  /// Words per magazine in a block: a pool's magazine is larger than a
  /// slab class's (one class, so one magazine per thread), and below the
  /// stride (a top at a multiple of it means empty).
  static constexpr uint32_t kMagazineStride = 512;

  /// Magazine size for a pool of `capacity` slots: 256 for large pools (a
  /// native call costs ~250 ns, so a batch of 128 makes it ~2 ns per
  /// operation), less for small ones, so that a thread never caches more
  /// than 1/16 of a pool. A batch of 128 fresh slots fills whole cache lines
  /// of the state table (64 bytes per line, carved from 0 on), so two threads
  /// served batches in turn never compare-and-swap bytes of one line.
  static constexpr uint32_t magazine_capacity(uint32_t capacity) noexcept {
    return std::max<uint32_t>(2, std::min<uint32_t>(256, capacity >> 4) & ~1u);
  }

  /// A new pool with one reference (for the first attachment to own).
  static Status create(const ObjectPoolOptions& options, PageSource& source, PoolDepot** out) noexcept;

  // ---- the depot (class 0, the pool's only one) ----
  Status pop_batch(uint32_t cls, int32_t* out, uint32_t max, uint32_t* got, uint32_t tag,
                   uint32_t* home) noexcept override;
  Status push_batch(uint32_t cls, const int32_t* in, uint32_t n, uint32_t* bad) noexcept override;
  Status cache_live(uint32_t cls, uint32_t off) noexcept override;
  /// A pool keeps nothing per block (SharedDepot::detach).
  void unhome_locked(MagazineBlock*) noexcept {}

  /// Single slots under the mutex (debug mode); see ObjectPool::alloc / free.
  Status alloc(uint32_t* offset) noexcept;
  Status free(uint32_t offset) noexcept;

  /// ObjectPool::verify under the mutex.
  Status verify(uint32_t* bad_offset) noexcept;

  PoolDepotStats stats() noexcept;
  /// Slots held by users right now (a snapshot when other threads run).
  double live() noexcept;

  /// Immutable after creation, so readable without the mutex.
  uint32_t slot_size() const noexcept { return pool_->slot_size(); }
  uint32_t capacity() const noexcept { return pool_->capacity(); }
  uint32_t magazine_capacity() const noexcept { return magazine_capacity(pool_->capacity()); }
  bool poisoned() const noexcept { return pool_->poisoned(); }
  Region* region() const noexcept { return pool_->region(); }
  Region* state_region() const noexcept { return pool_->state_region(); }

 private:
  friend class SharedDepot<PoolDepot, kShareKind>;
  explicit PoolDepot(ObjectPool* pool) noexcept : pool_(pool) {}
  ~PoolDepot() {
    pool_->destroy();
    delete pool_;
  }
  /// allocs - frees over every path; updates the peak. Needs the mutex.
  double live_locked() noexcept;

  ObjectPool* const pool_;  ///< the slots, free list and state table
  double peak_live_ = 0;    ///< most live slots seen
};

}  // namespace offheap
