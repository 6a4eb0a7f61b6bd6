// Instruction-count driver for the inlined Arena::alloc (not a test; built
// without sanitizers at -O2). `make -C native/bench callgrind` runs it under
// valgrind --tool=callgrind at two loop lengths and prints the difference per
// allocation, so start-up and the periodic resets cancel out.
//
//   arena_alloc N            N allocations of 64 bytes aligned to 16 (sizes known
//                            at compile time, as most C++ callers have them)
//   arena_alloc N size align the same with size and alignment read at run time
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "../core/arena.h"

using namespace offheap;

namespace {

// N allocations, a reset every 4096 so the arena never runs out.
template <typename Size, typename Align>
__attribute__((noinline)) uintptr_t run(Arena* arena, long n, Size size, Align align) {
  uintptr_t sink = 0;
  for (long i = 0; i < n; i += 4096) {
    for (long j = 0; j < 4096; ++j) {
      void* p = arena->alloc(size, align);
      asm volatile("" : : "r"(p));  // keep every pointer without a memory clobber
      sink ^= reinterpret_cast<uintptr_t>(p);
    }
    arena->reset();
  }
  return sink;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1000000;
  ArenaState state;
  Arena* arena = nullptr;
  ArenaOptions options;
  options.max_bytes = size_t{64} << 20;
  if (Arena::create(options, PageSource::system(), &state, &arena) != Status::kOk) return 1;
  const uintptr_t sink = argc > 3 ? run(arena, n, std::strtoul(argv[2], nullptr, 10), std::strtoul(argv[3], nullptr, 10))
                                  : run(arena, n, std::integral_constant<size_t, 64>{},
                                        std::integral_constant<size_t, 16>{});
  std::printf("%lu\n", static_cast<unsigned long>(sink & 1));
  delete arena;
  return 0;
}
