// One thread's magazines for a shareable allocator (slab, object pool): the
// MagazineBlock lives in a small Region of its own, so JavaScript gets an
// ArrayBuffer over it (RegionBuffer) and native code can still read it after
// the thread's JS is gone. An environment cleanup hook gives the magazines
// back when the thread exits or is terminated.
#pragma once

#include <napi.h>

#include <vector>

#include "../core/magazine_block.h"
#include "../core/region.h"

namespace offheap::binding {

class MagazineAttachment {
 public:
  MagazineAttachment() = default;
  MagazineAttachment(const MagazineAttachment&) = delete;
  MagazineAttachment& operator=(const MagazineAttachment&) = delete;
  ~MagazineAttachment();

  /// Makes the block for `classes` classes with these capacities.
  Status init(uint32_t classes, const std::vector<uint32_t>& caps) noexcept;
  MagazineBlock* block() const noexcept { return block_; }
  Region* block_region() const noexcept { return region_; }

  /// Runs on_exit(arg) when `env` is torn down (thread exit, terminate),
  /// unless unhook() ran first.
  void hook(napi_env env, void (*on_exit)(void*), void* arg) noexcept;
  /// Cancels the hook (explicit destroy or GC of the handle). Idempotent.
  void unhook() noexcept;

 private:
  static void Trampoline(void* self);

  Region* region_ = nullptr;
  MagazineBlock* block_ = nullptr;
  napi_env env_ = nullptr;
  void (*on_exit_)(void*) = nullptr;
  void* arg_ = nullptr;
};

}  // namespace offheap::binding
