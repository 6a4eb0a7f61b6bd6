// A bare region, for the facade's own tests of the memory model (reservation,
// ArrayBuffer lifetime, accounting). Allocators wrap their regions themselves.
#include "backing.h"
#include "common.h"

namespace offheap::binding {
namespace {

struct RegionHandle final : Handle {
  static constexpr Kind kKind = Kind::kRegion;
  explicit RegionHandle(Region* r) : Handle(kKind), region_(r) {}
  ~RegionHandle() override {
    if (region_) region_->release();
  }
  Region* region() const override { return region_; }
  Region* region_;
};

// regionCreate(maxBytes) -> handle
Napi::Value Create(const Napi::CallbackInfo& info) {
  size_t max_bytes;
  if (!ArgSize(info, 0, &max_bytes)) return info.Env().Undefined();
  Region* r = nullptr;
  Status st = Region::create(max_bytes, Pages(false), &r);
  if (st != Status::kOk) return ThrowStatus(info.Env(), st, "could not reserve the region");
  return WrapHandle(info.Env(), new RegionHandle(r));
}

// regionBuffer(handle) -> ArrayBuffer over the whole reservation
Napi::Value Buffer(const Napi::CallbackInfo& info) {
  auto* h = Recover<RegionHandle>(info);
  if (!h) return info.Env().Undefined();
  if (!h->region_) return ThrowStatus(info.Env(), Status::kDestroyed, "region destroyed");
  return RegionBuffer(info.Env(), h->region_);
}

// regionCommit(handle, bytes): accounting only, as an allocator would.
Napi::Value Commit(const Napi::CallbackInfo& info) {
  auto* h = Recover<RegionHandle>(info);
  size_t bytes;
  if (!h || !ArgSize(info, 1, &bytes)) return info.Env().Undefined();
  if (!h->region_) return ThrowStatus(info.Env(), Status::kDestroyed, "region destroyed");
  h->region_->add_committed(static_cast<ptrdiff_t>(bytes));
  return info.Env().Undefined();
}

// regionDestroy(handle): pages back now, mapping until the last buffer goes.
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  auto* h = Recover<RegionHandle>(info);
  if (!h || !h->region_) return info.Env().Undefined();
  h->region_->destroy();
  h->region_->release();
  h->region_ = nullptr;
  return info.Env().Undefined();
}

// v8ExternalMemory() -> the external memory this thread's V8 counts and
// schedules GCs by (process.memoryUsage().external leaves out what addons
// report on Node 20): what the tests of the accounting compare.
Napi::Value V8ExternalMemory(const Napi::CallbackInfo& info) {
  int64_t bytes = 0;
  napi_adjust_external_memory(info.Env(), 0, &bytes);
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

void Register(Napi::Env env, Napi::Object exports) {
  ExportAll(env, exports, {
      {"regionCreate", Create}, {"regionBuffer", Buffer}, {"regionCommit", Commit},
      {"regionDestroy", Destroy}, {"v8ExternalMemory", V8ExternalMemory},
  });
}

Registrar registrar(Register);

}  // namespace
}  // namespace offheap::binding
