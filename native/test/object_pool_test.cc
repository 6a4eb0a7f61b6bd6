// Tests of the ObjectPool core: union slots, bounds-checked links, the state
// table, growth, batches for magazines, poisoning, verify and failure paths.
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../core/divisor.h"
#include "../core/guards.h"
#include "../core/object_pool.h"
#include "failing_page_source.h"
#include "pages.h"
#include "test.h"

using namespace offheap;

namespace {

constexpr uint32_t kNil = ObjectPool::kNil;

ObjectPool* make(uint32_t slot, uint32_t capacity, bool poison = false, bool growable = true,
                 uint32_t preheat = 0, uint32_t align = 8) {
  ObjectPoolOptions o;
  o.slot_size = slot;
  o.align = align;
  o.capacity = capacity;
  o.growable = growable;
  o.preheat = preheat;
  o.poison = poison;
  ObjectPool* p = nullptr;
  return ObjectPool::create(o, PageSource::system(), &p) == Status::kOk ? p : nullptr;
}

void drop(ObjectPool* p) {
  p->destroy();
  delete p;
}

// The tests play JavaScript, which writes free slots through `buffer`
// unseen by ASan: they unpoison what they touch.
uint8_t* js_view(ObjectPool* p, uint32_t offset, size_t bytes) {
  uint8_t* mem = p->region()->base() + offset;
  guards::asan_unpoison(mem, bytes);
  return mem;
}

uint32_t link_of(ObjectPool* p, uint32_t offset) {
  js_view(p, offset, 4);
  uint32_t v;
  std::memcpy(&v, p->region()->base() + offset, 4);
  return v;
}

void set_link(ObjectPool* p, uint32_t offset, uint32_t v) { std::memcpy(js_view(p, offset, 4), &v, 4); }

}  // namespace

// Zig's rule: a slot holds at least the link and keeps the alignment.
TEST(pool_slot_size_rounding) {
  CHECK_EQ(ObjectPool::slot_size_for(1, 1), 4u);
  CHECK_EQ(ObjectPool::slot_size_for(3, 2), 4u);
  CHECK_EQ(ObjectPool::slot_size_for(5, 1), 8u);
  CHECK_EQ(ObjectPool::slot_size_for(12, 4), 12u);
  CHECK_EQ(ObjectPool::slot_size_for(24, 8), 24u);
  CHECK_EQ(ObjectPool::slot_size_for(24, 16), 32u);
  CHECK_EQ(ObjectPool::slot_size_for(1, 4096), 4096u);
  CHECK_EQ(ObjectPool::slot_size_for(0, 8), 0u);
  CHECK_EQ(ObjectPool::slot_size_for(8, 3), 0u);
  CHECK_EQ(ObjectPool::slot_size_for(8, 8192), 0u);
  for (uint32_t size = 1; size <= 4096; ++size)
    for (uint32_t a = 1; a <= 4096; a *= 2) {
      const uint32_t s = ObjectPool::slot_size_for(size, a);
      if (s < size || s < 4 || s % a != 0 || s % 4 != 0) {
        CHECK(false);
        return;
      }
    }
}

// The multiply-only division must agree with the divide instruction.
TEST(pool_divisor_matches_division) {
  std::mt19937 rng(7);
  for (uint32_t d : {4u, 8u, 12u, 24u, 40u, 64u, 100u, 4096u, 65537u, 1u << 24}) {
    Divisor32 div(d);
    for (int k = 0; k < 20000; ++k) {
      const uint32_t n = k < 10000 ? static_cast<uint32_t>(k) * (d / 4 + 1) : rng();
      uint32_t q = 0;
      const bool exact = div.exact(n, &q);
      if (div.quotient(n) != n / d || div.divides(n) != (n % d == 0) || exact != (n % d == 0) || q != n / d) {
        CHECK(false);
        return;
      }
    }
    CHECK_EQ(div.quotient(0xFFFFFFFFu), 0xFFFFFFFFu / d);
  }
}

// Exactly `capacity` distinct, aligned slots, then kExhausted; all come back.
TEST(pool_alloc_until_exhausted) {
  ObjectPool* p = make(24, 1000);
  REQUIRE(p != nullptr);
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint32_t off = kNil;
    REQUIRE(p->alloc(&off) == Status::kOk);
    CHECK_EQ(off % 24, 0u);
    CHECK(off < 24000u);
    CHECK(seen.insert(off).second);
  }
  uint32_t off = kNil;
  CHECK(p->alloc(&off) == Status::kExhausted);
  CHECK_EQ(p->stats().failed, 1u);
  CHECK_EQ(p->live(), 1000u);
  for (uint32_t o : seen) CHECK(p->free(o) == Status::kOk);
  CHECK_EQ(p->live(), 0u);
  uint32_t bad = 0;
  CHECK(p->verify(&bad) == Status::kOk);
  CHECK(p->alloc(&off) == Status::kOk);
  drop(p);
}

// A free slot holds the link; the whole slot belongs to the user when live.
TEST(pool_union_slot_holds_link_when_free) {
  ObjectPool* p = make(8, 16);
  REQUIRE(p != nullptr);
  uint32_t a, b;
  REQUIRE(p->alloc(&a) == Status::kOk);
  REQUIRE(p->alloc(&b) == Status::kOk);
  std::memset(p->region()->base() + a, 0xAA, 8);  // every byte usable
  REQUIRE(p->free(a) == Status::kOk);
  REQUIRE(p->free(b) == Status::kOk);
  CHECK_EQ(link_of(p, b), a / 8);  // LIFO: b -> a -> nil
  CHECK_EQ(link_of(p, a), kNil);
  uint32_t c;
  REQUIRE(p->alloc(&c) == Status::kOk);
  CHECK_EQ(c, b);
  drop(p);
}

// Release-mode guards of the core: every misuse is a status, none corrupts.
TEST(pool_free_guards) {
  ObjectPool* p = make(16, 64);
  REQUIRE(p != nullptr);
  uint32_t a;
  REQUIRE(p->alloc(&a) == Status::kOk);
  CHECK(p->free(a + 8) == Status::kInvalidHandle);           // misaligned
  CHECK(p->free(16 * 64) == Status::kInvalidHandle);         // past capacity
  CHECK(p->free(0xFFFFFFF0u) == Status::kInvalidHandle);     // far out of range
  CHECK(p->free(a + 16) == Status::kInvalidHandle);          // never handed out
  REQUIRE(p->free(a) == Status::kOk);
  CHECK(p->free(a) == Status::kDoubleFree);                  // second free
  CHECK_EQ(p->live(), 0u);
  drop(p);
}

// A link written through the buffer is caught on pop and the list rebuilt.
TEST(pool_corrupted_link_out_of_range) {
  ObjectPool* p = make(16, 64);
  REQUIRE(p != nullptr);
  uint32_t o[4];
  for (auto& x : o) REQUIRE(p->alloc(&x) == Status::kOk);
  for (auto x : o) REQUIRE(p->free(x) == Status::kOk);
  set_link(p, o[3], 0x7FFFFFFF);  // the head's link, far past the region
  uint32_t got = 0;
  REQUIRE(p->alloc(&got) == Status::kOk);  // o3 itself is handed out...
  CHECK_EQ(got, o[3]);
  CHECK(p->alloc(&got) == Status::kCorrupted);  // ...its link is checked before use
  CHECK_EQ(got, ObjectPool::kNil);
  // Rebuilt from the table: the other three still free, handed out once each.
  std::set<uint32_t> seen;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(p->alloc(&got) == Status::kOk);
    CHECK(seen.insert(got).second);
    CHECK(got != o[3]);
  }
  CHECK_EQ(seen.size(), 3u);
  uint32_t bad;
  CHECK(p->verify(&bad) == Status::kOk);
  drop(p);
}

// A link naming a live slot would hand it to a second owner: refused.
TEST(pool_corrupted_link_to_live_slot) {
  ObjectPool* p = make(16, 64);
  REQUIRE(p != nullptr);
  uint32_t live, a, b;
  REQUIRE(p->alloc(&live) == Status::kOk);
  REQUIRE(p->alloc(&a) == Status::kOk);
  REQUIRE(p->alloc(&b) == Status::kOk);
  REQUIRE(p->free(a) == Status::kOk);
  REQUIRE(p->free(b) == Status::kOk);
  set_link(p, b, live / 16);
  uint32_t got;
  REQUIRE(p->alloc(&got) == Status::kOk);  // b itself is fine
  CHECK_EQ(got, b);
  CHECK(p->alloc(&got) == Status::kCorrupted);  // the next head is live
  CHECK_EQ(got, live);
  REQUIRE(p->alloc(&got) == Status::kOk);
  CHECK_EQ(got, a);  // the rebuilt list holds a, never `live`
  drop(p);
}

// verify() is cycle-safe: a link pointing back ends the walk with kCorrupted.
TEST(pool_verify_detects_cycle_and_lost_slots) {
  ObjectPool* p = make(16, 64);
  REQUIRE(p != nullptr);
  uint32_t o[3];
  for (auto& x : o) REQUIRE(p->alloc(&x) == Status::kOk);
  for (auto x : o) REQUIRE(p->free(x) == Status::kOk);  // list: o2 -> o1 -> o0
  set_link(p, o[1], o[2] / 16);                         // o2 -> o1 -> o2 ...
  uint32_t bad = 0;
  CHECK(p->verify(&bad) == Status::kCorrupted);
  CHECK(p->verify(&bad) == Status::kOk);  // rebuilt in index order: o0 -> o1 -> o2
  set_link(p, o[0], kNil);                // o1, o2 lost
  CHECK(p->verify(&bad) == Status::kCorrupted);
  CHECK_EQ(bad, o[0]);
  CHECK(p->verify(&bad) == Status::kOk);
  drop(p);
}

// Poison mode: fresh 0xD0, freed 0xDF, a write after free found on reuse
// and by verify, reported once with the offset.
TEST(pool_poison_detects_write_after_free) {
  ObjectPool* p = make(32, 64, /*poison=*/true);
  REQUIRE(p != nullptr);
  uint32_t a;
  REQUIRE(p->alloc(&a) == Status::kOk);
  uint8_t* mem = p->region()->base() + a;
  CHECK_EQ(mem[0], 0xD0);
  CHECK_EQ(mem[31], 0xD0);
  REQUIRE(p->free(a) == Status::kOk);
  js_view(p, a, 32);
  CHECK_EQ(mem[4], 0xDF);
  CHECK_EQ(mem[31], 0xDF);
  mem[20] = 1;  // write after free
  uint32_t bad = 0;
  CHECK(p->verify(&bad) == Status::kUseAfterFree);
  CHECK_EQ(bad, a);
  CHECK(p->verify(&bad) == Status::kOk);  // re-poisoned: reported once
  js_view(p, a, 32)[9] = 2;
  uint32_t got = 0;
  CHECK(p->alloc(&got) == Status::kUseAfterFree);
  CHECK_EQ(got, a);
  REQUIRE(p->alloc(&got) == Status::kOk);
  CHECK_EQ(got, a);
  CHECK_EQ(mem[9], 0xD0);
  drop(p);
}

// Growth: committed bytes rise chunk by chunk; growable:false and preheat commit up front.
TEST(pool_growth_and_preheat) {
  ObjectPool* p = make(64, 10000);
  REQUIRE(p != nullptr);
  const size_t base = p->stats().committed_bytes;  // counter blocks only
  uint32_t off;
  REQUIRE(p->alloc(&off) == Status::kOk);
  const size_t one_chunk = p->stats().committed_bytes - base;
  CHECK(one_chunk >= ObjectPool::kChunkBytes);
  for (int i = 0; i < 1024; ++i) REQUIRE(p->alloc(&off) == Status::kOk);
  CHECK(p->stats().committed_bytes - base > one_chunk);
  drop(p);

  ObjectPool* fixed = make(64, 10000, false, /*growable=*/false);
  REQUIRE(fixed != nullptr);
  CHECK(fixed->stats().committed_bytes >= 64u * 10000);
  int n = 0;
  while (fixed->alloc(&off) == Status::kOk) ++n;
  CHECK_EQ(n, 10000);
  drop(fixed);

  ObjectPool* warm = make(64, 10000, false, true, /*preheat=*/3000);
  REQUIRE(warm != nullptr);
  const size_t warm_committed = warm->stats().committed_bytes;
  CHECK(warm_committed >= 64u * 3000);
  for (int i = 0; i < 3000; ++i) REQUIRE(warm->alloc(&off) == Status::kOk);
  CHECK_EQ(warm->stats().committed_bytes, warm_committed);  // no growth needed
  drop(warm);

  ObjectPoolOptions bad;
  bad.slot_size = 64;
  bad.capacity = 10;
  bad.preheat = 11;
  ObjectPool* none = nullptr;
  CHECK(ObjectPool::create(bad, PageSource::system(), &none) == Status::kInvalidArgument);
  bad.preheat = 0;
  bad.capacity = (1u << 25) + 1;  // 2 GiB + 64 bytes of slots
  CHECK(ObjectPool::create(bad, PageSource::system(), &none) == Status::kInvalidArgument);
  bad.capacity = 0;
  CHECK(ObjectPool::create(bad, PageSource::system(), &none) == Status::kInvalidArgument);
}

// A failing page source: both reservations refused, or only the second;
// either way a status and no mapping left behind.
TEST(pool_failing_page_source) {
  struct SecondFails final : PageSource {
    int n = 0;
    void* reserve(size_t b) noexcept override { return ++n == 2 ? nullptr : PageSource::system().reserve(b); }
    bool decommit(void* a, size_t b) noexcept override { return PageSource::system().decommit(a, b); }
    bool release(void* a, size_t b) noexcept override { return PageSource::system().release(a, b); }
  };
  const size_t before = PageSource::live_reservations();
  ObjectPoolOptions o;
  o.slot_size = 32;
  o.capacity = 100;
  ObjectPool* p = nullptr;
  test::FailingPageSource all;
  all.fail_reserve = true;
  CHECK(ObjectPool::create(o, all, &p) == Status::kOsFailure);
  CHECK(p == nullptr);
  SecondFails second;
  CHECK(ObjectPool::create(o, second, &p) == Status::kOsFailure);
  CHECK(p == nullptr);
  CHECK_EQ(PageSource::live_reservations(), before);
}

// Batches: a refill moves N slots into a magazine (state cached), a drain
// moves them back; entries that are not cached slots are skipped and reported.
TEST(pool_batches) {
  ObjectPool* p = make(16, 100);
  REQUIRE(p != nullptr);
  int32_t mag[64];
  uint32_t n = 0, bad = 0;
  REQUIRE(p->pop_batch(mag, 32, &n, &bad) == Status::kOk);
  CHECK_EQ(n, 32u);
  for (uint32_t k = 0; k < n; ++k) {
    CHECK_EQ(mag[k] % 16, 0);
    CHECK_EQ(p->states()[mag[k] / 16], SlotState::kCached);
  }
  uint32_t off;
  REQUIRE(p->alloc(&off) == Status::kOk);  // live, not cached
  const int32_t live[1] = {static_cast<int32_t>(off)};
  uint32_t bad_entry = 0;
  CHECK(p->push_batch(live, 1, &bad_entry) == Status::kCorrupted);
  CHECK_EQ(bad_entry, off);
  CHECK_EQ(p->states()[off / 16], ObjectPool::kLive);  // left alone
  REQUIRE(p->free(off) == Status::kOk);
  int32_t junk[4] = {-16, 1600, mag[1] + 8, mag[0]};
  CHECK(p->push_batch(junk, 4, &bad_entry) == Status::kCorrupted);
  CHECK_EQ(bad_entry, static_cast<uint32_t>(-16));
  CHECK_EQ(p->states()[mag[0] / 16], SlotState::kFree);  // the valid one moved
  REQUIRE(p->push_batch(mag + 1, 31, &bad_entry) == Status::kOk);
  CHECK_EQ(p->stats().depot_slots, 33u);
  // A pool out of room fills what it can: 100 slots, 33 free + 67 uncarved.
  REQUIRE(p->pop_batch(mag, 64, &n, &bad) == Status::kOk);
  CHECK_EQ(n, 64u);
  REQUIRE(p->pop_batch(mag, 64, &n, &bad) == Status::kOk);
  CHECK_EQ(n, 36u);
  REQUIRE(p->pop_batch(mag, 64, &n, &bad) == Status::kOk);
  CHECK_EQ(n, 0u);
  CHECK_EQ(p->stats().failed, 1u);  // the empty batch is a refused allocation
  CHECK(p->verify(&bad) == Status::kOk);
  drop(p);
}

// The states a free can meet: live frees; cached (in a magazine, handed out
// or not) and free are double frees; a slot never carved is no handle.
// cache_live() is the compare-and-swap a free into a full magazine takes.
TEST(pool_free_refusals_follow_the_state_table) {
  ObjectPool* p = make(16, 100);
  REQUIRE(p != nullptr);
  int32_t mag[4];
  uint32_t n, bad;
  REQUIRE(p->pop_batch(mag, 2, &n, &bad) == Status::kOk);
  CHECK(p->free(static_cast<uint32_t>(mag[0])) == Status::kDoubleFree);
  CHECK(p->cache_live(static_cast<uint32_t>(mag[0])) == Status::kDoubleFree);
  CHECK(p->free(16 * 99) == Status::kInvalidHandle);
  CHECK(p->cache_live(16 * 99) == Status::kInvalidHandle);
  CHECK(p->cache_live(8) == Status::kInvalidHandle);
  uint32_t off;
  REQUIRE(p->alloc(&off) == Status::kOk);
  REQUIRE(p->cache_live(off) == Status::kOk);
  CHECK_EQ(p->states()[off / 16], SlotState::kCached);
  CHECK(p->free(off) == Status::kDoubleFree);
  const int32_t back[1] = {static_cast<int32_t>(off)};
  uint32_t bad_entry = 0;
  REQUIRE(p->push_batch(back, 1, &bad_entry) == Status::kOk);
  CHECK(p->free(off) == Status::kDoubleFree);
  CHECK(p->verify(&bad) == Status::kOk);
  drop(p);
}

namespace {

/// The VmFlags of the mapping holding `addr` (/proc/self/smaps), "" when not found.
std::string vm_flags_of(const void* addr) {
  std::FILE* f = std::fopen("/proc/self/smaps", "r");
  if (f == nullptr) return "";
  char line[512];
  bool inside = false;
  std::string flags;
  const auto a = reinterpret_cast<uintptr_t>(addr);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long lo, hi;
    if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && std::strchr(line, ':') != nullptr && line[0] != 'V') {
      inside = a >= lo && a < hi;
    } else if (inside && std::strncmp(line, "VmFlags:", 8) == 0) {
      flags = line + 8;
      break;
    }
  }
  std::fclose(f);
  return flags;
}

/// True when this platform marks a mapping MADV_HUGEPAGE was given (a probe
/// of our own: a kernel without transparent huge pages, or an emulator such
/// as qemu-user that accepts the advice and drops it, shows no "hg").
bool huge_page_hint_visible() {
  const size_t bytes = size_t{4} << 20;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool visible = madvise(p, bytes, MADV_HUGEPAGE) == 0 && vm_flags_of(p).find(" hg") != std::string::npos;
  munmap(p, bytes);
  return visible;
}

}  // namespace

// huge_pages is a hint on the slots' mapping (VmFlags "hg"), and changes
// nothing else: the same slots, the same checks.
TEST(pool_huge_pages_hint) {
  ObjectPoolOptions o;
  o.slot_size = 64;
  o.capacity = 1u << 16;
  o.huge_pages = true;
  ObjectPool* p = nullptr;
  REQUIRE(ObjectPool::create(o, PageSource::system(), &p) == Status::kOk);
  if (huge_page_hint_visible()) CHECK(vm_flags_of(p->region()->base()).find(" hg") != std::string::npos);
  ObjectPool* plain = make(64, 1u << 16);
  REQUIRE(plain != nullptr);
  CHECK(vm_flags_of(plain->region()->base()).find(" hg") == std::string::npos);
  uint32_t off, bad;
  for (int i = 0; i < 1000; ++i) REQUIRE(p->alloc(&off) == Status::kOk);
  CHECK(p->free(off) == Status::kOk);
  CHECK(p->verify(&bad) == Status::kOk);
  drop(p);
  drop(plain);
}

// A growth faults in its chunk's pages in one call, and only those: the
// first allocation makes the first 64 KiB of slots resident and no more.
TEST(pool_growth_faults_in_one_chunk) {
  ObjectPool* p = make(64, 1u << 16);
  REQUIRE(p != nullptr);
  const uint8_t* base = p->region()->base();
  const size_t chunk = ObjectPool::kChunkBytes, page = PageSource::page_size();
  CHECK_EQ(test::resident_pages(base, size_t{1} << 22), size_t{0});
  uint32_t off;
  REQUIRE(p->alloc(&off) == Status::kOk);
  if (test::populate_visible()) CHECK_EQ(test::resident_pages(base, chunk), chunk / page);
  CHECK_EQ(test::resident_pages(base + chunk, chunk), size_t{0});
  CHECK_EQ(p->stats().committed_bytes, chunk + page);  // the chunk and its states' page
  drop(p);
}

// Preheated slots never fault later, also where the OS refuses to populate:
// their pages are then touched at creation.
TEST(pool_preheat_without_populate_touches_pages) {
  test::FailingPageSource src;
  src.fail_populate = true;
  ObjectPoolOptions o;
  o.slot_size = 64;
  o.capacity = 1u << 16;
  o.preheat = 1000;
  ObjectPool* p = nullptr;
  REQUIRE(ObjectPool::create(o, src, &p) == Status::kOk);
  CHECK(src.populates >= 1);
  const size_t page = PageSource::page_size();
  CHECK(test::resident_pages(p->region()->base(), 1000 * 64) == (1000 * 64 + page - 1) / page);
  drop(p);
}

namespace {

/// A host-owned source (as the v8 backing is): ranges that start 100 bytes
/// into a fresh mapping, so neither end of a region falls on a page.
class UnalignedHostSource final : public PageSource {
 public:
  static constexpr size_t kSkew = 100;
  void* reserve(size_t bytes) noexcept override {
    void* m = mmap(nullptr, mapped(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return m == MAP_FAILED ? nullptr : static_cast<uint8_t*>(m) + kSkew;
  }
  bool decommit(void* addr, size_t bytes) noexcept override {
    return bytes == 0 || madvise(addr, bytes, MADV_DONTNEED) == 0;
  }
  bool release(void* addr, size_t bytes) noexcept override {
    return munmap(static_cast<uint8_t*>(addr) - kSkew, mapped(bytes)) == 0;
  }
  bool host_owned() const noexcept override { return true; }

 private:
  static size_t mapped(size_t bytes) noexcept { return bytes + 2 * page_size(); }
};

}  // namespace

// Preheated slots never fault later on a host's range too: the partial
// pages at its ends, which populate leaves out, are touched.
TEST(pool_preheat_on_an_unaligned_host_range_faults_every_page) {
  UnalignedHostSource src;
  ObjectPoolOptions o;
  o.slot_size = 64;
  o.capacity = 16384;
  o.preheat = 10000;  // the states' range, too, holds whole pages to populate
  ObjectPool* p = nullptr;
  REQUIRE(ObjectPool::create(o, src, &p) == Status::kOk);
  const size_t page = PageSource::page_size();
  const uint8_t* first = p->region()->base();
  REQUIRE(reinterpret_cast<uintptr_t>(first) % page == UnalignedHostSource::kSkew);
  const uint8_t* last = first + 10000 * 64 - 1;
  const uint8_t* from = first - UnalignedHostSource::kSkew;
  const size_t pages = static_cast<size_t>(last - from) / page + 1;
  CHECK_EQ(test::resident_pages(from, pages * page), pages);
  drop(p);
}
