// The attachments of a shareable allocator: one per thread that opened it.
// Each gets a tag (its magazine's kind in the slot-state table) and a block
// of counters that its JavaScript fast path increments without a native
// call; stats add the open blocks to the totals of closed attachments.
// Not synchronized: the owner (a depot) calls it under its mutex.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "slot_state.h"
#include "status.h"

namespace offheap {

class Attachments {
 public:
  /// One cache line per attachment, so two threads never share one.
  static constexpr size_t kBlockBytes = 64;
  /// The counters of a block (doubles: exact up to 2^53 operations).
  enum Counter : uint32_t { kAllocs = 0, kFrees = 1, kFailed = 2, kCounters = 3 };
  static constexpr size_t kBytes = kBlockBytes * slot_state::kMaxTags;

  /// `blocks` is kBytes of zeroed memory (the tail of the slot-state table),
  /// 64-byte aligned, that JavaScript can see.
  explicit Attachments(uint8_t* blocks) noexcept : blocks_(blocks) {}

  /// Takes a free tag. Returns kExhausted when kMaxTags are open.
  Status open(uint32_t* tag) noexcept {
    for (uint32_t t = 0; t < slot_state::kMaxTags; ++t) {
      if (!used_[t]) {
        used_[t] = true;
        open_tags_[open_++] = static_cast<uint8_t>(t);
        *tag = t;
        return Status::kOk;
      }
    }
    return Status::kExhausted;
  }

  /// Gives the tag back, folding its counters into the closed totals.
  void close(uint32_t tag) noexcept {
    if (tag >= slot_state::kMaxTags || !used_[tag]) return;
    for (uint32_t c = 0; c < kCounters; ++c) {
      closed_[c] += read(tag, static_cast<Counter>(c));
      write(tag, static_cast<Counter>(c), 0);
    }
    used_[tag] = false;
    for (uint32_t k = 0; k < open_; ++k) {
      if (open_tags_[k] == tag) {
        open_tags_[k] = open_tags_[--open_];
        break;
      }
    }
  }

  uint32_t open_count() const noexcept { return open_; }
  bool is_open(uint32_t tag) const noexcept { return tag < slot_state::kMaxTags && used_[tag]; }

  /// Byte offset of tag's block from `blocks`.
  static constexpr size_t block_offset(uint32_t tag) noexcept { return tag * kBlockBytes; }

  /// Sum of counter `c` over every attachment, open or closed.
  double total(Counter c) const noexcept {
    double sum = closed_[c];
    for (uint32_t k = 0; k < open_; ++k) sum += read(open_tags_[k], c);
    return sum;
  }

  /// Adds to tag's counter (native paths count where JS would).
  void add(uint32_t tag, Counter c, double delta) noexcept { write(tag, c, read(tag, c) + delta); }

 private:
  double* slot(uint32_t tag, Counter c) const noexcept {
    return reinterpret_cast<double*>(blocks_ + block_offset(tag)) + c;
  }
  // JS writes these doubles from its own thread; aligned 8-byte accesses.
  double read(uint32_t tag, Counter c) const noexcept {
    return std::atomic_ref<double>(*slot(tag, c)).load(std::memory_order_relaxed);
  }
  void write(uint32_t tag, Counter c, double v) noexcept {
    std::atomic_ref<double>(*slot(tag, c)).store(v, std::memory_order_relaxed);
  }

  uint8_t* const blocks_;                       ///< kMaxTags blocks of kBlockBytes
  bool used_[slot_state::kMaxTags] = {};        ///< which tags are open
  uint8_t open_tags_[slot_state::kMaxTags] = {};  ///< the open tags, [0, open_)
  uint32_t open_ = 0;                           ///< how many are open
  double closed_[kCounters] = {};               ///< totals of closed attachments
};

}  // namespace offheap
