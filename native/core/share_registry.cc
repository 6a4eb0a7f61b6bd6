#include "share_registry.h"

#include <mutex>
#include <unordered_map>

namespace offheap::share_registry {
namespace {

struct Entry {
  uint32_t kind;
  void* object;
  TryRetain try_retain;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::unordered_map<uint32_t, Entry>& table() {
  static std::unordered_map<uint32_t, Entry> t;
  return t;
}

uint32_t g_next_id = 1;

}  // namespace

uint32_t add(uint32_t kind, void* object, TryRetain try_retain) noexcept {
  std::lock_guard<std::mutex> lock(registry_mutex());
  uint32_t id = g_next_id++;
  if (id == 0) id = g_next_id++;
  table()[id] = Entry{kind, object, try_retain};
  return id;
}

void remove(uint32_t id) noexcept {
  std::lock_guard<std::mutex> lock(registry_mutex());
  table().erase(id);
}

void* acquire(uint32_t id, uint32_t kind) noexcept {
  // try_retain runs under the lock: the allocator removes its entry under the
  // same lock before it is deleted, so the pointer is valid here.
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = table().find(id);
  if (it == table().end() || it->second.kind != kind) return nullptr;
  return it->second.try_retain(it->second.object) ? it->second.object : nullptr;
}

}  // namespace offheap::share_registry
