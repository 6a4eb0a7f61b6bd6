// Every core allocator annotates free memory for AddressSanitizer through
// guards.h, in release and in debug mode: freed / released bytes are
// poisoned, handed-out bytes are not. These tests ask ASan's shadow memory
// directly (the test binary is built with -fsanitize=address).
#include <cstring>

#include "../core/arena.h"
#include "../core/guards.h"
#include "../core/object_pool.h"
#include "../core/slab.h"
#include "../core/slab_internal.h"
#include "test.h"

using namespace offheap;

#if defined(OFFHEAP_ASAN)
namespace {

bool poisoned(const uint8_t* p) { return __asan_address_is_poisoned(p) != 0; }

// Bytes [p, p+n) are all addressable.
bool usable(const uint8_t* p, size_t n) { return __asan_region_is_poisoned(const_cast<uint8_t*>(p), n) == nullptr; }

void arena_case(bool debug) {
  ArenaOptions o;
  o.max_bytes = 1 << 20;
  o.debug = debug;
  o.poison = debug;
  o.red_zone = debug ? 16 : 0;
  ArenaState state;
  Arena* a = nullptr;
  REQUIRE(Arena::create(o, PageSource::system(), &state, &a) == Status::kOk);
  size_t off = 0;
  REQUIRE(a->allocate(64, 16, false, &off) == Status::kOk);
  const uint8_t* p = a->region()->base() + off;
  CHECK(usable(p, 64));
  CHECK(a->rewind(0, 0) == Status::kOk);
  CHECK(poisoned(p));
  CHECK(poisoned(p + 63));
  // Reused memory is addressable again (debug mode checks its poison on the way).
  REQUIRE(a->allocate(64, 16, false, &off) == Status::kOk);
  CHECK(usable(a->region()->base() + off, 64));
  CHECK(a->reset() == Status::kOk);
  CHECK(poisoned(a->region()->base() + off));
  CHECK(a->verify() == Status::kOk);  // debug: reads released poison without an ASan report
  delete a;
}

void pool_case(bool poison) {
  ObjectPoolOptions o;
  o.slot_size = 64;
  o.capacity = 16;
  o.poison = poison;
  ObjectPool* p = nullptr;
  REQUIRE(ObjectPool::create(o, PageSource::system(), &p) == Status::kOk);
  uint32_t off = 0;
  REQUIRE(p->alloc(&off) == Status::kOk);
  const uint8_t* mem = p->region()->base() + off;
  CHECK(usable(mem, 64));
  REQUIRE(p->free(off) == Status::kOk);
  CHECK(poisoned(mem + 8));
  CHECK(poisoned(mem + 63));
  REQUIRE(p->alloc(&off) == Status::kOk);
  CHECK(usable(p->region()->base() + off, 64));
  p->destroy();
  delete p;
}

void slab_case(bool debug) {
  SlabConfig c;
  c.max_bytes = 4 << 20;
  c.poison = debug;
  c.red_zone = debug ? 16 : 0;
  SlabAllocator* a = nullptr;
  REQUIRE(SlabAllocator::create(c, PageSource::system(), &a) == Status::kOk);
  uint32_t off = 0, bad = 0;
  REQUIRE(a->alloc(48, &off, &bad) == Status::kOk);
  const uint8_t* p = a->region()->base() + off;
  CHECK(usable(p, 48));
  REQUIRE(a->alloc(48, &off, &bad) == Status::kOk);  // keeps the slab partial
  const uint32_t first = static_cast<uint32_t>(p - a->region()->base());
  REQUIRE(a->free(first, &bad) == Status::kOk);
  CHECK(poisoned(p + slab_internal::kLinkBytes));  // the link stays readable for the free list
  CHECK(poisoned(p + 40));
  CHECK(a->verify(&bad) == Status::kOk);  // walks the free list and its poison without an ASan report
  a->release();
}

}  // namespace

// Pins: an allocator (or one of its modes) that leaves freed memory addressable under ASan.
TEST(guards_asan_arena_release_poisons_released_bytes) { arena_case(false); }
TEST(guards_asan_arena_debug_poisons_released_bytes) { arena_case(true); }
TEST(guards_asan_pool_release_poisons_free_slots) { pool_case(false); }
TEST(guards_asan_pool_debug_poisons_free_slots) { pool_case(true); }
TEST(guards_asan_slab_release_poisons_free_objects) { slab_case(false); }
TEST(guards_asan_slab_debug_poisons_free_objects) { slab_case(true); }
#endif

// Pins: fill bytes that drift from mimalloc's (and from lib/guards.ts, which a vitest compares).
TEST(guards_fill_bytes_are_distinct_and_mimallocs) {
  CHECK_EQ(guards::kFillFresh, 0xD0);
  CHECK_EQ(guards::kFillFreed, 0xDF);
  CHECK_EQ(guards::kFillRedZone, 0xDE);
}
