// The ObjectPool as several threads share it (DESIGN.md section 7): one
// mutex around every depot operation (magazine refill and drain, the
// single-slot path of debug mode, stats, verify), the attachments (one tag and
// one counter block per thread), a reference per attachment, and an entry in
// the share registry once shared. The magazines make the mutex rare: a thread
// takes it once per batch, not once per slot.
#pragma once

#include <cstdint>

#include "attachments.h"
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

class PoolDepot final : public SharedDepot<PoolDepot, 0x504F4F4C /* POOL */> {
 public:

  /// A new pool with one reference (for the first attachment to own).
  static Status create(const ObjectPoolOptions& options, PageSource& source, PoolDepot** out) noexcept;

  /// Opens an attachment: a tag for its magazine and counter block.
  /// kExhausted when slot_state::kMaxTags are open.
  Status open(uint32_t* tag) noexcept;

  /// Closes attachment `tag`: the slots in its magazine go back to the depot
  /// (slots it handed out stay live), its counters join the totals, and its
  /// reference is released (the last one destroys the pool). Idempotent per tag.
  void close(uint32_t tag) noexcept;

  /// Batch moves of slot offsets for tag's magazine; see ObjectPool::pop_batch / push_batch.
  Status refill(uint32_t tag, int32_t* out, uint32_t max, uint32_t* n, uint32_t* bad_offset) noexcept;
  Status drain(uint32_t tag, const int32_t* in, uint32_t n, int32_t* bad) noexcept;

  /// Single slots under the mutex (debug mode); see ObjectPool::alloc / free.
  Status alloc(uint32_t* offset) noexcept;
  Status free(uint32_t offset) noexcept;

  /// ObjectPool::verify, also checking that no slot sits in the magazine of
  /// a closed attachment.
  Status verify(uint32_t* bad_offset) noexcept;

  PoolDepotStats stats() noexcept;
  /// Slots held by users right now (a snapshot when other threads run).
  double live() noexcept;

  /// Immutable after creation, so readable without the mutex.
  uint32_t slot_size() const noexcept { return pool_->slot_size(); }
  uint32_t capacity() const noexcept { return pool_->capacity(); }
  bool poisoned() const noexcept { return pool_->poisoned(); }
  Region* region() const noexcept { return pool_->region(); }
  Region* state_region() const noexcept { return pool_->state_region(); }
  size_t blocks_offset() const noexcept { return pool_->blocks_offset(); }

 private:
  friend class SharedDepot<PoolDepot, kShareKind>;
  explicit PoolDepot(ObjectPool* pool) noexcept : pool_(pool), attachments_(pool->counter_blocks()) {}
  ~PoolDepot() {
    pool_->destroy();
    delete pool_;
  }
  /// allocs - frees over every path; updates the peak. Needs the mutex.
  double live_locked() noexcept;

  ObjectPool* const pool_;          ///< the slots, free list and state table
  Attachments attachments_;         ///< tags and counter blocks
  double peak_live_ = 0;            ///< most live slots seen
};

}  // namespace offheap
