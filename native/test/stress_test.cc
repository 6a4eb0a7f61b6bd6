// Randomized stress driver for the core under ASan + UBSan: random
// operations on Arena, ObjectPool and SlabAllocator (wrong calls included:
// double frees, foreign and interior offsets, refused rewinds) checked against a
// shadow model (no overlap, every live allocation keeps its pattern, counts
// exact, the exact Status of each misuse), then threads on the pool depot and
// the slab with owner tags in every allocation.
//   OFFHEAP_STRESS_OPS   operations per case (default 20000: a few seconds)
//   OFFHEAP_STRESS_SEED  seed (default 1)
// `npm run stress -- <ops> <seed>` (scripts/stress.mjs) runs the long version.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "../core/arena.h"
#include "../core/object_pool.h"
#include "../core/pool_depot.h"
#include "../core/slab.h"
#include "../bench/slab_cache.h"
#include "test.h"

using namespace offheap;

namespace {

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}
uint64_t ops() { return env_or("OFFHEAP_STRESS_OPS", 20000); }
/// Operations between two full checks of every live block (about 400 checks per case).
uint64_t check_every() { return std::max<uint64_t>(64, ops() / 400); }
uint32_t seed() { return static_cast<uint32_t>(env_or("OFFHEAP_STRESS_SEED", 1)); }

/// Operations run over every case, printed at the end of the last one.
std::atomic<uint64_t> g_ops{0};

uint8_t pattern(uint32_t id, size_t j) { return static_cast<uint8_t>(id * 31 + j * 7 + 1); }

struct Block {
  size_t size;
  uint32_t id;
};

void fill(uint8_t* base, size_t off, const Block& b) {
  for (size_t j = 0; j < b.size; ++j) base[off + j] = pattern(b.id, j);
}

/// Every live block holds its pattern and none overlaps the next.
bool intact(const uint8_t* base, const std::map<size_t, Block>& live) {
  size_t end = 0;
  for (const auto& [off, b] : live) {
    if (off < end) return false;
    for (size_t j = 0; j < b.size; ++j)
      if (base[off + j] != pattern(b.id, j)) return false;
    if (b.size) end = off + b.size;
  }
  return true;
}

/// The arena's blocks in allocation order (zero-size ones may share an offset).
bool intact(const uint8_t* base, const std::vector<std::pair<size_t, Block>>& live) {
  std::map<size_t, Block> m;
  for (const auto& [off, b] : live) if (b.size) m[off] = b;
  return intact(base, m);
}

}  // namespace

// Arena: alloc / rewind to recorded marks (and to refused positions) / reset(retain) /
// verify against a model cursor, count and the bytes of every allocation.
TEST(stress_arena_model) {
  ArenaState state{};
  Arena* a = nullptr;
  ArenaOptions o;
  o.max_bytes = 1 * MiB;
  REQUIRE(Arena::create(o, PageSource::system(), &state, &a) == Status::kOk);
  std::mt19937 rng(seed());
  std::vector<std::pair<size_t, Block>> live;
  struct Mark { size_t cursor; size_t count; };  // what the facade records
  std::vector<Mark> marks;
  size_t cursor = 0;
  uint32_t ids = 0;
  const uint64_t n = ops();
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t op = rng() % 100;
    if (op < 60) {
      const size_t size = rng() % 4 == 0 ? rng() % 20000 : rng() % 300;
      const size_t align = size_t{1} << (rng() % 8);
      const size_t start = (cursor + align - 1) & ~(align - 1);
      size_t off = 0;
      const Status s = a->allocate(size, align, rng() % 2, &off);
      if (start + size > o.max_bytes) {
        CHECK(s == Status::kExhausted);
      } else {
        REQUIRE(s == Status::kOk);
        CHECK_EQ(off, start);
        Block b{size, ids++};
        fill(a->region()->base(), off, b);
        live.emplace_back(off, b);
        cursor = off + size;
      }
    } else if (op < 70) {
      marks.push_back({cursor, live.size()});
    } else if (op < 82 && !marks.empty()) {
      const size_t k = rng() % marks.size();
      REQUIRE(a->rewind(marks[k].cursor, static_cast<uint32_t>(marks[k].count)) == Status::kOk);
      marks.resize(k + 1);
      cursor = marks[k].cursor;
      live.resize(marks[k].count);
    } else if (op < 86) {
      // A position above the cursor (a mark that died, or garbage) is refused.
      CHECK(a->rewind(cursor + 1 + rng() % 4096, static_cast<uint32_t>(live.size())) == Status::kInvalidHandle);
    } else if (op < 88) {
      CHECK(a->rewind(cursor, static_cast<uint32_t>(live.size() + 1 + rng() % 100)) == Status::kInvalidHandle);
    } else if (op < 91) {
      const size_t retain = rng() % 2 ? SIZE_MAX : rng() % (256 * KiB);
      REQUIRE(a->reset(retain) == Status::kOk);
      marks.clear();
      live.clear();
      cursor = 0;
      if (retain != SIZE_MAX) CHECK(a->stats().committed <= retain + PageSource::page_size() + Arena::kCommitChunk);
    } else if (op < 93) {
      CHECK(a->verify() == Status::kOk);
    } else {
      size_t off;
      CHECK(a->allocate(size_t{1} << 31, 16, false, &off) != Status::kOk);  // out of range: refused, nothing moves
    }
    CHECK_EQ(a->stats().used, cursor);
    CHECK_EQ(a->stats().live_count, live.size());
    if (i % check_every() == 0) CHECK(intact(a->region()->base(), live));
    if (test::current_failed()) break;
  }
  CHECK(intact(a->region()->base(), live));
  CHECK(a->verify() == Status::kOk);
  delete a;
  g_ops += n;
}

// ObjectPool: alloc / free / double free / foreign offsets / verify against a
// shadow set of live slots, each filled with its own pattern.
TEST(stress_pool_model) {
  ObjectPoolOptions o;
  o.slot_size = 40;
  o.capacity = 3000;
  ObjectPool* p = nullptr;
  REQUIRE(ObjectPool::create(o, PageSource::system(), &p) == Status::kOk);
  const uint32_t size = p->slot_size();
  std::mt19937 rng(seed() + 1);
  std::map<size_t, Block> live;
  std::vector<uint32_t> freed;  // handed out once, free now (until reused)
  uint32_t ids = 0;
  const uint64_t n = ops();
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t op = rng() % 100;
    if (op < 50) {
      uint32_t off;
      const Status s = p->alloc(&off);
      if (live.size() == o.capacity) {
        CHECK(s == Status::kExhausted);
      } else {
        REQUIRE(s == Status::kOk);
        CHECK(off % size == 0 && off / size < o.capacity && live.count(off) == 0);
        Block b{size, ids++};
        fill(p->region()->base(), off, b);
        live[off] = b;
        std::erase(freed, off);
      }
    } else if (op < 92 && !live.empty()) {
      auto it = live.begin();
      std::advance(it, rng() % std::min<size_t>(live.size(), 64));
      REQUIRE(p->free(static_cast<uint32_t>(it->first)) == Status::kOk);
      freed.push_back(static_cast<uint32_t>(it->first));
      live.erase(it);
    } else if (op < 95 && !freed.empty()) {
      CHECK(p->free(freed[rng() % freed.size()]) == Status::kDoubleFree);
    } else if (op < 97) {
      const uint32_t bad[] = {1, size - 1, size * o.capacity, 0xFFFFFFF0u, size * o.capacity + size};
      CHECK(p->free(bad[rng() % 5]) == Status::kInvalidHandle);
    } else {
      uint32_t bad;
      CHECK(p->verify(&bad) == Status::kOk);
    }
    if (freed.size() > 4096) freed.erase(freed.begin(), freed.begin() + 2048);
    CHECK_EQ(p->live(), static_cast<int64_t>(live.size()));
    if (i % check_every() == 0) CHECK(intact(p->region()->base(), live));
    if (test::current_failed()) break;
  }
  CHECK(intact(p->region()->base(), live));
  p->destroy();
  delete p;
  g_ops += n;
}

// SlabAllocator: sizes across every class and large runs, frees, double
// frees, interior offsets, trim, verify; counts against the model.
TEST(stress_slab_model) {
  SlabConfig c;
  c.max_bytes = 32 * MiB;
  c.retain_empty_slabs = 2;
  SlabAllocator* a = nullptr;
  REQUIRE(SlabAllocator::create(c, PageSource::system(), &a) == Status::kOk);
  std::mt19937 rng(seed() + 2);
  std::map<size_t, Block> live;  // size here = usable bytes filled
  std::map<uint32_t, size_t> freed;  // offset -> usable bytes, until reused or trimmed
  uint32_t ids = 0;
  uint64_t allocs = 0, frees = 0;
  const uint64_t n = ops();
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t op = rng() % 100;
    if (op < 50) {
      const uint32_t r = rng() % 100;
      const size_t size = r < 70 ? rng() % 600 : r < 97 ? rng() % 8193 : 8193 + rng() % 200000;
      uint32_t off, bad;
      const Status s = a->alloc(size, &off, &bad);
      if (s == Status::kExhausted) continue;
      REQUIRE(s == Status::kOk);
      size_t usable = 0;
      REQUIRE(a->usable_size(off, &usable) == Status::kOk);
      CHECK(usable >= size);
      Block b{usable, ids++};
      fill(a->region()->base(), off, b);
      live[off] = b;
      for (auto it = freed.begin(); it != freed.end();) {
        it = it->first < off + usable && off < it->first + it->second ? freed.erase(it) : std::next(it);
      }
      allocs++;
    } else if (op < 92 && !live.empty()) {
      auto it = live.begin();
      std::advance(it, rng() % std::min<size_t>(live.size(), 64));
      uint32_t bad;
      REQUIRE(a->free(static_cast<uint32_t>(it->first), &bad) == Status::kOk);
      if (it->second.size <= a->max_small()) freed[static_cast<uint32_t>(it->first)] = it->second.size;
      live.erase(it);
      frees++;
    } else if (op < 95 && !freed.empty()) {
      auto it = freed.begin();
      std::advance(it, rng() % freed.size());
      uint32_t bad;
      CHECK(a->free(it->first, &bad) == Status::kDoubleFree);
    } else if (op < 97 && !live.empty()) {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      uint32_t bad;
      if (it->second.size > 16) CHECK(a->free(static_cast<uint32_t>(it->first) + 16, &bad) == Status::kInvalidHandle);
      CHECK(a->free(static_cast<uint32_t>(it->first) + 1, &bad) == Status::kInvalidHandle);
    } else if (op < 98) {
      size_t released;
      CHECK(a->trim(&released) == Status::kOk);
      freed.clear();  // their slabs may be gone: invalid handles now, not double frees
    } else {
      uint32_t bad;
      CHECK(a->verify(&bad) == Status::kOk);
    }
    if (i % check_every() == 0) {
      SlabStats s;
      a->stats(&s);
      CHECK_EQ(s.live_count, live.size());
      CHECK_EQ(s.alloc_count, allocs);
      CHECK_EQ(s.free_count, frees);
      CHECK(intact(a->region()->base(), live));
    }
    if (test::current_failed()) break;
  }
  CHECK(intact(a->region()->base(), live));
  uint32_t bad;
  CHECK(a->verify(&bad) == Status::kOk);
  a->release();
  g_ops += n;
}

// Threads on one pool depot (single operations under its mutex) and one slab
// (a cache per thread): every allocation carries its thread's tag, checked
// before it is freed; half the frees cross threads through an exchange.
TEST(stress_threads_depot_and_slab) {
  ObjectPoolOptions po;
  po.slot_size = 32;
  po.capacity = 4096;
  PoolDepot* d = nullptr;
  REQUIRE(PoolDepot::create(po, PageSource::system(), &d) == Status::kOk);
  SlabConfig sc;
  sc.max_bytes = 64 * MiB;
  SlabAllocator* s = nullptr;
  REQUIRE(SlabAllocator::create(sc, PageSource::system(), &s) == Status::kOk);
  constexpr int kThreads = 3;
  const uint64_t n = ops();
  std::vector<std::atomic<uint32_t>> pool_x(64), slab_x(64);
  for (auto& e : pool_x) e.store(ObjectPool::kNil);
  for (auto& e : slab_x) e.store(ObjectPool::kNil);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const uint8_t tag = static_cast<uint8_t>(0x10 + t);
      SlabCache cache(*s);
      std::mt19937 rng(seed() * 7 + t);
      std::vector<uint32_t> pool_mine;
      std::vector<std::pair<uint32_t, uint32_t>> slab_mine;
      uint8_t* pb = d->region()->base();
      uint8_t* sb = s->region()->base();
      auto check_free_pool = [&](uint32_t off) {
        if (off == ObjectPool::kNil) return;
        // the slot's first byte is its allocating thread's tag, the rest that tag too
        const uint8_t first = pb[off];
        for (uint32_t j = 1; j < 32; ++j) if (pb[off + j] != first) errors++;
        if (d->free(off) != Status::kOk) errors++;
      };
      auto check_free_slab = [&](uint32_t off) {
        if (off == ObjectPool::kNil) return;
        if (cache.free(off) != Status::kOk) errors++;
      };
      for (uint64_t i = 0; i < n; ++i) {
        if (rng() % 2) {
          uint32_t off;
          const Status st = d->alloc(&off);
          if (st == Status::kOk) {
            std::memset(pb + off, tag, 32);
            pool_mine.push_back(off);
          } else if (st != Status::kExhausted) {
            errors++;
          }
          if (pool_mine.size() > 200) {
            const uint32_t o = pool_mine[rng() % pool_mine.size()];
            std::erase(pool_mine, o);
            if (pb[o] != tag) errors++;  // someone else wrote my slot
            if (rng() % 2) check_free_pool(pool_x[rng() % pool_x.size()].exchange(o));
            else check_free_pool(o);
          }
        } else {
          uint32_t off;
          const uint32_t size = 1 + rng() % 2000;
          if (cache.alloc(size, &off) != Status::kOk) { errors++; continue; }
          std::memset(sb + off, tag, size);
          slab_mine.emplace_back(off, size);
          if (slab_mine.size() > 200) {
            std::swap(slab_mine[rng() % slab_mine.size()], slab_mine.back());
            const auto [o, sz] = slab_mine.back();
            slab_mine.pop_back();
            if (sb[o] != tag || sb[o + sz - 1] != tag) errors++;
            if (rng() % 2) check_free_slab(slab_x[rng() % slab_x.size()].exchange(o));
            else check_free_slab(o);
          }
        }
      }
      for (uint32_t o : pool_mine) check_free_pool(o);
      for (auto [o, sz] : slab_mine) check_free_slab(o);
    });
  }
  for (auto& th : threads) th.join();
  {
    SlabCache last(*s);
    for (auto& e : pool_x) {
      const uint32_t o = e.exchange(ObjectPool::kNil);
      if (o != ObjectPool::kNil && d->free(o) != Status::kOk) errors++;
    }
    for (auto& e : slab_x) {
      const uint32_t o = e.exchange(ObjectPool::kNil);
      if (o != ObjectPool::kNil && last.free(o) != Status::kOk) errors++;
    }
  }
  CHECK_EQ(errors.load(), 0);
  uint32_t bad;
  CHECK(d->verify(&bad) == Status::kOk);
  CHECK(s->verify(&bad) == Status::kOk);
  SlabStats ss;
  s->stats(&ss);
  CHECK_EQ(ss.live_count, 0u);
  d->release();
  s->release();
  g_ops += n * kThreads;
  std::printf("stress: %llu operations (seed %u)\n", static_cast<unsigned long long>(g_ops.load()), seed());
}
