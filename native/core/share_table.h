// The process-wide table of shared allocators: share() files the native
// object under a number, and attach() in another worker thread finds it by
// that number (a descriptor must be structured-clonable, so it cannot hold a
// pointer). Entries never keep their object alive: the object removes itself
// when its last reference goes, and acquire() only succeeds while it lives.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace offheap {

/// T provides `bool try_retain() noexcept`: takes a reference unless the
/// count already fell to zero.
template <typename T>
class ShareRegistry {
 public:
  /// Files `object` and returns its id (never 0, never reused).
  static uint64_t add(T* object) noexcept {
    std::lock_guard<std::mutex> lock(mutex());
    const uint64_t id = ++next();
    table()[id] = object;
    return id;
  }

  /// The object filed under `id` with one more reference, or nullptr when
  /// there is none (never shared, or already gone).
  static T* acquire(uint64_t id) noexcept {
    std::lock_guard<std::mutex> lock(mutex());
    auto it = table().find(id);
    if (it == table().end() || !it->second->try_retain()) return nullptr;
    return it->second;
  }

  /// Removes `id`; called by the object before it is deleted, so an
  /// acquire() holding the lock finishes before the object goes.
  static void remove(uint64_t id) noexcept {
    std::lock_guard<std::mutex> lock(mutex());
    table().erase(id);
  }

 private:
  static std::mutex& mutex() noexcept {
    static std::mutex m;
    return m;
  }
  static std::unordered_map<uint64_t, T*>& table() noexcept {
    static std::unordered_map<uint64_t, T*> t;
    return t;
  }
  static uint64_t& next() noexcept {
    static uint64_t n = 0;
    return n;
  }
};

}  // namespace offheap
