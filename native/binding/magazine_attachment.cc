#include "magazine_attachment.h"

#include <new>

namespace offheap::binding {

MagazineAttachment::~MagazineAttachment() {
  unhook();
  delete block_;
  if (region_ != nullptr) region_->release();  // JS ArrayBuffers over it hold their own references
}

Status MagazineAttachment::init(uint32_t classes, const std::vector<uint32_t>& caps) noexcept {
  const Status st = Region::create(MagazineBlock::layout(classes).bytes, PageSource::system(), &region_);
  if (st != Status::kOk) return st;
  block_ = new (std::nothrow) MagazineBlock(region_->base(), classes, caps);
  return block_ != nullptr ? Status::kOk : Status::kOsFailure;
}

void MagazineAttachment::hook(napi_env env, void (*on_exit)(void*), void* arg) noexcept {
  env_ = env;
  on_exit_ = on_exit;
  arg_ = arg;
  napi_add_env_cleanup_hook(env, Trampoline, this);
}

void MagazineAttachment::Trampoline(void* self) {
  auto* a = static_cast<MagazineAttachment*>(self);
  a->env_ = nullptr;  // the environment is removing the hook itself
  a->on_exit_(a->arg_);
}

void MagazineAttachment::unhook() noexcept {
  if (env_ == nullptr) return;
  napi_remove_env_cleanup_hook(env_, Trampoline, this);
  env_ = nullptr;
}

}  // namespace offheap::binding
