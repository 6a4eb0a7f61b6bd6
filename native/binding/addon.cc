// The addon's entry point. Each allocator's binding file registers itself
// through a static Registrar, so this file never changes when one is added.
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  offheap::binding::RunRegistrars(env, exports);
  return exports;
}

NODE_API_MODULE(offheap, Init)
