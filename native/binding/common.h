// What every wrapped allocator needs from the binding: a type-tagged native
// handle recovered safely from any JS value, external ArrayBuffers over a
// region that keep it mapped as long as either the ArrayBuffer object or its
// backing store lives, and Status -> OffheapError thrown in a way that is
// harmless while the environment shuts down (worker.terminate(),
// process.exit()). No allocator logic lives here.
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

/// The one place a region becomes JavaScript memory: a new external
/// ArrayBuffer over region[offset, offset+length). It holds two references
/// on the region, one released by its backing store's deleter and one by the
/// ArrayBuffer object's finalizer, so neither detaching it (the backing store
/// goes) nor collecting it while a transferred backing store lives elsewhere
/// unmaps the range: Node's threadpool writes through the raw pointer of a
/// view it holds, and the range stays mapped until it lets go of that view.
/// Returns undefined (exception pending or environment stopping) on failure.
Napi::Value RegionSliceBuffer(Napi::Env env, Region* region, size_t offset, size_t length);
/// RegionSliceBuffer over the whole region (allocator.buffer, for handles);
/// under the v8 backing the region's own V8 buffer (backing.h HostBuffer).
Napi::Value RegionBuffer(Napi::Env env, Region* region);

/// An external ArrayBuffer over [data, data+length) holding two references
/// on `owner` (retain() each), one released by its backing store's deleter
/// and one by the ArrayBuffer object's finalizer, as RegionSliceBuffer's.
/// Throws an OffheapError and returns undefined where the runtime refuses
/// external ArrayBuffers (napi_no_external_buffers_allowed).
Napi::Value ExternalBuffer(Napi::Env env, void* data, size_t length, napi_finalize release, void* owner,
                           void (*retain)(void*));

/// A numeric property set on a thrown error (`offset`, `at`).
struct ErrorProp {
  const char* name;
  double value;
};

/// Throws the OffheapError (or RangeError for kInvalidArgument) for `status`,
/// with a message naming `what` and the given extra properties. Returns an
/// undefined value for convenience. Like every throw of the binding it does
/// nothing when an exception is already pending or the environment can no
/// longer run JavaScript (a terminating worker): never a fatal error.
Napi::Value ThrowStatus(Napi::Env env, Status status, const std::string& what,
                        std::initializer_list<ErrorProp> props = {});

/// Throws a TypeError with `code` (ERR_INVALID_ARG_TYPE ...); same rules.
Napi::Value ThrowTypeError(Napi::Env env, const char* code, const std::string& message);

/// "0xdf": a byte as debug messages show it (fill bytes come from core/guards.h).
std::string HexByte(uint8_t b);

/// Reads argument `index` as an unsigned 32-bit integer; the facade has
/// validated it, so anything else is a TypeError here, not a crash.
bool ArgU32(const Napi::CallbackInfo& info, size_t index, uint32_t* out);
/// Reads argument `index` as a non-negative integral double below 2^53.
bool ArgSize(const Napi::CallbackInfo& info, size_t index, size_t* out);
/// Reads argument `index` as a boolean (never a coercion: coercing runs
/// through a call that fails while a worker's environment stops, and
/// node-addon-api would then read the empty result with no environment,
/// which is a fatal error).
bool ArgBool(const Napi::CallbackInfo& info, size_t index, bool* out);

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
