// One thread's magazines for the SlabAllocator: the
// MagazineBlock lives in a small Region of its own, so JavaScript gets an
// ArrayBuffer over it (RegionBuffer) and native code can still read it after
// the thread's JS is gone (the handle's ThreadExitHook gives them back when
// the thread exits or is terminated).
#pragma once

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

 private:
  Region* region_ = nullptr;
  MagazineBlock* block_ = nullptr;
};

}  // namespace offheap::binding
