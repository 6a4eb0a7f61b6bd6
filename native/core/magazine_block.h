// Magazines (Bonwick) of one thread for one allocator, in a block of memory
// that JavaScript and C++ both use: JS pops and pushes handles with plain
// typed-array reads and writes, and only an empty or full magazine crosses
// into native code, where refill() / drain() move a whole batch between the
// block and a Depot under the depot's lock. Because the block is native
// memory, the depot can also count what every thread holds (stats) and take
// back the magazines of a thread that exits (flush()).
//
// Layout (32-bit words, little endian; lib/magazine-block.ts mirrors it):
//   [0, C)                      counts: handles now in each class's magazine
//   [C, 2C)                     capacities (a copy for JS; the native copy rules)
//   [H, H + C*kStride)          handles, kStride slots per class (H = 2C rounded up to 16)
//   float64 at counters_byte:   [0] allocations, [1] frees made by the JS fast path
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
  virtual Status pop_batch(uint32_t cls, int32_t* out, uint32_t max, uint32_t* got) noexcept = 0;
  /// Takes back n handles of class `cls`, each validated (range, slot start,
  /// class, cached state). Rejected ones are left alone; the first one's
  /// offset goes to *bad and its status is returned.
  virtual Status push_batch(uint32_t cls, const int32_t* in, uint32_t n, uint32_t* bad) noexcept = 0;

 protected:
  ~Depot() = default;
};

class MagazineBlock {
 public:
  /// Handle slots per class; a class's capacity is at most this.
  static constexpr uint32_t kStride = 64;
  static constexpr uint32_t kCounterAllocs = 0;
  static constexpr uint32_t kCounterFrees = 1;

  /// Word and byte offsets of the parts of a block for `classes` classes.
  struct Layout {
    uint32_t counts;         ///< word index of counts[0]
    uint32_t caps;           ///< word index of caps[0]
    uint32_t handles;        ///< word index of the first class's handles
    uint32_t stride;         ///< words per class of handles
    uint32_t counters_byte;  ///< byte offset of the float64 counters
    uint32_t bytes;          ///< total size of the block
  };
  static Layout layout(uint32_t classes) noexcept;

  /// A block over `mem` (layout(classes).bytes, zeroed) with these capacities
  /// (each 2..kStride, even); writes the JS copy of the capacities.
  MagazineBlock(void* mem, uint32_t classes, const std::vector<uint32_t>& caps) noexcept;

  uint32_t classes() const noexcept { return classes_; }
  uint32_t capacity(uint32_t cls) const noexcept { return caps_[cls]; }
  int32_t* handles(uint32_t cls) const noexcept { return words_ + layout_.handles + cls * kStride; }
  /// The count slot of a class (written by JS; read here atomically).
  int32_t count(uint32_t cls) const noexcept;
  void set_count(uint32_t cls, int32_t n) noexcept;
  double counter(uint32_t which) const noexcept;
  double* counters() const noexcept;

  /// Fills the magazine of `cls` up to half its capacity from the depot;
  /// *got = handles added. kExhausted when the depot had none.
  Status refill(Depot& depot, uint32_t cls, uint32_t* got) noexcept;
  /// Returns handles [keep, count) of `cls` to the depot; count becomes keep.
  Status drain(Depot& depot, uint32_t cls, uint32_t keep, uint32_t* bad) noexcept;
  /// Returns every handle of every class (destroy, thread exit).
  Status flush(Depot& depot, uint32_t* bad) noexcept;

  /// Handles now held for `cls` (0 when the count was scribbled on).
  uint32_t cached(uint32_t cls) const noexcept;

 private:
  int32_t* words_;
  uint32_t classes_;
  Layout layout_;
  std::vector<uint32_t> caps_;  ///< the capacities native code trusts
};

}  // namespace offheap
