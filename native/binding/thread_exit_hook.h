// One thread's attachment to a shared allocator must let go when the thread
// does: a ThreadExitHook runs a callback when its environment is torn down
// (a worker exiting or terminated), unless unhook() ran first (explicit
// destroy() or GC of the handle). Used by every shareable allocator's handle.
#pragma once

#include <node_api.h>

namespace offheap::binding {

class ThreadExitHook {
 public:
  ThreadExitHook() = default;
  ThreadExitHook(const ThreadExitHook&) = delete;
  ThreadExitHook& operator=(const ThreadExitHook&) = delete;
  ~ThreadExitHook() { unhook(); }

  /// Runs on_exit(arg) when `env` is torn down. One hook at a time.
  void hook(napi_env env, void (*on_exit)(void*), void* arg) noexcept {
    on_exit_ = on_exit;
    arg_ = arg;
    if (napi_add_env_cleanup_hook(env, Trampoline, this) == napi_ok) env_ = env;
  }

  /// Cancels the hook. Idempotent, and a no-op inside the callback.
  void unhook() noexcept {
    if (env_ == nullptr) return;
    napi_remove_env_cleanup_hook(env_, Trampoline, this);
    env_ = nullptr;
  }

 private:
  static void Trampoline(void* self) {
    auto* h = static_cast<ThreadExitHook*>(self);
    h->env_ = nullptr;  // the environment removes the hook itself
    h->on_exit_(h->arg_);
  }

  napi_env env_ = nullptr;            ///< set while hooked
  void (*on_exit_)(void*) = nullptr;
  void* arg_ = nullptr;
};

}  // namespace offheap::binding
