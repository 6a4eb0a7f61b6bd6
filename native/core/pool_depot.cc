#include "pool_depot.h"

#include <algorithm>
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

Status PoolDepot::open(uint32_t* tag) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return attachments_.open(tag);
}

void PoolDepot::close(uint32_t tag) noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!attachments_.is_open(tag)) return;
    // A never-shared pool dies with its only attachment: no scan needed.
    if (share_id() != 0 || attachments_.open_count() > 1) pool_->reclaim(tag);
    live_locked();
    attachments_.close(tag);
  }
  release();
}

Status PoolDepot::refill(uint32_t tag, int32_t* out, uint32_t max, uint32_t* n, uint32_t* bad_offset) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!attachments_.is_open(tag)) return Status::kDestroyed;
  live_locked();
  return pool_->pop_batch(tag, out, max, n, bad_offset);
}

Status PoolDepot::drain(uint32_t tag, const int32_t* in, uint32_t n, int32_t* bad) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!attachments_.is_open(tag)) return Status::kDestroyed;
  live_locked();
  return pool_->push_batch(tag, in, n, bad);
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
  return pool_->verify(bad_offset, &attachments_);
}

double PoolDepot::live_locked() noexcept {
  const double live = static_cast<double>(pool_->live()) + attachments_.total(Attachments::kAllocs) -
                      attachments_.total(Attachments::kFrees);
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
  s.allocs = static_cast<double>(s.pool.allocs) + attachments_.total(Attachments::kAllocs);
  s.frees = static_cast<double>(s.pool.frees) + attachments_.total(Attachments::kFrees);
  s.failed = static_cast<double>(s.pool.failed) + attachments_.total(Attachments::kFailed);
  s.live = live_locked();
  s.peak_live = peak_live_;
  s.attachments = attachments_.open_count();
  return s;
}

}  // namespace offheap
