// Private to slab.cc and slab_check.cc: the per-slab header, the per-class
// lists and the constants both files use. Not part of the core's interface.
#pragma once

#include <cstdint>
#include <cstring>

#include "slab.h"

namespace offheap {
namespace slab_internal {

constexpr uint32_t kNil = 0xFFFFFFFFu;
/// Which list a slab is on (SlabMeta::list); partial/full/empty index lists_ by list - 1.
/// kListHome: the slab serves one thread's magazines (SlabMeta::owner) and
/// is on no shared list until it is full or its thread detaches.
enum : uint8_t {
  kListNone = 0, kListPartial = 1, kListFull = 2, kListEmpty = 3, kListLarge = 4, kListLargeTail = 5, kListHome = 6
};
constexpr uint8_t kLastLarge = 0xFF;  ///< SlabMeta::last of a freed large run
constexpr size_t kMagazineBytes = 32768;  ///< a magazine's batch holds about this many bytes
constexpr uint32_t kLinkBytes = 4;        ///< the free-list link at the start of a free slot
constexpr uint32_t kHomeScan = 8;         ///< partial slabs home_slab() looks at for one of the caller's own

inline uint32_t load_link(const uint8_t* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, kLinkBytes);
  return v;
}
inline void store_link(uint8_t* p, uint32_t v) noexcept { std::memcpy(p, &v, kLinkBytes); }

}  // namespace slab_internal

struct SlabAllocator::SlabMeta {
  uint32_t free_head;   ///< granule (within the slab) of the first free slot, or kNil
  uint32_t free_count;  ///< slots on the free list
  uint32_t carved;      ///< slots carved so far; the rest was never handed out
  uint32_t out;         ///< slots handed out: in a magazine or live
  uint32_t prev, next;  ///< neighbours on its list
  uint32_t bytes;       ///< small: bytes counted as committed; large: usable bytes
  uint32_t run;         ///< large: slabs in the run
  uint32_t owner;       ///< kListHome: the tag of the magazines it serves; else the last it served (0: none)
  uint8_t cls;          ///< the class it serves (small slabs)
  uint8_t list;         ///< kList*; kListNone when unused
  uint8_t last;         ///< unused: class + 1 it last served, kLastLarge, or 0
};

struct SlabAllocator::ClassList {
  uint32_t head[3] = {slab_internal::kNil, slab_internal::kNil, slab_internal::kNil};  ///< partial, full, empty
  uint32_t count[3] = {0, 0, 0};
  uint32_t homes = 0;  ///< slabs serving one thread each (kListHome)
  uint64_t out = 0;    ///< objects handed out (cached or live)
};

}  // namespace offheap
