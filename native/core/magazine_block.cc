#include "magazine_block.h"

#include <atomic>

#include "region.h"

namespace offheap {

MagazineBlock::Layout MagazineBlock::layout(uint32_t classes) noexcept {
  Layout l{};
  l.counts = 0;
  l.caps = classes;
  l.handles = static_cast<uint32_t>(align_up(2 * size_t{classes}, 16));
  l.stride = kStride;
  l.counters_byte = static_cast<uint32_t>(align_up((l.handles + size_t{classes} * kStride) * 4, 8));
  l.bytes = l.counters_byte + 2 * sizeof(double);
  return l;
}

MagazineBlock::MagazineBlock(void* mem, uint32_t classes, const std::vector<uint32_t>& caps) noexcept
    : words_(static_cast<int32_t*>(mem)), classes_(classes), layout_(layout(classes)), caps_(caps) {
  if (words_ == nullptr) return;
  for (uint32_t c = 0; c < classes; ++c) words_[layout_.caps + c] = static_cast<int32_t>(caps_[c]);
}

int32_t MagazineBlock::count(uint32_t cls) const noexcept {
  return std::atomic_ref<int32_t>(words_[layout_.counts + cls]).load(std::memory_order_acquire);
}

void MagazineBlock::set_count(uint32_t cls, int32_t n) noexcept {
  std::atomic_ref<int32_t>(words_[layout_.counts + cls]).store(n, std::memory_order_release);
}

double* MagazineBlock::counters() const noexcept {
  return reinterpret_cast<double*>(reinterpret_cast<uint8_t*>(words_) + layout_.counters_byte);
}

double MagazineBlock::counter(uint32_t which) const noexcept {
  return std::atomic_ref<double>(counters()[which]).load(std::memory_order_relaxed);
}

uint32_t MagazineBlock::cached(uint32_t cls) const noexcept {
  const int32_t n = count(cls);
  return n < 0 || static_cast<uint32_t>(n) > caps_[cls] ? 0 : static_cast<uint32_t>(n);
}

Status MagazineBlock::refill(Depot& depot, uint32_t cls, uint32_t* got) noexcept {
  *got = 0;
  const int32_t n = count(cls);
  // JS can write the count; one outside [0, cap] means the block was scribbled on.
  if (n < 0 || static_cast<uint32_t>(n) > caps_[cls]) return Status::kCorrupted;
  const uint32_t target = caps_[cls] / 2;
  if (static_cast<uint32_t>(n) >= target) return Status::kOk;
  const Status st = depot.pop_batch(cls, handles(cls) + n, target - n, got);
  set_count(cls, n + static_cast<int32_t>(*got));
  return st;
}

Status MagazineBlock::drain(Depot& depot, uint32_t cls, uint32_t keep, uint32_t* bad) noexcept {
  const int32_t n = count(cls);
  if (n < 0 || static_cast<uint32_t>(n) > caps_[cls]) {
    set_count(cls, 0);  // its handles stay out (a leak verify() reports), never reused twice
    return Status::kCorrupted;
  }
  if (static_cast<uint32_t>(n) <= keep) return Status::kOk;
  const Status st = depot.push_batch(cls, handles(cls) + keep, n - keep, bad);
  set_count(cls, static_cast<int32_t>(keep));
  return st;
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
