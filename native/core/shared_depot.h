// What every shareable allocator (ObjectPool, SlabAllocator) has for being
// shared between threads, written once (DESIGN.md section 7): the mutex its
// depot operations take, a reference per attachment (thread), and its entry
// in the share registry once share() ran. The last release() takes it out of
// the registry and deletes the allocator.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "share_registry.h"

namespace offheap {

/// CRTP base: `Derived` is the allocator (deleted by the last release(); it
/// befriends SharedDepot<Derived> when its destructor is private).
template <typename Derived, uint32_t Kind>
class SharedDepot {
 public:
  static constexpr uint32_t kShareKind = Kind;

  /// The allocator filed under `id` by share(), with one more reference, or
  /// nullptr once it is gone (or of another kind).
  static Derived* acquire(uint32_t id) noexcept {
    return static_cast<Derived*>(share_registry::acquire(id, Kind));
  }

  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  /// Takes a reference unless the last one is already gone.
  bool try_retain() noexcept {
    int32_t n = refs_.load(std::memory_order_relaxed);
    while (n > 0) {
      if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  /// Drops a reference; the last one deletes the allocator. Out of the
  /// registry first: an acquire() in flight holds the registry's lock, so it
  /// ends (failing to retain) before the allocator goes.
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (share_id_ != 0) share_registry::remove(share_id_);
    delete static_cast<Derived*>(this);
  }
  /// Files the allocator in the share registry (once) and returns its id.
  uint32_t share() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    if (share_id_ == 0)
      share_id_ = share_registry::add(Kind, static_cast<Derived*>(this),
                                      [](void* p) noexcept { return static_cast<Derived*>(p)->try_retain(); });
    return share_id_;
  }
  /// Non-zero once shared.
  uint32_t share_id() const noexcept { return share_id_; }

 protected:
  SharedDepot() = default;
  ~SharedDepot() = default;
  std::mutex mutex_;  ///< every depot operation of the allocator

 private:
  std::atomic<int32_t> refs_{1};  ///< one per attachment (and per acquire in flight)
  uint32_t share_id_ = 0;         ///< registry id, 0 until shared (mutex_)
};

}  // namespace offheap
