#include "object_pool.h"

#include <algorithm>
#include <new>

namespace offheap {
namespace {

namespace ss = slot_state;

constexpr uint8_t kDepotEver = ss::kDepot | ss::kEver;

/// Touches one byte per page of [p, p+bytes) so the pages are committed now.
void prefault(uint8_t* p, size_t bytes) noexcept {
  const size_t page = PageSource::page_size();
  for (size_t off = 0; off < bytes; off += page) reinterpret_cast<volatile uint8_t*>(p)[off] = 0;
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
  st = Region::create(blocks_offset_for(o.capacity) + Attachments::kBytes, source, &states);
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
  // growable: false commits every slot now; otherwise whole chunks that hold
  // the preheated slots. Preheated pages are touched so they never fault later.
  states->add_committed(static_cast<ptrdiff_t>(pool->state_bytes(0)));
  const uint32_t prefaulted = o.growable ? o.preheat : o.capacity;
  const uint32_t chunks = (prefaulted + pool->chunk_slots_ - 1) / pool->chunk_slots_;
  pool->commit_to(static_cast<uint32_t>(std::min<uint64_t>(o.capacity, uint64_t{chunks} * pool->chunk_slots_)));
  prefault(data->base(), static_cast<size_t>(prefaulted) * slot);
  prefault(states->base(), prefaulted);
  *out = pool;
  return Status::kOk;
}

ObjectPool::ObjectPool(Region* data, Region* states, const ObjectPoolOptions& o, uint32_t slot_size) noexcept
    : data_(data),
      states_region_(states),
      base_(data->base()),
      states_(states->base()),
      blocks_offset_(blocks_offset_for(o.capacity)),
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
  used_ = FreeList{};
  fresh_ = FreeList{};
  cursor_ = 0;
  fast_limit_ = 0;
  committed_slots_ = 0;
}

size_t ObjectPool::data_bytes(uint32_t slots) const noexcept {
  return std::min(data_->size(), align_up(static_cast<size_t>(slots) * slot_size_, PageSource::page_size()));
}

size_t ObjectPool::state_bytes(uint32_t slots) const noexcept {
  // The table's pages [0, slots) and the counter blocks' pages, once each.
  const size_t page = PageSource::page_size();
  const size_t table_end = align_up(slots, page);
  const size_t blocks_start = blocks_offset_ & ~(page - 1);
  const size_t blocks_end = align_up(blocks_offset_ + Attachments::kBytes, page);
  return table_end <= blocks_start ? table_end + (blocks_end - blocks_start) : std::max(table_end, blocks_end);
}

void ObjectPool::commit_to(uint32_t slots) noexcept {
  const uint32_t old = committed_slots_;
  data_->add_committed(static_cast<ptrdiff_t>(data_bytes(slots) - data_bytes(old)));
  states_region_->add_committed(static_cast<ptrdiff_t>(state_bytes(slots) - state_bytes(old)));
  committed_slots_ = slots;
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

Status ObjectPool::take_head(FreeList& list, uint8_t kind, uint32_t* index, uint32_t* bad_offset) noexcept {
  const uint32_t i = list.head;
  const uint8_t want = &list == &used_ ? kDepotEver : ss::kDepot;
  if (i >= cursor_ || ss::load(states_, i) != want) {
    // A link out of range, forged, or a free slot's link overwritten: the
    // table says what is really free, so rebuild the lists from it.
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
  list.head = read_link(p);
  if (&list == &fresh_) --fresh_.count;
  if (OFFHEAP_UNLIKELY(poison_)) guards::fill(p, slot_size_, guards::kFillFresh);
  ss::store(states_, i, kind == ss::kLive ? ss::kLiveByte : ss::with_kind(want, kind));
  *index = i;
  return Status::kOk;
}

Status ObjectPool::take(uint8_t kind, uint32_t* index, uint32_t* bad_offset, Source* from) noexcept {
  if (used_.head != kNil) {
    *from = Source::kUsed;
    return take_head(used_, kind, index, bad_offset);
  }
  if (fresh_.head != kNil) {
    *from = Source::kFresh;
    return take_head(fresh_, kind, index, bad_offset);
  }
  *from = Source::kCarved;
  const Status st = carve(index);
  if (st == Status::kOk) ss::store(states_, *index, kind == ss::kLive ? ss::kLiveByte : kind);
  return st;
}

Status ObjectPool::alloc_slow(uint32_t* offset) noexcept {
  if (destroyed_) return Status::kDestroyed;
  uint32_t i = 0;
  Source from;
  const Status st = take(ss::kLive, &i, offset, &from);
  if (st == Status::kExhausted) ++failed_;
  if (st != Status::kOk) return st;
  ++allocs_;  // counts a pop from the used list; the others did not pop it
  if (from != Source::kUsed) ++used_bias_;
  *offset = i * slot_size_;
  return Status::kOk;
}

Status ObjectPool::free_slow(uint32_t offset) noexcept {
  if (destroyed_) return Status::kDestroyed;
  uint32_t i;
  if (!div_.exact(offset, &i) || i >= cursor_) return Status::kInvalidHandle;
  const uint8_t s = ss::load(states_, i);
  if (s != ss::kLiveByte) return ss::free_refusal(s);
  ss::store(states_, i, kDepotEver);
  ++frees_;
  push_free(i, kDepotEver, /*counted_by_free=*/true);
  return Status::kOk;
}

Status ObjectPool::pop_batch(uint32_t tag, int32_t* out, uint32_t max, uint32_t* n, uint32_t* bad_offset) noexcept {
  *n = 0;
  if (destroyed_) return Status::kDestroyed;
  if (tag >= ss::kMaxTags) return Status::kInvalidArgument;
  const uint8_t mag = ss::magazine(tag);
  uint32_t k = 0;
  // The hot loop: the used list, each head checked as alloc() checks it.
  // It stops at the end of the list, at a bad head and in poison mode.
  const uint8_t into = ss::kEver | mag;
  uint32_t i = used_.head;
  while (k < max && i < fast_limit_ && ss::load(states_, i) == kDepotEver) {
    uint8_t* p = slot(i);
    guards::asan_unpoison(p, slot_size_);
    ss::store(states_, i, into);
    out[k++] = static_cast<int32_t>(i * slot_size_);
    i = read_link(p);
  }
  used_.head = i;
  used_bias_ -= k;
  // Then fresh slots straight from the carve area, a chunk at a time.
  while (k < max && used_.head == kNil && fresh_.head == kNil && !poison_ && !destroyed_) {
    if (cursor_ == committed_slots_ && !grow()) break;
    const uint32_t end = std::min(committed_slots_, cursor_ + (max - k));
    for (uint32_t c = cursor_; c < end; ++c) {
      ss::store(states_, c, mag);
      out[k++] = static_cast<int32_t>(c * slot_size_);
    }
    cursor_ = end;
    fast_limit_ = end;
  }
  // The rest one by one: the fresh list, carving, debug mode, reporting a bad head.
  Status st = Status::kOk;
  while (k < max) {
    Source from;
    st = take(mag, &i, bad_offset, &from);
    if (st != Status::kOk) break;
    if (from == Source::kUsed) --used_bias_;
    out[k++] = static_cast<int32_t>(i * slot_size_);
  }
  if (st == Status::kExhausted) st = Status::kOk;
  if (st != Status::kOk) {
    // All or nothing: what was taken before the fault goes back.
    while (k > 0) {
      i = static_cast<uint32_t>(out[--k]) / slot_size_;
      const uint8_t s = ss::with_kind(ss::load(states_, i), ss::kDepot);
      ss::store(states_, i, s);
      push_free(i, s);
    }
  }
  *n = k;
  return st;
}

Status ObjectPool::push_batch(uint32_t tag, const int32_t* in, uint32_t n, int32_t* bad) noexcept {
  if (destroyed_) return Status::kDestroyed;
  if (tag >= ss::kMaxTags) return Status::kInvalidArgument;
  const uint8_t mag = ss::magazine(tag);
  Status st = Status::kOk;
  for (uint32_t k = 0; k < n; ++k) {
    const int32_t v = in[k];  // read once: it is JS-visible memory
    const uint32_t off = static_cast<uint32_t>(v);
    uint32_t i;
    const uint8_t s = v >= 0 && div_.exact(off, &i) && i < cursor_ ? ss::load(states_, i) : ss::kNever;
    if (ss::kind(s) != mag) {  // the magazine (JS-writable memory) was written over
      if (st == Status::kOk) *bad = v;
      st = Status::kCorrupted;
      continue;
    }
    const uint8_t free_state = ss::with_kind(s, ss::kDepot);
    ss::store(states_, i, free_state);
    push_free(i, free_state);
  }
  return st;
}

uint32_t ObjectPool::reclaim(uint32_t tag) noexcept {
  if (destroyed_ || tag >= ss::kMaxTags) return 0;
  const uint8_t mag = ss::magazine(tag);
  uint32_t moved = 0;
  for (uint32_t i = 0; i < cursor_; ++i) {
    const uint8_t s = ss::load(states_, i);
    if (ss::kind(s) != mag) continue;
    const uint8_t free_state = ss::with_kind(s, ss::kDepot);
    ss::store(states_, i, free_state);
    push_free(i, free_state);
    ++moved;
  }
  return moved;
}

void ObjectPool::rebuild() noexcept {
  used_ = FreeList{};
  fresh_ = FreeList{};
  uint32_t used = 0;
  for (uint32_t i = cursor_; i-- > 0;) {
    const uint8_t s = ss::load(states_, i);
    if (ss::kind(s) != ss::kDepot) continue;
    const bool ever = s & ss::kEver;
    FreeList& list = ever ? used_ : fresh_;
    uint8_t* p = slot(i);
    guards::asan_unpoison(p, sizeof(Link));
    std::memcpy(p, &list.head, sizeof list.head);
    guards::asan_poison(p, slot_size_);
    list.head = i;
    if (ever) ++used;
    else ++fresh_.count;
  }
  used_bias_ = static_cast<int64_t>(used) - (static_cast<int64_t>(frees_) - static_cast<int64_t>(allocs_));
}

Status ObjectPool::walk(const FreeList& list, uint8_t state, uint32_t expected, uint32_t* bad_offset,
                        uint32_t* use_after_free) noexcept {
  const uint32_t counted = &list == &used_ ? used_count() : list.count;
  uint32_t steps = 0, prev = kNil;
  for (uint32_t i = list.head; i != kNil; ++steps) {
    if (i >= cursor_ || steps == expected || ss::load(states_, i) != state) {
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

Status ObjectPool::verify(uint32_t* bad_offset, const Attachments* open) noexcept {
  *bad_offset = kNil;
  if (destroyed_) return Status::kDestroyed;
  // 1. The table: every carved slot has a state (a magazine's only while its
  // attachment is open), no uncarved slot has one.
  uint32_t used = 0, fresh = 0;
  Status st = Status::kOk;
  for (uint32_t i = 0; i < committed_slots_ && st == Status::kOk; ++i) {
    const uint8_t s = ss::load(states_, i);
    const uint8_t k = ss::kind(s);
    const bool stray_tag = open != nullptr && k >= ss::kFirstTag && !open->is_open(k - ss::kFirstTag);
    if (i < cursor_ ? k == ss::kNever || stray_tag : s != 0) {
      st = Status::kCorrupted;
      *bad_offset = i * slot_size_;
    }
    used += s == kDepotEver;
    fresh += s == ss::kDepot;
  }
  // 2. The free lists: only free slots, in range, exactly as many as the
  // table holds, each still poisoned in debug mode.
  uint32_t uaf = kNil;
  if (st == Status::kOk) st = walk(used_, kDepotEver, used, bad_offset, &uaf);
  if (st == Status::kOk) st = walk(fresh_, ss::kDepot, fresh, bad_offset, &uaf);
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
  s.depot_slots = used_count() + fresh_.count;
  s.allocs = allocs_;
  s.frees = frees_;
  s.failed = failed_;
  return s;
}

}  // namespace offheap
