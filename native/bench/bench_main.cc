// The native benchmark driver: runs one workload on one allocator adapter and
// prints one JSON line. bench/suites/native.mjs runs it many times, interleaved,
// natively for ns per op and under `valgrind --tool=callgrind
// --collect-atstart=no` for instructions per op: only the measured loop is
// collected (CALLGRIND_TOGGLE_COLLECT around it, per thread), so setup,
// warm-up, teardown and thread start-up are excluded; the loop itself is in.
//
//   bench-<variant> --list
//   bench-<variant> --adapter KEY --workload NAME --ops N
//
// Workloads (an "op" is one alloc + one free):
//   churn          alloc(64) then free it, N times
//   alloc-free-all N x alloc(64) into an array, then free all N in order
//   mixed          a live set of 1024 blocks of 16..1024 B: each op frees a
//                  random slot's block and allocates a random size in its place
//   two-threads    `mixed` on two threads at once (each its own live set),
//                  ops counted over both
#include <valgrind/callgrind.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "adapters.h"
#if !defined(BENCH_JEMALLOC) && !defined(BENCH_MIMALLOC)
#include "offheap_adapters.h"
#endif

namespace bench {
namespace {

constexpr size_t kChurnSize = 64;
constexpr size_t kMixedMin = 16;
constexpr size_t kMixedMax = 1024;
constexpr size_t kLiveSet = 1024;

/// Keeps the compiler from proving a block unused (and eliding the alloc/free
/// pair) without forcing anything to memory: zero instructions.
template <class T>
inline void escape(T*& p) {
  asm volatile("" : "+r"(p));
}

/// A bracket around the measured loop: wall time, and callgrind collection
/// on for this thread only (a no-op when not under valgrind).
struct Measured {
  std::chrono::steady_clock::time_point t0;
  Measured() {
    CALLGRIND_TOGGLE_COLLECT;
    t0 = std::chrono::steady_clock::now();
  }
  double stop() {
    auto t1 = std::chrono::steady_clock::now();
    CALLGRIND_TOGGLE_COLLECT;
    return std::chrono::duration<double, std::nano>(t1 - t0).count();
  }
};

/// xorshift64*: the random tables are made at setup, never in the loop.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

// Every measured loop (`pass`) is inlined into its workload function, for
// every adapter alike: left to the compiler, a loop whose adapter inlines a
// larger fast path is compiled out of line and reloads its captures and the
// adapter's fields through the closure after every store (about 15
// instructions per op that belong to the driver, not to the allocator).

template <class A>
double churn(size_t ops) {
  A a(Shape{kChurnSize, 1});
  auto pass = [&](size_t n) BENCH_INLINE {
    for (size_t i = 0; i < n; ++i) {
      void* p = a.alloc(kChurnSize);
      escape(p);
      a.free(p, kChurnSize);
    }
  };
  pass(ops / 10 + 1);  // warm-up
  Measured m;
  pass(ops);
  return m.stop();
}

template <class A>
double alloc_free_all(size_t ops) {
  A a(Shape{kChurnSize, ops});
  std::vector<void*> slots(ops);
  void** s = slots.data();
  auto pass = [&](size_t n) BENCH_INLINE {
    for (size_t i = 0; i < n; ++i) {
      void* p = a.alloc(kChurnSize);
      escape(p);
      s[i] = p;
    }
    for (size_t i = 0; i < n; ++i) a.free(s[i], kChurnSize);
    if constexpr (requires { a.free_all(); }) a.free_all();  // an arena's free-all
  };
  pass(ops);  // warm-up: the allocator has seen this many blocks once
  Measured m;
  pass(ops);
  return m.stop();
}

/// The mixed-size workload on one thread; `start` (if any) is waited for
/// after setup, so both threads of two-threads start the loop together.
template <class A>
double mixed_on_thread(size_t ops, uint64_t seed, const std::atomic<bool>* start) {
  A a(Shape{kMixedMax, kLiveSet});
  Rng rng{seed};
  std::vector<uint32_t> slot(ops);
  std::vector<uint16_t> size(ops);
  for (size_t i = 0; i < ops; ++i) {
    slot[i] = static_cast<uint32_t>(rng.next() % kLiveSet);
    size[i] = static_cast<uint16_t>(kMixedMin + rng.next() % (kMixedMax - kMixedMin + 1));
  }
  void* live[kLiveSet];
  size_t live_size[kLiveSet];
  for (size_t j = 0; j < kLiveSet; ++j) {
    live_size[j] = kMixedMin + rng.next() % (kMixedMax - kMixedMin + 1);
    live[j] = a.alloc(live_size[j]);
  }
  const uint32_t* sl = slot.data();
  const uint16_t* sz = size.data();
  auto pass = [&](size_t n) BENCH_INLINE {
    for (size_t i = 0; i < n; ++i) {
      uint32_t j = sl[i];
      a.free(live[j], live_size[j]);
      void* p = a.alloc(sz[i]);
      escape(p);
      live[j] = p;
      live_size[j] = sz[i];
    }
  };
  pass(ops / 10 + 1);  // warm-up
  if (start)
    while (!start->load(std::memory_order_acquire)) std::this_thread::yield();
  Measured m;
  pass(ops);
  double ns = m.stop();
  for (size_t j = 0; j < kLiveSet; ++j) a.free(live[j], live_size[j]);
  return ns;
}

template <class A>
double mixed(size_t ops) {
  return mixed_on_thread<A>(ops, 0x9E3779B97F4A7C15ull, nullptr);
}

/// Two threads each run `mixed` with ops/2; the figure is the wall time from
/// the common start to the later finish (the slower thread's loop).
template <class A>
double two_threads(size_t ops) {
  std::atomic<bool> start{false};
  double ns[2] = {0, 0};
  std::thread t0([&] { ns[0] = mixed_on_thread<A>(ops / 2, 0x9E3779B97F4A7C15ull, &start); });
  std::thread t1([&] { ns[1] = mixed_on_thread<A>(ops - ops / 2, 0xD1B54A32D192ED03ull, &start); });
  start.store(true, std::memory_order_release);
  t0.join();
  t1.join();
  return ns[0] > ns[1] ? ns[0] : ns[1];
}

struct Workload {
  const char* name;
  unsigned bit;
};
constexpr Workload kWorkloads[] = {{"churn", kChurn}, {"alloc-free-all", kAllocFreeAll}, {"mixed", kMixed}, {"two-threads", kTwoThreads}};

struct Entry {
  const char* key;
  const char* name;
  bool peer;
  unsigned workloads;  ///< kWorkloads bits the adapter applies to
  const char* why_not;  ///< why not the others
  std::function<double(const std::string&, size_t)> run;
};

template <class A>
constexpr unsigned workloads_of() {
  if constexpr (requires { A::kWorkloads; }) return A::kWorkloads;
  else return kAll;
}

template <class A>
constexpr const char* why_not() {
  if constexpr (requires { A::kWhyNot; }) return A::kWhyNot;
  else return "";
}

template <class A>
Entry entry() {
  return Entry{A::kKey, A::kName, A::kPeer, workloads_of<A>(), why_not<A>(), [](const std::string& w, size_t ops) -> double {
                 if (w == "churn") return churn<A>(ops);
                 if (w == "alloc-free-all") return alloc_free_all<A>(ops);
                 if (w == "mixed") return mixed<A>(ops);
                 if (w == "two-threads") return two_threads<A>(ops);
                 return -1;
               }};
}

/// The registry: one line per adapter built into this binary.
std::vector<Entry> registry() {
  return {
#if defined(BENCH_JEMALLOC)
      entry<Jemalloc>(),
#elif defined(BENCH_MIMALLOC)
      entry<Mimalloc>(),
#else
      entry<GlibcMalloc>(), entry<RefBump>(), entry<RefPool>(),
      entry<OffheapArena>(), entry<OffheapArenaRuntimeSize>(), entry<OffheapObjectPool>(),
      entry<OffheapPoolMagazines>(), entry<OffheapPoolLocked>(), entry<OffheapSlab>(), entry<OffheapSlabShared>(),
#endif
  };
}

int usage() {
  std::fprintf(stderr, "usage: bench --list | bench --adapter KEY --workload NAME --ops N\n");
  return 2;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  std::string adapter, workload;
  size_t ops = 0;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--list") list = true;
    else if (a == "--adapter" && i + 1 < argc) adapter = argv[++i];
    else if (a == "--workload" && i + 1 < argc) workload = argv[++i];
    else if (a == "--ops" && i + 1 < argc) ops = std::strtoull(argv[++i], nullptr, 10);
    else return usage();
  }
  auto reg = registry();
  if (list) {
    for (const Entry& e : reg) {
      std::printf("{\"key\":\"%s\",\"name\":\"%s\",\"peer\":%s,\"workloads\":[", e.key, e.name, e.peer ? "true" : "false");
      const char* sep = "";
      for (const Workload& w : kWorkloads)
        if (e.workloads & w.bit) std::printf("%s\"%s\"", sep, w.name), sep = ",";
      std::printf("],\"whyNot\":\"%s\"}\n", e.why_not);
    }
    return 0;
  }
  if (ops == 0) return usage();
  unsigned bit = 0;
  for (const Workload& w : kWorkloads)
    if (workload == w.name) bit = w.bit;
  if (bit == 0) return usage();
  for (const Entry& e : reg) {
    if (adapter != e.key) continue;
    if ((e.workloads & bit) == 0) {
      std::fprintf(stderr, "%s does not run %s: %s\n", e.name, workload.c_str(), e.why_not);
      return 2;
    }
    double ns = e.run(workload, ops);
    std::printf("{\"key\":\"%s\",\"name\":\"%s\",\"peer\":%s,\"workload\":\"%s\",\"ops\":%zu,\"ns_per_op\":%.4f}\n", e.key, e.name,
                e.peer ? "true" : "false", workload.c_str(), ops, ns / static_cast<double>(ops));
    return 0;
  }
  std::fprintf(stderr, "no adapter %s in this binary\n", adapter.c_str());
  return 2;
}
