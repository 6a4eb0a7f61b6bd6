// The Arena's entry points. The JS fast path bumps the cursor in the shared
// state words (and rolls back to its marks there) and only comes here to grow
// the limit, reset, verify and destroy (and, in debug mode, for every
// allocation and rollback). The core
// re-validates the shared words on every entry; this file only recovers the
// handle, reads arguments and turns statuses into errors naming the arena.
#include <atomic>
#include <cstdio>
#include <new>
#include <string>

#include "../core/arena.h"
#include "backing.h"
#include "common.h"

namespace offheap::binding {
namespace {

// The shared words, owned jointly by the handle and by every ArrayBuffer over
// them, so neither side can free them under the other. Where the page source
// is the host's (the v8 backing) they live in a small region of its own, the
// only memory JavaScript can see there.
struct SharedState {
  std::atomic<int32_t> refs{1};
  ArenaState own;
  Region* host = nullptr;
  ArenaState* words = &own;

  static SharedState* Create(PageSource& source) {
    auto* s = new SharedState();
    if (source.host_owned()) {
      if (Region::create(sizeof(ArenaState), source, &s->host) != Status::kOk) {
        delete s;
        return nullptr;
      }
      s->words = new (s->host->base()) ArenaState();
    }
    return s;
  }
  void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (host != nullptr) host->release();
    delete this;
  }
};

struct ArenaHandle final : Handle {
  static constexpr Kind kKind = Kind::kArena;
  ArenaHandle(Arena* a, SharedState* s, std::string n) : Handle(kKind), arena(a), state(s), name(std::move(n)) {}
  ~ArenaHandle() override {
    // Collected without destroy(): views may still use the pages, so only
    // let go of the region; the last ArrayBuffer over it unmaps it.
    arena->abandon();
    delete arena;
    state->release();
  }
  Region* region() const override { return arena->region(); }

  Arena* const arena;
  SharedState* const state;
  const std::string name;  ///< the facade's name, for error messages
};

// Throws the error for `st`, worded for the operation and naming the arena.
Napi::Value Fail(Napi::Env env, ArenaHandle* h, Status st, const std::string& op) {
  const ArenaFault& f = h->arena->fault();
  std::string detail;
  switch (st) {
    case Status::kOverflow:
      detail = "write past the end of the allocation at offset " + std::to_string(f.offset) + " (" +
               std::to_string(f.size) + " bytes): red-zone byte at offset " + std::to_string(f.at) + " is " +
               HexByte(f.found) + ", expected " + HexByte(f.expected) + " (found by " + op + ")";
      break;
    case Status::kUseAfterFree:
      detail = "released memory was written after a rollback or reset: byte at offset " + std::to_string(f.at) +
               " is " + HexByte(f.found) + ", expected " + HexByte(f.expected) + " (found by " + op + ")";
      break;
    case Status::kDestroyed: detail = "the allocator was destroyed"; break;
    case Status::kCorrupted:
      detail = op == "verify" ? "arena invariants broken (shared state words overwritten?)"
                              : "the arena's shared state words were overwritten (repaired; " + op + " refused)";
      break;
    case Status::kOsFailure: detail = "the OS refused to return pages (" + op + ")"; break;
    default: detail = op; break;
  }
  if (st != Status::kOverflow && st != Status::kUseAfterFree) return ThrowStatus(env, st, h->name + ": " + detail);
  // As every allocator's debug findings: `offset` the allocation (or released range), `at` the byte.
  return ThrowStatus(env, st, h->name + ": " + detail,
                     {{"offset", static_cast<double>(f.offset)}, {"at", static_cast<double>(f.at)}});
}

// arenaCreate(maxBytes, name, debug, poison, redZone) -> handle
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArenaOptions o;
  uint32_t red_zone = 0;
  if (!ArgSize(info, 0, &o.max_bytes) || !ArgU32(info, 4, &red_zone)) return env.Undefined();
  if (!info[1].IsString() || !info[2].IsBoolean() || !info[3].IsBoolean()) {
    return ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "arenaCreate(maxBytes, name, debug, poison, redZone)");
  }
  const std::string name = info[1].As<Napi::String>().Utf8Value();
  o.debug = info[2].As<Napi::Boolean>().Value();
  o.poison = o.debug && info[3].As<Napi::Boolean>().Value();
  o.red_zone = o.debug ? red_zone : 0;
  PageSource& source = Pages(false);
  auto* shared = SharedState::Create(source);
  Arena* arena = nullptr;
  const Status st = shared ? Arena::create(o, source, shared->words, &arena) : Status::kOsFailure;
  if (st != Status::kOk) {
    if (shared) shared->release();
    return ThrowStatus(env, st, name + ": cannot reserve " + std::to_string(o.max_bytes) + " bytes");
  }
  return WrapHandle(env, new ArenaHandle(arena, shared, name));
}

// arenaState(h) -> ArrayBuffer over the shared words (Int32Array-ready)
Napi::Value State(const Napi::CallbackInfo& info) {
  auto* h = Recover<ArenaHandle>(info);
  if (!h) return info.Env().Undefined();
  if (h->state->host != nullptr) return RegionBuffer(info.Env(), h->state->host);
  return ExternalBuffer(info.Env(), h->state->words, sizeof(ArenaState),
                        [](napi_env, void*, void* s) { static_cast<SharedState*>(s)->release(); }, h->state,
                        [](void* s) { static_cast<SharedState*>(s)->retain(); });
}

// arenaBuffer(h) -> this thread's ArrayBuffer over the whole region
Napi::Value Buffer(const Napi::CallbackInfo& info) {
  auto* h = Recover<ArenaHandle>(info);
  if (!h) return info.Env().Undefined();
  if (h->arena->destroyed()) return Fail(info.Env(), h, Status::kDestroyed, "buffer");
  return RegionBuffer(info.Env(), h->arena->region());
}

// arenaAlloc(h, size, align, zeroed) -> offset: the slow path (limit
// reached) and every debug-mode allocation.
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* h = Recover<ArenaHandle>(info);
  size_t size, align;
  bool zeroed;
  if (!h || !ArgSize(info, 1, &size) || !ArgSize(info, 2, &align) || !ArgBool(info, 3, &zeroed)) return env.Undefined();
  size_t offset = 0;
  const Status st = h->arena->allocate(size, align, zeroed, &offset);
  if (st == Status::kOk) return Napi::Number::New(env, static_cast<double>(offset));
  if (st == Status::kInvalidArgument)
    return ThrowStatus(env, st, "The value of \"align\" is out of range. It must be a power of two >= 1 && <= 4096. Received " +
                                    std::to_string(align));
  if (st == Status::kExhausted) {
    const ArenaStats s = h->arena->stats();
    return Fail(env, h, st, "cannot allocate " + std::to_string(size) + " bytes aligned to " + std::to_string(align) +
                                ": " + std::to_string(s.used) + " of " + std::to_string(h->arena->capacity()) +
                                " bytes (maxBytes) in use");
  }
  return Fail(env, h, st, "alloc");
}

// arenaRewind(h, cursor, count): frees everything above `cursor`, leaving
// `count` allocations (a rollback to a mark the facade keeps; taken native
// in debug mode so red zones are checked and released memory poisoned).
Napi::Value Rewind(const Napi::CallbackInfo& info) {
  auto* h = Recover<ArenaHandle>(info);
  size_t cursor;
  uint32_t count;
  if (!h || !ArgSize(info, 1, &cursor) || !ArgU32(info, 2, &count)) return info.Env().Undefined();
  const Status st = h->arena->rewind(cursor, count);
  if (st == Status::kOk) return info.Env().Undefined();
  if (st == Status::kInvalidHandle)
    return Fail(info.Env(), h, st, "cannot roll back to offset " + std::to_string(cursor) + ": it lies above the cursor");
  return Fail(info.Env(), h, st, "rollback");
}

// arenaReset(h, retainBytes?) : undefined retains every committed page
Napi::Value Reset(const Napi::CallbackInfo& info) {
  auto* h = Recover<ArenaHandle>(info);
  size_t retain = SIZE_MAX;
  if (!h || (!info[1].IsUndefined() && !ArgSize(info, 1, &retain))) return info.Env().Undefined();
  const Status st = h->arena->reset(retain);
  return st == Status::kOk ? info.Env().Undefined() : Fail(info.Env(), h, st, "reset");
}

// arenaVerify(h)
Napi::Value Verify(const Napi::CallbackInfo& info) {
  auto* h = Recover<ArenaHandle>(info);
  if (!h) return info.Env().Undefined();
  const Status st = h->arena->verify();
  return st == Status::kOk ? info.Env().Undefined() : Fail(info.Env(), h, st, "verify");
}

// arenaStats(h) -> AllocatorStats fields
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* h = Recover<ArenaHandle>(info);
  if (!h) return env.Undefined();
  const ArenaStats s = h->arena->stats();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* key, double v) { o.Set(key, Napi::Number::New(env, v)); };
  set("reservedBytes", static_cast<double>(s.reserved));
  set("committedBytes", static_cast<double>(s.committed));
  set("liveBytes", static_cast<double>(s.used));
  set("liveCount", static_cast<double>(s.live_count));
  set("peakLiveBytes", static_cast<double>(s.peak));
  set("allocCount", static_cast<double>(s.alloc_count));
  set("freeCount", static_cast<double>(s.free_count));
  set("failedCount", static_cast<double>(s.failed_count));
  return o;
}

// arenaDestroy(h): pages back now; idempotent
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  auto* h = Recover<ArenaHandle>(info);
  if (!h) return info.Env().Undefined();
  h->arena->destroy();
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  ExportAll(env, exports, {
      {"arenaCreate", Create}, {"arenaState", State}, {"arenaBuffer", Buffer},
      {"arenaAlloc", Alloc}, {"arenaRewind", Rewind}, {"arenaReset", Reset},
      {"arenaVerify", Verify}, {"arenaStats", Stats}, {"arenaDestroy", Destroy},
  });
}

Registrar registrar(Register);

}  // namespace
}  // namespace offheap::binding
