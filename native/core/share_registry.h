// Process-wide table of allocators shared between threads (worker_threads):
// share() puts an allocator here under a small integer id that a structured-
// clonable descriptor can carry; attach() in another thread looks the id up
// and takes a reference, unless the allocator is already going away.
#pragma once

#include <cstdint>

namespace offheap {

/// What the registry needs of a shareable allocator.
class Shareable {
 public:
  /// Which allocator type this is, so attach() can refuse a wrong-kind id.
  virtual uint32_t share_kind() const noexcept = 0;
  /// Takes a reference unless the last one is already gone.
  virtual bool try_retain() noexcept = 0;

 protected:
  ~Shareable() = default;
};

namespace share_registry {

/// Registers `s` and returns its id (never 0).
uint32_t add(Shareable* s) noexcept;
/// Forgets `id`; called by the allocator before it is deleted.
void remove(uint32_t id) noexcept;
/// The allocator under `id` with a new reference taken, or nullptr when it is
/// gone or of another kind.
Shareable* acquire(uint32_t id, uint32_t kind) noexcept;

}  // namespace share_registry
}  // namespace offheap
