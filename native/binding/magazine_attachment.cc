#include "magazine_attachment.h"

#include "backing.h"

#include <new>

namespace offheap::binding {

MagazineAttachment::~MagazineAttachment() {
  delete block_;
  if (region_ != nullptr) region_->release();  // JS ArrayBuffers over it hold their own references
}

Status MagazineAttachment::init(uint32_t classes, const std::vector<uint32_t>& caps, uint32_t stride) noexcept {
  const Status st = Region::create(MagazineBlock::layout(classes, stride).bytes, Pages(false), &region_);
  if (st != Status::kOk) return st;
  block_ = new (std::nothrow) MagazineBlock(region_->base(), classes, caps, stride);
  return block_ != nullptr ? Status::kOk : Status::kOsFailure;
}

}  // namespace offheap::binding
