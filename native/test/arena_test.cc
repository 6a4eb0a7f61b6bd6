// Tests of the core arena: alignment, exhaustion, rewinds, reset with retain,
// hostile shared words, debug guards, and a failing page source.
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "../core/arena.h"
#include "failing_page_source.h"
#include "test.h"

using namespace offheap;

namespace {

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * PageSource::page_size();
}

// An arena with its shared words, released at scope exit.
struct Fixture {
  ArenaState state;
  Arena* arena = nullptr;
  explicit Fixture(size_t max_bytes, PageSource& src = PageSource::system()) {
    ArenaOptions o;
    o.max_bytes = max_bytes;
    create(o, src);
  }
  explicit Fixture(const ArenaOptions& o, PageSource& src = PageSource::system()) { create(o, src); }
  void create(const ArenaOptions& o, PageSource& src) {
    if (Arena::create(o, src, &state, &arena) != Status::kOk) arena = nullptr;
  }
  ~Fixture() { delete arena; }
  Arena* operator->() { return arena; }
  size_t off(const void* p) const { return static_cast<const uint8_t*>(p) - arena->region()->base(); }
};

ArenaOptions debug_options(size_t max_bytes, uint32_t red_zone = 16) {
  ArenaOptions o;
  o.max_bytes = max_bytes;
  o.debug = true;
  o.poison = true;
  o.red_zone = red_zone;
  return o;
}

}  // namespace

// Every power-of-two alignment up to 4096 is honoured, after odd-sized allocations.
TEST(arena_every_alignment) {
  Fixture a(4 * MiB);
  REQUIRE(a.arena);
  for (size_t align = 1; align <= Arena::kMaxAlign; align *= 2) {
    REQUIRE(a->alloc(3, 1) != nullptr);  // leave the cursor odd
    void* p = a->alloc(5, align);
    REQUIRE(p != nullptr);
    CHECK_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
    CHECK_EQ(a.off(p) % align, 0u);
  }
  size_t off = 0;
  CHECK(a->allocate(8, 3, false, &off) == Status::kInvalidArgument);     // not a power of two
  CHECK(a->allocate(8, 8192, false, &off) == Status::kInvalidArgument);  // above 4096
  CHECK(a->allocate(8, 0, false, &off) == Status::kInvalidArgument);
}

// Random sizes and alignments: no two allocations overlap (each filled with
// its own byte, all checked at the end) and each starts where alignment says.
TEST(arena_random_allocations_do_not_overlap) {
  Fixture a(16 * MiB);
  REQUIRE(a.arena);
  std::mt19937 rng(7);
  struct Got { uint8_t* p; size_t n; uint8_t byte; };
  std::vector<Got> got;
  for (int i = 0; i < 5000; ++i) {
    const size_t n = rng() % 700;
    const size_t align = size_t{1} << (rng() % 9);
    auto* p = static_cast<uint8_t*>(a->alloc(n, align));
    REQUIRE(p != nullptr);
    CHECK_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
    const auto byte = static_cast<uint8_t>(i * 131 + 1);
    std::memset(p, byte, n);
    got.push_back({p, n, byte});
  }
  for (const Got& g : got)
    for (size_t i = 0; i < g.n; ++i)
      if (g.p[i] != g.byte) {
        CHECK(g.p[i] == g.byte);
        return;
      }
  CHECK_EQ(a->stats().live_count, got.size());
}

// Exhaustion is a status, changes nothing, and smaller allocations still fit.
TEST(arena_exhaustion_then_still_usable) {
  Fixture a(10000);  // not a page multiple: the limit is max_bytes, not the region size
  REQUIRE(a.arena);
  CHECK_EQ(a->capacity(), size_t{10000});
  REQUIRE(a->alloc(9000, 1) != nullptr);
  const int32_t before = a.state.cursor;
  CHECK(a->alloc(1001, 1) == nullptr);
  CHECK(a->status() == Status::kExhausted);
  CHECK_EQ(a.state.cursor, before);
  CHECK(a->alloc(1000, 1) != nullptr);  // exactly to max_bytes
  CHECK(a->alloc(1, 1) == nullptr);
  CHECK(a->alloc(0, 1) != nullptr);      // zero bytes still fit at the end
  CHECK(a->alloc(SIZE_MAX, 1) == nullptr);  // no wrap-around
  CHECK(a->alloc(SIZE_MAX - 100, 16) == nullptr);
  const ArenaStats s = a->stats();
  CHECK_EQ(s.failed_count, 4u);
  CHECK_EQ(s.used, size_t{10000});
  CHECK(a->reset() == Status::kOk);
  CHECK(a->alloc(10000, 1) != nullptr);
  CHECK(a->verify() == Status::kOk);
}

// The limit grows a chunk at a time; committed stays the limit in whole pages.
TEST(arena_commits_in_chunks) {
  Fixture a(64 * MiB);
  REQUIRE(a.arena);
  CHECK_EQ(a->stats().committed, size_t{0});
  CHECK(a->alloc(1, 1) != nullptr);
  CHECK_EQ(a->limit(), Arena::kCommitChunk);
  CHECK_EQ(a->stats().committed, Arena::kCommitChunk);
  CHECK_EQ(a->region()->committed(), Arena::kCommitChunk);
  CHECK(a->alloc(Arena::kCommitChunk, 1) != nullptr);
  CHECK_EQ(a->limit(), 2 * Arena::kCommitChunk);
  CHECK_EQ(a.state.limit, static_cast<int32_t>(2 * Arena::kCommitChunk));
  CHECK_EQ(a.state.committed, static_cast<int32_t>(2 * Arena::kCommitChunk));
  CHECK(a->verify() == Status::kOk);
}

// Rewinds nest: back to a recorded (cursor, count) frees exactly what came
// after, the same position can be rewound to twice, and a rewind further
// down frees the rest. (JavaScript keeps the marks; this is what they do.)
TEST(arena_rewind_nested_and_repeated) {
  Fixture a(MiB);
  REQUIRE(a.arena);
  a->alloc(100, 1);
  a->alloc(50, 1);
  a->alloc(25, 1);
  CHECK_EQ(a.state.cursor, 175);
  CHECK(a->rewind(150, 2) == Status::kOk);
  CHECK_EQ(a.state.cursor, 150);
  a->alloc(10, 1);
  CHECK(a->rewind(150, 2) == Status::kOk);  // again, same position
  CHECK_EQ(a.state.cursor, 150);
  CHECK(a->rewind(100, 1) == Status::kOk);
  CHECK_EQ(a.state.cursor, 100);
  CHECK_EQ(a->stats().live_count, 1u);
  CHECK_EQ(a->stats().free_count, 3u);
  CHECK_EQ(a->stats().alloc_count, 4u);
  CHECK(a->verify() == Status::kOk);
}

// A position above the cursor (or a count above the live one) is refused: a
// cursor overwritten below a recorded position must not move the cursor up.
TEST(arena_rewind_refuses_positions_above_cursor) {
  Fixture a(MiB);
  REQUIRE(a.arena);
  a->alloc(100, 1);
  a.state.cursor = 40;  // JavaScript scribbled on the shared word
  CHECK(a->rewind(100, 1) == Status::kInvalidHandle);
  CHECK_EQ(a.state.cursor, 40);
}

// Reset keeps retain_bytes of pages and returns the rest to the OS, with
// committed accounting exact in the arena and the region.
TEST(arena_reset_retains_and_returns_pages) {
  Fixture a(256 * MiB);
  REQUIRE(a.arena);
  const size_t before = rss_bytes();
  for (int i = 0; i < 64; ++i) {
    void* p = a->alloc(MiB, 4096);
    REQUIRE(p != nullptr);
    std::memset(p, 0xAB, MiB);
  }
  CHECK(rss_bytes() - before >= 60 * MiB);
  CHECK(a->reset() == Status::kOk);  // retain everything
  CHECK_EQ(a->stats().committed, 64 * MiB);
  CHECK(a->reset(1 * MiB + 1) == Status::kOk);
  CHECK_EQ(a->stats().committed, MiB + PageSource::page_size());
  CHECK_EQ(a->region()->committed(), MiB + PageSource::page_size());
  CHECK_EQ(static_cast<size_t>(a.state.limit), MiB + PageSource::page_size());
  CHECK(rss_bytes() < before + 12 * MiB);  // ASan's shadow of 64 MiB is 8 MiB
  CHECK(a->reset(0) == Status::kOk);
  CHECK_EQ(a->stats().committed, size_t{0});
  CHECK_EQ(a->limit(), size_t{0});
  CHECK(a->alloc(100, 1) != nullptr);  // and grows again
  CHECK(a->verify() == Status::kOk);
  CHECK_EQ(a->stats().peak, 64 * MiB);
}

// A refused reservation or madvise is a status; the arena stays consistent.
TEST(arena_failing_page_source) {
  test::FailingPageSource src;
  src.fail_reserve = true;
  {
    Fixture a(MiB, src);
    CHECK(a.arena == nullptr);
  }
  src.fail_reserve = false;
  Fixture a(MiB, src);
  REQUIRE(a.arena);
  REQUIRE(a->alloc(200 * KiB, 1) != nullptr);
  const size_t committed = a->stats().committed;
  src.fail_decommit = true;
  CHECK(a->reset(0) == Status::kOsFailure);
  CHECK_EQ(a->stats().committed, committed);          // still counted
  CHECK_EQ(a->region()->committed(), committed);
  CHECK_EQ(a.state.cursor, 0);                        // but reset
  CHECK(a->verify() == Status::kOk);
  src.fail_decommit = false;
  CHECK(a->reset(0) == Status::kOk);
  CHECK_EQ(a->stats().committed, size_t{0});
}

// Bad sizes at creation are refused.
TEST(arena_create_rejects_bad_options) {
  ArenaState st;
  Arena* a = nullptr;
  ArenaOptions o;
  CHECK(Arena::create(o, PageSource::system(), &st, &a) == Status::kInvalidArgument);
  o.max_bytes = Region::kMaxBytes + 1;
  CHECK(Arena::create(o, PageSource::system(), &st, &a) == Status::kInvalidArgument);
  o.max_bytes = MiB;
  o.red_zone = 8192;
  CHECK(Arena::create(o, PageSource::system(), &st, &a) == Status::kInvalidArgument);
  CHECK(Arena::create(o, PageSource::system(), nullptr, &a) == Status::kInvalidArgument);
  CHECK(a == nullptr);
  o.red_zone = 0;
  o.max_bytes = Region::kMaxBytes;  // 2 GiB: usable up to kMaxCapacity
  REQUIRE(Arena::create(o, PageSource::system(), &st, &a) == Status::kOk);
  CHECK_EQ(a->capacity(), Arena::kMaxCapacity);
  delete a;
}

// Whatever JavaScript writes into the shared words, no native write leaves
// the region: the cursor is clamped, the published words are restored.
TEST(arena_hostile_shared_words_are_clamped) {
  Fixture a(MiB);
  REQUIRE(a.arena);
  REQUIRE(a->alloc(100, 1) != nullptr);
  for (int bad = 0; bad < 4; ++bad) {
    const auto limit = static_cast<int32_t>(a->limit());
    const int32_t forged[] = {-1, -2147483647 - 1, 2147483647, limit + 1};
    a.state.cursor = forged[bad];
    CHECK(a->alloc(8, 8) == nullptr);  // inline path goes slow, slow path refuses
    CHECK(a->status() == Status::kCorrupted);
    CHECK(a.state.cursor == limit);     // clamped up, never below: no double hand-out
    CHECK(a->alloc(8, 8) != nullptr);  // repaired
  }
  a.state.limit = 0x7fffffff;  // a forged limit is put back, not trusted
  CHECK(a->verify() == Status::kCorrupted);
  CHECK_EQ(a.state.limit, static_cast<int32_t>(a->limit()));
  CHECK(a->verify() == Status::kOk);
  a.state.cursor = -5;
  CHECK(a->reset() == Status::kOk);
  CHECK_EQ(a.state.cursor, 0);
}

// After destroy every operation is a status and the inline path returns nullptr.
TEST(arena_destroy) {
  Fixture a(MiB);
  REQUIRE(a.arena);
  REQUIRE(a->alloc(64, 16) != nullptr);
  a->destroy();
  CHECK(a->destroyed());
  CHECK(a->alloc(64, 16) == nullptr);
  CHECK(a->status() == Status::kDestroyed);
  size_t off = 0;
  CHECK(a->rewind(0, 0) == Status::kDestroyed);
  CHECK(a->reset() == Status::kDestroyed);
  CHECK(a->verify() == Status::kDestroyed);
  CHECK(a->allocate(1, 1, false, &off) == Status::kDestroyed);
  CHECK_EQ(a.state.limit, -1);
  a->destroy();  // idempotent
}

// Debug: fresh bytes 0xD0, zeroed bytes 0, red zone 0xDE after each allocation.
TEST(arena_debug_fills) {
  Fixture a(debug_options(MiB));
  REQUIRE(a.arena);
  CHECK_EQ(a.state.limit, -1);  // every allocation takes the checked path
  size_t off = 0, off2 = 0;
  REQUIRE(a->allocate(10, 8, false, &off) == Status::kOk);
  const uint8_t* base = a->region()->base();
  for (size_t i = 0; i < 10; ++i) CHECK_EQ(base[off + i], 0xD0);
  for (size_t i = 10; i < 26; ++i) CHECK_EQ(base[off + i], 0xDE);
  REQUIRE(a->allocate(10, 8, true, &off2) == Status::kOk);
  CHECK(off2 >= off + 26);
  for (size_t i = 0; i < 10; ++i) CHECK_EQ(base[off2 + i], 0);
  CHECK(a->alloc(1, 1) != nullptr);  // the inline path also works, via the slow one
  CHECK_EQ(a->stats().live_count, 3u);
  CHECK(a->verify() == Status::kOk);
}

// Debug: a write into a red zone is reported at rollback, reset and verify
// with the allocation's offset; the rollback / reset is still done.
TEST(arena_debug_red_zone_overflow) {
  Fixture a(debug_options(MiB));
  REQUIRE(a.arena);
  uint8_t* base = a->region()->base();
  size_t off = 0, victim = 0;
  REQUIRE(a->allocate(32, 16, false, &off) == Status::kOk);
  const auto mark_cursor = static_cast<size_t>(a.state.cursor);
  const uint32_t mark_count = a.state.count;
  REQUIRE(a->allocate(20, 16, false, &victim) == Status::kOk);
  base[victim + 20] = 1;  // one byte past the end
  CHECK(a->verify() == Status::kOverflow);
  CHECK_EQ(a->fault().offset, victim);
  CHECK_EQ(a->fault().at, victim + 20);
  CHECK_EQ(a->fault().found, 1);
  CHECK(a->rewind(mark_cursor, mark_count) == Status::kOverflow);
  CHECK_EQ(a->fault().offset, victim);
  CHECK_EQ(static_cast<size_t>(a.state.cursor), off + 32 + 16);  // rolled back anyway
  CHECK(a->verify() == Status::kOk);
  base[off + 32 + 15] = 0;  // last red-zone byte of the first allocation
  CHECK(a->reset() == Status::kOverflow);
  CHECK_EQ(a->fault().offset, off);
  CHECK_EQ(a.state.cursor, 0);
  CHECK(a->verify() == Status::kOk);
}

// Debug: released memory is 0xDF; a write after release is reported when the
// memory is reused and by verify.
TEST(arena_debug_use_after_release) {
  Fixture a(debug_options(MiB));
  REQUIRE(a.arena);
  uint8_t* base = a->region()->base();
  size_t off = 0;
  REQUIRE(a->allocate(64, 16, false, &off) == Status::kOk);
  CHECK(a->rewind(0, 0) == Status::kOk);
  guards::asan_unpoison(base + off, 64);  // JS reads and writes where ASan cannot see
  for (size_t i = 0; i < 64; ++i) CHECK_EQ(base[off + i], 0xDF);
  base[off + 40] = 7;  // a stale pointer writes after the rollback
  CHECK(a->verify() == Status::kUseAfterFree);
  CHECK_EQ(a->fault().at, off + 40);
  CHECK(a->verify() == Status::kOk);  // reported once, then re-poisoned
  guards::asan_unpoison(base + off, 64);
  base[off + 41] = 7;
  size_t again = 0;
  CHECK(a->allocate(64, 16, false, &again) == Status::kUseAfterFree);
  CHECK(a->allocate(64, 16, false, &again) == Status::kOk);  // re-poisoned, usable
  CHECK_EQ(again, off);
  CHECK(a->verify() == Status::kOk);
}

// Debug with a zero-size allocation: it has a red zone too, and counts.
TEST(arena_debug_zero_size) {
  Fixture a(debug_options(MiB, 8));
  REQUIRE(a.arena);
  size_t off = 0, next = 0;
  REQUIRE(a->allocate(0, 16, false, &off) == Status::kOk);
  REQUIRE(a->allocate(0, 1, false, &next) == Status::kOk);
  CHECK_EQ(next, off + 8);
  a->region()->base()[off] = 0;
  CHECK(a->verify() == Status::kOverflow);
  CHECK_EQ(a->stats().live_count, 2u);
}

#if defined(OFFHEAP_ASAN)
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

// Under ASan a write one byte past an allocation is caught at once (the core
// poisons everything outside live allocations). Runs in a child: it aborts.
TEST(arena_asan_catches_overflow_in_a_child) {
  Fixture a(MiB);
  REQUIRE(a.arena);
  auto* p = static_cast<volatile uint8_t*>(a->alloc(24, 8));
  REQUIRE(p != nullptr);
  p[23] = 1;  // the last byte is fine
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    p[24] = 1;  // one past the end
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
}
#endif

// JavaScript rolls back by itself (lowering cursor and count, adding to
// `released`, raising `peak`); the core folds that into exact counters.
TEST(arena_counts_rollbacks_done_through_the_shared_words) {
  Fixture a(MiB);
  REQUIRE(a.arena);
  for (int i = 0; i < 10; ++i) REQUIRE(a->alloc(100, 1) != nullptr);
  a.state.peak = a.state.cursor;  // what the facade does at a rollback to 300 / 3
  a.state.released += 7;
  a.state.cursor = 300;
  a.state.count = 3;
  ArenaStats s = a->stats();
  CHECK_EQ(s.live_count, 3u);
  CHECK_EQ(s.alloc_count, 10u);
  CHECK_EQ(s.free_count, 7u);
  CHECK_EQ(s.peak, size_t{1000});
  CHECK(a->verify() == Status::kOk);  // folded in, not corruption
  CHECK_EQ(a.state.released, 0u);
  CHECK(a->reset() == Status::kOk);
  s = a->stats();
  CHECK_EQ(s.alloc_count, 10u);
  CHECK_EQ(s.free_count, 10u);
  CHECK_EQ(s.peak, size_t{1000});
  a.state.peak = 0x7fffffff;  // a forged peak is bounded by the capacity
  CHECK(a->stats().peak <= a->capacity());
}

// rewind() goes down only.
TEST(arena_rewind) {
  Fixture a(MiB);
  REQUIRE(a.arena);
  a->alloc(100, 1);
  a->alloc(100, 1);
  CHECK(a->rewind(300, 2) == Status::kInvalidHandle);  // above the cursor
  CHECK(a->rewind(150, 5) == Status::kInvalidHandle);  // more live than there are
  CHECK(a->rewind(50, 1) == Status::kOk);
  CHECK_EQ(a.state.cursor, 50);
  CHECK_EQ(a->stats().free_count, 1u);
}

// An arena given up by a collected owner keeps the pages for other references.
TEST(arena_abandon_keeps_pages_for_other_references) {
  ArenaState st;
  Arena* a = nullptr;
  ArenaOptions o;
  o.max_bytes = MiB;
  REQUIRE(Arena::create(o, PageSource::system(), &st, &a) == Status::kOk);
  Region* r = a->region();
  r->retain();  // an ArrayBuffer over it
  auto* p = static_cast<uint8_t*>(a->alloc(16, 16));
  REQUIRE(p != nullptr);
  p[0] = 42;
  a->abandon();
  CHECK(a->destroyed());
  CHECK(!r->destroyed());
  CHECK_EQ(p[0], 42);
  delete a;
  CHECK_EQ(p[0], 42);
  r->release();
}
