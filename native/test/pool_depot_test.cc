// Tests of the shared pool depot: the share registry's lifetime rules, the
// magazine blocks of attached threads (counters, refill, drain, a free into
// a full magazine), detaching (a thread exiting) returning what a block
// holds, and threads churning through their magazines with owner tags
// written into every slot.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "../core/pool_depot.h"
#include "../core/slab.h"
#include "test.h"

using namespace offheap;

namespace {

PoolDepot* make_depot(uint32_t slot, uint32_t capacity) {
  ObjectPoolOptions o;
  o.slot_size = slot;
  o.capacity = capacity;
  PoolDepot* d = nullptr;
  return PoolDepot::create(o, PageSource::system(), &d) == Status::kOk ? d : nullptr;
}

/// One thread's magazines over `d`, as the binding makes them (attached on construction).
struct Mags {
  explicit Mags(PoolDepot* d)
      : depot(d), mem(std::calloc(1, MagazineBlock::layout(1, PoolDepot::kMagazineStride).bytes)),
        block(mem, 1, {d->magazine_capacity()}, PoolDepot::kMagazineStride) {
    d->attach(&block);
  }
  ~Mags() { std::free(mem); }
  /// The handle on top of the magazine, popped as the JS fast path pops it (state live).
  int32_t pop() {
    const uint32_t n = block.cached(0);
    if (n == 0) return -1;
    const int32_t h = block.words()[block.base(0) + n - 1];
    block.set_count(0, static_cast<int32_t>(n - 1));
    std::atomic_ref<uint8_t>(depot->state_region()->base()[h / depot->slot_size()]).store(ObjectPool::kLive);
    return h;
  }
  PoolDepot* depot;
  void* mem;
  MagazineBlock block;
};

}  // namespace

// The registry finds a shared depot while it lives and never after.
TEST(depot_share_registry_lifetime) {
  PoolDepot* d = make_depot(32, 100);
  REQUIRE(d != nullptr);
  const uint32_t id = d->share();
  CHECK(id != 0);
  CHECK_EQ(d->share(), id);  // filed once
  PoolDepot* again = PoolDepot::acquire(id);
  REQUIRE(again == d);
  CHECK(PoolDepot::acquire(id + 1000) == nullptr);
  // One registry for every kind: a pool's id never opens a slab.
  CHECK(share_registry::acquire(id, SlabAllocator::kShareKind) == nullptr);
  d->release();
  CHECK(PoolDepot::acquire(id) == again);  // still alive for the second reference
  d->release();
  d->release();  // last: gone
  CHECK(PoolDepot::acquire(id) == nullptr);
}

// A block's counters count in stats, also after it detached: allocations
// follow from frees + refilled - drained - held, as for a slab.
TEST(depot_counters_fold_on_detach) {
  PoolDepot* d = make_depot(32, 1000);
  REQUIRE(d != nullptr);
  Mags a(d), b(d);
  uint32_t got = 0, bad = 0;
  REQUIRE(a.block.refill(*d, 0, &got) == Status::kOk);
  CHECK_EQ(got, d->magazine_capacity() / 2);
  for (int k = 0; k < 10; ++k) REQUIRE(a.pop() >= 0);
  REQUIRE(b.block.refill(*d, 0, &got) == Status::kOk);
  const int32_t h = b.pop();
  REQUIRE(h >= 0);
  REQUIRE(d->cache_live(0, static_cast<uint32_t>(h)) == Status::kOk);  // b frees it, as JS does
  REQUIRE(b.block.push(0, h));
  uint32_t off;
  REQUIRE(d->alloc(&off) == Status::kOk);  // the native single path counts too
  CHECK_EQ(d->live(), 11.0);
  REQUIRE(d->detach(&b.block, &bad) == Status::kOk);
  const PoolDepotStats s = d->stats();
  CHECK_EQ(s.allocs, 12.0);
  CHECK_EQ(s.frees, 1.0);
  CHECK_EQ(s.live, 11.0);
  CHECK_EQ(s.peak_live, 11.0);
  CHECK_EQ(s.attachments, 1u);
  REQUIRE(d->detach(&a.block, &bad) == Status::kOk);
  CHECK_EQ(d->stats().live, 11.0);  // the slots a thread handed out stay live
  d->release();
}

// Detaching (a thread exiting) returns its magazine's slots; the slots it
// handed out stay live. An entry written over stays out and is reported.
TEST(depot_detach_returns_the_magazine) {
  PoolDepot* d = make_depot(16, 4096);
  REQUIRE(d != nullptr);
  Mags w(d);
  uint32_t got = 0, bad = 0;
  REQUIRE(w.block.refill(*d, 0, &got) == Status::kOk);
  for (int k = 0; k < 5; ++k) REQUIRE(w.pop() >= 0);
  REQUIRE(d->detach(&w.block, &bad) == Status::kOk);
  PoolDepotStats s = d->stats();
  CHECK_EQ(s.pool.depot_slots, got - 5);
  CHECK_EQ(s.live, 5.0);
  CHECK(d->verify(&bad) == Status::kOk);
  Mags x(d);
  REQUIRE(x.block.refill(*d, 0, &got) == Status::kOk);
  const int32_t live = x.pop();
  x.block.words()[x.block.base(0)] = live;  // the JS-visible block written over
  CHECK(d->detach(&x.block, &bad) == Status::kCorrupted);
  CHECK_EQ(bad, static_cast<uint32_t>(live));
  CHECK_EQ(d->state_region()->base()[live / 16], ObjectPool::kLive);  // never freed by it
  d->release();
}

// A free into a full magazine: half goes back, the freed slot takes its
// place; a slot that is not live is refused and nothing moves for it.
TEST(depot_free_into_a_full_magazine) {
  PoolDepot* d = make_depot(16, 8192);
  REQUIRE(d != nullptr);
  Mags m(d);
  const uint32_t cap = d->magazine_capacity();
  std::vector<int32_t> live;
  for (uint32_t k = 0; k < cap; ++k) {
    uint32_t got = 0;
    if (m.block.cached(0) == 0) REQUIRE(m.block.refill(*d, 0, &got) == Status::kOk);
    live.push_back(m.pop());
  }
  uint32_t bad = 0;
  for (uint32_t k = 0; k < cap; ++k) {
    REQUIRE(d->cache_live(0, static_cast<uint32_t>(live[k])) == Status::kOk);
    REQUIRE(m.block.push(0, live[k]));
  }
  CHECK_EQ(m.block.cached(0), cap);
  uint32_t off;
  REQUIRE(d->alloc(&off) == Status::kOk);
  REQUIRE(m.block.free_into_full(*d, 0, off, &bad) == Status::kOk);
  CHECK_EQ(m.block.cached(0), cap / 2 + 1);
  CHECK_EQ(d->state_region()->base()[off / 16], SlotState::kCached);
  CHECK(m.block.free_into_full(*d, 0, off, &bad) == Status::kDoubleFree);  // cached now: refused
  CHECK(m.block.free_into_full(*d, 0, 16 * 8191, &bad) == Status::kInvalidHandle);  // never carved
  CHECK_EQ(m.block.cached(0), cap / 2);  // each call drains to half first, refused or not
  CHECK_EQ(d->stats().live, 0.0);
  REQUIRE(d->detach(&m.block, &bad) == Status::kOk);
  d->release();
}

// Four threads churn through their magazines, writing their id into every
// slot they hold and checking it is still theirs before giving it back;
// some frees go through the single path (as another thread's would). No
// slot is ever seen by two owners.
TEST(depot_threads_never_share_a_slot) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  PoolDepot* d = make_depot(32, 4096);
  REQUIRE(d != nullptr);
  const uint32_t id = d->share();
  std::atomic<int> clashes{0};
  uint8_t* base = d->region()->base();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      PoolDepot* me = PoolDepot::acquire(id);
      if (me == nullptr) {
        clashes++;
        return;
      }
      Mags m(me);
      std::vector<uint32_t> held;
      uint32_t bad = 0;
      for (int r = 0; r < kRounds; ++r) {
        uint32_t got = 0;
        if (m.block.refill(*me, 0, &got) != Status::kOk) clashes++;
        for (int32_t h; (h = m.pop()) >= 0;) {
          reinterpret_cast<uint32_t*>(base + h)[1] = static_cast<uint32_t>(t + 1);
          held.push_back(static_cast<uint32_t>(h));
        }
        for (uint32_t off : held)
          if (reinterpret_cast<uint32_t*>(base + off)[1] != static_cast<uint32_t>(t + 1)) clashes++;
        if (r % 3 == 0 && !held.empty()) {
          const uint32_t off = held.back();
          held.pop_back();
          if (me->free(off) != Status::kOk) clashes++;
        }
        while (!held.empty()) {
          const uint32_t off = held.back();
          held.pop_back();
          if (m.block.cached(0) == m.block.capacity(0)) {
            if (m.block.free_into_full(*me, 0, off, &bad) != Status::kOk) clashes++;
          } else if (me->cache_live(0, off) != Status::kOk || !m.block.push(0, static_cast<int32_t>(off))) {
            clashes++;
          }
        }
        if (m.block.drain(*me, 0, 0, &bad) != Status::kOk) clashes++;
      }
      if (me->detach(&m.block, &bad) != Status::kOk) clashes++;
      me->release();
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(clashes.load(), 0);
  uint32_t bad;
  CHECK(d->verify(&bad) == Status::kOk);
  CHECK_EQ(d->live(), 0.0);
  d->release();
}
