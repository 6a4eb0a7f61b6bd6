// One thread's attachment to a shareable allocator (an ObjectPool's
// PoolDepot or a SlabAllocator), the same for both: a reference to the
// allocator, this thread's magazines in a MagazineBlock, and the hook that
// gives them back when the thread goes away. The block lives in a small
// Region of its own, so JavaScript gets an ArrayBuffer over it (RegionBuffer)
// and native code can still read it after the thread's JS is gone.
#pragma once

#include <string>
#include <vector>

#include "../core/magazine_block.h"
#include "../core/region.h"
#include "common.h"
#include "thread_exit_hook.h"

namespace offheap::binding {

/// The block's memory: a Region, so that JS ArrayBuffers over it hold their own references.
class MagazineAttachment {
 public:
  MagazineAttachment() = default;
  MagazineAttachment(const MagazineAttachment&) = delete;
  MagazineAttachment& operator=(const MagazineAttachment&) = delete;
  ~MagazineAttachment();

  /// Makes the block for `classes` classes with these capacities and stride.
  Status init(uint32_t classes, const std::vector<uint32_t>& caps, uint32_t stride) noexcept;
  MagazineBlock* block() const noexcept { return block_; }
  Region* block_region() const noexcept { return region_; }

 private:
  Region* region_ = nullptr;
  MagazineBlock* block_ = nullptr;
};

/// The JS handle of one thread's attachment to `Allocator` (a Depot on a
/// SharedDepot base), detached on destroy(), on GC of the handle, and when
/// the thread's environment is torn down (a worker exiting or terminated).
template <typename Allocator, Kind K>
struct Attachment final : Handle {
  static constexpr Kind kKind = K;
  Attachment() : Handle(kKind) {}
  ~Attachment() override { Detach(); }
  Region* region() const override { return allocator != nullptr ? allocator->region() : nullptr; }

  /// Gives this thread's magazines back and drops its reference; the last
  /// reference gives every page back. Idempotent: destroy(), GC and thread
  /// exit may all get here.
  void Detach() {
    if (allocator == nullptr) return;
    exit_hook.unhook();
    uint32_t bad;
    allocator->detach(mags.block(), &bad);  // a written-over entry stays out: verify() said so
    allocator->release();
    allocator = nullptr;
  }
  static void OnThreadExit(void* self) { static_cast<Attachment*>(self)->Detach(); }

  /// Wraps a new attachment to `a` (whose reference it takes over) with
  /// magazines of these capacities; throws (and releases `a`) when the
  /// block cannot be mapped.
  static Napi::Value Wrap(Napi::Env env, Allocator* a, std::string name, const std::vector<uint32_t>& caps,
                          uint32_t stride) {
    auto* h = new Attachment();
    h->name = std::move(name);
    if (h->mags.init(static_cast<uint32_t>(caps.size()), caps, stride) != Status::kOk) {
      a->release();
      const std::string message = h->name + ": could not map the thread's magazines";
      delete h;
      return ThrowStatus(env, Status::kOsFailure, message);
    }
    h->allocator = a;
    a->attach(h->mags.block());
    h->exit_hook.hook(env, OnThreadExit, h);
    return WrapHandle(env, h);
  }

  Allocator* allocator = nullptr;  ///< one reference while attached
  MagazineAttachment mags;         ///< this thread's magazines
  ThreadExitHook exit_hook;        ///< detaches when the thread goes away
  std::string name;                ///< for error messages
};

}  // namespace offheap::binding
