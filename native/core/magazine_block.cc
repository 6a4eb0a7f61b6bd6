#include "magazine_block.h"

#include <atomic>

#include "region.h"

namespace offheap {

MagazineBlock::Layout MagazineBlock::layout(uint32_t classes, uint32_t stride, uint32_t id_words) noexcept {
  Layout l{};
  l.tops = 0;
  l.ends = id_words > classes ? id_words : classes + 1;
  l.handles = static_cast<uint32_t>(align_up(2 * size_t{l.ends}, stride));
  l.counters_byte = static_cast<uint32_t>(align_up((l.handles + size_t{classes} * stride) * 4, 8));
  l.bytes = l.counters_byte + kCounters * sizeof(double);
  return l;
}

MagazineBlock::MagazineBlock(void* mem, uint32_t classes, const std::vector<uint32_t>& caps, uint32_t stride,
                             uint32_t id_words) noexcept
    : words_(static_cast<int32_t*>(mem)), classes_(classes), stride_(stride), layout_(layout(classes, stride, id_words)), caps_(caps),
      homes_(classes, 0xFFFFFFFFu) {
  if (words_ == nullptr) return;
  for (uint32_t c = 0; c < classes; ++c) {
    words_[layout_.tops + c + 1] = static_cast<int32_t>(base(c));
    words_[layout_.ends + c + 1] = static_cast<int32_t>(base(c) + caps_[c]);
  }
}

int32_t MagazineBlock::top(uint32_t cls) const noexcept {
  return std::atomic_ref<int32_t>(words_[layout_.tops + cls + 1]).load(std::memory_order_acquire);
}

void MagazineBlock::set_top(uint32_t cls, int32_t t) noexcept {
  std::atomic_ref<int32_t>(words_[layout_.tops + cls + 1]).store(t, std::memory_order_release);
}

int32_t MagazineBlock::count(uint32_t cls) const noexcept {
  // JS can write the top; one outside the class's slots means the block was scribbled on.
  const int64_t n = int64_t{top(cls)} - base(cls);
  return n < 0 || n > caps_[cls] ? -1 : static_cast<int32_t>(n);
}

uint32_t MagazineBlock::cached(uint32_t cls) const noexcept {
  const int32_t n = count(cls);
  return n < 0 ? 0 : static_cast<uint32_t>(n);
}

void MagazineBlock::set_count(uint32_t cls, int32_t n) noexcept { set_top(cls, static_cast<int32_t>(base(cls)) + n); }

double* MagazineBlock::counters() const noexcept {
  return reinterpret_cast<double*>(reinterpret_cast<uint8_t*>(words_) + layout_.counters_byte);
}

double MagazineBlock::counter(uint32_t which) const noexcept {
  return std::atomic_ref<double>(counters()[which]).load(std::memory_order_relaxed);
}

double MagazineBlock::allocations() const noexcept {
  double held = 0;
  for (uint32_t c = 0; c < classes_; ++c) held += cached(c);
  return counter(kCounterFrees) + counter(kCounterRefilled) - counter(kCounterDrained) - held;
}

void MagazineBlock::add_counter(uint32_t which, double n) noexcept {
  std::atomic_ref<double> c(counters()[which]);
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // only its thread writes it
}

Status MagazineBlock::refill(Depot& depot, uint32_t cls, uint32_t* got) noexcept {
  *got = 0;
  const int32_t n = count(cls);
  if (n < 0) return Status::kCorrupted;
  const uint32_t target = caps_[cls] / 2;
  if (static_cast<uint32_t>(n) >= target) return Status::kOk;
  const Status st = depot.pop_batch(cls, words_ + base(cls) + n, target - n, got, tag, &homes_[cls]);
  set_count(cls, n + static_cast<int32_t>(*got));
  add_counter(kCounterRefilled, *got);
  return st;
}

Status MagazineBlock::drain(Depot& depot, uint32_t cls, uint32_t keep, uint32_t* bad) noexcept {
  const int32_t n = count(cls);
  if (n < 0) {
    set_count(cls, 0);  // its handles stay out (a leak verify() reports), never reused twice
    return Status::kCorrupted;
  }
  if (static_cast<uint32_t>(n) <= keep) return Status::kOk;
  const Status st = depot.push_batch(cls, words_ + base(cls) + keep, n - keep, bad);
  set_count(cls, static_cast<int32_t>(keep));
  add_counter(kCounterDrained, n - keep);
  return st;
}

bool MagazineBlock::push(uint32_t cls, int32_t handle) noexcept {
  const int32_t n = count(cls);
  if (n < 0 || static_cast<uint32_t>(n) >= caps_[cls]) return false;
  words_[base(cls) + n] = handle;
  set_count(cls, n + 1);
  add_counter(kCounterFrees, 1);
  return true;
}

Status MagazineBlock::free_into_full(Depot& depot, uint32_t cls, uint32_t off, uint32_t* bad) noexcept {
  const Status st = drain(depot, cls, caps_[cls] / 2, bad);
  if (st != Status::kOk) return st;
  const Status why = depot.cache_live(cls, off);
  if (why != Status::kOk) return why;
  const int32_t handle = static_cast<int32_t>(off);
  if (!push(cls, handle)) {  // scribbled on since the drain: straight to the depot
    uint32_t ignored = 0;
    depot.push_batch(cls, &handle, 1, &ignored);
  }
  return Status::kOk;
}

Status MagazineBlock::flush(Depot& depot, uint32_t* bad) noexcept {
  Status first = Status::kOk;
  for (uint32_t c = 0; c < classes_; ++c) {
    uint32_t b = 0;
    const Status st = drain(depot, c, 0, &b);
    if (first == Status::kOk && st != Status::kOk) {
      first = st;
      *bad = b;
    }
  }
  return first;
}

}  // namespace offheap
