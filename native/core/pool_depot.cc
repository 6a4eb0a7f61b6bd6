#include "pool_depot.h"

#include <new>

namespace offheap {

Status PoolDepot::create(const ObjectPoolOptions& options, PageSource& source, PoolDepot** out) noexcept {
  *out = nullptr;
  ObjectPool* pool = nullptr;
  const Status st = ObjectPool::create(options, source, &pool);
  if (st != Status::kOk) return st;
  PoolDepot* depot = new (std::nothrow) PoolDepot(pool);
  if (depot == nullptr) {
    pool->destroy();
    delete pool;
    return Status::kOsFailure;
  }
  *out = depot;
  return Status::kOk;
}

Status PoolDepot::pop_batch(uint32_t cls, int32_t* out, uint32_t max, uint32_t* got, uint32_t, uint32_t*) noexcept {
  *got = 0;
  if (cls != 0) return Status::kInvalidArgument;
  std::lock_guard<std::mutex> lock(mutex_);
  live_locked();
  uint32_t bad = ObjectPool::kNil;
  const Status st = pool_->pop_batch(out, max, got, &bad);
  if (st == Status::kOk && *got == 0) return Status::kExhausted;
  return st;
}

Status PoolDepot::push_batch(uint32_t cls, const int32_t* in, uint32_t n, uint32_t* bad) noexcept {
  if (cls != 0) return Status::kInvalidArgument;
  std::lock_guard<std::mutex> lock(mutex_);
  return pool_->push_batch(in, n, bad);
}

Status PoolDepot::cache_live(uint32_t cls, uint32_t off) noexcept {
  if (cls != 0) return Status::kInvalidArgument;
  std::lock_guard<std::mutex> lock(mutex_);
  return pool_->cache_live(off);
}

Status PoolDepot::alloc(uint32_t* offset) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  const Status st = pool_->alloc(offset);
  live_locked();
  return st;
}

Status PoolDepot::free(uint32_t offset) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return pool_->free(offset);
}

Status PoolDepot::verify(uint32_t* bad_offset) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return pool_->verify(bad_offset);
}

double PoolDepot::live_locked() noexcept {
  double allocs = 0, frees = 0;
  block_totals(&allocs, &frees);
  const double live = static_cast<double>(pool_->live()) + allocs - frees;
  peak_live_ = std::max(peak_live_, live);
  return live;
}

double PoolDepot::live() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_locked();
}

PoolDepotStats PoolDepot::stats() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  PoolDepotStats s{};
  s.pool = pool_->stats();
  double allocs = 0, frees = 0;
  block_totals(&allocs, &frees);
  s.allocs = static_cast<double>(s.pool.allocs) + allocs;
  s.frees = static_cast<double>(s.pool.frees) + frees;
  s.failed = static_cast<double>(s.pool.failed);
  s.live = live_locked();
  s.peak_live = peak_live_;
  s.attachments = static_cast<uint32_t>(blocks_.size());
  return s;
}

}  // namespace offheap
