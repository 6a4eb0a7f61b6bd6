// Process-wide table of allocators shared between threads (worker_threads),
// one for every kind: share() puts an allocator here under a small integer id
// that a structured-clonable descriptor can carry; attach() in another thread
// looks the id up and takes a reference, unless the allocator is already
// going away or of another kind. Entries hold no reference: an allocator
// removes itself before it is deleted. No base class, so no vtable pointer
// moves the members of an allocator that has none.
#pragma once

#include <cstdint>

namespace offheap::share_registry {

/// Takes a reference on `object` unless its last one is already gone.
using TryRetain = bool (*)(void* object) noexcept;

/// Registers `object` of `kind` and returns its id (never 0, unique over kinds).
uint32_t add(uint32_t kind, void* object, TryRetain try_retain) noexcept;
/// Forgets `id`; called by the allocator before it is deleted.
void remove(uint32_t id) noexcept;
/// The allocator of `kind` under `id` with a new reference taken, or nullptr
/// when it is gone or of another kind.
void* acquire(uint32_t id, uint32_t kind) noexcept;

}  // namespace offheap::share_registry
