// Tests of the slab allocator core: classes, carving, lists, large runs,
// corrupted links, debug fills, a failing page source, threads.
#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "../core/guards.h"
#include "../core/slab.h"
#include "../bench/slab_cache.h"
#include "failing_page_source.h"
#include "test.h"

using namespace offheap;

namespace {

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

SlabAllocator* make(size_t max_bytes = 64 * MiB, uint32_t retain = 1, bool poison = false, uint32_t red_zone = 0,
                    PageSource& src = PageSource::system()) {
  SlabConfig c;
  c.max_bytes = max_bytes;
  c.retain_empty_slabs = retain;
  c.poison = poison;
  c.red_zone = red_zone;
  SlabAllocator* a = nullptr;
  return SlabAllocator::create(c, src, &a) == Status::kOk ? a : nullptr;
}

size_t usable(SlabAllocator* a, uint32_t off) {
  size_t n = 0;
  return a->usable_size(off, &n) == Status::kOk ? n : 0;
}

Status verify(SlabAllocator* a) {
  uint32_t bad;
  return a->verify(&bad);
}

SlabStats stats_of(SlabAllocator* a) {
  SlabStats s;
  a->stats(&s);
  return s;
}

}  // namespace

// The default classes: 16 B steps to 128 B, then <= 25% apart, up to slab/8.
TEST(slab_default_classes_spacing) {
  std::vector<uint32_t> c;
  SlabAllocator::default_classes(65536, &c);
  REQUIRE(!c.empty());
  CHECK_EQ(c.front(), 16u);
  CHECK_EQ(c.back(), 8192u);
  for (size_t i = 1; i < c.size(); ++i) {
    CHECK(c[i] % 16 == 0);
    CHECK(c[i] > c[i - 1]);
    if (c[i - 1] >= 64) CHECK(c[i] * 4 <= c[i - 1] * 5);
  }
  SlabAllocator::default_classes(4096, &c);
  CHECK_EQ(c.back(), 512u);
  SlabAllocator::default_classes(1 << 24, &c);
  CHECK_EQ(c.back(), (1u << 24) / 8);
}

// Bad configurations are statuses, not crashes.
TEST(slab_rejects_bad_configs) {
  SlabAllocator* a = nullptr;
  SlabConfig c;
  c.slab_bytes = 3000;
  CHECK(SlabAllocator::create(c, PageSource::system(), &a) == Status::kInvalidArgument);
  c.slab_bytes = 65536;
  c.class_sizes = {32, 16};
  CHECK(SlabAllocator::create(c, PageSource::system(), &a) == Status::kInvalidArgument);
  c.class_sizes = {24};
  CHECK(SlabAllocator::create(c, PageSource::system(), &a) == Status::kInvalidArgument);
  c.class_sizes = {16, 131072};
  CHECK(SlabAllocator::create(c, PageSource::system(), &a) == Status::kInvalidArgument);
  c.class_sizes = {};
  c.max_bytes = 0;
  CHECK(SlabAllocator::create(c, PageSource::system(), &a) == Status::kInvalidArgument);
  CHECK(a == nullptr);
}

// Every class boundary: size-1 and size fit the class, size+1 the next one.
TEST(slab_class_boundaries) {
  SlabAllocator* a = make();
  REQUIRE(a);
  for (uint32_t c = 0; c < a->classes(); ++c) {
    const uint32_t size = a->class_size(c);
    for (size_t req : {size_t{size} - 1, size_t{size}, size_t{size} + 1}) {
      uint32_t off, bad;
      REQUIRE(a->alloc(req, &off, &bad) == Status::kOk);
      const size_t want = req <= size ? size : (c + 1 < a->classes() ? a->class_size(c + 1) : align_up(req, 4096));
      CHECK_EQ(usable(a, off), want);
      std::memset(a->region()->base() + off, 0x5A, req);
      CHECK(a->free(off, &bad) == Status::kOk);
    }
  }
  uint32_t off, bad;
  REQUIRE(a->alloc(0, &off, &bad) == Status::kOk);  // 0 bytes: one granule
  CHECK_EQ(usable(a, off), 16u);
  CHECK(a->free(off, &bad) == Status::kOk);
  CHECK(verify(a) == Status::kOk);
  a->release();
}

// A random churn through a cache: no two live objects overlap, contents
// survive, counts are exact, verify() passes throughout.
TEST(slab_model_churn_no_overlap) {
  SlabAllocator* a = make();
  REQUIRE(a);
  {
    SlabCache cache(*a);
    std::mt19937 rng(7);
    std::map<uint32_t, uint32_t> live;  // offset -> size
    for (int i = 0; i < 40000; ++i) {
      if (live.size() < 2000 && (live.empty() || rng() % 3 != 0)) {
        const uint32_t size = 1 + rng() % (rng() % 16 == 0 ? 20000 : 1100);
        uint32_t off;
        REQUIRE(cache.alloc(size, &off) == Status::kOk);
        auto next = live.lower_bound(off);
        if (next != live.end()) CHECK(off + size <= next->first);
        if (next != live.begin()) {
          auto prev = std::prev(next);
          CHECK(prev->first + prev->second <= off);
        }
        std::memset(a->region()->base() + off, static_cast<int>(off >> 4), size);
        live[off] = size;
      } else {
        auto it = live.begin();
        std::advance(it, rng() % live.size());
        const uint8_t* p = a->region()->base() + it->first;
        CHECK(p[0] == static_cast<uint8_t>(it->first >> 4) && p[it->second - 1] == static_cast<uint8_t>(it->first >> 4));
        CHECK(cache.free(it->first) == Status::kOk);
        live.erase(it);
      }
      if (i % 10000 == 0) CHECK(verify(a) == Status::kOk);
    }
    CHECK_EQ(stats_of(a).live_count, live.size());
    for (auto& [off, size] : live) CHECK(cache.free(off) == Status::kOk);
    CHECK(verify(a) == Status::kOk);
    SlabStats s = stats_of(a);
    CHECK_EQ(s.live_count, 0u);
    CHECK_EQ(s.live_bytes, 0u);
    CHECK_EQ(s.alloc_count, s.free_count);
  }
  a->release();
}

// Release-mode guards of the fast path: double free (also while the handle
// sits in a magazine), interior, unaligned and out-of-range offsets.
TEST(slab_cache_rejects_bad_frees) {
  SlabAllocator* a = make();
  REQUIRE(a);
  {
    SlabCache cache(*a);
    uint32_t off;
    REQUIRE(cache.alloc(48, &off) == Status::kOk);
    CHECK(cache.free(off + 16) == Status::kInvalidHandle);  // interior, granule-aligned
    CHECK(cache.free(off + 3) == Status::kInvalidHandle);
    CHECK(cache.free(static_cast<uint32_t>(a->region()->size())) == Status::kInvalidHandle);
    CHECK(cache.free(off) == Status::kOk);
    CHECK(cache.free(off) == Status::kDoubleFree);  // in the magazine
    CHECK(cache.flush() == Status::kOk);
    CHECK(cache.free(off) == Status::kDoubleFree);  // back in the depot
    CHECK(cache.free(8 * MiB) == Status::kInvalidHandle);  // never allocated
    CHECK(verify(a) == Status::kOk);
  }
  a->release();
}

// The cache's block has a top and an end for every byte value, equal for an
// id of no class: a free whose state byte names no class (scribbled by JS,
// or never a small object's) goes to the slow path and changes nothing.
TEST(slab_cache_turns_away_states_that_name_no_class) {
  const MagazineBlock::Layout l = MagazineBlock::layout(3, MagazineBlock::kStride, MagazineBlock::kAllIds);
  CHECK_EQ(l.ends, MagazineBlock::kAllIds);
  CHECK_EQ(l.handles, 2 * MagazineBlock::kAllIds);
  CHECK_EQ(MagazineBlock::layout(3).ends, 4u);  // the JS blocks keep theirs
  SlabAllocator* a = make();
  REQUIRE(a);
  {
    SlabCache cache(*a);
    uint32_t off;
    REQUIRE(cache.alloc(48, &off) == Status::kOk);
    uint8_t* state = a->states().bytes() + (off >> SlabAllocator::kGranuleShift);
    const uint8_t id = *state;
    REQUIRE(id == a->class_for(48) + 1);
    MagazineBlock& b = cache.block();
    const size_t bytes = MagazineBlock::layout(a->classes(), MagazineBlock::kStride, MagazineBlock::kAllIds).bytes;
    const std::vector<uint8_t> before(reinterpret_cast<uint8_t*>(b.words()), reinterpret_cast<uint8_t*>(b.words()) + bytes);
    uint32_t turned_away = 0;
    for (uint32_t v = 0; v < 256; ++v) {
      if (v >= 1 && v <= a->classes()) continue;  // a class id: trusted as the class (depot checks on drain)
      *state = static_cast<uint8_t>(v);
      turned_away += cache.free(off) != Status::kOk;
      CHECK(std::memcmp(before.data(), b.words(), bytes) == 0);
    }
    CHECK_EQ(turned_away, 256 - a->classes());
    *state = id;
    CHECK(cache.free(off) == Status::kOk);
    CHECK(verify(a) == Status::kOk);
  }
  a->release();
}

// Large sizes get their own run: slab-aligned, page-rounded usable size,
// committed while live and given back on free; a second free is caught.
TEST(slab_large_runs) {
  SlabAllocator* a = make();
  REQUIRE(a);
  const size_t before = a->region()->committed();
  uint32_t off, bad;
  REQUIRE(a->alloc(100 * KiB + 1, &off, &bad) == Status::kOk);
  CHECK_EQ(off % a->slab_bytes(), 0u);
  CHECK_EQ(usable(a, off), align_up(100 * KiB + 1, 4096));
  CHECK_EQ(a->region()->committed() - before, align_up(100 * KiB + 1, 4096));
  CHECK_EQ(a->states().get(off), SlotState::kLiveLarge);
  std::memset(a->region()->base() + off, 1, 100 * KiB + 1);
  CHECK(a->free(off + 4096, &bad) == Status::kInvalidHandle);
  CHECK(verify(a) == Status::kOk);
  CHECK(a->free(off, &bad) == Status::kOk);
  CHECK_EQ(a->region()->committed(), before);
  CHECK_EQ(a->region()->base()[off], 0);  // decommitted: reads zero
  CHECK(a->free(off, &bad) == Status::kDoubleFree);
  // A run as big as the region minus one slab still fits; bigger does not.
  REQUIRE(a->alloc(a->region()->size() - a->slab_bytes(), &off, &bad) == Status::kOk);
  uint32_t off2;
  CHECK(a->alloc(2 * a->slab_bytes(), &off2, &bad) == Status::kExhausted);
  CHECK(a->free(off, &bad) == Status::kOk);
  CHECK(verify(a) == Status::kOk);
  CHECK_EQ(stats_of(a).failed_count, 1u);
  a->release();
}

// A free-list link overwritten through the region is caught at the pop:
// out of range, or naming a slot that is not free. Nothing is handed twice.
TEST(slab_corrupted_links_are_caught) {
  for (uint32_t scribble : {0x7FFFFFF0u, 0u}) {
    SlabAllocator* a = make();
    REQUIRE(a);
    uint32_t x, y, z, bad;
    REQUIRE(a->alloc(64, &x, &bad) == Status::kOk);
    REQUIRE(a->alloc(64, &y, &bad) == Status::kOk);
    REQUIRE(a->alloc(64, &z, &bad) == Status::kOk);
    CHECK(a->free(y, &bad) == Status::kOk);
    CHECK(a->free(z, &bad) == Status::kOk);  // free list: z -> y
    // 0 names granule 0 = x, which is live: as bad as an out-of-range index.
    std::memcpy(a->region()->base() + z, &scribble, 4);
    uint32_t got;
    CHECK(a->alloc(64, &got, &bad) == Status::kCorrupted);
    CHECK_EQ(bad, z);
    // The free list was rebuilt from the state table: nothing lost.
    CHECK(verify(a) == Status::kOk);
    uint32_t first, second;
    REQUIRE(a->alloc(64, &first, &bad) == Status::kOk);
    REQUIRE(a->alloc(64, &second, &bad) == Status::kOk);
    CHECK((first == y && second == z) || (first == z && second == y));
    CHECK(verify(a) == Status::kOk);
    a->release();
  }
}

// verify() finds a bad link (a cycle here) and repairs it the same way.
TEST(slab_verify_repairs_a_corrupted_free_list) {
  SlabAllocator* a = make();
  REQUIRE(a);
  uint32_t offs[8], bad;
  for (uint32_t& o : offs) REQUIRE(a->alloc(64, &o, &bad) == Status::kOk);
  for (int i = 1; i < 8; ++i) CHECK(a->free(offs[i], &bad) == Status::kOk);
  const uint32_t self = (offs[3] & (a->slab_bytes() - 1)) >> SlabAllocator::kGranuleShift;
  for (int i = 1; i < 8; ++i) std::memcpy(a->region()->base() + offs[i], &self, 4);  // every link -> slot 3
  CHECK(verify(a) == Status::kCorrupted);
  CHECK(verify(a) == Status::kOk);
  std::vector<uint32_t> got;
  for (int i = 1; i < 8; ++i) {
    uint32_t o;
    REQUIRE(a->alloc(64, &o, &bad) == Status::kOk);
    CHECK(o != offs[0]);
    got.push_back(o);
  }
  std::sort(got.begin(), got.end());
  CHECK(std::unique(got.begin(), got.end()) == got.end());
  CHECK(verify(a) == Status::kOk);
  a->release();
}

// A scribbled magazine (count or entries) is reported, never trusted.
TEST(slab_corrupted_magazine_is_caught) {
  SlabAllocator* a = make();
  REQUIRE(a);
  {
    SlabCache cache(*a);
    uint32_t off;
    REQUIRE(cache.alloc(32, &off) == Status::kOk);
    const uint32_t c = a->class_for(32);
    MagazineBlock& b = cache.block();
    b.words()[b.base(c)] = 12345;  // a stale entry turned into garbage
    b.set_count(c, 1);
    uint32_t bad = 0;
    CHECK(b.drain(*a, c, 0, &bad) == Status::kCorrupted);
    CHECK_EQ(bad, 12345u);
    b.set_count(c, 1000);
    uint32_t got;
    CHECK(b.refill(*a, c, &got) == Status::kCorrupted);
    b.set_count(c, 0);
    CHECK(cache.free(off) == Status::kOk);
  }
  a->release();
}

// Empty slabs beyond retain go back to the OS at once; trim() returns the rest.
TEST(slab_empty_slabs_are_released) {
  for (uint32_t retain : {0u, 2u}) {
    SlabAllocator* a = make(64 * MiB, retain);
    REQUIRE(a);
    std::vector<uint32_t> offs;
    uint32_t off, bad;
    for (int i = 0; i < 4 * 64; ++i) {  // 4 slabs of 1 KiB objects
      REQUIRE(a->alloc(1024, &off, &bad) == Status::kOk);
      offs.push_back(off);
    }
    CHECK_EQ(a->region()->committed(), 4 * 64 * KiB);
    for (uint32_t o : offs) CHECK(a->free(o, &bad) == Status::kOk);
    CHECK_EQ(a->region()->committed(), retain * 64 * KiB);
    CHECK_EQ(stats_of(a).classes[a->class_for(1024)].empty_slabs, retain);
    size_t released = 0;
    CHECK(a->trim(&released) == Status::kOk);
    CHECK_EQ(released, retain * 64 * KiB);
    CHECK_EQ(a->region()->committed(), 0u);
    CHECK(verify(a) == Status::kOk);
    CHECK(a->free(offs[5], &bad) == Status::kDoubleFree);  // a slot of a released slab
    a->release();
  }
}

// Lazy carving: a slab's untouched tail is never counted as committed.
TEST(slab_commits_only_carved_pages) {
  SlabAllocator* a = make();
  REQUIRE(a);
  uint32_t off, bad;
  REQUIRE(a->alloc(16, &off, &bad) == Status::kOk);
  CHECK_EQ(a->region()->committed(), 4096u);
  a->release();
}

// The OS refusing reservations or decommits is a status; nothing breaks.
TEST(slab_failing_page_source) {
  test::FailingPageSource src;
  src.fail_reserve = true;
  CHECK(make(64 * MiB, 0, false, 0, src) == nullptr);
  src.fail_reserve = false;
  SlabAllocator* a = make(64 * MiB, 0, false, 0, src);
  REQUIRE(a);
  uint32_t off, bad;
  REQUIRE(a->alloc(256, &off, &bad) == Status::kOk);
  src.fail_decommit = true;
  CHECK(a->free(off, &bad) == Status::kOk);  // the empty slab stays, committed
  CHECK_EQ(stats_of(a).classes[a->class_for(256)].empty_slabs, 1u);
  size_t released;
  CHECK(a->trim(&released) == Status::kOsFailure);
  CHECK(verify(a) == Status::kOk);
  src.fail_decommit = false;
  CHECK(a->trim(&released) == Status::kOk);
  CHECK_EQ(a->region()->committed(), 0u);
  a->release();
}

// Exhaustion: a region of one slab holds one slab's worth, then refuses.
TEST(slab_exhaustion) {
  SlabAllocator* a = make(64 * KiB);
  REQUIRE(a);
  uint32_t off, bad;
  for (int i = 0; i < 64; ++i) REQUIRE(a->alloc(1024, &off, &bad) == Status::kOk);
  CHECK(a->alloc(1024, &off, &bad) == Status::kExhausted);
  CHECK(a->alloc(16, &off, &bad) == Status::kExhausted);  // no slab for another class
  CHECK_EQ(stats_of(a).failed_count, 2u);
  a->release();
}

// Debug poison: fresh 0xD0, freed 0xDF; a write after free is reported at
// reuse and by verify(), with the offending byte's offset.
TEST(slab_poison_catches_write_after_free) {
  SlabAllocator* a = make(64 * MiB, 1, true);
  REQUIRE(a);
  uint32_t off, bad;
  REQUIRE(a->alloc(100, &off, &bad) == Status::kOk);
  uint8_t* p = a->region()->base() + off;
  CHECK_EQ(p[0], 0xD0);
  CHECK_EQ(p[99], 0xD0);
  CHECK(a->free(off, &bad) == Status::kOk);
  guards::asan_unpoison(p, 112);  // JS reads and writes where ASan cannot see
  CHECK_EQ(p[50], 0xDF);
  CHECK(verify(a) == Status::kOk);
  guards::asan_unpoison(p, 112);
  p[50] = 1;
  CHECK(a->verify(&bad) == Status::kUseAfterFree);
  CHECK_EQ(bad, off + 50);
  uint32_t again;
  CHECK(a->alloc(100, &again, &bad) == Status::kUseAfterFree);
  CHECK_EQ(bad, off + 50);
  REQUIRE(a->alloc(100, &again, &bad) == Status::kOk);  // reported once, then reused
  CHECK_EQ(again, off);
  a->release();
}

// Debug red zones: bytes after the request are 0xDE, checked at free and by
// verify(); usable_size is the requested size.
TEST(slab_red_zone_catches_overflow) {
  SlabAllocator* a = make(64 * MiB, 1, false, 16);
  REQUIRE(a);
  uint32_t off, bad;
  REQUIRE(a->alloc(20, &off, &bad) == Status::kOk);
  CHECK_EQ(usable(a, off), 20u);
  uint8_t* p = a->region()->base() + off;
  CHECK_EQ(p[20], 0xDE);
  CHECK(verify(a) == Status::kOk);
  p[21] = 0;
  CHECK(verify(a) == Status::kOverflow);
  CHECK(a->free(off, &bad) == Status::kOverflow);
  CHECK_EQ(bad, off + 21);
  CHECK(a->free(off, &bad) == Status::kDoubleFree);  // it was freed all the same
  uint32_t big;
  REQUIRE(a->alloc(20000, &big, &bad) == Status::kOk);  // large runs get one too
  a->region()->base()[big + 20000] = 0;
  CHECK(a->free(big, &bad) == Status::kOverflow);
  CHECK(verify(a) == Status::kOk);
  a->release();
}

// Threads: each with its own cache, freeing each other's objects through a
// shared exchange; an owner tag in every slot proves nobody shares a slot.
TEST(slab_threads_share_one_depot) {
  SlabAllocator* a = make(256 * MiB);
  REQUIRE(a);
  constexpr int kThreads = 4, kOps = 40000;
  std::vector<std::atomic<uint32_t>> exchange(256);
  for (auto& e : exchange) e.store(0xFFFFFFFFu);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      SlabCache cache(*a);
      std::mt19937 rng(t + 1);
      std::vector<std::pair<uint32_t, uint32_t>> mine;  // offset, size
      for (int i = 0; i < kOps; ++i) {
        uint32_t off;
        const uint32_t size = 16 + rng() % 1009;
        if (cache.alloc(size, &off) != Status::kOk) { errors++; continue; }
        uint8_t* p = a->region()->base() + off;
        std::memset(p, t + 1, size);
        mine.emplace_back(off, size);
        if (mine.size() > 64) {
          std::swap(mine[rng() % mine.size()], mine.back());
          const auto [o, s] = mine.back();
          mine.pop_back();
          const uint8_t* q = a->region()->base() + o;
          if (q[0] != t + 1 || q[s - 1] != t + 1) errors++;  // someone else wrote my slot
          // Hand it to another thread, or free it here.
          const uint32_t prev = exchange[rng() % exchange.size()].exchange(o);
          if (prev != 0xFFFFFFFFu && cache.free(prev) != Status::kOk) errors++;
        }
      }
      for (auto [o, s] : mine) if (cache.free(o) != Status::kOk) errors++;
    });
  }
  for (auto& th : threads) th.join();
  {
    SlabCache last(*a);
    for (auto& e : exchange) {
      const uint32_t o = e.exchange(0xFFFFFFFFu);
      if (o != 0xFFFFFFFFu && last.free(o) != Status::kOk) errors++;
    }
  }
  CHECK_EQ(errors.load(), 0);
  CHECK_EQ(stats_of(a).live_count, 0u);
  CHECK_EQ(stats_of(a).alloc_count, uint64_t{kThreads} * kOps);
  CHECK(verify(a) == Status::kOk);
  a->release();
}

// A detached cache gives back what it held; its live objects stay live.
TEST(slab_detach_returns_magazines_keeps_live) {
  SlabAllocator* a = make();
  REQUIRE(a);
  uint32_t kept;
  {
    SlabCache cache(*a);
    REQUIRE(cache.alloc(64, &kept) == Status::kOk);
    uint32_t off;
    REQUIRE(cache.alloc(64, &off) == Status::kOk);
    CHECK(cache.free(off) == Status::kOk);
    CHECK(stats_of(a).classes[a->class_for(64)].cached > 0);
  }
  SlabStats s = stats_of(a);
  CHECK_EQ(s.classes[a->class_for(64)].cached, 0u);
  CHECK_EQ(s.live_count, 1u);
  CHECK_EQ(s.alloc_count, 2u);
  CHECK(verify(a) == Status::kOk);
  {
    SlabCache other(*a);
    CHECK(other.free(kept) == Status::kOk);
  }
  a->release();
}

// Sharing: an id finds the allocator while it lives, and nothing after.
TEST(slab_share_registry) {
  SlabAllocator* a = make();
  REQUIRE(a);
  const uint32_t id = a->share();
  CHECK_EQ(a->share(), id);
  CHECK(share_registry::acquire(id, SlabAllocator::kShareKind) == a);
  CHECK(share_registry::acquire(id, 1234) == nullptr);
  a->release();  // the acquired reference
  a->release();  // the last one
  CHECK(share_registry::acquire(id, SlabAllocator::kShareKind) == nullptr);
}

// Each thread's magazines fill from slabs of their own (no false sharing);
// a detached thread's slab goes back to the shared lists, verify() agrees.
// Pins: a thread's new home was the head of the partial list, often a slab
// holding another thread's live objects, so both threads CASed state bytes
// in the same cache lines (the two-worker benchmark's false sharing).
TEST(slab_threads_leave_each_others_partial_slabs_alone) {
  SlabAllocator* a = make();
  REQUIRE(a);
  {
    SlabCache one(*a), two(*a);
    const uint32_t cls = a->class_for(64);
    std::vector<uint32_t> mine(a->objects_per_slab(cls) + 1);
    for (uint32_t& off : mine) REQUIRE(one.alloc(64, &off) == Status::kOk);  // the first slab full, one more
    const uint32_t first = mine[0] >> a->slab_shift();
    CHECK(one.free(mine[0]) == Status::kOk);
    CHECK(one.flush() == Status::kOk);  // now a partial slab, one's objects still in it
    uint32_t y;
    REQUIRE(two.alloc(64, &y) == Status::kOk);
    CHECK(y >> a->slab_shift() != first);
    for (uint32_t i = 0; i < a->objects_per_slab(cls); ++i) {  // one fills its second home, then takes its first back
      uint32_t x;
      REQUIRE(one.alloc(64, &x) == Status::kOk);
      mine.push_back(x);
    }
    // mine[0]'s slot went to one again: allocated, or cached in one's magazine.
    bool reused = std::count(mine.begin() + 1, mine.end(), mine[0]) == 1;
    MagazineBlock& b = one.block();
    for (uint32_t i = 0; i < b.cached(cls); ++i) reused |= static_cast<uint32_t>(b.words()[b.base(cls) + i]) == mine[0];
    CHECK(reused);
    CHECK(verify(a) == Status::kOk);
    for (size_t i = 1; i < mine.size(); ++i) CHECK(one.free(mine[i]) == Status::kOk);
    CHECK(two.free(y) == Status::kOk);
  }
  CHECK(verify(a) == Status::kOk);
  a->release();
}

TEST(slab_threads_get_slabs_of_their_own) {
  SlabAllocator* a = make();
  REQUIRE(a);
  {
    SlabCache one(*a);
    uint32_t x, y;
    {
      SlabCache two(*a);
      REQUIRE(one.alloc(64, &x) == Status::kOk);
      REQUIRE(two.alloc(64, &y) == Status::kOk);
      CHECK(x >> a->slab_shift() != y >> a->slab_shift());
      CHECK(verify(a) == Status::kOk);
      CHECK(two.free(y) == Status::kOk);
    }
    CHECK(verify(a) == Status::kOk);
    SlabStats s = stats_of(a);
    CHECK_EQ(s.classes[a->class_for(64)].slabs, 2u);  // one thread's, and the other one's, now shared
    CHECK_EQ(s.live_count, 1u);
    size_t released = 0;
    CHECK(one.free(x) == Status::kOk);
    CHECK(one.flush() == Status::kOk);
    CHECK(a->trim(&released) == Status::kOk);  // empty own slabs go too
    CHECK_EQ(a->region()->committed(), 0u);
    CHECK(verify(a) == Status::kOk);
    REQUIRE(one.alloc(64, &x) == Status::kOk);  // and a new one is taken
    CHECK(one.free(x) == Status::kOk);
  }
  a->release();
}
