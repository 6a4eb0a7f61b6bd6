// Every debug check of the core in one place: fill bytes, red zones, assert
// levels and AddressSanitizer annotations. A disabled check is an empty inline
// function, so call sites carry no #if.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define OFFHEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OFFHEAP_ASAN 1
#endif
#endif

#if defined(OFFHEAP_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#define OFFHEAP_LIKELY(x) __builtin_expect(!!(x), 1)
#define OFFHEAP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define OFFHEAP_NOINLINE __attribute__((noinline))

// Assert levels, as mimalloc's: 1 cheap (always in tests), 2 internal
// invariants, 3 expensive whole-structure walks. OFFHEAP_ASSERT_LEVEL picks.
#ifndef OFFHEAP_ASSERT_LEVEL
#define OFFHEAP_ASSERT_LEVEL 0
#endif
#if OFFHEAP_ASSERT_LEVEL > 0
#include <cstdio>
#include <cstdlib>
#define OFFHEAP_ASSERT(level, cond)                                              \
  do {                                                                           \
    if ((level) <= OFFHEAP_ASSERT_LEVEL && !(cond)) {                            \
      std::fprintf(stderr, "offheap assertion failed: %s (%s:%d)\n", #cond,      \
                   __FILE__, __LINE__);                                          \
      std::abort();                                                              \
    }                                                                            \
  } while (0)
#else
#define OFFHEAP_ASSERT(level, cond) ((void)0)
#endif

namespace offheap::guards {

/// Fill bytes (mimalloc's): fresh memory, freed memory, red zones.
inline constexpr uint8_t kFillFresh = 0xD0;
inline constexpr uint8_t kFillFreed = 0xDF;
inline constexpr uint8_t kFillRedZone = 0xDE;

/// Sentinel for "every byte matched".
inline constexpr size_t kClean = static_cast<size_t>(-1);

inline void fill(uint8_t* p, size_t n, uint8_t byte) noexcept { std::memset(p, byte, n); }

/// Index of the first byte of [p, p+n) that is not `byte`, or kClean.
inline size_t find_mismatch(const uint8_t* p, size_t n, uint8_t byte) noexcept {
  size_t i = 0;
  const uint64_t word = 0x0101010101010101ull * byte;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    if (v != word) break;
  }
  for (; i < n; ++i)
    if (p[i] != byte) return i;
  return kClean;
}

/// Marks [p, p+n) as not to be touched (free) / usable again, for ASan.
/// No-ops unless the core is built with -fsanitize=address.
#if defined(OFFHEAP_ASAN)
inline void asan_poison(const void* p, size_t n) noexcept { ASAN_POISON_MEMORY_REGION(p, n); }
inline void asan_unpoison(const void* p, size_t n) noexcept { ASAN_UNPOISON_MEMORY_REGION(p, n); }
#else
inline void asan_poison(const void*, size_t) noexcept {}
inline void asan_unpoison(const void*, size_t) noexcept {}
#endif

}  // namespace offheap::guards
