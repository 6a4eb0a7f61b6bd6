// SlabAllocator: the diagnosis of bad handles, usable sizes, trim(), stats()
// and verify() (the expensive whole-structure walk, as mimalloc's level-3
// asserts and Postgres' AllocSetCheck).
#include <algorithm>
#include <bit>
#include <mutex>
#include <vector>

#include "guards.h"
#include "slab.h"
#include "slab_internal.h"

namespace offheap {

using namespace slab_internal;

Status SlabAllocator::classify(uint32_t off) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return classify_locked(off);
}

Status SlabAllocator::classify_locked(uint32_t off) noexcept {
  if (!states_.valid(off)) return Status::kInvalidHandle;
  const uint8_t state = states_.get(off);
  if (state == SlotState::kFree || state == SlotState::kCached) return Status::kDoubleFree;
  if (state != SlotState::kNone) return Status::kOk;  // live: a class id or a large run
  // Not a slot start now; but a slot start or run of a slab given back since
  // was most likely freed twice.
  const SlabMeta& m = slabs_[off >> slab_shift_];
  const auto x = static_cast<uint32_t>(off - slab_offset(off >> slab_shift_));
  if (m.list != kListNone || m.last == 0) return Status::kInvalidHandle;
  if (m.last == kLastLarge) return x == 0 ? Status::kDoubleFree : Status::kInvalidHandle;
  return divisors_[m.last - 1].divides(x) ? Status::kDoubleFree : Status::kInvalidHandle;
}

Status SlabAllocator::usable_size(uint32_t off, size_t* out) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  const Status st = classify_locked(off);
  if (st != Status::kOk) return st;
  const SlabMeta& m = slabs_[off >> slab_shift_];
  auto it = red_zone_ != 0 ? requested_.find(off) : requested_.end();
  if (it != requested_.end()) *out = it->second;
  else *out = m.list == kListLarge ? m.bytes : sizes_[m.cls];
  return Status::kOk;
}

void SlabAllocator::live_allocations(std::vector<LiveAllocation>* out) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  out->clear();
  const auto size_of = [this](uint32_t off, size_t usable) {
    auto it = requested_.find(off);
    return it != requested_.end() ? it->second : static_cast<uint32_t>(usable);
  };
  for (uint32_t s = 0; s < slab_count_; ++s) {
    const SlabMeta& m = slabs_[s];
    const auto base = static_cast<uint32_t>(slab_offset(s));
    if (m.list == kListLarge) {
      out->push_back({base, size_of(base, m.bytes)});
    } else if (m.list != kListNone && m.list != kListLargeTail) {
      const uint32_t size = sizes_[m.cls];
      for (uint32_t i = 0; i < m.carved; ++i) {
        const uint32_t off = base + i * size;
        if (states_.get(off) == m.cls + 1) out->push_back({off, size_of(off, size)});
      }
    }
  }
}

uint32_t SlabAllocator::slot_of(uint32_t off) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (off >= region_->size()) return off;
  uint32_t s = off >> slab_shift_;
  while (s > 0 && slabs_[s].list == kListLargeTail) --s;
  const SlabMeta& m = slabs_[s];
  const auto base = static_cast<uint32_t>(slab_offset(s));
  if (m.list == kListLarge) return base;
  if (m.list == kListNone) return off;
  return base + (off - base) / sizes_[m.cls] * sizes_[m.cls];
}

Status SlabAllocator::trim(size_t* released) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  *released = 0;
  for (uint32_t c = 0; c < classes(); ++c) {
    uint32_t s;
    while ((s = lists_[c].head[kListEmpty - 1]) != kNil) {
      const size_t bytes = slabs_[s].bytes;
      if (!release_slab(s)) return Status::kOsFailure;
      *released += bytes;
    }
  }
  // Threads' own slabs that are empty too (their home pointers are checked before use).
  for (MagazineBlock* b : blocks_) {
    for (uint32_t c = 0; c < classes(); ++c) {
      const uint32_t s = b->homes()[c];
      if (s >= slab_count_ || slabs_[s].list != kListHome || slabs_[s].owner != b->tag || slabs_[s].out != 0) continue;
      const size_t bytes = slabs_[s].bytes;
      if (!release_slab(s)) return Status::kOsFailure;
      *released += bytes;
    }
  }
  return Status::kOk;
}

uint64_t SlabAllocator::live_count(uint32_t cls) const noexcept {
  const uint64_t out = lists_[cls].out, cached = cached_in_blocks(cls);
  return out > cached ? out - cached : 0;
}

uint64_t SlabAllocator::live_bytes() const noexcept {
  uint64_t bytes = large_bytes_;
  for (uint32_t c = 0; c < classes(); ++c) bytes += live_count(c) * sizes_[c];
  return bytes;
}

void SlabAllocator::note_peak() noexcept {
  // live <= handed out: no need to count the magazines below the peak.
  if (out_bytes_ + large_bytes_ <= peak_live_bytes_) return;
  peak_live_bytes_ = std::max(peak_live_bytes_, live_bytes());
}

void SlabAllocator::stats(SlabStats* out) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  note_peak();
  SlabStats& s = *out;
  s = SlabStats{};
  s.reserved_bytes = region_->size();
  s.committed_bytes = region_->committed();
  // Slab headers, and the state bytes of the slabs in use (the table is reserved, committed as used).
  size_t slabs_in_use = 0;
  for (uint64_t w : used_) slabs_in_use += static_cast<size_t>(std::popcount(w));
  if (slab_count_ % 64) slabs_in_use -= 64 - slab_count_ % 64;  // the padding bits of the last word
  s.metadata_bytes = size_t{slab_count_} * sizeof(SlabMeta) + slabs_in_use * (slab_bytes() >> kGranuleShift);
  s.peak_live_bytes = peak_live_bytes_;
  s.large_count = large_count_;
  s.large_bytes = large_bytes_;
  s.live_count = large_count_;
  s.live_bytes = large_bytes_;
  double allocs = 0, frees = 0;
  block_totals(&allocs, &frees);
  s.alloc_count = static_cast<uint64_t>(allocs + static_cast<double>(single_allocs_));
  s.free_count = static_cast<uint64_t>(frees + static_cast<double>(single_frees_));
  s.failed_count = failed_;
  s.classes.resize(classes());
  for (const MagazineBlock* b : blocks_) {  // threads' own slabs that are empty count as empty
    for (uint32_t c = 0; c < classes(); ++c) {
      const uint32_t h = const_cast<MagazineBlock*>(b)->homes()[c];
      if (h < slab_count_ && slabs_[h].list == kListHome && slabs_[h].owner == b->tag && slabs_[h].out == 0)
        s.classes[c].empty_slabs++;
    }
  }
  for (uint32_t c = 0; c < classes(); ++c) {
    const ClassList& l = lists_[c];
    SlabClassStats& row = s.classes[c];
    row.size = sizes_[c];
    row.objects_per_slab = per_slab_[c];
    row.slabs = l.count[0] + l.count[1] + l.count[2] + l.homes;
    row.empty_slabs += l.count[kListEmpty - 1];
    row.total = row.slabs * per_slab_[c];
    row.cached = cached_in_blocks(c);
    row.live = live_count(c);
    s.live_count += row.live;
    s.live_bytes += row.live * sizes_[c];
  }
}

// ---- verify ----

Status SlabAllocator::verify(uint32_t* bad) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  *bad = 0;
  std::vector<uint64_t> homes(classes(), 0), home_out(classes(), 0);
  for (uint32_t s = 0; s < slab_count_; ++s) {
    const SlabMeta& m = slabs_[s];
    const bool used = (used_[s >> 6] >> (s & 63)) & 1;
    *bad = static_cast<uint32_t>(slab_offset(s));
    if (used != (m.list != kListNone)) return Status::kCorrupted;
    if (m.list == kListLarge) {
      if (m.run == 0 || s + m.run > slab_count_ || states_.get(slab_offset(s)) != SlotState::kLiveLarge)
        return Status::kCorrupted;
      for (uint32_t i = 1; i < m.run; ++i)
        if (slabs_[s + i].list != kListLargeTail) return Status::kCorrupted;
      s += m.run - 1;
    } else if (m.list == kListLargeTail) {
      return Status::kCorrupted;  // a tail not reached from its head
    } else if (m.list != kListNone) {
      const Status st = verify_slab(s, bad);
      if (st != Status::kOk) return st;
      if (m.list == kListHome) {
        homes[m.cls]++;
        home_out[m.cls] += m.out;
      }
    } else if (states_.get(slab_offset(s)) != SlotState::kNone) {
      return Status::kCorrupted;
    }
  }
  Status st = verify_lists(homes, home_out, bad);
  if (st != Status::kOk) return st;
  for (const auto& [off, size] : requested_) {
    *bad = off;
    if (classify_locked(off) != Status::kOk) return Status::kCorrupted;
    const SlabMeta& m = slabs_[off >> slab_shift_];
    if (red_zone_ == 0) continue;
    const size_t usable = m.list == kListLarge ? m.bytes : sizes_[m.cls];
    const size_t at = guards::find_mismatch(region_->base() + off + size, usable - size, guards::kFillRedZone);
    if (at != guards::kClean) {
      *bad = static_cast<uint32_t>(off + size + at);
      return Status::kOverflow;
    }
  }
  *bad = 0;
  return Status::kOk;
}

Status SlabAllocator::verify_slab(uint32_t s, uint32_t* bad) noexcept {
  const SlabMeta& m = slabs_[s];
  const size_t base = slab_offset(s);
  if (m.cls >= classes()) return Status::kCorrupted;
  const uint32_t size = sizes_[m.cls];
  if (m.carved > per_slab_[m.cls] || m.out + m.free_count != m.carved) return Status::kCorrupted;
  // The free list: links in range, on slot starts, free, no cycle, poison intact.
  uint32_t g = m.free_head, steps = 0;
  while (g != kNil) {
    const size_t x = size_t{g} << kGranuleShift;
    *bad = static_cast<uint32_t>(base + x);
    if (++steps > m.free_count || x >= size_t{m.carved} * size || !divisors_[m.cls].divides(static_cast<uint32_t>(x)) ||
        states_.get(base + x) != SlotState::kFree)
      return recover_link(s, base + x, bad);
    uint8_t* p = region_->base() + base + x;
    if (poison_) {
      guards::asan_unpoison(p, size);
      const size_t at = guards::find_mismatch(p + kLinkBytes, size - kLinkBytes, guards::kFillFreed);
      guards::asan_poison(p + kLinkBytes, size - kLinkBytes);
      if (at != guards::kClean) {
        *bad = static_cast<uint32_t>(base + x + kLinkBytes + at);
        return Status::kUseAfterFree;
      }
    }
    g = load_link(p);
  }
  *bad = static_cast<uint32_t>(base);
  if (steps != m.free_count) return recover_link(s, base, bad);
  // Every carved slot's state agrees with the counts; nothing past the carve.
  uint32_t free = 0, out = 0;
  for (uint32_t i = 0; i < m.carved; ++i) {
    const uint8_t st = states_.get(base + size_t{i} * size);
    if (st == SlotState::kFree) free++;
    else if (st == SlotState::kCached || st == m.cls + 1) out++;
    else return Status::kCorrupted;
  }
  if (free != m.free_count || out != m.out) return Status::kCorrupted;
  const bool full = m.free_head == kNil && m.carved == per_slab_[m.cls];
  if (m.list == kListHome) return full || m.owner == 0 ? Status::kCorrupted : Status::kOk;  // a full one leaves its thread
  const uint8_t want = m.out == 0 ? kListEmpty : full ? kListFull : kListPartial;
  return want == m.list ? Status::kOk : Status::kCorrupted;
}

Status SlabAllocator::verify_lists(const std::vector<uint64_t>& homes, const std::vector<uint64_t>& home_out,
                                   uint32_t* bad) noexcept {
  for (uint32_t c = 0; c < classes(); ++c) {
    if (homes[c] != lists_[c].homes) return Status::kCorrupted;
    uint64_t out = home_out[c];
    for (uint32_t i = 0; i < 3; ++i) {
      uint32_t n = 0, prev = kNil;
      for (uint32_t s = lists_[c].head[i]; s != kNil; prev = s, s = slabs_[s].next) {
        *bad = static_cast<uint32_t>(slab_offset(s));
        const SlabMeta& m = slabs_[s];
        if (++n > slab_count_ || m.list != i + 1 || m.cls != c || m.prev != prev) return Status::kCorrupted;
        out += m.out;
      }
      if (n != lists_[c].count[i]) return Status::kCorrupted;
    }
    if (out != lists_[c].out) return Status::kCorrupted;
  }
  return Status::kOk;
}

}  // namespace offheap
