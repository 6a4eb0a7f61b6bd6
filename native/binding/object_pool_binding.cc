// ObjectPool for JavaScript. Each JS ObjectPool object holds one attachment:
// its thread's tag (magazine state and counter block) on a shared PoolDepot.
// The attachment closes on destroy(), on GC of its handle, or when its
// thread's environment is torn down (a worker exiting or terminated), and
// closing gives the slots in that thread's magazine back to the depot.
//
// JS passes magazines as Int32Arrays of slot offsets; every entry and every
// offset is re-checked by the core (range, alignment, state), never trusted.
#include <string>

#include "../core/guards.h"
#include "../core/pool_depot.h"
#include "backing.h"
#include "common.h"
#include "thread_exit_hook.h"

namespace offheap::binding {
namespace {

struct PoolAttachment final : Handle {
  static constexpr Kind kKind = Kind::kObjectPool;

  PoolAttachment(napi_env env, PoolDepot* depot, uint32_t tag, std::string name)
      : Handle(kKind), depot_(depot), tag_(tag), name_(std::move(name)) {
    exit_hook_.hook(env, OnEnvExit, this);
  }
  ~PoolAttachment() override { Detach(); }

  Region* region() const override { return depot_ ? depot_->region() : nullptr; }

  /// Gives the magazine's slots back and drops this thread's reference.
  /// Idempotent: destroy(), GC and thread exit may all get here.
  void Detach() {
    if (depot_ == nullptr) return;
    exit_hook_.unhook();
    PoolDepot* depot = depot_;
    depot_ = nullptr;
    depot->close(tag_);
  }

  /// The thread is going away (worker exit or terminate): its JS magazine
  /// is gone with it; the state table still says which slots it held.
  static void OnEnvExit(void* arg) {
    static_cast<PoolAttachment*>(arg)->Detach();
  }

  PoolDepot* depot_;       ///< nullptr once closed
  const uint32_t tag_;     ///< this attachment's magazine / counter block
  std::string name_;       ///< the JS allocator name, for messages
  ThreadExitHook exit_hook_;  ///< closes the attachment when the thread goes away
};

std::string At(uint32_t offset) {
  return offset == ObjectPool::kNil ? std::string() : " at offset " + std::to_string(offset);
}

// Throws the OffheapError for `st` with an `offset` property when one is known.
Napi::Value Fail(Napi::Env env, const PoolAttachment* a, Status st, uint32_t offset, const std::string& what) {
  if (offset == ObjectPool::kNil) return ThrowStatus(env, st, a->name_ + ": " + what);
  return ThrowStatus(env, st, a->name_ + ": " + what + At(offset), {{"offset", static_cast<double>(offset)}});
}

// The open attachment of argument 0, or nullptr with an exception pending.
PoolAttachment* Open(const Napi::CallbackInfo& info) {
  auto* a = Recover<PoolAttachment>(info);
  if (a != nullptr && a->depot_ == nullptr) {
    Fail(info.Env(), a, Status::kDestroyed, ObjectPool::kNil, "the pool was destroyed");
    return nullptr;
  }
  return a;
}

bool ArgInt32Array(const Napi::CallbackInfo& info, size_t index, int32_t** data, size_t* length) {
  Napi::Value v = info[index];
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    Napi::Int32Array arr = v.As<Napi::Int32Array>();
    *data = arr.Data();
    *length = arr.ElementLength();
    return true;
  }
  ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "argument " + std::to_string(index) + " must be an Int32Array");
  return false;
}

std::string ArgName(const Napi::CallbackInfo& info, size_t index) {
  return info[index].IsString() ? info[index].As<Napi::String>().Utf8Value() : std::string("ObjectPool");
}

Napi::Value Attach(Napi::Env env, PoolDepot* depot, std::string name) {
  uint32_t tag = 0;
  const Status st = depot->open(&tag);
  if (st != Status::kOk) {
    depot->release();
    ThrowStatus(env, st, name + ": too many threads attached (at most " + std::to_string(slot_state::kMaxTags) + ")");
    return env.Undefined();
  }
  return WrapHandle(env, new PoolAttachment(env, depot, tag, std::move(name)));
}

// poolCreate(slotSize, align, capacity, growable, preheat, poison, name) -> handle
Napi::Value Create(const Napi::CallbackInfo& info) {
  ObjectPoolOptions o;
  if (!ArgU32(info, 0, &o.slot_size) || !ArgU32(info, 1, &o.align) || !ArgU32(info, 2, &o.capacity) ||
      !ArgBool(info, 3, &o.growable) || !ArgU32(info, 4, &o.preheat) || !ArgBool(info, 5, &o.poison))
    return info.Env().Undefined();
  const std::string name = ArgName(info, 6);
  PoolDepot* depot = nullptr;
  const Status st = PoolDepot::create(o, Pages(true), &depot);
  if (st != Status::kOk) return ThrowStatus(info.Env(), st, name + ": cannot create the pool");
  return Attach(info.Env(), depot, name);
}

// poolRename(handle, name): the name errors use (the facade picks defaults).
Napi::Value Rename(const Napi::CallbackInfo& info) {
  auto* a = Recover<PoolAttachment>(info);
  if (a != nullptr && info[1].IsString()) a->name_ = info[1].As<Napi::String>().Utf8Value();
  return info.Env().Undefined();
}

// poolShare(handle) -> id for poolAttach in another thread
Napi::Value Share(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), static_cast<double>(a->depot_->share()));
}

// poolAttach(id, slotSize, capacity, name) -> handle on the same native pool
Napi::Value AttachShared(const Napi::CallbackInfo& info) {
  size_t id;  // any integer: an id the registry never gave is simply gone
  uint32_t slot_size, capacity;
  if (!ArgSize(info, 0, &id) || !ArgU32(info, 1, &slot_size) || !ArgU32(info, 2, &capacity))
    return info.Env().Undefined();
  const std::string name = ArgName(info, 3);
  PoolDepot* depot = id <= UINT32_MAX ? PoolDepot::acquire(static_cast<uint32_t>(id)) : nullptr;
  if (depot == nullptr)
    return ThrowStatus(info.Env(), Status::kDestroyed, name + ": the shared pool no longer exists");
  if (depot->slot_size() != slot_size || depot->capacity() != capacity) {
    depot->release();
    return ThrowStatus(info.Env(), Status::kInvalidHandle, name + ": the descriptor does not match the shared pool");
  }
  return Attach(info.Env(), depot, name);
}

// poolBuffer(handle) / poolStateBuffer(handle): this thread's ArrayBuffers
// over the slots and over the state table (+ counter blocks).
Napi::Value Buffer(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  return a ? RegionBuffer(info.Env(), a->depot_->region()) : info.Env().Undefined();
}

Napi::Value StateBuffer(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  return a ? RegionBuffer(info.Env(), a->depot_->state_region()) : info.Env().Undefined();
}

// poolInfo(handle) -> [slotSize, capacity, tag, counterOffset, maxAttachments]
Napi::Value Info(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  Napi::Array out = Napi::Array::New(info.Env(), 5);
  out.Set(0u, a->depot_->slot_size());
  out.Set(1u, a->depot_->capacity());
  out.Set(2u, a->tag_);
  out.Set(3u, static_cast<double>(a->depot_->blocks_offset() + Attachments::block_offset(a->tag_)));
  out.Set(4u, slot_state::kMaxTags);
  return out;
}

// poolRefill(handle, magazine, max) -> how many slot offsets were written
Napi::Value Refill(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  int32_t* mag;
  size_t length;
  uint32_t max;
  if (!a || !ArgInt32Array(info, 1, &mag, &length) || !ArgU32(info, 2, &max)) return info.Env().Undefined();
  if (max > length) max = static_cast<uint32_t>(length);
  uint32_t n = 0, bad = ObjectPool::kNil;
  const Status st = a->depot_->refill(a->tag_, mag, max, &n, &bad);
  if (st == Status::kCorrupted) return Fail(info.Env(), a, st, bad, "a free-list link was overwritten (memory written after free)");
  if (st != Status::kOk) return Fail(info.Env(), a, st, bad, "cannot refill the magazine");
  return Napi::Number::New(info.Env(), n);
}

// poolDrain(handle, magazine, start, n): magazine[start, start+n) back to the depot
Napi::Value Drain(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  int32_t* mag;
  size_t length;
  uint32_t start, n;
  if (!a || !ArgInt32Array(info, 1, &mag, &length) || !ArgU32(info, 2, &start) || !ArgU32(info, 3, &n))
    return info.Env().Undefined();
  if (start > length || n > length - start)
    return ThrowStatus(info.Env(), Status::kInvalidArgument, a->name_ + ": drain range outside the magazine");
  int32_t bad = 0;
  const Status st = a->depot_->drain(a->tag_, mag + start, n, &bad);
  if (st != Status::kOk)
    return Fail(info.Env(), a, st, static_cast<uint32_t>(bad), "magazine entry " + std::to_string(bad) + " is not a free slot this thread cached (the magazine was overwritten)");
  return info.Env().Undefined();
}

// poolAlloc(handle) -> offset, or -1 when the pool is exhausted (debug path)
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  uint32_t offset = ObjectPool::kNil;
  const Status st = a->depot_->alloc(&offset);
  if (st == Status::kExhausted) return Napi::Number::New(info.Env(), -1);
  if (st == Status::kUseAfterFree)
    return Fail(info.Env(), a, st, offset, "a freed slot was written after free (poison " + HexByte(guards::kFillFreed) + " overwritten)");
  if (st == Status::kCorrupted)
    return Fail(info.Env(), a, st, offset, "a free-list link was overwritten (memory written after free)");
  if (st != Status::kOk) return Fail(info.Env(), a, st, ObjectPool::kNil, "cannot allocate");
  return Napi::Number::New(info.Env(), offset);
}

// poolFree(handle, offset) (debug path; the core checks range, alignment, state)
Napi::Value Free(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  uint32_t offset;
  if (!a || !ArgU32(info, 1, &offset)) return info.Env().Undefined();
  const Status st = a->depot_->free(offset);
  if (st == Status::kDoubleFree) return Fail(info.Env(), a, st, offset, "slot freed twice");
  if (st == Status::kInvalidHandle) return Fail(info.Env(), a, st, offset, "not a slot this pool handed out");
  if (st != Status::kOk) return Fail(info.Env(), a, st, offset, "cannot free");
  return info.Env().Undefined();
}

// poolLive(handle) -> slots held by users, every thread
Napi::Value Live(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  return a ? Napi::Number::New(info.Env(), a->depot_->live()) : info.Env().Undefined();
}

// poolStats(handle) -> plain numbers
Napi::Value Stats(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  const PoolDepotStats s = a->depot_->stats();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("reservedBytes", static_cast<double>(s.pool.reserved_bytes));
  o.Set("committedBytes", static_cast<double>(s.pool.committed_bytes));
  o.Set("liveCount", s.live);
  o.Set("peakLiveCount", s.peak_live);
  o.Set("allocCount", s.allocs);
  o.Set("freeCount", s.frees);
  o.Set("failedCount", s.failed);
  o.Set("slotSize", s.pool.slot_size);
  o.Set("capacity", s.pool.capacity);
  o.Set("carvedSlots", s.pool.carved);
  o.Set("depotSlots", s.pool.depot_slots);
  o.Set("attachments", s.attachments);
  return o;
}

// poolVerify(handle): throws ERR_OFFHEAP_CORRUPTED / ERR_OFFHEAP_USE_AFTER_FREE
Napi::Value Verify(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  uint32_t bad = ObjectPool::kNil;
  const Status st = a->depot_->verify(&bad);
  if (st == Status::kUseAfterFree)
    return Fail(info.Env(), a, st, bad, "a freed slot was written after free (poison " + HexByte(guards::kFillFreed) + " overwritten)");
  if (st == Status::kCorrupted)
    return Fail(info.Env(), a, st, bad, "the free list and the slot-state table disagree (repaired)");
  if (st != Status::kOk) return Fail(info.Env(), a, st, bad, "cannot verify");
  return info.Env().Undefined();
}

// poolDestroy(handle): this thread's attachment goes; the last one frees the pool.
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  auto* a = Recover<PoolAttachment>(info);
  if (!a) return info.Env().Undefined();
  a->Detach();
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  ExportAll(env, exports, {
      {"poolCreate", Create}, {"poolShare", Share}, {"poolAttach", AttachShared},
      {"poolBuffer", Buffer}, {"poolStateBuffer", StateBuffer}, {"poolInfo", Info},
      {"poolRefill", Refill}, {"poolDrain", Drain}, {"poolAlloc", Alloc}, {"poolFree", Free},
      {"poolLive", Live}, {"poolStats", Stats}, {"poolVerify", Verify}, {"poolDestroy", Destroy},
      {"poolRename", Rename},
  });
}

Registrar registrar(Register);

}  // namespace
}  // namespace offheap::binding
