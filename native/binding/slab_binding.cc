// The SlabAllocator binding. A SlabHandle is one thread's attachment to a
// (possibly shared) core allocator: a reference to it, this thread's
// magazines and the hook that gives them back when the thread goes away.
// No allocator logic here: every entry point recovers its type-tagged handle,
// re-checks what memory safety depends on (the core validates every handle
// and every magazine entry again), calls the core and maps statuses to
// errors that name the allocator and the offset.
#include <algorithm>
#include <string>

#include "../core/guards.h"
#include "../core/slab.h"
#include "backing.h"
#include "common.h"
#include "magazine_attachment.h"

namespace offheap::binding {
namespace {

using SlabHandle = Attachment<SlabAllocator, Kind::kSlab>;

std::string Str(uint64_t n) { return std::to_string(n); }

/// Throws the error for `st` about offset `off`, with `offset` set on it. A
/// debug finding (use after free, overflow) is about a byte: `offset` is then
/// the allocation that byte belongs to and `at` the byte itself, as in every
/// allocator's debug errors.
Napi::Value Fail(Napi::Env env, SlabHandle* h, Status st, uint64_t off, const std::string& what) {
  const bool finding = (st == Status::kUseAfterFree || st == Status::kOverflow) && h->allocator != nullptr;
  const uint64_t alloc = finding ? h->allocator->slot_of(static_cast<uint32_t>(off)) : off;
  const std::string message = h->name + ": " + what + (finding ? " (the allocation at offset " + Str(alloc) + ")" : "");
  if (!finding) return ThrowStatus(env, st, message, {{"offset", static_cast<double>(alloc)}});
  return ThrowStatus(env, st, message, {{"offset", static_cast<double>(alloc)}, {"at", static_cast<double>(off)}});
}

/// The message for a status about a handle or a byte.
std::string Explain(Status st, uint64_t off) {
  switch (st) {
    case Status::kDoubleFree: return "offset " + Str(off) + " was already freed (double free)";
    case Status::kInvalidHandle:
      return "offset " + Str(off) + " is not a live allocation of this allocator (foreign, interior or never allocated)";
    case Status::kUseAfterFree: return "freed memory was written: byte at offset " + Str(off) + " is not " + HexByte(guards::kFillFreed);
    case Status::kOverflow: return "write past the end of an allocation: red-zone byte at offset " + Str(off) + " is not " + HexByte(guards::kFillRedZone);
    case Status::kCorrupted:
      return "allocator memory at offset " + Str(off) + " was overwritten through the buffer (a free-list link or magazine)";
    case Status::kDestroyed: return "the allocator was destroyed";
    default: return status_code(st);
  }
}

SlabHandle* Alive(const Napi::CallbackInfo& info) {
  auto* h = Recover<SlabHandle>(info);
  if (h != nullptr && h->allocator == nullptr) {
    ThrowStatus(info.Env(), Status::kDestroyed, h->name + ": the allocator was destroyed");
    return nullptr;
  }
  return h;
}

/// Argument `index` as a class id (1..classes); 0 and a TypeError when not.
uint32_t ClassArg(const Napi::CallbackInfo& info, SlabHandle* h, size_t index) {
  uint32_t k;
  if (!ArgU32(info, index, &k)) return 0;
  if (k == 0 || k > h->allocator->classes()) {
    ThrowStatus(info.Env(), Status::kInvalidArgument, h->name + ": no size class " + Str(k));
    return 0;
  }
  return k;
}

Napi::Value Wrap(Napi::Env env, SlabAllocator* slab, const std::string& name) {
  return SlabHandle::Wrap(env, slab, name, slab->magazine_capacities(), MagazineBlock::kStride);
}

// slabCreate(maxBytes, slabBytes, classSizes: number[] | null, retainEmptySlabs, poison, redZone, name)
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabConfig c;
  uint32_t retain, red_zone;
  if (!ArgSize(info, 0, &c.max_bytes) || !ArgSize(info, 1, &c.slab_bytes) || !ArgU32(info, 3, &retain) ||
      !ArgBool(info, 4, &c.poison) || !ArgU32(info, 5, &red_zone))
    return env.Undefined();
  if (info[2].IsArray()) {
    Napi::Array sizes = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < sizes.Length(); ++i) {
      Napi::Value v = sizes.Get(i);
      const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 1 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d)))
        return ThrowStatus(env, Status::kInvalidArgument, "sizeClasses must hold positive integers");
      c.class_sizes.push_back(static_cast<uint32_t>(d));
    }
  }
  c.retain_empty_slabs = retain;
  c.red_zone = red_zone;
  const std::string name = info[6].IsString() ? info[6].As<Napi::String>().Utf8Value() : "SlabAllocator";
  SlabAllocator* slab = nullptr;
  const Status st = SlabAllocator::create(c, Pages(true), &slab);
  if (st != Status::kOk) return ThrowStatus(env, st, name + ": could not create the allocator (" + status_code(st) + ")");
  return Wrap(env, slab, name);
}

// slabRename(h, name): the name errors use (the facade settles it after creation)
Napi::Value Rename(const Napi::CallbackInfo& info) {
  auto* h = Recover<SlabHandle>(info);
  if (h != nullptr && info[1].IsString()) h->name = info[1].As<Napi::String>().Utf8Value();
  return info.Env().Undefined();
}

// slabShare(h) -> id for slabAttach in another thread
Napi::Value Share(const Napi::CallbackInfo& info) {
  SlabHandle* h = Alive(info);
  if (h == nullptr) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), h->allocator->share());
}

// slabAttach(id, name) -> a handle of this thread over the same allocator
Napi::Value Attach(const Napi::CallbackInfo& info) {
  uint32_t id;
  if (!ArgU32(info, 0, &id)) return info.Env().Undefined();
  const std::string name = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "SlabAllocator";
  SlabAllocator* s = SlabAllocator::acquire(id);
  if (s == nullptr) return ThrowStatus(info.Env(), Status::kDestroyed, name + ": the shared allocator is gone (every attachment was destroyed)");
  return Wrap(info.Env(), s, name);
}

// slabInfo(h) -> the geometry the facade's fast path needs
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  if (h == nullptr) return env.Undefined();
  SlabAllocator* s = h->allocator;
  const uint32_t n = s->classes();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array sizes = Napi::Array::New(env, n), per = Napi::Array::New(env, n), caps = Napi::Array::New(env, n);
  for (uint32_t c = 0; c < n; ++c) {
    sizes.Set(c, Napi::Number::New(env, s->class_size(c)));
    per.Set(c, Napi::Number::New(env, s->objects_per_slab(c)));
    caps.Set(c, Napi::Number::New(env, s->magazine_capacities()[c]));
  }
  Napi::Uint8Array ids = Napi::Uint8Array::New(env, s->class_ids().size());
  if (ids.IsEmpty() || ids.Data() == nullptr) return env.Undefined();  // the environment is stopping
  for (size_t g = 0; g < s->class_ids().size(); ++g) ids[g] = s->class_ids()[g];
  const MagazineBlock::Layout l = MagazineBlock::layout(n);
  o.Set("reservedBytes", Napi::Number::New(env, static_cast<double>(s->region()->size())));
  o.Set("slabBytes", Napi::Number::New(env, static_cast<double>(s->slab_bytes())));
  o.Set("classSizes", sizes);
  o.Set("objectsPerSlab", per);
  o.Set("capacities", caps);
  o.Set("classIds", ids);
  o.Set("retainEmptySlabs", Napi::Number::New(env, s->retain_empty_slabs()));
  o.Set("poison", Napi::Boolean::New(env, s->poison()));
  o.Set("redZone", Napi::Number::New(env, s->red_zone()));
  o.Set("endsWord", Napi::Number::New(env, l.ends));
  o.Set("countersByte", Napi::Number::New(env, l.counters_byte));
  o.Set("blockBytes", Napi::Number::New(env, l.bytes));
  return o;
}

// slabBuffers(h) -> [state bytes, this thread's magazine block]: ArrayBuffers of this thread.
// The state table is reserved for the largest region (so no offset below 2 GiB
// indexes past it in C++); JavaScript gets only the bytes of this region's
// granules, which is all V8 then counts (a read past them is undefined there).
Napi::Value Buffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  if (h == nullptr) return env.Undefined();
  Region* meta = h->allocator->meta();
  const size_t states = h->allocator->region()->size() >> SlabAllocator::StateTable::kShift;
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, meta->source().host_owned() ? RegionBuffer(env, meta) : RegionSliceBuffer(env, meta, 0, std::min(states, meta->size())));
  a.Set(1u, RegionBuffer(env, h->mags.block_region()));
  return a;
}

// slabRegion(h) -> this thread's ArrayBuffer over the region (`buffer`),
// made when first read: V8 counts its whole length as external memory.
Napi::Value WholeBuffer(const Napi::CallbackInfo& info) {
  SlabHandle* h = Alive(info);
  if (h == nullptr) return info.Env().Undefined();
  return RegionBuffer(info.Env(), h->allocator->region());
}

// slabRefill(h, classId) -> the class's new top; throws when no object is left
Napi::Value Refill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  const uint32_t k = h != nullptr ? ClassArg(info, h, 1) : 0;
  if (k == 0) return env.Undefined();
  uint32_t got = 0;
  const Status st = h->mags.block()->refill(*h->allocator, k - 1, &got);
  if (st == Status::kExhausted)
    return ThrowStatus(env, st, h->name + ": no room for another " + Str(h->allocator->class_size(k - 1)) +
                                    "-byte object (maxBytes " + Str(h->allocator->region()->size()) + ")");
  if (st != Status::kOk) return Fail(env, h, st, 0, "a free list or this thread's magazine was overwritten (" + std::string(status_code(st)) + ")");
  return Napi::Number::New(env, h->mags.block()->base(k - 1) + h->mags.block()->cached(k - 1));
}

/// Argument `index` as an offset; anything past 32 bits is no handle at all.
bool OffsetArg(const Napi::CallbackInfo& info, size_t index, uint32_t* off) {
  size_t v;
  if (!ArgSize(info, index, &v)) return false;
  *off = v > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<uint32_t>(v);
  return true;
}

// slabDrain(h, classId, offset): class classId's magazine is full and `offset`
// (live, of that class) is being freed: half the magazine goes back to the
// depot and `offset` takes its place, in one native call, so a thread
// terminated at any point of a free loses no object.
Napi::Value Drain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  const uint32_t k = h != nullptr ? ClassArg(info, h, 1) : 0;
  uint32_t off;
  if (k == 0 || !OffsetArg(info, 2, &off)) return env.Undefined();
  uint32_t bad = 0;
  const Status st = h->mags.block()->free_into_full(*h->allocator, k - 1, off, &bad);
  if (st == Status::kDoubleFree || st == Status::kInvalidHandle) return Fail(env, h, st, off, Explain(st, off));
  if (st != Status::kOk) return Fail(env, h, st, bad, Explain(st, bad));
  return env.Undefined();
}

// slabLeaks(h) -> [offset, size, offset, size, ...] of every live allocation (any thread)
Napi::Value Leaks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  if (h == nullptr) return env.Undefined();
  std::vector<LiveAllocation> live;
  h->allocator->live_allocations(&live);
  Napi::Float64Array out = Napi::Float64Array::New(env, live.size() * 2);
  if (out.IsEmpty() || (!live.empty() && out.Data() == nullptr)) return env.Undefined();  // the environment is stopping
  for (size_t i = 0; i < live.size(); ++i) {
    out[2 * i] = live[i].offset;
    out[2 * i + 1] = live[i].size;
  }
  return out;
}

// slabFlush(h): every handle in this thread's magazines back to the depot
Napi::Value Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  if (h == nullptr) return env.Undefined();
  uint32_t bad = 0;
  const Status st = h->mags.block()->flush(*h->allocator, &bad);
  if (st != Status::kOk) return Fail(env, h, st, bad, Explain(st, bad));
  return env.Undefined();
}

// slabAlloc(h, size) -> offset: one allocation by the core (large sizes, debug mode)
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  size_t size;
  if (h == nullptr || !ArgSize(info, 1, &size)) return env.Undefined();
  uint32_t off = 0, bad = 0;
  const Status st = h->allocator->alloc(size, &off, &bad);
  if (st == Status::kExhausted)
    return ThrowStatus(env, st, h->name + ": no room for " + Str(size) + " bytes (maxBytes " + Str(h->allocator->region()->size()) + ")");
  if (st != Status::kOk) return Fail(env, h, st, bad, Explain(st, bad) + ", found when reusing it");
  return Napi::Number::New(env, off);
}

// slabFree(h, offset): frees one allocation by the core; throws for anything not live
Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  uint32_t off;
  if (h == nullptr || !OffsetArg(info, 1, &off)) return env.Undefined();
  uint32_t bad = 0;
  const Status st = h->allocator->free(off, &bad);
  if (st == Status::kOverflow) return Fail(env, h, st, bad, Explain(st, bad));
  if (st != Status::kOk) return Fail(env, h, st, off, Explain(st, off));
  return env.Undefined();
}

// slabCheck(h, offset): throws the error a free of `offset` deserves; true when it is live
Napi::Value Check(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  uint32_t off;
  if (h == nullptr || !OffsetArg(info, 1, &off)) return env.Undefined();
  const Status st = h->allocator->classify(off);
  if (st != Status::kOk) return Fail(env, h, st, off, Explain(st, off));
  return Napi::Boolean::New(env, true);
}

// slabUsableSize(h, offset) -> bytes usable at a live handle
Napi::Value UsableSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  uint32_t off;
  if (h == nullptr || !OffsetArg(info, 1, &off)) return env.Undefined();
  size_t n = 0;
  const Status st = h->allocator->usable_size(off, &n);
  if (st != Status::kOk) return Fail(env, h, st, off, Explain(st, off));
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Num(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

// slabStats(h) -> plain numbers and one row per class
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  if (h == nullptr) return env.Undefined();
  SlabStats s;
  h->allocator->stats(&s);
  Napi::Object o = Napi::Object::New(env);
  o.Set("reservedBytes", Num(env, s.reserved_bytes));
  o.Set("committedBytes", Num(env, s.committed_bytes));
  o.Set("liveBytes", Num(env, s.live_bytes));
  o.Set("liveCount", Num(env, s.live_count));
  o.Set("peakLiveBytes", Num(env, s.peak_live_bytes));
  o.Set("allocCount", Num(env, s.alloc_count));
  o.Set("freeCount", Num(env, s.free_count));
  o.Set("failedCount", Num(env, s.failed_count));
  o.Set("largeCount", Num(env, s.large_count));
  o.Set("largeBytes", Num(env, s.large_bytes));
  o.Set("metadataBytes", Num(env, s.metadata_bytes));
  Napi::Array rows = Napi::Array::New(env, s.classes.size());
  for (uint32_t c = 0; c < s.classes.size(); ++c) {
    const SlabClassStats& r = s.classes[c];
    Napi::Object row = Napi::Object::New(env);
    row.Set("size", Num(env, r.size));
    row.Set("slabs", Num(env, r.slabs));
    row.Set("objectsPerSlab", Num(env, r.objects_per_slab));
    row.Set("live", Num(env, r.live));
    row.Set("cached", Num(env, r.cached));
    row.Set("total", Num(env, r.total));
    row.Set("emptySlabs", Num(env, r.empty_slabs));
    rows.Set(c, row);
  }
  o.Set("classes", rows);
  return o;
}

// slabTrim(h) -> committed bytes given back (after flushing this thread's magazines)
Napi::Value Trim(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  if (h == nullptr) return env.Undefined();
  uint32_t bad = 0;
  const size_t before = h->allocator->region()->committed();
  Status st = h->mags.block()->flush(*h->allocator, &bad);  // may empty (and release) slabs itself
  size_t released = 0;
  if (st == Status::kOk) st = h->allocator->trim(&released);
  if (st != Status::kOk) return Fail(env, h, st, bad, Explain(st, bad));
  const size_t after = h->allocator->region()->committed();
  return Num(env, before > after ? before - after : 0);
}

// slabVerify(h): walks every structure; throws the first problem found
Napi::Value Verify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlabHandle* h = Alive(info);
  if (h == nullptr) return env.Undefined();
  uint32_t bad = 0;
  const Status st = h->allocator->verify(&bad);
  if (st != Status::kOk) return Fail(env, h, st, bad, "verify: " + Explain(st, bad));
  return env.Undefined();
}

// slabDestroy(h): ends this thread's attachment; the last one gives the pages back
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  auto* h = Recover<SlabHandle>(info);
  if (h == nullptr) return info.Env().Undefined();
  h->Detach();
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  ExportAll(env, exports, {
      {"slabCreate", Create}, {"slabShare", Share}, {"slabAttach", Attach}, {"slabInfo", Info},
      {"slabBuffers", Buffers}, {"slabRegion", WholeBuffer}, {"slabRefill", Refill}, {"slabDrain", Drain}, {"slabFlush", Flush}, {"slabLeaks", Leaks},
      {"slabAlloc", Alloc}, {"slabFree", Free}, {"slabCheck", Check},
      {"slabUsableSize", UsableSize}, {"slabStats", Stats}, {"slabTrim", Trim},
      {"slabVerify", Verify}, {"slabDestroy", Destroy}, {"slabRename", Rename},
  });
}

Registrar registrar(Register);

}  // namespace
}  // namespace offheap::binding
