#include "share_registry.h"

#include <mutex>
#include <unordered_map>

namespace offheap::share_registry {
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::unordered_map<uint32_t, Shareable*>& table() {
  static std::unordered_map<uint32_t, Shareable*> t;
  return t;
}

uint32_t g_next_id = 1;

}  // namespace

uint32_t add(Shareable* s) noexcept {
  std::lock_guard<std::mutex> lock(registry_mutex());
  uint32_t id = g_next_id++;
  if (id == 0) id = g_next_id++;
  table()[id] = s;
  return id;
}

void remove(uint32_t id) noexcept {
  std::lock_guard<std::mutex> lock(registry_mutex());
  table().erase(id);
}

Shareable* acquire(uint32_t id, uint32_t kind) noexcept {
  // try_retain runs under the lock: the last release removes the entry under
  // the same lock before deleting, so the pointer is valid here.
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = table().find(id);
  if (it == table().end() || it->second->share_kind() != kind) return nullptr;
  return it->second->try_retain() ? it->second : nullptr;
}

}  // namespace offheap::share_registry
