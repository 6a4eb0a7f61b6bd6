// ObjectPool for JavaScript. Each JS ObjectPool object holds one
// attachment (magazine_attachment.h, the same as a SlabAllocator's): a
// reference to the shared PoolDepot, this thread's magazine block, and the
// hook that gives the block back when the thread goes away.
//
// JS pops and pushes the block's handles itself; only an empty or full
// magazine comes here. Every magazine entry and every offset is re-checked
// by the core (range, alignment, state), never trusted.
#include <string>

#include "../core/guards.h"
#include "../core/pool_depot.h"
#include "backing.h"
#include "common.h"
#include "magazine_attachment.h"

namespace offheap::binding {
namespace {

using PoolAttachment = Attachment<PoolDepot, Kind::kObjectPool>;

std::string At(uint32_t offset) {
  return offset == ObjectPool::kNil ? std::string() : " at offset " + std::to_string(offset);
}

// Throws the OffheapError for `st` with an `offset` property when one is known.
Napi::Value Fail(Napi::Env env, const PoolAttachment* a, Status st, uint32_t offset, const std::string& what) {
  if (offset == ObjectPool::kNil) return ThrowStatus(env, st, a->name + ": " + what);
  return ThrowStatus(env, st, a->name + ": " + what + At(offset), {{"offset", static_cast<double>(offset)}});
}

// The open attachment of argument 0, or nullptr with an exception pending.
PoolAttachment* Open(const Napi::CallbackInfo& info) {
  auto* a = Recover<PoolAttachment>(info);
  if (a != nullptr && a->allocator == nullptr) {
    Fail(info.Env(), a, Status::kDestroyed, ObjectPool::kNil, "the pool was destroyed");
    return nullptr;
  }
  return a;
}

std::string ArgName(const Napi::CallbackInfo& info, size_t index) {
  return info[index].IsString() ? info[index].As<Napi::String>().Utf8Value() : std::string("ObjectPool");
}

Napi::Value Attach(Napi::Env env, PoolDepot* depot, std::string name) {
  const std::vector<uint32_t> caps{depot->magazine_capacity()};
  return PoolAttachment::Wrap(env, depot, std::move(name), caps, PoolDepot::kMagazineStride);
}

// poolCreate(slotSize, align, capacity, growable, preheat, poison, name, hugePages) -> handle
Napi::Value Create(const Napi::CallbackInfo& info) {
  ObjectPoolOptions o;
  if (!ArgU32(info, 0, &o.slot_size) || !ArgU32(info, 1, &o.align) || !ArgU32(info, 2, &o.capacity) ||
      !ArgBool(info, 3, &o.growable) || !ArgU32(info, 4, &o.preheat) || !ArgBool(info, 5, &o.poison) ||
      !ArgBool(info, 7, &o.huge_pages))
    return info.Env().Undefined();
  const std::string name = ArgName(info, 6);
  PoolDepot* depot = nullptr;
  const Status st = PoolDepot::create(o, Pages(true), &depot);
  if (st != Status::kOk) return ThrowStatus(info.Env(), st, name + ": cannot create the pool");
  return Attach(info.Env(), depot, name);
}

// poolSlotSize(size, align) -> the slot size the core rounds to (0 when out of range)
Napi::Value SlotSize(const Napi::CallbackInfo& info) {
  uint32_t size, align;
  if (!ArgU32(info, 0, &size) || !ArgU32(info, 1, &align)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), ObjectPool::slot_size_for(size, align));
}

// poolRename(handle, name): the name errors use (the facade picks defaults).
Napi::Value Rename(const Napi::CallbackInfo& info) {
  auto* a = Recover<PoolAttachment>(info);
  if (a != nullptr && info[1].IsString()) a->name = info[1].As<Napi::String>().Utf8Value();
  return info.Env().Undefined();
}

// poolShare(handle) -> id for poolAttach in another thread
Napi::Value Share(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), static_cast<double>(a->allocator->share()));
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

// poolBuffers(handle) -> [state table, this thread's magazine block]: ArrayBuffers of this thread
Napi::Value Buffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PoolAttachment* a = Open(info);
  if (!a) return env.Undefined();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, RegionBuffer(env, a->allocator->state_region()));
  out.Set(1u, RegionBuffer(env, a->mags.block_region()));
  return out;
}

// poolRegion(handle) -> this thread's ArrayBuffer over the slots (`buffer`),
// made when first read: V8 counts its whole length as external memory.
Napi::Value SlotsBuffer(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  return RegionBuffer(info.Env(), a->allocator->region());
}

// poolInfo(handle) -> the geometry the facade's fast path needs (as slabInfo)
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PoolAttachment* a = Open(info);
  if (!a) return env.Undefined();
  const MagazineBlock::Layout& l = a->mags.block()->block_layout();
  Napi::Object o = Napi::Object::New(env);
  o.Set("slotSize", Napi::Number::New(env, a->allocator->slot_size()));
  o.Set("capacity", Napi::Number::New(env, a->allocator->capacity()));
  o.Set("regionBytes", Napi::Number::New(env, static_cast<double>(a->allocator->region()->size())));
  o.Set("magazineCapacity", Napi::Number::New(env, a->allocator->magazine_capacity()));
  o.Set("endsWord", Napi::Number::New(env, l.ends));
  o.Set("countersByte", Napi::Number::New(env, l.counters_byte));
  o.Set("blockBytes", Napi::Number::New(env, l.bytes));
  return o;
}

// poolRefill(handle) -> the magazine's new top (still empty, a multiple of
// the stride, when every slot is live)
Napi::Value Refill(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  MagazineBlock* b = a->mags.block();
  uint32_t got = 0;
  const Status st = b->refill(*a->allocator, 0, &got);
  if (st == Status::kCorrupted) return Fail(info.Env(), a, st, ObjectPool::kNil, "a free-list link or this thread's magazine was overwritten (repaired)");
  if (st != Status::kOk && st != Status::kExhausted) return Fail(info.Env(), a, st, ObjectPool::kNil, "cannot refill the magazine");
  return Napi::Number::New(info.Env(), b->base(0) + b->cached(0));
}

// poolDrain(handle, offset): the magazine is full and `offset` (live) is
// being freed: half the magazine goes back to the depot and `offset` takes
// its place, in one native call, so a thread terminated at any point of a
// free loses no slot.
Napi::Value Drain(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  uint32_t offset;
  if (!a || !ArgU32(info, 1, &offset)) return info.Env().Undefined();
  uint32_t bad = ObjectPool::kNil;
  const Status st = a->mags.block()->free_into_full(*a->allocator, 0, offset, &bad);
  if (st == Status::kDoubleFree) return Fail(info.Env(), a, st, offset, "slot freed twice");
  if (st == Status::kInvalidHandle) return Fail(info.Env(), a, st, offset, "not a slot this pool handed out");
  if (st != Status::kOk)
    return Fail(info.Env(), a, st, bad, "magazine entry " + std::to_string(bad) + " is not a free slot this thread cached (the magazine was overwritten)");
  return info.Env().Undefined();
}

// poolAlloc(handle) -> offset, or -1 when the pool is exhausted (debug path)
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  uint32_t offset = ObjectPool::kNil;
  const Status st = a->allocator->alloc(&offset);
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
  const Status st = a->allocator->free(offset);
  if (st == Status::kDoubleFree) return Fail(info.Env(), a, st, offset, "slot freed twice");
  if (st == Status::kInvalidHandle) return Fail(info.Env(), a, st, offset, "not a slot this pool handed out");
  if (st != Status::kOk) return Fail(info.Env(), a, st, offset, "cannot free");
  return info.Env().Undefined();
}

// poolLive(handle) -> slots held by users, every thread
Napi::Value Live(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  return a ? Napi::Number::New(info.Env(), a->allocator->live()) : info.Env().Undefined();
}

// poolStats(handle) -> plain numbers
Napi::Value Stats(const Napi::CallbackInfo& info) {
  PoolAttachment* a = Open(info);
  if (!a) return info.Env().Undefined();
  const PoolDepotStats s = a->allocator->stats();
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
  const Status st = a->allocator->verify(&bad);
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
      {"poolCreate", Create}, {"poolSlotSize", SlotSize}, {"poolShare", Share}, {"poolAttach", AttachShared},
      {"poolBuffers", Buffers}, {"poolRegion", SlotsBuffer}, {"poolInfo", Info},
      {"poolRefill", Refill}, {"poolDrain", Drain}, {"poolAlloc", Alloc}, {"poolFree", Free},
      {"poolLive", Live}, {"poolStats", Stats}, {"poolVerify", Verify}, {"poolDestroy", Destroy},
      {"poolRename", Rename},
  });
}

Registrar registrar(Register);

}  // namespace
}  // namespace offheap::binding
