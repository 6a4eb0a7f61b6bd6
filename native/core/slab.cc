// SlabAllocator: creation, slabs and lists, the depot's batches and the
// single operations. verify(), stats() and the diagnosis of bad handles live
// in slab_check.cc.
#include "slab.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#include "guards.h"
#include "slab_internal.h"

namespace offheap {

using namespace slab_internal;

void SlabAllocator::default_classes(size_t slab_bytes, std::vector<uint32_t>* out) {
  out->clear();
  const size_t top = slab_bytes / 8;
  for (size_t s = kGranule; s <= 128 && s <= top; s += kGranule) out->push_back(static_cast<uint32_t>(s));
  for (size_t base = 128; base < top; base *= 2) {
    for (size_t k = 1; k <= 4 && base + k * base / 4 <= top; ++k)
      out->push_back(static_cast<uint32_t>(base + k * base / 4));
  }
}

static bool valid_classes(const std::vector<uint32_t>& sizes, size_t slab_bytes) {
  if (sizes.empty() || sizes.size() > SlabAllocator::kMaxClasses) return false;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const uint32_t s = sizes[i];
    if (s < SlabAllocator::kGranule || s % SlabAllocator::kGranule != 0 || s > slab_bytes) return false;
    if (i > 0 && s <= sizes[i - 1]) return false;
  }
  return true;
}

Status SlabAllocator::create(const SlabConfig& config, PageSource& source, SlabAllocator** out) noexcept {
  *out = nullptr;
  const size_t slab = config.slab_bytes;
  if (!is_pow2(slab) || slab < kMinSlabBytes || slab > kMaxSlabBytes || slab < PageSource::page_size())
    return Status::kInvalidArgument;
  if (config.max_bytes == 0 || config.max_bytes > Region::kMaxBytes || config.red_zone > 4096)
    return Status::kInvalidArgument;
  std::vector<uint32_t> sizes = config.class_sizes;
  if (sizes.empty()) default_classes(slab, &sizes);
  if (!valid_classes(sizes, slab)) return Status::kInvalidArgument;

  auto* a = new (std::nothrow) SlabAllocator();
  if (a == nullptr) return Status::kOsFailure;
  a->slab_shift_ = static_cast<uint32_t>(std::countr_zero(slab));
  a->retain_ = config.retain_empty_slabs;
  a->poison_ = config.poison;
  a->red_zone_ = config.red_zone;
  a->sizes_ = std::move(sizes);
  const size_t bytes = align_up(config.max_bytes, slab);
  a->slab_count_ = static_cast<uint32_t>(bytes >> a->slab_shift_);
  Status st = Region::create(bytes, source, &a->region_);
  if (st == Status::kOk) st = Region::create(StateTable::kBytes, source, &a->meta_);
  a->slabs_ = static_cast<SlabMeta*>(std::calloc(a->slab_count_, sizeof(SlabMeta)));
  if (st == Status::kOk && a->slabs_ == nullptr) st = Status::kOsFailure;
  if (st != Status::kOk) {
    delete a;
    return st;
  }
  a->states_ = StateTable(a->meta_->base(), bytes);
  a->init_classes();
  a->used_.assign((a->slab_count_ + 63) / 64, 0);
  if (a->slab_count_ % 64) a->used_.back() = ~0ull << (a->slab_count_ % 64);
  *out = a;
  return Status::kOk;
}

void SlabAllocator::init_classes() {
  const uint32_t n = classes();
  per_slab_.resize(n);
  mag_caps_.resize(n);
  divisors_.clear();
  divisors_.reserve(n);
  lists_.assign(n, ClassList{});
  class_ids_.assign(max_small() / kGranule + 1, 0);
  uint32_t c = 0;
  for (uint32_t g = 0; g < class_ids_.size(); ++g) {
    while (sizes_[c] < g * kGranule) ++c;
    class_ids_[g] = static_cast<uint8_t>(c + 1);
  }
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t size = sizes_[i];
    per_slab_[i] = static_cast<uint32_t>(slab_bytes() / size);
    const uint32_t batch = std::clamp<uint32_t>(static_cast<uint32_t>(kMagazineBytes / size), 1, MagazineBlock::kStride / 2 - 1);
    mag_caps_[i] = 2 * batch;
    divisors_.emplace_back(size);
  }
}

SlabAllocator::~SlabAllocator() {
  if (region_ != nullptr) {
    guards::asan_unpoison(region_->base(), region_->size());  // the range may be mapped again
    region_->destroy();
    region_->release();
  }
  if (meta_ != nullptr) {
    meta_->destroy();
    meta_->release();
  }
  std::free(slabs_);
}

// ---- slabs and lists ----

uint32_t SlabAllocator::acquire_slabs(uint32_t n) noexcept {
  const auto words = static_cast<uint32_t>(used_.size());
  if (n == 1) {
    for (uint32_t w = first_free_word_; w < words; ++w) {
      if (used_[w] == ~0ull) continue;
      const auto b = static_cast<uint32_t>(std::countr_one(used_[w]));
      used_[w] |= 1ull << b;
      first_free_word_ = w;
      return w * 64 + b;
    }
    first_free_word_ = words;
    return kNil;
  }
  uint32_t run = 0, start = 0;
  for (uint32_t i = first_free_word_ * 64; i < slab_count_; ++i) {
    if ((i & 63) == 0 && used_[i >> 6] == ~0ull) {
      run = 0;
      i += 63;
      continue;
    }
    if ((used_[i >> 6] >> (i & 63)) & 1) {
      run = 0;
      continue;
    }
    if (run++ == 0) start = i;
    if (run == n) {
      for (uint32_t j = start; j < start + n; ++j) used_[j >> 6] |= 1ull << (j & 63);
      return start;
    }
  }
  return kNil;
}

void SlabAllocator::return_slabs(uint32_t first, uint32_t n) noexcept {
  for (uint32_t j = first; j < first + n; ++j) used_[j >> 6] &= ~(1ull << (j & 63));
  first_free_word_ = std::min(first_free_word_, first >> 6);
}

void SlabAllocator::list_push(uint8_t list, uint32_t cls, uint32_t slab) noexcept {
  ClassList& l = lists_[cls];
  SlabMeta& m = slabs_[slab];
  const uint32_t i = list - 1;
  m.list = list;
  m.prev = kNil;
  m.next = l.head[i];
  if (m.next != kNil) slabs_[m.next].prev = slab;
  l.head[i] = slab;
  l.count[i]++;
}

void SlabAllocator::list_remove(uint32_t slab) noexcept {
  SlabMeta& m = slabs_[slab];
  ClassList& l = lists_[m.cls];
  if (m.list == kListHome) {  // on no linked list; m.owner stays: it served that thread last
    l.homes--;
    m.list = kListNone;
    return;
  }
  const uint32_t i = m.list - 1;
  if (m.prev != kNil) slabs_[m.prev].next = m.next;
  else l.head[i] = m.next;
  if (m.next != kNil) slabs_[m.next].prev = m.prev;
  l.count[i]--;
  m.list = kListNone;
}

void SlabAllocator::relist(uint32_t slab) noexcept {
  SlabMeta& m = slabs_[slab];
  const bool full = m.free_head == kNil && m.carved == per_slab_[m.cls];
  if (m.list == kListHome) {  // stays its thread's until full
    if (full) unhome(slab);
    return;
  }
  const uint8_t want = m.out == 0 ? kListEmpty : full ? kListFull : kListPartial;
  if (want == m.list) return;
  list_remove(slab);
  place(slab);
}

void SlabAllocator::place(uint32_t slab) noexcept {
  SlabMeta& m = slabs_[slab];
  const uint8_t want = m.out == 0 ? kListEmpty
                       : (m.free_head == kNil && m.carved == per_slab_[m.cls]) ? kListFull
                                                                               : kListPartial;
  if (want == kListEmpty && lists_[m.cls].count[kListEmpty - 1] >= retain_ && release_slab(slab)) return;
  list_push(want, m.cls, slab);
}

void SlabAllocator::unhome(uint32_t slab) noexcept {
  list_remove(slab);
  place(slab);
}

bool SlabAllocator::has_room(uint32_t slab) const noexcept {
  const SlabMeta& m = slabs_[slab];
  return m.free_head != kNil || m.carved < per_slab_[m.cls];
}

uint32_t SlabAllocator::home_slab(uint32_t cls, uint32_t tag, uint32_t* home) noexcept {
  uint32_t s = *home;
  if (s < slab_count_) {
    const SlabMeta& m = slabs_[s];
    if (m.list == kListHome && m.owner == tag && m.cls == cls && has_room(s)) return s;
  }
  // A partial slab of another thread holds its live objects: serving this
  // thread from it would put both threads' state bytes (CAS on every free)
  // in shared cache lines. So: a partial slab this thread served last, else
  // an empty or new slab, and another thread's partial slab only when the
  // region has no slab left.
  if ((s = own_partial(cls, tag)) == kNil && (s = take_slab(cls)) == kNil &&
      (s = lists_[cls].head[kListPartial - 1]) == kNil) {
    *home = kNil;
    return kNil;
  }
  list_remove(s);
  SlabMeta& m = slabs_[s];
  m.list = kListHome;
  m.owner = tag;
  lists_[cls].homes++;
  *home = s;
  return s;
}

uint32_t SlabAllocator::own_partial(uint32_t cls, uint32_t tag) const noexcept {
  uint32_t s = lists_[cls].head[kListPartial - 1];
  for (uint32_t i = 0; s != kNil && i < kHomeScan; ++i, s = slabs_[s].next)
    if (slabs_[s].owner == tag) return s;
  return kNil;
}

uint32_t SlabAllocator::take_slab(uint32_t cls) noexcept {
  ClassList& l = lists_[cls];
  uint32_t s = l.head[kListEmpty - 1];
  if (s != kNil) {
    list_remove(s);
    list_push(kListPartial, cls, s);
    return s;
  }
  s = acquire_slabs(1);
  if (s == kNil) return kNil;
  SlabMeta& m = slabs_[s];
  m = SlabMeta{};
  m.free_head = kNil;
  m.cls = static_cast<uint8_t>(cls);
  list_push(kListPartial, cls, s);
  return s;
}

bool SlabAllocator::release_slab(uint32_t slab) noexcept {
  SlabMeta& m = slabs_[slab];
  const size_t off = slab_offset(slab);
  if (region_->decommit(off, slab_bytes()) != Status::kOk) return false;
  guards::asan_unpoison(region_->base() + off, slab_bytes());
  if (m.list != kListNone) list_remove(slab);
  region_->add_committed(-static_cast<ptrdiff_t>(m.bytes));
  states_.clear_range(off, slab_bytes());
  // The slab's state bytes too, where they fill whole pages (slabs >= 64 KiB).
  meta_->decommit(off >> kGranuleShift, slab_bytes() >> kGranuleShift);
  const auto last = static_cast<uint8_t>(m.cls + 1);
  m = SlabMeta{};
  m.last = last;
  return_slabs(slab, 1);
  return true;
}

// ---- objects ----

Status SlabAllocator::pop_one(uint32_t cls, uint8_t to, uint32_t* off, uint32_t* bad) noexcept {
  uint32_t s = lists_[cls].head[kListPartial - 1];
  if (s == kNil && (s = take_slab(cls)) == kNil) return Status::kExhausted;
  return pop_from(s, to, off, bad);
}

Status SlabAllocator::pop_from(uint32_t s, uint8_t to, uint32_t* off, uint32_t* bad) noexcept {
  SlabMeta& m = slabs_[s];
  const uint32_t cls = m.cls;
  const size_t base = slab_offset(s);
  const uint32_t size = sizes_[cls];
  size_t o;
  if (m.free_head != kNil) {
    o = base + (size_t{m.free_head} << kGranuleShift);
    const uint32_t link = load_link(region_->base() + o);
    // The link lives in JS-writable memory: it must name a free slot of this
    // slab (which only a slot start can be) or end the list.
    const bool link_ok = link == kNil
        ? m.free_count == 1
        : link < (slab_bytes() >> kGranuleShift) && m.free_count > 1 &&
              states_.get(base + (size_t{link} << kGranuleShift)) == SlotState::kFree;
    if (OFFHEAP_UNLIKELY(!link_ok || states_.get(o) != SlotState::kFree)) return recover_link(s, o, bad);
    guards::asan_unpoison(region_->base() + o, size);
    if (poison_ && OFFHEAP_UNLIKELY(!poison_intact(o, size, bad))) return Status::kUseAfterFree;
    m.free_head = link;
    m.free_count--;
  } else {
    o = base + size_t{m.carved} * size;
    m.carved++;
    const size_t end = size_t{m.carved} * size;
    if (end > m.bytes) {
      const size_t now = std::min(align_up(end, PageSource::page_size()), slab_bytes());
      region_->add_committed(static_cast<ptrdiff_t>(now - m.bytes));
      m.bytes = static_cast<uint32_t>(now);
    }
  }
  states_.set(o, to);
  m.out++;
  lists_[cls].out++;
  out_bytes_ += size;
  if (m.free_head == kNil && m.carved == per_slab_[cls]) relist(s);
  *off = static_cast<uint32_t>(o);
  return Status::kOk;
}

OFFHEAP_NOINLINE Status SlabAllocator::recover_link(uint32_t slab, size_t off, uint32_t* bad) noexcept {
  rebuild_free_list(slab);
  *bad = static_cast<uint32_t>(off);
  return Status::kCorrupted;
}

void SlabAllocator::rebuild_free_list(uint32_t slab) noexcept {
  // The state table is the truth (DESIGN.md section 7): every carved slot it
  // calls free goes back on the list, whatever the links said, and the
  // counts follow it. Nothing is lost, nothing handed out twice.
  SlabMeta& m = slabs_[slab];
  const size_t base = slab_offset(slab);
  const uint32_t size = sizes_[m.cls];
  uint32_t head = kNil, n = 0;
  for (uint32_t i = m.carved; i-- > 0;) {
    const size_t o = base + size_t{i} * size;
    if (states_.get(o) != SlotState::kFree) continue;
    uint8_t* p = region_->base() + o;
    guards::asan_unpoison(p, kLinkBytes);
    store_link(p, head);
    head = static_cast<uint32_t>((o - base) >> kGranuleShift);
    n++;
  }
  const uint32_t out = m.carved - n;
  lists_[m.cls].out = lists_[m.cls].out - m.out + out;
  out_bytes_ = out_bytes_ - uint64_t{m.out} * size + uint64_t{out} * size;
  m.out = out;
  m.free_head = head;
  m.free_count = n;
  relist(slab);
}

OFFHEAP_NOINLINE bool SlabAllocator::poison_intact(size_t off, uint32_t size, uint32_t* bad) noexcept {
  uint8_t* p = region_->base() + off;
  const size_t at = guards::find_mismatch(p + kLinkBytes, size - kLinkBytes, guards::kFillFreed);
  if (at == guards::kClean) return true;
  *bad = static_cast<uint32_t>(off + kLinkBytes + at);
  guards::fill(p + kLinkBytes, size - kLinkBytes, guards::kFillFreed);  // report it once
  return false;
}

Status SlabAllocator::push_one(uint32_t off, int32_t cls, uint8_t from) noexcept {
  if (!states_.valid(off)) return Status::kInvalidHandle;
  const uint32_t s = off >> slab_shift_;
  SlabMeta& m = slabs_[s];
  if (m.list != kListPartial && m.list != kListFull && m.list != kListHome) return Status::kInvalidHandle;
  if (cls >= 0 && m.cls != static_cast<uint32_t>(cls)) return Status::kInvalidHandle;
  const uint32_t size = sizes_[m.cls];
  const uint32_t x = off - static_cast<uint32_t>(slab_offset(s));
  if (x >= m.carved * size || !divisors_[m.cls].divides(x)) return Status::kInvalidHandle;
  if (m.out == 0) return Status::kCorrupted;
  const uint8_t found = states_.exchange_if(off, from, SlotState::kFree);
  if (found != from) return found == SlotState::kNone ? Status::kInvalidHandle : Status::kDoubleFree;
  uint8_t* p = region_->base() + off;
  if (poison_) guards::fill(p, size, guards::kFillFreed);
  store_link(p, m.free_head);
  guards::asan_poison(p + kLinkBytes, size - kLinkBytes);
  m.free_head = x >> kGranuleShift;
  m.free_count++;
  m.out--;
  lists_[m.cls].out--;
  out_bytes_ -= size;
  relist(s);
  return Status::kOk;
}

// ---- the depot ----

Status SlabAllocator::pop_batch(uint32_t cls, int32_t* out, uint32_t max, uint32_t* got, uint32_t tag,
                                uint32_t* home) noexcept {
  *got = 0;
  if (cls >= classes()) return Status::kInvalidArgument;
  std::lock_guard<std::mutex> lock(mutex_);
  Status st = Status::kOk;
  uint32_t n = 0, off = 0, bad = 0;
  while (n < max && st == Status::kOk) {
    uint32_t s = kNil;
    if (tag != 0 && home != nullptr) s = home_slab(cls, tag, home);
    else if ((s = lists_[cls].head[kListPartial - 1]) == kNil) s = take_slab(cls);
    if (s == kNil) {
      st = Status::kExhausted;
      break;
    }
    while (n < max && has_room(s) && (st = pop_from(s, SlotState::kCached, &off, &bad)) == Status::kOk)
      out[n++] = static_cast<int32_t>(off);
  }
  *got = n;
  if (n > 0) {
    note_peak();
    return st == Status::kExhausted ? Status::kOk : st;
  }
  if (st == Status::kExhausted) failed_++;
  return st;
}

Status SlabAllocator::push_batch(uint32_t cls, const int32_t* in, uint32_t n, uint32_t* bad) noexcept {
  if (cls >= classes()) return Status::kInvalidArgument;
  std::lock_guard<std::mutex> lock(mutex_);
  Status first = Status::kOk;
  for (uint32_t i = 0; i < n; ++i) {
    const int32_t h = in[i];
    // A magazine entry that is not a cached slot of this class: the block was written over.
    if (push_one(static_cast<uint32_t>(h), h < 0 ? INT32_MAX : static_cast<int32_t>(cls), SlotState::kCached) !=
            Status::kOk &&
        first == Status::kOk) {
      first = Status::kCorrupted;
      *bad = static_cast<uint32_t>(h);
    }
  }
  return first;
}

// ---- single operations ----

Status SlabAllocator::alloc(size_t size, uint32_t* off, uint32_t* bad) noexcept {
  const size_t need = size + red_zone_;
  std::lock_guard<std::mutex> lock(mutex_);
  size_t usable = 0;
  Status st;
  if (size > region_->size()) {
    st = Status::kExhausted;
  } else if (need > max_small()) {
    st = alloc_large(need, off);
    usable = st == Status::kOk ? slabs_[*off >> slab_shift_].bytes : 0;
  } else {
    const uint32_t cls = class_for(need);
    st = pop_one(cls, static_cast<uint8_t>(cls + 1), off, bad);
    usable = sizes_[cls];
  }
  if (st != Status::kOk) {
    if (st == Status::kExhausted) failed_++;
    return st;
  }
  uint8_t* p = region_->base() + *off;
  if (poison_) guards::fill(p, size, guards::kFillFresh);
  if (red_zone_ != 0) guards::fill(p + size, usable - size, guards::kFillRedZone);
  if (poison_ || red_zone_ != 0) requested_[*off] = static_cast<uint32_t>(size);
  single_allocs_++;
  note_peak();
  return Status::kOk;
}

Status SlabAllocator::alloc_large(size_t need, uint32_t* off) noexcept {
  const size_t usable = align_up(need == 0 ? 1 : need, PageSource::page_size());
  const size_t n = (usable + slab_bytes() - 1) >> slab_shift_;
  if (n > slab_count_) return Status::kExhausted;
  const uint32_t s = acquire_slabs(static_cast<uint32_t>(n));
  if (s == kNil) return Status::kExhausted;
  for (uint32_t i = 1; i < n; ++i) {
    slabs_[s + i] = SlabMeta{};
    slabs_[s + i].list = kListLargeTail;
  }
  SlabMeta& m = slabs_[s];
  m = SlabMeta{};
  m.list = kListLarge;
  m.run = static_cast<uint32_t>(n);
  m.bytes = static_cast<uint32_t>(usable);
  region_->add_committed(static_cast<ptrdiff_t>(usable));
  large_count_++;
  large_bytes_ += usable;
  *off = static_cast<uint32_t>(slab_offset(s));
  states_.set(*off, SlotState::kLiveLarge);
  return Status::kOk;
}

Status SlabAllocator::free(uint32_t off, uint32_t* bad) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  const Status why = classify_locked(off);
  if (why != Status::kOk) return why;
  const SlabMeta& m = slabs_[off >> slab_shift_];
  const bool large = m.list == kListLarge;
  Status result = Status::kOk;
  auto it = requested_.find(off);
  if (red_zone_ != 0 && it != requested_.end()) {
    const size_t usable = large ? m.bytes : sizes_[m.cls];
    const uint8_t* p = region_->base() + off;
    const size_t at = guards::find_mismatch(p + it->second, usable - it->second, guards::kFillRedZone);
    if (at != guards::kClean) {
      result = Status::kOverflow;
      *bad = static_cast<uint32_t>(off + it->second + at);
    }
  }
  const Status st = large ? free_large(off) : push_one(off, -1, static_cast<uint8_t>(m.cls + 1));
  if (st != Status::kOk) return st;
  if (it != requested_.end()) requested_.erase(it);
  single_frees_++;
  return result;
}

Status SlabAllocator::free_large(uint32_t off) noexcept {
  const uint32_t s = off >> slab_shift_;
  const uint32_t n = slabs_[s].run;
  const size_t usable = slabs_[s].bytes;
  states_.set(off, SlotState::kNone);
  region_->decommit(off, size_t{n} << slab_shift_);  // refused: the pages stay resident, harmless
  region_->add_committed(-static_cast<ptrdiff_t>(usable));
  large_count_--;
  large_bytes_ -= usable;
  for (uint32_t i = 0; i < n; ++i) slabs_[s + i] = SlabMeta{};
  slabs_[s].last = kLastLarge;
  return_slabs(s, n);
  return Status::kOk;
}

// ---- attachments ----

Status SlabAllocator::cache_live(uint32_t cls, uint32_t off) noexcept {
  const auto id = static_cast<uint8_t>(cls + 1);
  if (cls < classes() && states_.valid(off) && states_.exchange_if(off, id, SlotState::kCached) == id)
    return Status::kOk;
  // Not live now: freed by another thread since the caller looked (or never was).
  const Status why = classify(off);
  return why == Status::kOk ? Status::kDoubleFree : why;
}

void SlabAllocator::unhome_locked(MagazineBlock* block) noexcept {
  for (uint32_t c = 0; c < classes(); ++c) {
    const uint32_t s = block->homes()[c];
    if (s < slab_count_ && slabs_[s].list == kListHome && slabs_[s].owner == block->tag) unhome(s);
    block->homes()[c] = kNil;
  }
}

}  // namespace offheap
