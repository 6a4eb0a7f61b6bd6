// What every wrapped allocator needs from the binding: a type-tagged native
// handle recovered safely from any JS value, one external ArrayBuffer per
// region per thread, V8 external-memory accounting, and Status -> OffheapError.
// No allocator logic lives here.
#pragma once

#include <napi.h>

#include <initializer_list>
#include <string>

#include "../core/region.h"
#include "../core/status.h"

namespace offheap::binding {

/// What a native handle wraps; checked on every recovery.
enum class Kind : uint32_t { kRegion = 1, kArena = 2, kObjectPool = 3, kSlab = 4 };

/// Base of every object JavaScript holds a handle to. Owned by a napi
/// External (deleted by its finalizer); tagged so no other External passes.
struct Handle {
  explicit Handle(Kind k) : kind(k) {}
  virtual ~Handle() = default;
  /// The region under the allocator, or nullptr once released.
  virtual Region* region() const = 0;

  const Kind kind;
  int64_t reported_bytes = 0;  ///< committed bytes reported to V8 so far
};

/// Wraps `handle` in a tagged External that deletes it when collected.
Napi::Value WrapHandle(Napi::Env env, Handle* handle);

/// Recovers the Handle of kind `kind` from `value`; throws a TypeError
/// (ERR_INVALID_ARG_TYPE) and returns nullptr for anything else.
Handle* RecoverHandle(Napi::Env env, const Napi::Value& value, Kind kind);

/// Recovers a Handle of any kind (for entry points common to all allocators).
Handle* RecoverAnyHandle(Napi::Env env, const Napi::Value& value);

template <typename T>
T* Recover(const Napi::CallbackInfo& info, size_t index = 0) {
  return static_cast<T*>(RecoverHandle(info.Env(), info[index], T::kKind));
}

/// A new external ArrayBuffer over the whole region, holding a reference to
/// it that the ArrayBuffer's finalizer releases. One per region per thread.
Napi::Value RegionBuffer(Napi::Env env, Region* region);

/// A new external ArrayBuffer over region[offset, offset+length) holding its
/// own region reference: a debug-mode view that can be detached on its own.
Napi::Value RegionSliceBuffer(Napi::Env env, Region* region, size_t offset, size_t length);

/// An external ArrayBuffer over [data, data+length) whose finalizer calls
/// `release(owner)`; `retain(owner)` runs once it exists. Throws an
/// OffheapError and returns undefined where the runtime refuses.
Napi::Value ExternalBuffer(Napi::Env env, void* data, size_t length, napi_finalize release, void* owner,
                           void (*retain)(void*));

/// Tells V8 how the region's committed bytes changed since the last call.
void ReportCommitted(Napi::Env env, Handle* handle);
/// Takes back everything reported for `handle` (destroy, finalize).
void ForgetCommitted(Napi::Env env, Handle* handle);

/// Throws the OffheapError (or RangeError for kInvalidArgument) for `status`,
/// with a message naming `what`. Returns an undefined value for convenience.
Napi::Value ThrowStatus(Napi::Env env, Status status, const std::string& what);

/// "0xdf": a byte as debug messages show it (fill bytes come from core/guards.h).
std::string HexByte(uint8_t b);

/// Reads argument `index` as an unsigned 32-bit integer; the facade has
/// validated it, so anything else is a TypeError here, not a crash.
bool ArgU32(const Napi::CallbackInfo& info, size_t index, uint32_t* out);
/// Reads argument `index` as a non-negative integral double below 2^53.
bool ArgSize(const Napi::CallbackInfo& info, size_t index, size_t* out);

/// One exported native function.
struct Export {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};
/// Sets each function on `exports` under its name.
void ExportAll(Napi::Env env, Napi::Object exports, std::initializer_list<Export> fns);

/// Registers functions on the addon's exports at load. Each binding file
/// holds one static Registrar, so addon.cc never lists the allocators.
using RegisterFn = void (*)(Napi::Env env, Napi::Object exports);
struct Registrar {
  explicit Registrar(RegisterFn fn);
};
void RunRegistrars(Napi::Env env, Napi::Object exports);

}  // namespace offheap::binding
