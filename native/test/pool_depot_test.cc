// Tests of the shared depot: attachments and their counters, the share
// registry's lifetime rules, thread exit reclaiming a magazine, and threads
// churning through magazines with owner tags written into every slot.
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "../core/pool_depot.h"
#include "../core/slab.h"
#include "test.h"

using namespace offheap;
namespace ss = offheap::slot_state;

namespace {

PoolDepot* make_depot(uint32_t slot, uint32_t capacity) {
  ObjectPoolOptions o;
  o.slot_size = slot;
  o.capacity = capacity;
  PoolDepot* d = nullptr;
  return PoolDepot::create(o, PageSource::system(), &d) == Status::kOk ? d : nullptr;
}

double* counters(PoolDepot* d, uint32_t tag) {
  return reinterpret_cast<double*>(d->state_region()->base() + d->blocks_offset() + Attachments::block_offset(tag));
}

}  // namespace

// The registry finds a shared depot while it lives and never after.
TEST(depot_share_registry_lifetime) {
  PoolDepot* d = make_depot(32, 100);
  REQUIRE(d != nullptr);
  uint32_t t0, t1;
  REQUIRE(d->open(&t0) == Status::kOk);
  const uint32_t id = d->share();
  CHECK(id != 0);
  CHECK_EQ(d->share(), id);  // filed once
  PoolDepot* again = PoolDepot::acquire(id);
  REQUIRE(again == d);
  REQUIRE(again->open(&t1) == Status::kOk);
  CHECK(t1 != t0);
  CHECK(PoolDepot::acquire(id + 1000) == nullptr);
  // One registry for every kind: a pool's id never opens a slab.
  CHECK(share_registry::acquire(id, SlabAllocator::kShareKind) == nullptr);
  d->close(t0);
  CHECK_EQ(d->stats().attachments, 1u);  // still alive for t1
  d->close(t1);                          // last: gone
  CHECK(PoolDepot::acquire(id) == nullptr);
}

// Counters that JS bumps in its block count in stats, also after close.
TEST(depot_counters_fold_on_close) {
  PoolDepot* d = make_depot(32, 1000);
  REQUIRE(d != nullptr);
  uint32_t a, b;
  REQUIRE(d->open(&a) == Status::kOk);
  d->share();
  PoolDepot* again = PoolDepot::acquire(d->share());
  REQUIRE(again != nullptr);
  REQUIRE(d->open(&b) == Status::kOk);
  counters(d, a)[Attachments::kAllocs] = 10;
  counters(d, a)[Attachments::kFrees] = 4;
  counters(d, b)[Attachments::kAllocs] = 3;
  counters(d, b)[Attachments::kFailed] = 2;
  uint32_t off;
  REQUIRE(d->alloc(&off) == Status::kOk);  // the native single path counts too
  CHECK_EQ(d->live(), 10.0);
  d->close(b);
  const PoolDepotStats s = d->stats();
  CHECK_EQ(s.allocs, 14.0);
  CHECK_EQ(s.frees, 4.0);
  CHECK_EQ(s.failed, 2.0);
  CHECK_EQ(s.live, 10.0);
  CHECK_EQ(s.peak_live, 10.0);
  CHECK_EQ(s.attachments, 1u);
  d->close(a);
}

// Closing an attachment (a thread exiting) returns its magazine's slots;
// the slots it handed out stay live.
TEST(depot_close_reclaims_magazine) {
  PoolDepot* d = make_depot(16, 256);
  REQUIRE(d != nullptr);
  uint32_t owner, worker;
  REQUIRE(d->open(&owner) == Status::kOk);
  PoolDepot* w = PoolDepot::acquire(d->share());
  REQUIRE(w->open(&worker) == Status::kOk);
  int32_t mag[32];
  uint32_t n, bad;
  REQUIRE(w->refill(worker, mag, 32, &n, &bad) == Status::kOk);
  REQUIRE(n == 32);
  // The worker hands 5 slots to its user (as the JS fast path does).
  uint8_t* states = d->state_region()->base();
  for (int k = 0; k < 5; ++k) states[mag[k] / 16] = ss::kLiveByte;
  counters(d, worker)[Attachments::kAllocs] = 5;
  w->close(worker);
  const PoolDepotStats s = d->stats();
  CHECK_EQ(s.pool.depot_slots, 27u);
  CHECK_EQ(s.live, 5.0);
  uint32_t bad_offset;
  CHECK(d->verify(&bad_offset) == Status::kOk);
  d->close(owner);
}

// Too many attachments is a status, not a wrapped-around tag.
TEST(depot_attachment_limit) {
  PoolDepot* d = make_depot(16, 16);
  REQUIRE(d != nullptr);
  std::vector<uint32_t> tags(ss::kMaxTags);
  for (auto& t : tags) REQUIRE(d->open(&t) == Status::kOk);
  uint32_t extra;
  CHECK(d->open(&extra) == Status::kExhausted);
  const uint32_t id = d->share();
  for (size_t k = 1; k < tags.size(); ++k) REQUIRE(PoolDepot::acquire(id) != nullptr);
  for (auto t : tags) d->close(t);
}

// Four threads churn through their magazines, writing their id into every
// slot they hold and checking it is still theirs before giving it back;
// some frees go through another thread. No slot is ever seen by two owners.
TEST(depot_threads_never_share_a_slot) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  PoolDepot* d = make_depot(32, 4096);
  REQUIRE(d != nullptr);
  uint32_t owner;
  REQUIRE(d->open(&owner) == Status::kOk);
  const uint32_t id = d->share();
  std::atomic<int> clashes{0};
  uint8_t* base = d->region()->base();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      PoolDepot* me = PoolDepot::acquire(id);
      uint32_t tag;
      if (me == nullptr || me->open(&tag) != Status::kOk) {
        clashes++;
        return;
      }
      int32_t mag[64];
      std::vector<uint32_t> held;
      for (int r = 0; r < kRounds; ++r) {
        uint32_t n = 0, bad;
        if (me->refill(tag, mag, 16, &n, &bad) != Status::kOk) clashes++;
        for (uint32_t k = 0; k < n; ++k) {
          uint32_t* slot = reinterpret_cast<uint32_t*>(base + mag[k]);
          slot[1] = static_cast<uint32_t>(t + 1);
          held.push_back(static_cast<uint32_t>(mag[k]));
        }
        for (uint32_t off : held)
          if (reinterpret_cast<uint32_t*>(base + off)[1] != static_cast<uint32_t>(t + 1)) clashes++;
        // Every third round, free through the single path (as another thread would).
        if (r % 3 == 0 && !held.empty()) {
          const uint32_t off = held.back();
          held.pop_back();
          // Handed to the user as the JS fast path does: state and count.
          std::atomic_ref<uint8_t>(d->state_region()->base()[off / 32]).store(ss::kLiveByte);
          // (JS's aligned 8-byte store is atomic on x86; an atomic_ref says so to TSan.)
          std::atomic_ref<double> allocs(counters(d, tag)[Attachments::kAllocs]);
          allocs.store(allocs.load() + 1);
          if (me->free(off) != Status::kOk) clashes++;
        }
        int32_t back[64];
        uint32_t m = 0;
        while (!held.empty() && m < 16) back[m++] = static_cast<int32_t>(held.back()), held.pop_back();
        int32_t bad_entry;
        if (me->drain(tag, back, m, &bad_entry) != Status::kOk) clashes++;
      }
      me->close(tag);
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(clashes.load(), 0);
  uint32_t bad;
  CHECK(d->verify(&bad) == Status::kOk);
  CHECK_EQ(d->live(), 0.0);
  d->close(owner);
}
