#include "backing.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common.h"

namespace offheap::binding {
namespace {

bool RefuseExternalForTests() {
  static const bool refuse = [] {
    const char* v = std::getenv("OFFHEAP_TEST_REFUSE_EXTERNAL");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return refuse;
}

Backing g_backing = Backing::kExternal;
std::once_flag g_decided;

// One JavaScript environment (the main thread or a worker). Never freed: a
// region made in a worker that exited may still name it; `alive` says so.
struct EnvState {
  napi_env env = nullptr;
  bool alive = true;               // guarded by g_mu
  std::vector<napi_ref> doomed;    // references other threads let go of; guarded by g_mu
  napi_ref untransferable = nullptr;  // worker_threads.markAsUntransferable, from the facade
};
thread_local EnvState* tl_env = nullptr;

// A host-owned range: the JavaScript object(s) keeping V8's memory alive,
// one strong reference per environment that uses it.
struct Entry {
  size_t bytes;
  bool shared;
  std::vector<std::pair<EnvState*, napi_ref>> refs;
};
std::mutex g_mu;
std::unordered_map<const void*, Entry> g_entries;  // by first byte

// Deletes the references other threads released on this environment's behalf.
void DeleteDoomed(EnvState* e) {
  std::vector<napi_ref> doomed;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    doomed.swap(e->doomed);
  }
  for (napi_ref r : doomed) napi_delete_reference(e->env, r);
}

// The data pointer and buffer of a Uint8Array over the whole of its
// (Shared)ArrayBuffer: N-API has no SharedArrayBuffer accessor of its own.
bool ViewInfo(napi_env env, napi_value view, void** data, size_t* length, napi_value* arraybuffer) {
  bool is_typed = false;
  napi_typedarray_type type;
  size_t offset;
  return napi_is_typedarray(env, view, &is_typed) == napi_ok && is_typed &&
         napi_get_typedarray_info(env, view, &type, length, data, arraybuffer, &offset) == napi_ok &&
         type == napi_uint8_array && offset == 0;
}

// The data pointer of any ArrayBuffer or SharedArrayBuffer `buf`, through a
// new Uint8Array over it.
bool DataOf(napi_env env, napi_value buf, void** data, size_t* length, napi_value* arraybuffer) {
  napi_value global, ctor, view;
  if (napi_get_global(env, &global) != napi_ok || napi_get_named_property(env, global, "Uint8Array", &ctor) != napi_ok ||
      napi_new_instance(env, ctor, 1, &buf, &view) != napi_ok)
    return false;
  return ViewInfo(env, view, data, length, arraybuffer);
}

// new SharedArrayBuffer(bytes) and its data pointer; false when the runtime
// has no SharedArrayBuffer (or refuses this size).
bool NewShared(napi_env env, size_t bytes, napi_value* out, void** data) {
  napi_value global, ctor, len, ab;
  napi_valuetype t;
  size_t length;
  if (napi_get_global(env, &global) != napi_ok || napi_get_named_property(env, global, "SharedArrayBuffer", &ctor) != napi_ok ||
      napi_typeof(env, ctor, &t) != napi_ok || t != napi_function)
    return false;
  if (napi_create_double(env, static_cast<double>(bytes), &len) != napi_ok ||
      napi_new_instance(env, ctor, 1, &len, out) != napi_ok)
    return false;
  return DataOf(env, *out, data, &length, &ab) && length == bytes;
}

void ClearException(napi_env env) {
  bool pending = false;
  napi_value ignored;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
}

// Pages V8 allocated. reserve() runs on a JavaScript thread (an allocator's
// constructor) and makes an ArrayBuffer, or a SharedArrayBuffer for a
// shareable region, held by a strong reference until release().
class V8PageSource final : public PageSource {
 public:
  explicit V8PageSource(bool shareable) : shareable_(shareable) {}

  void* reserve(size_t bytes) noexcept override {
    EnvState* e = tl_env;
    if (e == nullptr || PageSource::take_reserve_fault()) return nullptr;
    DeleteDoomed(e);
    napi_env env = e->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return nullptr;
    void* data = nullptr;
    napi_value buf = nullptr;
    bool shared = shareable_ && NewShared(env, bytes, &buf, &data);
    if (!shared) {
      ClearException(env);
      if (napi_create_arraybuffer(env, bytes, &data, &buf) != napi_ok) data = nullptr;
      // A transfer would move V8's memory away from the allocator: make it a copy.
      napi_value mark = nullptr, global, ignored;
      if (data != nullptr && e->untransferable != nullptr &&
          napi_get_reference_value(env, e->untransferable, &mark) == napi_ok && mark != nullptr &&
          napi_get_global(env, &global) == napi_ok)
        napi_call_function(env, global, mark, 1, &buf, &ignored);
    }
    napi_ref ref = nullptr;
    if (data != nullptr && napi_create_reference(env, buf, 1, &ref) != napi_ok) data = nullptr;
    ClearException(env);  // "Array buffer allocation failed": the caller's kOsFailure says it
    napi_close_handle_scope(env, scope);
    if (data == nullptr) return nullptr;
    {
      std::lock_guard<std::mutex> lock(g_mu);
      g_entries[data] = Entry{bytes, shared, {{e, ref}}};
    }
    PageSource::count_reservation(static_cast<ptrdiff_t>(bytes));
    return data;
  }

  // madvise on V8's memory: Region::decommit passes whole pages only.
  bool decommit(void* addr, size_t bytes) noexcept override {
    if (PageSource::take_decommit_fault()) return false;
    return bytes == 0 || madvise(addr, bytes, MADV_DONTNEED) == 0;
  }

  // Lets go of every environment's reference; V8 frees the memory once no
  // JavaScript object (a view, a SharedArrayBuffer in another thread) holds it.
  bool release(void* addr, size_t bytes) noexcept override {
    std::vector<napi_ref> mine;
    EnvState* self = tl_env;
    {
      std::lock_guard<std::mutex> lock(g_mu);
      auto it = g_entries.find(addr);
      if (it == g_entries.end()) return false;
      for (auto& [e, ref] : it->second.refs) {
        if (!e->alive) continue;  // its references went with it
        (e == self ? mine : e->doomed).push_back(ref);
      }
      g_entries.erase(it);
    }
    for (napi_ref r : mine) napi_delete_reference(self->env, r);
    PageSource::count_reservation(-static_cast<ptrdiff_t>(bytes));
    return true;
  }

  bool host_owned() const noexcept override { return true; }

 private:
  const bool shareable_;
};

V8PageSource g_private(false);
V8PageSource g_shareable(true);

// Whether this runtime wraps foreign memory in an ArrayBuffer at all.
bool ExternalBuffersAllowed(napi_env env) {
  static char probe[16];
  napi_value ab;
  const napi_status st = CreateExternalArrayBuffer(env, probe, sizeof probe, nullptr, nullptr, &ab);
  ClearException(env);
  return st != napi_no_external_buffers_allowed;
}

// adoptMemory(view): this thread takes a reference on the SharedArrayBuffer
// of a shared v8-backed region (from a share() descriptor) before attach().
Napi::Value AdoptMemory(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  void* data = nullptr;
  size_t length = 0;
  napi_value ab = nullptr;
  bool ok = false;
  if (tl_env != nullptr && ViewInfo(env, info[0], &data, &length, &ab)) {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_entries.find(data);
    if (it != g_entries.end() && it->second.shared && it->second.bytes == length) {
      ok = true;
      bool held = false;
      for (auto& [e, ref] : it->second.refs) held = held || e == tl_env;
      napi_ref ref = nullptr;
      if (!held && napi_create_reference(env, ab, 1, &ref) == napi_ok) it->second.refs.emplace_back(tl_env, ref);
    }
  }
  ClearException(env);
  if (!ok) {
    return ThrowStatus(info.Env(), Status::kDestroyed,
                       "no live shared allocator has this memory (every attachment was destroyed)");
  }
  return info.Env().Undefined();
}

// setUntransferable(markAsUntransferable): the facade hands over the
// worker_threads function once per thread; private V8-backed regions are
// marked with it.
Napi::Value SetUntransferable(const Napi::CallbackInfo& info) {
  if (tl_env != nullptr && info[0].IsFunction() && tl_env->untransferable == nullptr)
    napi_create_reference(info.Env(), info[0], 1, &tl_env->untransferable);
  return info.Env().Undefined();
}

Napi::Value BackingName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), CurrentBacking() == Backing::kV8 ? "v8" : "external");
}

void Register(Napi::Env env, Napi::Object exports) {
  ExportAll(env, exports, {{"backing", BackingName}, {"adoptMemory", AdoptMemory},
                             {"setUntransferable", SetUntransferable}});
}

Registrar registrar(Register);

}  // namespace

Backing CurrentBacking() { return g_backing; }

void InitBacking(Napi::Env env) {
  std::call_once(g_decided, [&] {
    const char* forced = std::getenv("OFFHEAP_BACKING");
    if (forced != nullptr && std::strcmp(forced, "v8") == 0) g_backing = Backing::kV8;
    else if (forced != nullptr && std::strcmp(forced, "external") == 0) g_backing = Backing::kExternal;
    else g_backing = ExternalBuffersAllowed(env) ? Backing::kExternal : Backing::kV8;
  });
  auto* e = new EnvState();
  e->env = env;
  tl_env = e;
  napi_add_env_cleanup_hook(
      env,
      [](void* arg) {
        auto* s = static_cast<EnvState*>(arg);
        std::lock_guard<std::mutex> lock(g_mu);
        s->alive = false;  // its references die with it; nobody deletes them now
        s->doomed.clear();
        if (tl_env == s) tl_env = nullptr;
      },
      e);
}

PageSource& Pages(bool shareable) {
  if (g_backing == Backing::kExternal) return PageSource::system();
  return shareable ? static_cast<PageSource&>(g_shareable) : g_private;
}

napi_status CreateExternalArrayBuffer(napi_env env, void* data, size_t length, napi_finalize finalize, void* hint,
                                      napi_value* out) {
  if (RefuseExternalForTests()) return napi_no_external_buffers_allowed;
  return napi_create_external_arraybuffer(env, data, length, finalize, hint, out);
}

Napi::Value HostBuffer(Napi::Env env, Region* region) {
  napi_ref ref = nullptr;
  if (tl_env != nullptr) DeleteDoomed(tl_env);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_entries.find(region->base());
    if (it != g_entries.end())
      for (auto& [e, r] : it->second.refs)
        if (e == tl_env) ref = r;
  }
  napi_value v = nullptr;
  if (ref == nullptr || napi_get_reference_value(env, ref, &v) != napi_ok || v == nullptr)
    return ThrowStatus(env, Status::kInvalidHandle,
                       "this thread has no SharedArrayBuffer of the region: attach() with the descriptor share() returned");
  return Napi::Value(env, v);
}

bool IsHostBuffer(napi_env env, napi_value ab) {
  if (g_backing != Backing::kV8) return false;
  void* data = nullptr;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, ab, &data, &length) != napi_ok) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  return g_entries.count(data) != 0;
}

}  // namespace offheap::binding
