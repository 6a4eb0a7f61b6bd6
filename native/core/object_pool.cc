#include "object_pool.h"

#include <algorithm>
#include <new>

namespace offheap {
namespace {

/// Touches a byte in every page [p, p+bytes) reaches (p need not start a
/// page), a range nothing was handed out from yet, so its pages are
/// committed now.
void touch_pages(uint8_t* p, size_t bytes) noexcept {
  if (bytes == 0) return;
  const size_t page = PageSource::page_size();
  auto* bytes_of = reinterpret_cast<volatile uint8_t*>(p);
  for (size_t off = 0; off < bytes; off += page) bytes_of[off] = 0;
  bytes_of[bytes - 1] = 0;
}

}  // namespace

Status ObjectPool::create(const ObjectPoolOptions& o, PageSource& source, ObjectPool** out) noexcept {
  *out = nullptr;
  const uint32_t slot = slot_size_for(o.slot_size, o.align);
  // slot_size_for() is the one rounding (the static_asserts in object_pool.h
  // pin it): every slot holds the link and starts aligned.
  if (slot == 0 || o.capacity == 0 || o.preheat > o.capacity) return Status::kInvalidArgument;
  const uint64_t bytes = static_cast<uint64_t>(slot) * o.capacity;
  if (bytes > Region::kMaxBytes) return Status::kInvalidArgument;

  Region* data = nullptr;
  Status st = Region::create(static_cast<size_t>(bytes), source, &data);
  if (st != Status::kOk) return st;
  Region* states = nullptr;
  st = Region::create(o.capacity, source, &states);
  if (st != Status::kOk) {
    data->release();
    return st;
  }
  ObjectPool* pool = new (std::nothrow) ObjectPool(data, states, o, slot);
  if (pool == nullptr) {
    data->release();
    states->release();
    return Status::kOsFailure;
  }
  if (o.huge_pages) source.advise_huge_pages(data->base(), data->size());  // a hint: refused is fine
  // growable: false commits every slot now; otherwise whole chunks that hold
  // the preheated slots. Their pages are faulted in so they never fault
  // later: by commit_to() where the OS can, else a byte per page is touched.
  // A host's range need not start or end on a page, and populate covers
  // whole pages only: there the partial pages at its ends are touched too.
  const uint32_t prefaulted = o.growable ? o.preheat : o.capacity;
  const uint32_t chunks = (prefaulted + pool->chunk_slots_ - 1) / pool->chunk_slots_;
  if (!pool->commit_to(static_cast<uint32_t>(std::min<uint64_t>(o.capacity, uint64_t{chunks} * pool->chunk_slots_))) ||
      source.host_owned()) {
    touch_pages(data->base(), static_cast<size_t>(prefaulted) * slot);
    touch_pages(states->base(), prefaulted);
  }
  *out = pool;
  return Status::kOk;
}

ObjectPool::ObjectPool(Region* data, Region* states, const ObjectPoolOptions& o, uint32_t slot_size) noexcept
    : data_(data),
      states_region_(states),
      base_(data->base()),
      states_(states->base()),
      div_(slot_size),
      slot_size_(slot_size),
      capacity_(o.capacity),
      chunk_slots_(static_cast<uint32_t>(std::max<size_t>(1, kChunkBytes / slot_size))),
      growable_(o.growable),
      poison_(o.poison) {}

ObjectPool::~ObjectPool() {
  // ASan keeps user poisoning past munmap: clear it before the range is reused.
  guards::asan_unpoison(data_->base(), data_->size());
  data_->release();
  states_region_->release();
}

void ObjectPool::destroy() noexcept {
  if (destroyed_) return;
  destroyed_ = true;
  guards::asan_unpoison(data_->base(), data_->size());
  data_->destroy();
  states_region_->destroy();
  head_ = kNil;
  cursor_ = 0;
  fast_limit_ = 0;
  committed_slots_ = 0;
}

size_t ObjectPool::data_bytes(uint32_t slots) const noexcept {
  return std::min(data_->size(), align_up(static_cast<size_t>(slots) * slot_size_, PageSource::page_size()));
}

size_t ObjectPool::state_bytes(uint32_t slots) const noexcept {
  return std::min(states_region_->size(), align_up(slots, PageSource::page_size()));
}

bool ObjectPool::commit_to(uint32_t slots) noexcept {
  const uint32_t old = committed_slots_;
  committed_slots_ = slots;
  const bool data = data_->commit(data_bytes(old), data_bytes(slots));
  return states_region_->commit(state_bytes(old), state_bytes(slots)) && data;
}

bool ObjectPool::grow() noexcept {
  if (!growable_ || committed_slots_ >= capacity_) return false;
  commit_to(std::min(capacity_, committed_slots_ + chunk_slots_));
  return true;
}

Status ObjectPool::carve(uint32_t* index) noexcept {
  if (cursor_ == committed_slots_ && !grow()) return Status::kExhausted;
  *index = cursor_++;
  if (!poison_) fast_limit_ = cursor_;
  uint8_t* p = slot(*index);
  guards::asan_unpoison(p, slot_size_);
  if (OFFHEAP_UNLIKELY(poison_)) guards::fill(p, slot_size_, guards::kFillFresh);
  return Status::kOk;
}

size_t ObjectPool::poison_mismatch(uint8_t* p) const noexcept {
  if (slot_size_ <= sizeof(Link)) return guards::kClean;
  const size_t at = guards::find_mismatch(p + sizeof(Link), slot_size_ - sizeof(Link), guards::kFillFreed);
  return at == guards::kClean ? at : at + sizeof(Link);
}

Status ObjectPool::take_head(uint8_t to, uint32_t* index, uint32_t* bad_offset) noexcept {
  const uint32_t i = head_;
  if (i >= cursor_ || load_state(states_, i) != SlotState::kFree) {
    // A link out of range, forged, or a free slot's link overwritten: the
    // table says what is really free, so rebuild the list from it.
    rebuild();
    *bad_offset = i < cursor_ ? i * slot_size_ : kNil;
    return Status::kCorrupted;
  }
  uint8_t* const p = slot(i);
  guards::asan_unpoison(p, slot_size_);
  if (OFFHEAP_UNLIKELY(poison_)) {
    if (poison_mismatch(p) != guards::kClean) {
      // Written after free: report once, re-poison, leave it at the head.
      guards::fill(p + sizeof(Link), slot_size_ - sizeof(Link), guards::kFillFreed);
      guards::asan_poison(p, slot_size_);
      *bad_offset = i * slot_size_;
      return Status::kUseAfterFree;
    }
  }
  head_ = read_link(p);
  if (OFFHEAP_UNLIKELY(poison_)) guards::fill(p, slot_size_, guards::kFillFresh);
  store_state(states_, i, to);
  *index = i;
  return Status::kOk;
}

Status ObjectPool::take(uint8_t to, uint32_t* index, uint32_t* bad_offset, Source* from) noexcept {
  if (head_ != kNil) {
    *from = Source::kFreeList;
    return take_head(to, index, bad_offset);
  }
  *from = Source::kCarved;
  const Status st = carve(index);
  if (st == Status::kOk) store_state(states_, *index, to);
  return st;
}

Status ObjectPool::alloc_slow(uint32_t* offset) noexcept {
  if (destroyed_) return Status::kDestroyed;
  uint32_t i = 0;
  Source from;
  const Status st = take(kLive, &i, offset, &from);
  if (st == Status::kExhausted) ++failed_;
  if (st != Status::kOk) return st;
  ++allocs_;  // counts a pop from the free list; a carve did not pop it
  if (from == Source::kCarved) ++bias_;
  *offset = i * slot_size_;
  return Status::kOk;
}

Status ObjectPool::free_slow(uint32_t offset) noexcept {
  if (destroyed_) return Status::kDestroyed;
  uint32_t i;
  if (!div_.exact(offset, &i) || i >= cursor_) return Status::kInvalidHandle;
  const uint8_t s = load_state(states_, i);
  if (s != kLive) return s == SlotState::kNone ? Status::kInvalidHandle : Status::kDoubleFree;
  store_state(states_, i, SlotState::kFree);
  ++frees_;
  push_free(i, /*counted_by_free=*/true);
  return Status::kOk;
}

Status ObjectPool::cache_live(uint32_t offset) noexcept {
  if (destroyed_) return Status::kDestroyed;
  uint32_t i;
  if (!div_.exact(offset, &i) || i >= cursor_) return Status::kInvalidHandle;
  const uint8_t s = exchange_state_if(states_, i, kLive, SlotState::kCached);
  if (s == kLive) return Status::kOk;
  return s == SlotState::kNone ? Status::kInvalidHandle : Status::kDoubleFree;
}

Status ObjectPool::pop_batch(int32_t* out, uint32_t max, uint32_t* n, uint32_t* bad_offset) noexcept {
  *n = 0;
  if (destroyed_) return Status::kDestroyed;
  uint32_t k = 0;
  // The hot loop: the free list, each head checked as alloc() checks it.
  // It stops at the end of the list, at a bad head and in poison mode.
  uint32_t i = head_;
  while (k < max && i < fast_limit_ && load_state(states_, i) == SlotState::kFree) {
    uint8_t* p = slot(i);
    guards::asan_unpoison(p, slot_size_);
    store_state(states_, i, SlotState::kCached);
    out[k++] = static_cast<int32_t>(i * slot_size_);
    i = read_link(p);
  }
  head_ = i;
  bias_ -= k;
  // Then fresh slots straight from the carve area, a chunk at a time.
  while (k < max && head_ == kNil && !poison_ && !destroyed_) {
    if (cursor_ == committed_slots_ && !grow()) break;
    const uint32_t end = std::min(committed_slots_, cursor_ + (max - k));
    for (uint32_t c = cursor_; c < end; ++c) {
      store_state(states_, c, SlotState::kCached);
      out[k++] = static_cast<int32_t>(c * slot_size_);
    }
    cursor_ = end;
    fast_limit_ = end;
  }
  // The rest one by one: carving, debug mode, reporting a bad head.
  Status st = Status::kOk;
  while (k < max) {
    Source from;
    st = take(SlotState::kCached, &i, bad_offset, &from);
    if (st != Status::kOk) break;
    if (from == Source::kFreeList) --bias_;
    out[k++] = static_cast<int32_t>(i * slot_size_);
  }
  if (st == Status::kExhausted) {
    st = Status::kOk;
    if (k == 0) ++failed_;
  }
  if (st != Status::kOk) {
    // All or nothing: what was taken before the fault goes back.
    while (k > 0) {
      i = static_cast<uint32_t>(out[--k]) / slot_size_;
      store_state(states_, i, SlotState::kFree);
      push_free(i);
    }
  }
  *n = k;
  return st;
}

Status ObjectPool::push_batch(const int32_t* in, uint32_t n, uint32_t* bad) noexcept {
  if (destroyed_) return Status::kDestroyed;
  Status st = Status::kOk;
  for (uint32_t k = 0; k < n; ++k) {
    const int32_t v = in[k];  // read once: it is JS-visible memory
    const uint32_t off = static_cast<uint32_t>(v);
    uint32_t i;
    const bool cached = v >= 0 && div_.exact(off, &i) && i < cursor_ && load_state(states_, i) == SlotState::kCached;
    if (!cached) {  // the magazine (JS-writable memory) was written over
      if (st == Status::kOk) *bad = off;
      st = Status::kCorrupted;
      continue;
    }
    store_state(states_, i, SlotState::kFree);
    push_free(i);
  }
  return st;
}

void ObjectPool::rebuild() noexcept {
  // The state table is the truth (DESIGN.md section 7): every carved slot it
  // calls free goes back on the list, whatever the links said.
  head_ = kNil;
  uint32_t n = 0;
  for (uint32_t i = cursor_; i-- > 0;) {
    if (load_state(states_, i) != SlotState::kFree) continue;
    uint8_t* p = slot(i);
    guards::asan_unpoison(p, sizeof(Link));
    std::memcpy(p, &head_, sizeof head_);
    guards::asan_poison(p, slot_size_);
    head_ = i;
    ++n;
  }
  bias_ = static_cast<int64_t>(n) - (static_cast<int64_t>(frees_) - static_cast<int64_t>(allocs_));
}

Status ObjectPool::walk(uint32_t expected, uint32_t* bad_offset, uint32_t* use_after_free) noexcept {
  const uint32_t counted = free_count();
  uint32_t steps = 0, prev = kNil;
  for (uint32_t i = head_; i != kNil; ++steps) {
    if (i >= cursor_ || steps == expected || load_state(states_, i) != SlotState::kFree) {
      *bad_offset = prev == kNil ? (i < cursor_ ? i * slot_size_ : kNil) : prev * slot_size_;
      return Status::kCorrupted;
    }
    uint8_t* p = slot(i);
    guards::asan_unpoison(p, slot_size_);
    if (poison_ && *use_after_free == kNil && poison_mismatch(p) != guards::kClean) *use_after_free = i;
    prev = i;
    i = read_link(p);
    guards::asan_poison(p, slot_size_);
  }
  if (steps == expected && counted == expected) return Status::kOk;
  *bad_offset = prev == kNil ? kNil : prev * slot_size_;
  return Status::kCorrupted;
}

Status ObjectPool::verify(uint32_t* bad_offset) noexcept {
  *bad_offset = kNil;
  if (destroyed_) return Status::kDestroyed;
  // 1. The table: every carved slot has a state, no uncarved slot has one.
  // (Each thread checks its own magazine against the table: other threads
  // change theirs without the mutex.)
  uint32_t free = 0;
  Status st = Status::kOk;
  for (uint32_t i = 0; i < committed_slots_ && st == Status::kOk; ++i) {
    const uint8_t s = load_state(states_, i);
    const bool known = s == kLive || s == SlotState::kCached || s == SlotState::kFree;
    if (i < cursor_ ? !known : s != SlotState::kNone) {
      st = Status::kCorrupted;
      *bad_offset = i * slot_size_;
    }
    free += s == SlotState::kFree;
  }
  // 2. The free list: only free slots, in range, exactly as many as the
  // table holds, each still poisoned in debug mode.
  uint32_t uaf = kNil;
  if (st == Status::kOk) st = walk(free, bad_offset, &uaf);
  if (st != Status::kOk) {
    rebuild();
    return st;
  }
  if (uaf != kNil) {
    uint8_t* p = slot(uaf);
    guards::asan_unpoison(p, slot_size_);
    guards::fill(p + sizeof(Link), slot_size_ - sizeof(Link), guards::kFillFreed);
    guards::asan_poison(p, slot_size_);
    *bad_offset = uaf * slot_size_;
    return Status::kUseAfterFree;
  }
  return Status::kOk;
}

ObjectPoolStats ObjectPool::stats() const noexcept {
  ObjectPoolStats s{};
  s.reserved_bytes = data_->size() + states_region_->size();
  s.committed_bytes = data_->committed() + states_region_->committed();
  s.slot_size = slot_size_;
  s.capacity = capacity_;
  s.carved = cursor_;
  s.depot_slots = free_count();
  s.allocs = allocs_;
  s.frees = frees_;
  s.failed = failed_;
  return s;
}

}  // namespace offheap
