// A bump arena over one Region (nginx's ngx_pool_t, Zig's ArenaAllocator,
// LLVM's BumpPtrAllocator): allocation moves a cursor, rewind(cursor) moves
// it back (LIFO: JavaScript keeps the marks), reset frees everything at once in O(1) and can give pages above
// a retain limit back to the OS.
//
// The cursor lives in an ArenaState block that the JavaScript facade reads and
// writes through an Int32Array, so a JS alloc is the same few lines as
// Arena::alloc below and never crosses into C++ until the committed limit is
// reached. Everything in that block is untrusted: every entry point re-reads
// the cursor and clamps it to the arena's own (private) limit before using it,
// so nothing JavaScript writes there can steer a native write out of range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "guards.h"
#include "region.h"
#include "status.h"

namespace offheap {

/// The words shared with JavaScript (an Int32Array of kArenaStateWords).
/// JS bumps `cursor` and `count` on its fast path and, when it rolls back to
/// a mark without crossing into C++, lowers them, raises `peak` and adds the
/// allocations it freed to `released`. The core folds those in and
/// publishes `limit`, `committed` and `peak` on every entry. Nothing here is
/// trusted: a bad cursor is clamped, the other words only feed statistics.
struct ArenaState {
  int32_t cursor = 0;     ///< next free byte offset (the bump pointer)
  int32_t limit = -1;     ///< fast-path limit: allocations may end at or below it; -1 = always take the slow path
  uint32_t count = 0;     ///< live allocations since the last reset (stats only)
  int32_t committed = 0;  ///< published committed bytes
  int32_t peak = 0;       ///< highest cursor seen before the last rollback or reset
  uint32_t released = 0;  ///< allocations JS rolled back since the core last looked (stats only)
  int32_t reserved[2] = {0, 0};
};
inline constexpr size_t kArenaStateWords = 8;
static_assert(sizeof(ArenaState) == kArenaStateWords * sizeof(int32_t), "ArenaState must be 8 int32 words");

/// How an arena is built. Debug settings mirror the facade's DebugConfig.
struct ArenaOptions {
  size_t max_bytes = 0;   ///< every allocation (with its red zone) ends at or below this
  bool debug = false;     ///< every allocation takes the checked path and is tracked
  bool poison = false;    ///< debug: fresh memory 0xD0, released memory 0xDF (checked on reuse)
  uint32_t red_zone = 0;  ///< debug: bytes of 0xDE after each allocation (checked on release)
};

/// Plain counters (AllocatorStats on the JS side).
struct ArenaStats {
  size_t reserved = 0;      ///< bytes of address space reserved
  size_t committed = 0;     ///< bytes of pages handed out (the limit, rounded up to pages)
  size_t used = 0;          ///< the cursor: live bytes, padding and red zones included
  size_t live_count = 0;    ///< allocations since the last reset, minus those rolled back
  size_t peak = 0;          ///< highest cursor seen
  uint64_t alloc_count = 0; ///< allocations ever made
  uint64_t free_count = 0;  ///< allocations released by rollback or reset
  uint64_t failed_count = 0;///< allocations refused (exhausted)
};

/// What the last failed check found, for the error message.
struct ArenaFault {
  size_t offset = 0;  ///< the allocation (overflow) or released range (use after free)
  size_t size = 0;    ///< its size
  size_t at = 0;      ///< the first bad byte
  uint8_t found = 0;  ///< the byte found there
  uint8_t expected = 0;
};

class Arena {
 public:
  static constexpr size_t kMaxAlign = 4096;
  /// The cursor plus any alignment must stay a positive int32 in JavaScript.
  static constexpr size_t kMaxCapacity = Region::kMaxBytes - kMaxAlign;
  /// The limit grows in steps of this many bytes (the slow path's unit).
  static constexpr size_t kCommitChunk = 64 * 1024;

  /// Reserves a region of options.max_bytes (1 .. 2 GiB) from `source` and
  /// builds an arena whose shared words live in `*state` (which must outlive
  /// it). Returns kInvalidArgument for a bad size or red zone, kOsFailure
  /// when the reservation is refused.
  static Status create(const ArenaOptions& options, PageSource& source, ArenaState* state,
                       Arena** out) noexcept;

  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  /// Bump-allocates `size` bytes aligned to `align` (a power of two <= 4096).
  /// Returns nullptr when exhausted (status()), destroyed or misused. The
  /// JavaScript fast path (lib/arena.ts, bump_) is these same lines.
  void* alloc(size_t size, size_t align = 16) noexcept {
    OFFHEAP_ASSERT(1, is_pow2(align) && align <= kMaxAlign);
    const size_t off = align_up(static_cast<uint32_t>(state_->cursor), align);
    size_t end;
    if (OFFHEAP_UNLIKELY(__builtin_add_overflow(off, size, &end) || end >= fast_end_))
      return alloc_slow(size, align);
    state_->cursor = static_cast<int32_t>(end);
    state_->count++;
    guards::asan_unpoison(base_ + off, size);
    return base_ + off;
  }

  /// The checked allocation every JavaScript slow path and debug call takes:
  /// validates the shared state and `align`, grows the limit, and in debug
  /// mode checks released poison, fills fresh bytes (0xD0, or 0 when
  /// `zeroed`) and the red zone, and records the allocation. *offset gets
  /// the allocation's offset. Returns kExhausted (nothing changed, the arena
  /// stays usable), kInvalidArgument, kDestroyed, kUseAfterFree (released
  /// memory was written; re-poisoned), kCorrupted (the shared words were
  /// overwritten; repaired).
  Status allocate(size_t size, size_t align, bool zeroed, size_t* offset) noexcept;

  /// Frees everything above `cursor`, leaving `count` live allocations:
  /// what a rollback to a mark comes to (JavaScript keeps the marks and
  /// passes the position it recorded). kInvalidHandle when `cursor` or
  /// `count` lie above the current ones; in debug mode kOverflow when a
  /// released allocation's red zone was written (the rewind is still done;
  /// fault() says where).
  Status rewind(size_t cursor, uint32_t count) noexcept;

  /// Frees everything in O(1). Pages above `retain_bytes`
  /// (rounded up to a page) go back to the OS. kOverflow as rewind (the
  /// reset is still done); kOsFailure when the OS refused (the pages stay
  /// committed and counted).
  Status reset(size_t retain_bytes = SIZE_MAX) noexcept;

  /// Walks every invariant: cursor <= limit <= capacity <= region size,
  /// committed accounting, shared words; in debug mode every red zone
  /// and the poison of released memory. Returns the first failure.
  Status verify() noexcept;

  /// Gives every page back at once; later calls return kDestroyed.
  void destroy() noexcept;

  /// Lets go of the region without giving its pages back, for an owner that
  /// is collected while other references (ArrayBuffers) still use the
  /// memory: the last of them unmaps it. Later calls return kDestroyed.
  void abandon() noexcept;

  ArenaStats stats() const noexcept;
  const ArenaFault& fault() const noexcept { return fault_; }
  Status status() const noexcept { return last_; }
  Region* region() const noexcept { return region_; }
  bool destroyed() const noexcept { return region_ == nullptr; }
  size_t capacity() const noexcept { return capacity_; }
  size_t limit() const noexcept { return limit_; }
  const ArenaOptions& options() const noexcept { return options_; }

 private:
  struct Live {
    uint32_t offset;
    uint32_t size;
  };

  Arena(Region* region, const ArenaOptions& options, ArenaState* state) noexcept;

  OFFHEAP_NOINLINE void* alloc_slow(size_t size, size_t align) noexcept;
  bool adopt_state() noexcept;
  void publish() noexcept;
  void grow(size_t end) noexcept;
  Status check_released_poison(size_t from, size_t to) noexcept;
  Status check_red_zone(const Live& a) noexcept;
  Status release_to(size_t cursor, uint32_t count) noexcept;
  Status trim(size_t retain_bytes) noexcept;
  size_t clamped_cursor() const noexcept;

  Region* region_;            ///< the pages; nullptr once destroyed
  uint8_t* base_;             ///< region_->base(), or nullptr once destroyed
  ArenaState* const state_;   ///< the words shared with JavaScript (untrusted)
  const ArenaOptions options_;
  const size_t capacity_;     ///< min(max_bytes, kMaxCapacity)
  size_t limit_ = 0;          ///< trusted committed high-water: allocations end at or below it
  size_t fast_end_ = 0;       ///< limit_ + 1 for the inline path (end < fast_end_); 0 in debug mode / destroyed
  size_t committed_ = 0;      ///< limit_ rounded up to pages, as added to the region
  size_t peak_ = 0;           ///< highest cursor seen at a rollback or reset
  size_t freed_high_ = 0;     ///< debug+poison: [cursor, freed_high_) holds 0xDF
  uint64_t alloc_base_ = 0;   ///< allocations released so far (alloc_count = this + count)
  uint64_t free_count_ = 0;
  uint64_t failed_count_ = 0;
  std::vector<Live> live_;    ///< debug: live allocations in address order
  ArenaFault fault_;
  Status last_ = Status::kOk; ///< status of the last alloc() that returned nullptr
};

}  // namespace offheap
