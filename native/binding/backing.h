// Where regions' memory comes from (DESIGN.md section 11). Two backings:
//
//  - external: mmap'd pages (PageSource::system()), wrapped in external
//    ArrayBuffers;
//  - v8: memory V8 allocates (napi_create_arraybuffer; a SharedArrayBuffer
//    for regions that may be shared between threads), for runtimes that
//    refuse external ArrayBuffers (napi_no_external_buffers_allowed:
//    Electron 21+, V8 built with its sandbox). OFFHEAP_BACKING=v8 forces it.
//
// The choice is made once per process, at the first load of the addon, and
// lives here only: allocators ask Pages() for a page source and
// RegionBuffer() (common.h) for a region's ArrayBuffer, whatever the backing.
#pragma once

#include <napi.h>

#include "../core/page_source.h"
#include "../core/region.h"

namespace offheap::binding {

enum class Backing { kExternal, kV8 };

/// The process's backing (decided by InitBacking at the first load).
Backing CurrentBacking();

/// Decides the backing on the first call (OFFHEAP_BACKING, else whether
/// this runtime accepts an external ArrayBuffer) and binds the V8 page
/// sources to `env`'s thread. Called once per environment at load.
void InitBacking(Napi::Env env);

/// The page source for a new region. `shareable`: the region may later be
/// used by other threads (ObjectPool, SlabAllocator), so under the v8
/// backing it is a SharedArrayBuffer when the runtime has them.
PageSource& Pages(bool shareable);

/// Creates an external ArrayBuffer through N-API; under the test hook
/// OFFHEAP_TEST_REFUSE_EXTERNAL=1 it fails with
/// napi_no_external_buffers_allowed, as a runtime with V8's sandbox does.
napi_status CreateExternalArrayBuffer(napi_env env, void* data, size_t length, napi_finalize finalize,
                                      void* hint, napi_value* out);

/// For a region of the v8 backing: this thread's ArrayBuffer (or
/// SharedArrayBuffer) over it, or undefined with a pending OffheapError when
/// this thread holds none (a shared region another thread made and this one
/// did not adopt()).
Napi::Value HostBuffer(Napi::Env env, Region* region);

/// True when `ab` is the ArrayBuffer of a host-owned region still in use:
/// detaching it would free V8's memory under the allocator, so
/// detachBuffer leaves it alone (its views stay attached, see docs/platforms.md).
bool IsHostBuffer(napi_env env, napi_value ab);

}  // namespace offheap::binding
