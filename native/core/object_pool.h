// A fixed-size pool over one region (Zig's std.heap.MemoryPool, the C++
// `union Slot { T object; Slot* next; }`): a free slot holds the 32-bit index
// of the next free slot, a live slot holds user bytes, and there is no header
// per slot. A side table outside the region keeps one state byte per slot in
// the encoding every shareable allocator uses (state_table.h: kNone never
// handed out, class id 1 live, kCached in some thread's magazine, kFree on
// the free list), so a free is checked in O(1) and every link is checked on
// pop: a link out of range or naming a slot that is not free is kCorrupted
// (the free list is then rebuilt from the table), never a wild write.
//
// The pool is a slab allocator with one size class and one slab; what is
// its own is only that geometry: offset -> index is one exact division.
// Slots are handed out from the free list first, then carved from a cursor
// that grows chunk by chunk up to `capacity`.
//
// Not synchronized: one thread at a time (the depot, pool_depot.h, holds a
// mutex around every call). JavaScript reads and writes the states of slots
// it owns (live ones, its magazine's) concurrently; the batch paths only
// touch slots in the depot or in the caller's magazine, which no other
// thread may move, so they need no compare-and-swap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "divisor.h"
#include "guards.h"
#include "region.h"
#include "state_table.h"
#include "status.h"

namespace offheap {

struct ObjectPoolOptions {
  uint32_t slot_size = 0;  ///< bytes a slot must hold, 1 .. ObjectPool::kMaxSlotSize
  uint32_t align = 8;      ///< a power of two, 1 .. 4096
  uint32_t capacity = 0;   ///< most slots; capacity * slot size <= 2 GiB
  bool growable = true;    ///< false: every slot committed and prefaulted at creation
  uint32_t preheat = 0;    ///< slots whose pages are committed and prefaulted at creation
  bool poison = false;     ///< debug: 0xDF on free, checked on reuse; 0xD0 when handed out
  bool huge_pages = false; ///< ask the OS for huge pages under the slots (a hint)
};

struct ObjectPoolStats {
  size_t reserved_bytes;   ///< both reservations (slots and state table)
  size_t committed_bytes;  ///< pages accounted for carved chunks and their states
  uint32_t slot_size;      ///< rounded slot size
  uint32_t capacity;       ///< most slots
  uint32_t carved;         ///< slots ever handed out of the carve area
  uint32_t depot_slots;    ///< free slots on the free list
  uint64_t allocs;         ///< single-slot allocations (alloc())
  uint64_t frees;          ///< single-slot frees (free())
  uint64_t failed;         ///< allocations refused for want of room
};

class ObjectPool {
 public:
  /// What a free slot holds: the index of the next free slot, or kNil.
  using Link = uint32_t;
  static constexpr Link kNil = 0xFFFFFFFFu;
  static constexpr uint32_t kMaxSlotSize = 1u << 24;
  /// A live slot's state byte: the id of the pool's one class.
  static constexpr uint8_t kLive = 1;
  /// Growth step: slots are carved this many bytes' worth at a time.
  static constexpr size_t kChunkBytes = 64 * 1024;

  /// The slot size for `size` bytes at `align`: Zig's
  /// item_size = max(sizeof(Node), sizeof(Item)), rounded up to
  /// max(align, alignof(Node)). 0 for a size or alignment out of range.
  static constexpr uint32_t slot_size_for(uint32_t size, uint32_t align) noexcept {
    if (size == 0 || size > kMaxSlotSize || !is_pow2(align) || align > 4096) return 0;
    const uint32_t a = align > alignof(Link) ? align : static_cast<uint32_t>(alignof(Link));
    return static_cast<uint32_t>(align_up(size > sizeof(Link) ? size : sizeof(Link), a));
  }

  /// Reserves the slots and the state table from `source`. Returns
  /// kInvalidArgument for options out of range, kOsFailure when refused.
  static Status create(const ObjectPoolOptions& options, PageSource& source, ObjectPool** out) noexcept;

  ObjectPool(const ObjectPool&) = delete;
  ObjectPool& operator=(const ObjectPool&) = delete;
  /// Releases this pool's references to both regions (JS buffers keep theirs).
  ~ObjectPool();

  /// A live slot's offset into *offset. kExhausted when all `capacity` slots
  /// are out; kCorrupted (the free list is rebuilt from the table) with
  /// *offset naming the slot a bad link led to, or kNil when it led outside
  /// the pool; kUseAfterFree (poison mode; the slot is re-poisoned and stays
  /// free) with *offset naming it; kDestroyed.
  Status alloc(uint32_t* offset) noexcept;

  /// Frees the live slot at `offset`. kInvalidHandle for an offset that is
  /// out of range, misaligned or was never carved; kDoubleFree for a slot
  /// that is free (on the free list or in a magazine); kDestroyed.
  Status free(uint32_t offset) noexcept;

  /// Moves up to `max` free slots into a magazine (state kCached), writing
  /// their offsets to out[0..*n). Fewer (0 included) when the pool is out of
  /// room. On kCorrupted / kUseAfterFree nothing moves and *bad_offset names
  /// the slot at fault.
  Status pop_batch(int32_t* out, uint32_t max, uint32_t* n, uint32_t* bad_offset) noexcept;

  /// Returns the cached slots at offsets in[0..n) of a magazine to the free
  /// list. Entries that are misaligned, out of range or not cached are
  /// skipped; the first is reported in *bad and the answer is kCorrupted
  /// (the magazine is JS-writable memory).
  Status push_batch(const int32_t* in, uint32_t n, uint32_t* bad) noexcept;

  /// The live slot at `offset` -> cached, by compare-and-swap (another
  /// thread may free it at the same instant); else why it is not live.
  Status cache_live(uint32_t offset) noexcept;

  /// Walks the state table and the whole free list (cycle-safe): kCorrupted
  /// when they disagree (the free list is then rebuilt from the table),
  /// kUseAfterFree when poison mode finds a free slot written (re-poisoned);
  /// *bad_offset names the slot (kNil when none in particular).
  Status verify(uint32_t* bad_offset) noexcept;

  /// Gives every page back; later calls return kDestroyed. Idempotent.
  void destroy() noexcept;
  bool destroyed() const noexcept { return destroyed_; }

  ObjectPoolStats stats() const noexcept;
  /// alloc()s minus free()s (negative when free() took slots another path
  /// handed out, e.g. a magazine's).
  int64_t live() const noexcept { return static_cast<int64_t>(allocs_ - frees_); }

  uint32_t slot_size() const noexcept { return slot_size_; }
  uint32_t capacity() const noexcept { return capacity_; }
  bool poisoned() const noexcept { return poison_; }
  Region* region() const noexcept { return data_; }
  /// The state table's region: one byte per slot.
  Region* state_region() const noexcept { return states_region_; }
  uint8_t* states() const noexcept { return states_; }

 private:
  /// Where take() found a slot.
  enum class Source { kFreeList, kCarved };

  ObjectPool(Region* data, Region* states, const ObjectPoolOptions& o, uint32_t slot_size) noexcept;

  uint8_t* slot(uint32_t i) const noexcept { return base_ + static_cast<size_t>(i) * slot_size_; }
  static Link read_link(const uint8_t* p) noexcept {
    Link next;
    std::memcpy(&next, p, sizeof next);
    return next;
  }
  /// Links slot i (its state already kFree) at the head of the free list,
  /// poisoning it in debug mode. Counts it, unless free() does (its frees_
  /// counts the list for it).
  void push_free(uint32_t i, bool counted_by_free = false) noexcept {
    uint8_t* p = slot(i);
    if (OFFHEAP_UNLIKELY(poison_)) guards::fill(p, slot_size_, guards::kFillFreed);
    std::memcpy(p, &head_, sizeof head_);
    guards::asan_poison(p, slot_size_);
    head_ = i;
    if (!counted_by_free) ++bias_;
  }
  /// Slots on the free list. Not counted on the fast paths: it is
  /// frees_ - allocs_ plus what the other paths moved (bias_).
  uint32_t free_count() const noexcept {
    return static_cast<uint32_t>(bias_ + static_cast<int64_t>(frees_) - static_cast<int64_t>(allocs_));
  }

  OFFHEAP_NOINLINE Status alloc_slow(uint32_t* offset) noexcept;
  OFFHEAP_NOINLINE Status free_slow(uint32_t offset) noexcept;
  /// Pops the head of the free list into state `to`, checking the head's
  /// range and state and, in debug mode, its poison.
  Status take_head(uint8_t to, uint32_t* index, uint32_t* bad_offset) noexcept;
  /// Takes a free slot into state `to`: the free list, then the carve area.
  /// kExhausted when there is none.
  Status take(uint8_t to, uint32_t* index, uint32_t* bad_offset, Source* from) noexcept;
  /// Takes the next never-used slot, growing by a chunk when allowed.
  Status carve(uint32_t* index) noexcept;
  /// Commits one more chunk of slots; false when the pool may not grow.
  bool grow() noexcept;
  /// Commits the pages of the first `slots` slots and their states (a
  /// growth: Region::commit). False when the OS refused to fault them in now.
  bool commit_to(uint32_t slots) noexcept;
  /// Committed bytes of the slots and of the state table for `slots` slots.
  size_t data_bytes(uint32_t slots) const noexcept;
  size_t state_bytes(uint32_t slots) const noexcept;
  /// Rebuilds the free list from the state table after corruption.
  OFFHEAP_NOINLINE void rebuild() noexcept;
  /// Walks the free list: kCorrupted unless it holds exactly `expected`
  /// free slots, in range (so a cycle cannot run forever).
  Status walk(uint32_t expected, uint32_t* bad_offset, uint32_t* use_after_free) noexcept;
  /// First byte after the link of free slot p that is not 0xDF, or kClean.
  size_t poison_mismatch(uint8_t* p) const noexcept;

  Region* const data_;            ///< the slots
  Region* const states_region_;   ///< the state table
  uint8_t* const base_;           ///< data_->base(), cached for the fast paths
  uint8_t* const states_;         ///< one byte per slot (state_table.h's encoding)
  const Divisor32 div_;           ///< offset -> index without a divide
  const uint32_t slot_size_;      ///< rounded slot size, a multiple of the alignment
  const uint32_t capacity_;       ///< most slots
  const uint32_t chunk_slots_;    ///< slots per growth step
  const bool growable_;           ///< may commit beyond the initial chunk
  const bool poison_;             ///< debug fill bytes
  bool destroyed_ = false;        ///< destroy() ran
  /// cursor_, or 0 in poison mode and once destroyed: the one compare that
  /// sends an empty list (kNil), a link out of range, debug mode and use
  /// after destroy to the slow paths.
  uint32_t fast_limit_ = 0;
  Link head_ = kNil;              ///< first free slot, kNil when none
  uint32_t cursor_ = 0;           ///< slots ever carved; [cursor_, capacity_) never used
  uint32_t committed_slots_ = 0;  ///< slots whose pages are accounted as committed
  uint64_t allocs_ = 0;           ///< alloc() successes
  uint64_t frees_ = 0;            ///< free() successes
  uint64_t failed_ = 0;           ///< kExhausted answers
  int64_t bias_ = 0;              ///< free_count() minus (frees_ - allocs_)
};

static_assert(sizeof(ObjectPool::Link) == 4 && alignof(ObjectPool::Link) <= 4,
              "a free slot's link is a 32-bit index");
static_assert(ObjectPool::slot_size_for(1, 1) == sizeof(ObjectPool::Link),
              "the smallest slot still holds the link");
static_assert(ObjectPool::slot_size_for(24, 16) == 32 && ObjectPool::slot_size_for(5, 1) == 8,
              "slots are rounded up to the alignment (at least the link's)");

inline Status ObjectPool::alloc(uint32_t* offset) noexcept {
  const uint32_t i = head_;
  // The head is bounds-checked before it is touched (a link from memory
  // JavaScript can write), and the table must call it free: a link naming a
  // live slot never hands that slot to a second owner.
  if (OFFHEAP_UNLIKELY(i >= fast_limit_ || load_state(states_, i) != SlotState::kFree)) return alloc_slow(offset);
  const uint32_t size = slot_size_;
  const uint32_t off = i * size;
  uint8_t* const p = base_ + off;
  guards::asan_unpoison(p, size);
  head_ = read_link(p);
  ++allocs_;
  store_state(states_, i, kLive);
  *offset = off;
  return Status::kOk;
}

inline Status ObjectPool::free(uint32_t offset) noexcept {
  uint32_t i;
  // Not a compare-and-swap: JavaScript never frees into a pool that takes
  // this path (debug mode routes every free here, release mode none).
  if (OFFHEAP_UNLIKELY(!div_.exact(offset, &i) || i >= fast_limit_ || load_state(states_, i) != kLive))
    return free_slow(offset);
  const Link head = head_;
  uint8_t* const p = base_ + offset;
  store_state(states_, i, SlotState::kFree);
  std::memcpy(p, &head, sizeof head);
  guards::asan_poison(p, slot_size_);
  head_ = i;
  ++frees_;
  return Status::kOk;
}

}  // namespace offheap
