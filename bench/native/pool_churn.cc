// Core churn (alloc then free, the same slot over and over) of the
// ObjectPool next to malloc/free peers, for callgrind instruction counts:
//   bench/native/callgrind-pool.sh   (builds, runs each under callgrind, prints Ir per pair)
// Each run_* function is the measured loop; callgrind collects only inside it.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifdef WITH_MIMALLOC
#include <mimalloc.h>
#endif

#include "../../native/core/object_pool.h"
#include "../../native/core/pool_depot.h"

using namespace offheap;

static volatile uint32_t sink;

extern "C" __attribute__((noinline)) void run_pool(ObjectPool* p, long n) {
  uint32_t off = 0;
  for (long i = 0; i < n; ++i) {
    p->alloc(&off);
    p->free(off);
  }
  sink = off;
}

extern "C" __attribute__((noinline)) void run_depot(PoolDepot* d, long n) {
  uint32_t off = 0;
  for (long i = 0; i < n; ++i) {
    d->alloc(&off);
    d->free(off);
  }
  sink = off;
}

// What a magazine costs the core: one refill and one drain of 32 per 32
// pairs. In between, the JS fast path would hand each slot out and take it
// back (state live, then this magazine's with the ever bit): done here too.
extern "C" __attribute__((noinline)) void run_batch(PoolDepot* d, uint32_t tag, long n) {
  int32_t mag[32];
  uint32_t got = 0, bad = 0;
  int32_t bad_index = 0;
  uint8_t* states = d->state_region()->base();
  for (long i = 0; i < n; i += 32) {
    d->refill(tag, mag, 32, &got, &bad);
    for (uint32_t k = 0; k < got; ++k) states[mag[k] / 64] |= slot_state::kEver;
    d->drain(tag, mag, got, &bad_index);
  }
  sink = got;
}

#ifdef WITH_MIMALLOC
extern "C" __attribute__((noinline)) void run_mimalloc(long n) {
  void* p = nullptr;
  for (long i = 0; i < n; ++i) {
    p = mi_malloc(64);
    mi_free(p);
  }
  sink = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p));
}
#endif

extern "C" __attribute__((noinline)) void run_glibc(long n) {
  void* p = nullptr;
  for (long i = 0; i < n; ++i) {
    p = malloc(64);
    asm volatile("" : : "r"(p) : "memory");  // keep the pair
    free(p);
  }
  sink = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p));
}

int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "pool";
  const long n = argc > 2 ? std::atol(argv[2]) : 1000000;
  ObjectPoolOptions o;
  o.slot_size = 64;
  o.capacity = 1 << 20;
  if (!std::strcmp(what, "pool")) {
    ObjectPool* p = nullptr;
    if (ObjectPool::create(o, PageSource::system(), &p) != Status::kOk) return 1;
    run_pool(p, 1000);  // warm: first chunk carved
    run_pool(p, n);
    p->destroy();
    delete p;
  } else if (!std::strcmp(what, "depot") || !std::strcmp(what, "batch")) {
    PoolDepot* d = nullptr;
    uint32_t tag = 0;
    if (PoolDepot::create(o, PageSource::system(), &d) != Status::kOk || d->open(&tag) != Status::kOk) return 1;
    if (what[0] == 'd') {
      run_depot(d, 1000);
      run_depot(d, n);
    } else {
      run_batch(d, tag, 1024);
      run_batch(d, tag, n);
    }
    d->close(tag);
#ifdef WITH_MIMALLOC
  } else if (!std::strcmp(what, "mimalloc")) {
    run_mimalloc(1000);
    run_mimalloc(n);
#endif
  } else {
    run_glibc(1000);
    run_glibc(n);
  }
  return 0;
}
