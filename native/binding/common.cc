#include "common.h"

#include "backing.h"

#include <cmath>
#include <cstdio>
#include <vector>

namespace offheap::binding {
namespace {

// Random 128-bit tag: no other addon's External can pass as ours.
constexpr napi_type_tag kHandleTag = {0x6f6666686561702dULL, 0x48616e646c652031ULL};

struct AddonData {
  Napi::FunctionReference error_class;
};

AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

std::vector<RegisterFn>& Registrars() {
  static std::vector<RegisterFn> fns;
  return fns;
}

// Throws `error` unless an exception is already pending. While the
// environment stops (worker.terminate(), process.exit()) napi_throw fails
// with napi_pending_exception: that failure is expected and ignored, never
// turned into node-addon-api's fatal error.
void Throw(napi_env env, napi_value error) {
  bool pending = false;
  if (error == nullptr || napi_is_exception_pending(env, &pending) != napi_ok || pending) return;
  napi_throw(env, error);
}

napi_value Utf8(napi_env env, const std::string& s) {
  napi_value v = nullptr;
  return napi_create_string_utf8(env, s.data(), s.size(), &v) == napi_ok ? v : nullptr;
}

using CreateError = napi_status (*)(napi_env, napi_value, napi_value, napi_value*);

// A plain error (TypeError, RangeError, Error) with `code` set, or nullptr.
napi_value PlainError(napi_env env, CreateError create, const char* code, const std::string& message) {
  napi_value c = Utf8(env, code), m = Utf8(env, message), err = nullptr;
  if (c == nullptr || m == nullptr || create(env, c, m, &err) != napi_ok) return nullptr;
  return err;
}

void ThrowTyped(Napi::Env env, const char* code, const std::string& message, bool range) {
  Throw(env, PlainError(env, range ? napi_create_range_error : napi_create_type_error, code, message));
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) {
    ThrowTyped(info.Env(), "ERR_INVALID_ARG_TYPE", "setErrorClass expects a constructor", false);
    return info.Env().Undefined();
  }
  Data(info.Env())->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value PageSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PageSource::page_size()));
}

Napi::Value LiveReservations(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PageSource::live_reservations()));
}

Napi::Value ReservedBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PageSource::reserved_bytes()));
}

// detachBuffer(ab): detaches an ArrayBuffer the addon created, so every view
// over it reads as empty (byteLength 0). Anything else is left alone.
Napi::Value DetachBuffer(const Napi::CallbackInfo& info) {
  if (info[0].IsArrayBuffer() && !IsHostBuffer(info.Env(), info[0])) {
    bool detached = false;
    napi_is_detached_arraybuffer(info.Env(), info[0], &detached);
    if (!detached) napi_detach_arraybuffer(info.Env(), info[0]);
  }
  return info.Env().Undefined();
}

// sliceBuffer(handle, offset, length): an ArrayBuffer of its own over part of
// any allocator's region, for debug-mode views that die alone when detached.
Napi::Value SliceBuffer(const Napi::CallbackInfo& info) {
  Handle* h = RecoverAnyHandle(info.Env(), info[0]);
  size_t offset, length;
  if (!h || !ArgSize(info, 1, &offset) || !ArgSize(info, 2, &length)) return info.Env().Undefined();
  Region* region = h->region();
  if (region == nullptr || region->destroyed())
    return ThrowStatus(info.Env(), Status::kDestroyed, "the allocator was destroyed");
  if (!region->contains(offset, length))
    return ThrowStatus(info.Env(), Status::kInvalidHandle, "slice outside the region");
  return RegionSliceBuffer(info.Env(), region, offset, length);
}

// injectFaults(reserves, decommits): the system page source refuses its next
// calls of each kind (tests of the fault paths; zeros clear the plan).
Napi::Value InjectFaults(const Napi::CallbackInfo& info) {
  uint32_t reserves, decommits;
  if (!ArgU32(info, 0, &reserves) || !ArgU32(info, 1, &decommits)) return info.Env().Undefined();
  PageSource::inject_faults(static_cast<int>(reserves & 0x7fffffff), static_cast<int>(decommits & 0x7fffffff));
  return info.Env().Undefined();
}

void RegisterCommon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  ExportAll(env, exports, {
      {"setErrorClass", SetErrorClass}, {"pageSize", PageSize}, {"liveReservations", LiveReservations},
      {"detachBuffer", DetachBuffer}, {"sliceBuffer", SliceBuffer}, {"injectFaults", InjectFaults},
      {"reservedBytes", ReservedBytes},
  });
}

}  // namespace

void ExportAll(Napi::Env env, Napi::Object exports, std::initializer_list<Export> fns) {
  for (const Export& f : fns) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
}

Registrar::Registrar(RegisterFn fn) { Registrars().push_back(fn); }

void RunRegistrars(Napi::Env env, Napi::Object exports) {
  RegisterCommon(env, exports);
  InitBacking(env);
  for (RegisterFn fn : Registrars()) fn(env, exports);
}

Napi::Value WrapHandle(Napi::Env env, Handle* handle) {
  napi_value ext = nullptr;
  if (napi_create_external(env, handle, [](napi_env, void* data, void*) { delete static_cast<Handle*>(data); },
                           nullptr, &ext) != napi_ok) {
    delete handle;  // never reached JavaScript
    ThrowTyped(env, "ERR_OFFHEAP_INTERNAL", "could not wrap a native handle", false);
    return env.Undefined();
  }
  if (napi_type_tag_object(env, ext, &kHandleTag) != napi_ok) {
    ThrowTyped(env, "ERR_OFFHEAP_INTERNAL", "could not tag a native handle", false);
    return env.Undefined();  // the External's finalizer deletes the handle
  }
  return Napi::Value(env, ext);
}

Handle* RecoverAnyHandle(Napi::Env env, const Napi::Value& value) {
  bool tagged = false;
  if (value.IsExternal()) napi_check_object_type_tag(env, value, &kHandleTag, &tagged);
  Handle* h = tagged ? value.As<Napi::External<Handle>>().Data() : nullptr;
  if (h == nullptr) {
    ThrowTyped(env, "ERR_INVALID_ARG_TYPE", "expected a native offheap handle", false);
    return nullptr;
  }
  return h;
}

Handle* RecoverHandle(Napi::Env env, const Napi::Value& value, Kind kind) {
  bool tagged = false;
  if (value.IsExternal()) napi_check_object_type_tag(env, value, &kHandleTag, &tagged);
  Handle* h = tagged ? value.As<Napi::External<Handle>>().Data() : nullptr;
  if (h == nullptr || h->kind != kind) {
    ThrowTyped(env, "ERR_INVALID_ARG_TYPE", "expected a native offheap handle of the right kind", false);
    return nullptr;
  }
  return h;
}

Napi::Value RegionSliceBuffer(Napi::Env env, Region* region, size_t offset, size_t length) {
  if (region->source().host_owned())
    return ThrowStatus(env, Status::kInvalidHandle, "V8-backed memory has no ArrayBuffer of its own for a part of a region");
  return ExternalBuffer(env, region->base() + offset, length, [](napi_env, void*, void* r) { static_cast<Region*>(r)->release(); },
                        region, [](void* r) { static_cast<Region*>(r)->retain(); });
}

Napi::Value RegionBuffer(Napi::Env env, Region* region) {
  if (region->source().host_owned()) return HostBuffer(env, region);
  return RegionSliceBuffer(env, region, 0, region->size());
}

Napi::Value ExternalBuffer(Napi::Env env, void* data, size_t length, napi_finalize release, void* owner,
                           void (*retain)(void*)) {
  napi_value ab = nullptr;
  retain(owner);  // the backing store's
  const napi_status st = CreateExternalArrayBuffer(env, data, length, release, owner, &ab);
  if (st != napi_ok) {
    release(env, data, owner);
    return ThrowStatus(env, Status::kOsFailure, st == napi_no_external_buffers_allowed
                                                   ? "this runtime refuses external ArrayBuffers (set OFFHEAP_BACKING=v8)"
                                                   : "could not create an ArrayBuffer over the region");
  }
  retain(owner);  // the ArrayBuffer object's
  if (napi_add_finalizer(env, ab, nullptr, release, owner, nullptr) != napi_ok) release(env, data, owner);
  return Napi::Value(env, ab);
}

Napi::Value ThrowStatus(Napi::Env env, Status status, const std::string& what, std::initializer_list<ErrorProp> props) {
  const char* code = status_code(status);
  napi_value err = nullptr;
  AddonData* data = Data(env);
  napi_value cls = nullptr;
  if (status == Status::kInvalidArgument) {
    err = PlainError(env, napi_create_range_error, code, what);
  } else if (data != nullptr && !data->error_class.IsEmpty() &&
             napi_get_reference_value(env, data->error_class, &cls) == napi_ok && cls != nullptr) {
    napi_value args[2] = {Utf8(env, code), Utf8(env, what)};
    if (args[0] == nullptr || args[1] == nullptr || napi_new_instance(env, cls, 2, args, &err) != napi_ok) err = nullptr;
  } else {
    err = PlainError(env, napi_create_error, code, what);
  }
  if (err == nullptr) return env.Undefined();
  for (const ErrorProp& p : props) {
    napi_value v = nullptr;
    if (napi_create_double(env, p.value, &v) != napi_ok || napi_set_named_property(env, err, p.name, v) != napi_ok) break;
  }
  Throw(env, err);
  return env.Undefined();
}

Napi::Value ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  ThrowTyped(env, code, message, false);
  return env.Undefined();
}

namespace {

// Reads argument `index` as an integer in [0, max]; else a TypeError naming `what`.
bool ArgInteger(const Napi::CallbackInfo& info, size_t index, double max, const char* what, double* out) {
  Napi::Value v = info[index];
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= max && std::floor(d) == d) {
      *out = d;
      return true;
    }
  }
  ThrowTyped(info.Env(), "ERR_INVALID_ARG_TYPE", "argument " + std::to_string(index) + " must be " + what, false);
  return false;
}

}  // namespace

bool ArgU32(const Napi::CallbackInfo& info, size_t index, uint32_t* out) {
  double d;
  if (!ArgInteger(info, index, 4294967295.0, "an unsigned 32-bit integer", &d)) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}

bool ArgSize(const Napi::CallbackInfo& info, size_t index, size_t* out) {
  double d;
  if (!ArgInteger(info, index, 9007199254740991.0, "a non-negative integer", &d)) return false;
  *out = static_cast<size_t>(d);
  return true;
}

bool ArgBool(const Napi::CallbackInfo& info, size_t index, bool* out) {
  if (napi_get_value_bool(info.Env(), info[index], out) == napi_ok) return true;
  ThrowTyped(info.Env(), "ERR_INVALID_ARG_TYPE", "argument " + std::to_string(index) + " must be a boolean", false);
  return false;
}

std::string HexByte(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

}  // namespace offheap::binding
