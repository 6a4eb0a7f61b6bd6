#include "arena.h"

#include <algorithm>
#include <atomic>
#include <new>

namespace offheap {
Status Arena::create(const ArenaOptions& options, PageSource& source, ArenaState* state,
                     Arena** out) noexcept {
  *out = nullptr;
  if (state == nullptr || options.max_bytes == 0 || options.max_bytes > Region::kMaxBytes ||
      options.red_zone > kMaxAlign)
    return Status::kInvalidArgument;
  Region* region = nullptr;
  const Status st = Region::create(options.max_bytes, source, &region);
  if (st != Status::kOk) return st;
  Arena* arena = new (std::nothrow) Arena(region, options, state);
  if (arena == nullptr) {
    region->release();
    return Status::kOsFailure;
  }
  *out = arena;
  return Status::kOk;
}

Arena::Arena(Region* region, const ArenaOptions& options, ArenaState* state) noexcept
    : region_(region),
      base_(region->base()),
      state_(state),
      options_(options),
      capacity_(std::min(options.max_bytes, kMaxCapacity)) {
  *state_ = ArenaState{};
  publish();
}

Arena::~Arena() { destroy(); }

void Arena::destroy() noexcept {
  if (region_ == nullptr) return;
  region_->destroy();
  abandon();
}

void Arena::abandon() noexcept {
  if (region_ == nullptr) return;
  adopt_state();                    // fold in JS's rollbacks
  const ArenaStats last = stats();  // everything still live is freed now
  alloc_base_ = last.alloc_count;
  free_count_ += last.live_count;
  peak_ = last.peak;
  guards::asan_unpoison(base_, region_->size());  // the range may be mapped again
  region_->release();
  region_ = nullptr;
  base_ = nullptr;
  limit_ = committed_ = 0;
  live_.clear();
  *state_ = ArenaState{};
  publish();
}

// Publishes the trusted figures into the shared words.
void Arena::publish() noexcept {
  const bool fast = region_ != nullptr && !options_.debug;
  fast_end_ = fast ? limit_ + 1 : 0;
  state_->limit = fast ? static_cast<int32_t>(limit_) : -1;
  state_->committed = static_cast<int32_t>(committed_);
  state_->peak = static_cast<int32_t>(peak_);
}

// The cursor as the shared word has it, clamped into [0, limit_].
size_t Arena::clamped_cursor() const noexcept {
  const int32_t c = state_->cursor;
  if (c < 0) return limit_;
  return std::min(static_cast<size_t>(c), limit_);
}

// Takes the shared words back under control before any native write: a
// cursor outside [0, limit_] is clamped to limit_ (never below: that could
// hand out live memory twice), the published words are rewritten, JS's
// rollbacks folded into the counters. In debug mode the count is the number
// of tracked allocations. Returns false when something had been overwritten.
bool Arena::adopt_state() noexcept {
  const int32_t c = state_->cursor;
  bool ok = c >= 0 && static_cast<size_t>(c) <= limit_;
  if (!ok) state_->cursor = static_cast<int32_t>(limit_);
  ok = ok && state_->limit == static_cast<int32_t>(static_cast<int64_t>(fast_end_) - 1) &&
       state_->committed == static_cast<int32_t>(committed_);
  if (state_->peak > 0) peak_ = std::max(peak_, std::min(static_cast<size_t>(state_->peak), capacity_));
  alloc_base_ += state_->released;
  free_count_ += state_->released;
  state_->released = 0;
  if (options_.debug) {
    ok = ok && state_->count == live_.size();
    state_->count = static_cast<uint32_t>(live_.size());
  }
  publish();
  return ok;
}

void* Arena::alloc_slow(size_t size, size_t align) noexcept {
  size_t off = 0;
  last_ = allocate(size, align, false, &off);
  return last_ == Status::kOk ? base_ + off : nullptr;
}

// Moves the limit past `end`, a chunk at a time, up to the capacity.
void Arena::grow(size_t end) noexcept {
  const size_t limit = std::min(capacity_, align_up(end, kCommitChunk));
  const size_t committed = align_up(limit, PageSource::page_size());
  guards::asan_poison(base_ + limit_, limit - limit_);  // unused until allocated
  region_->add_committed(static_cast<ptrdiff_t>(committed - committed_));
  committed_ = committed;
  limit_ = limit;
  publish();
}

Status Arena::allocate(size_t size, size_t align, bool zeroed, size_t* offset) noexcept {
  if (region_ == nullptr) return Status::kDestroyed;
  if (!is_pow2(align) || align > kMaxAlign) return Status::kInvalidArgument;
  if (!adopt_state()) return Status::kCorrupted;
  const size_t cursor = static_cast<size_t>(state_->cursor);
  const size_t off = align_up(cursor, align);
  const size_t red = options_.debug ? options_.red_zone : 0;
  if (size > capacity_ || off + size + red > capacity_) {
    ++failed_count_;
    return Status::kExhausted;
  }
  const size_t end = off + size + red;
  if (end > limit_) grow(end);
  if (options_.debug) {
    if (options_.poison) {
      const Status st = check_released_poison(cursor, std::min(end, freed_high_));
      if (st != Status::kOk) return st;
    }
    guards::asan_unpoison(base_ + cursor, end - cursor);  // padding, the allocation and its red zone
    if (zeroed || options_.poison) guards::fill(base_ + off, size, zeroed ? 0 : guards::kFillFresh);
    guards::fill(base_ + off + size, red, guards::kFillRedZone);
    live_.push_back({static_cast<uint32_t>(off), static_cast<uint32_t>(size)});
  } else {
    guards::asan_unpoison(base_ + off, size);
    if (zeroed) guards::fill(base_ + off, size, 0);
  }
  state_->cursor = static_cast<int32_t>(end);
  state_->count++;
  publish();
  *offset = off;
  return Status::kOk;
}

// Released memory [from, to) must still hold 0xDF; when it does not, the
// fault is recorded and the range re-poisoned so the arena stays usable.
// Released memory is ASan-poisoned: it is unpoisoned for the check only.
Status Arena::check_released_poison(size_t from, size_t to) noexcept {
  if (to <= from) return Status::kOk;
  guards::asan_unpoison(base_ + from, freed_high_ - from);
  const size_t bad = guards::find_mismatch(base_ + from, to - from, guards::kFillFreed);
  Status st = Status::kOk;
  if (bad != guards::kClean) {
    fault_ = {from, to - from, from + bad, base_[from + bad], guards::kFillFreed};
    guards::fill(base_ + from, freed_high_ - from, guards::kFillFreed);
    st = Status::kUseAfterFree;
  }
  guards::asan_poison(base_ + from, freed_high_ - from);
  return st;
}

Status Arena::check_red_zone(const Live& a) noexcept {
  const size_t zone = size_t{a.offset} + a.size;
  const size_t bad = guards::find_mismatch(base_ + zone, options_.red_zone, guards::kFillRedZone);
  if (bad == guards::kClean) return Status::kOk;
  fault_ = {a.offset, a.size, zone + bad, base_[zone + bad], guards::kFillRedZone};
  return Status::kOverflow;
}

// Frees everything above `cursor` and keeps the counters exact. In debug
// mode the released red zones are checked (first fault reported, the
// release still done) and the released bytes poisoned.
Status Arena::release_to(size_t cursor, uint32_t count) noexcept {
  const size_t old = static_cast<size_t>(state_->cursor);
  const uint32_t live = state_->count;
  const uint32_t released = live > count ? live - count : 0;
  alloc_base_ += released;
  free_count_ += released;
  peak_ = std::max(peak_, old);
  Status st = Status::kOk;
  if (options_.debug) {
    for (size_t i = count; i < live_.size(); ++i) {
      const Status s = check_red_zone(live_[i]);
      if (st == Status::kOk) st = s;
    }
    live_.resize(std::min<size_t>(count, live_.size()));
    if (options_.poison) {
      guards::fill(base_ + cursor, old - cursor, guards::kFillFreed);
      freed_high_ = std::max(freed_high_, old);
    }
  }
  guards::asan_poison(base_ + cursor, old - cursor);
  state_->cursor = static_cast<int32_t>(cursor);
  state_->count = count;
  publish();
  return st;
}

Status Arena::rewind(size_t cursor, uint32_t count) noexcept {
  if (region_ == nullptr) return Status::kDestroyed;
  adopt_state();  // rewind rewrites the cursor anyway
  if (cursor > static_cast<size_t>(state_->cursor) || count > state_->count) return Status::kInvalidHandle;
  return release_to(cursor, count);
}

Status Arena::reset(size_t retain_bytes) noexcept {
  if (region_ == nullptr) return Status::kDestroyed;
  adopt_state();  // reset rewrites the cursor anyway
  const Status released = release_to(0, 0);
  const Status trimmed = trim(retain_bytes);
  return released != Status::kOk ? released : trimmed;
}

// Gives the committed pages above `retain_bytes` (rounded up to a page) back.
Status Arena::trim(size_t retain_bytes) noexcept {
  if (retain_bytes >= committed_) return Status::kOk;
  const size_t keep = align_up(retain_bytes, PageSource::page_size());
  if (keep >= committed_) return Status::kOk;
  const Status st = region_->decommit(keep, committed_ - keep);
  if (st != Status::kOk) return st;  // still committed, still counted
  region_->add_committed(-static_cast<ptrdiff_t>(committed_ - keep));
  committed_ = keep;
  limit_ = std::min(limit_, keep);
  freed_high_ = std::min(freed_high_, keep);  // decommitted pages read as zeros
  publish();
  return Status::kOk;
}

Status Arena::verify() noexcept {
  if (region_ == nullptr) return Status::kDestroyed;
  const size_t page = PageSource::page_size();
  const bool words_ok = adopt_state();
  if (!(limit_ <= capacity_ && capacity_ <= region_->size() && committed_ == align_up(limit_, page) &&
        region_->committed() == committed_))
    return Status::kCorrupted;
  if (!words_ok) return Status::kCorrupted;
  const size_t cursor = static_cast<size_t>(state_->cursor);
  if (!options_.debug) return Status::kOk;
  size_t prev_end = 0;
  for (const Live& a : live_) {
    const size_t end = size_t{a.offset} + a.size + options_.red_zone;
    if (a.offset < prev_end || end > cursor) return Status::kCorrupted;
    prev_end = end;
    const Status st = check_red_zone(a);
    if (st != Status::kOk) return st;
  }
  if (options_.poison) return check_released_poison(cursor, std::min(freed_high_, limit_));
  return Status::kOk;
}

ArenaStats Arena::stats() const noexcept {
  ArenaStats s;
  s.reserved = region_ ? region_->size() : 0;
  s.committed = committed_;
  s.used = region_ ? clamped_cursor() : 0;
  s.live_count = options_.debug ? live_.size() : state_->count;
  // JS's rollbacks since the last entry, not folded in yet (see adopt_state)
  const size_t js_peak = state_->peak > 0 ? std::min(static_cast<size_t>(state_->peak), capacity_) : 0;
  s.peak = std::max({peak_, js_peak, s.used});
  s.alloc_count = alloc_base_ + state_->released + s.live_count;
  s.free_count = free_count_ + state_->released;
  s.failed_count = failed_count_;
  return s;
}

}  // namespace offheap
