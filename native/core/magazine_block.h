// Magazines (Bonwick) of one thread for one allocator, in a block of memory
// that JavaScript and C++ both use: JS pops and pushes handles with plain
// typed-array reads and writes, and only an empty or full magazine crosses
// into native code, where refill() / drain() move a whole batch between the
// block and a Depot under the depot's lock. Because the block is native
// memory, the depot can also count what every thread holds (stats) and take
// back the magazines of a thread that exits (flush()).
//
// Classes are numbered by id k = class index + 1 here (the id is also what a
// live slot's state byte holds, so a free indexes the block with it).
// Layout (32-bit words; lib/magazine-block.ts mirrors it), C classes and a
// stride S (a power of two: 64 for the slab's classes, 256 for a pool's one),
// I = C + 1 id words (or kAllIds):
//   [k]            top of class k: the word index one past its last handle
//   [I + k]        end of class k: its top when full
//   [H + S(k-1), H + S(k-1) + cap_k)   the handles of class k (H = S-word aligned,
//                  so a magazine is empty exactly when top % S == 0)
//   float64 at counters_byte:  [0] handles refilled, [1] frees by the fast
//                  path, [2] handles drained; allocations = [1] + [0] - [2] - held
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "status.h"

namespace offheap {

/// A source and sink of free handles in batches, per size class. Thread-safe.
class Depot {
 public:
  /// Moves up to `max` free handles of class `cls` into out[0..). *got says
  /// how many; kExhausted when none, kCorrupted when a free-list link was bad.
  /// `tag` (non-zero) names the caller's magazines and `*home` its current
  /// source for this class (a slab), kept by the depot: one thread's objects
  /// come from slabs of their own (no false sharing between threads).
  virtual Status pop_batch(uint32_t cls, int32_t* out, uint32_t max, uint32_t* got, uint32_t tag,
                           uint32_t* home) noexcept = 0;
  /// Takes back n handles of class `cls`, each validated (range, slot start,
  /// class, cached state). Rejected ones are left alone; the first one's
  /// offset goes to *bad and kCorrupted is returned.
  virtual Status push_batch(uint32_t cls, const int32_t* in, uint32_t n, uint32_t* bad) noexcept = 0;
  /// Moves the live object at `off` (of class `cls`) to cached, unless
  /// another thread freed it first: then kDoubleFree, or kInvalidHandle when
  /// `off` is no object of that class at all.
  virtual Status cache_live(uint32_t cls, uint32_t off) noexcept = 0;

 protected:
  ~Depot() = default;
};

class MagazineBlock {
 public:
  /// Words per class of handles for a slab's classes; a class's capacity is below the stride.
  static constexpr uint32_t kStride = 64;
  static constexpr uint32_t kCounterRefilled = 0;
  static constexpr uint32_t kCounterFrees = 1;
  static constexpr uint32_t kCounterDrained = 2;
  static constexpr uint32_t kCounters = 3;

  /// Word and byte offsets of the parts of a block for `classes` classes.
  struct Layout {
    uint32_t tops;           ///< word index of tops[0] (tops[k] for id k)
    uint32_t ends;           ///< word index of ends[0]
    uint32_t handles;        ///< word index of class id 1's handles
    uint32_t counters_byte;  ///< byte offset of the float64 counters
    uint32_t bytes;          ///< total size of the block
  };
  /// `id_words` (at least classes + 1; 0 for that) is how many words the
  /// tops and the ends each take: with kAllIds, tops[k] and ends[k] exist
  /// for every byte value k and are equal (0) for the ids of no class, so a
  /// free's one test `top == end` also turns away a state byte that names
  /// no class (a C++ cache whose block is its own: slab_cache.h).
  static Layout layout(uint32_t classes, uint32_t stride = kStride, uint32_t id_words = 0) noexcept;
  static constexpr uint32_t kAllIds = 256;

  /// A block over `mem` (layout(classes, stride, id_words).bytes, zeroed) with these
  /// capacities (each 2..stride-1); writes every class's top (empty) and end.
  MagazineBlock(void* mem, uint32_t classes, const std::vector<uint32_t>& caps, uint32_t stride = kStride,
                uint32_t id_words = 0) noexcept;

  uint32_t classes() const noexcept { return classes_; }
  int32_t* words() const noexcept { return words_; }
  /// Set by the depot when the block is attached (0: none); with homes(),
  /// the depot's bookkeeping of which slab serves this block, per class.
  uint32_t tag = 0;
  uint32_t* homes() noexcept { return homes_.data(); }
  /// First handle slot (word index) of class index `cls`.
  uint32_t base(uint32_t cls) const noexcept { return layout_.handles + cls * stride_; }
  uint32_t stride() const noexcept { return stride_; }
  const Layout& block_layout() const noexcept { return layout_; }
  uint32_t capacity(uint32_t cls) const noexcept { return caps_[cls]; }
  /// Handles held for `cls` (0 when its top was scribbled on).
  uint32_t cached(uint32_t cls) const noexcept;
  /// Sets the count of `cls` (tests; refill/drain do it themselves).
  void set_count(uint32_t cls, int32_t n) noexcept;
  double counter(uint32_t which) const noexcept;
  double* counters() const noexcept;
  /// Allocations made from this block: frees + refilled - drained - held.
  double allocations() const noexcept;

  /// Fills the magazine of `cls` up to half its capacity from the depot;
  /// *got = handles added. kExhausted when the depot had none.
  Status refill(Depot& depot, uint32_t cls, uint32_t* got) noexcept;
  /// Returns handles beyond the first `keep` of `cls` to the depot.
  Status drain(Depot& depot, uint32_t cls, uint32_t keep, uint32_t* bad) noexcept;
  /// Adds the handle of a slot just freed into `cls` (its state already
  /// cached) and counts the free; false when the magazine is full or scribbled on.
  bool push(uint32_t cls, int32_t handle) noexcept;
  /// Frees the live object at `off` into the full magazine of `cls`: drains
  /// half of it, then moves `off` to cached and pushes it, in one call (a
  /// thread terminated at any point of a free loses no object). A refusal
  /// of `off` (kDoubleFree, kInvalidHandle) leaves it alone; *bad names
  /// the entry at fault when the drain found the magazine written over.
  Status free_into_full(Depot& depot, uint32_t cls, uint32_t off, uint32_t* bad) noexcept;
  /// Returns every handle of every class (destroy, thread exit).
  Status flush(Depot& depot, uint32_t* bad) noexcept;

 private:
  int32_t top(uint32_t cls) const noexcept;
  void set_top(uint32_t cls, int32_t top) noexcept;
  void add_counter(uint32_t which, double n) noexcept;
  /// The count of `cls`, or -1 when its top lies outside the class's slots.
  int32_t count(uint32_t cls) const noexcept;

  int32_t* words_;
  uint32_t classes_;
  uint32_t stride_;
  Layout layout_;
  std::vector<uint32_t> caps_;   ///< the capacities native code trusts
  std::vector<uint32_t> homes_;  ///< per class, the depot's slab for this block
};

}  // namespace offheap
