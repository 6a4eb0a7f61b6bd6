// Tests of the page source and the region: reservation, decommit, lifetime.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "../core/region.h"
#include "failing_page_source.h"
#include "pages.h"
#include "test.h"

using namespace offheap;
using test::resident_pages;

static size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * PageSource::page_size();
}

// Reserving is free: 1 GiB of address space has no resident page.
TEST(region_reserve_1gib_costs_no_rss) {
  Region* r = nullptr;
  REQUIRE(Region::create(size_t{1} << 30, PageSource::system(), &r) == Status::kOk);
  CHECK_EQ(resident_pages(r->base(), r->size()), size_t{0});
  CHECK_EQ(r->size(), size_t{1} << 30);
  r->release();
}

// Sizes are rounded up to whole pages; 0 and > 2 GiB are refused.
TEST(region_rejects_bad_sizes) {
  Region* r = nullptr;
  CHECK(Region::create(0, PageSource::system(), &r) == Status::kInvalidArgument);
  CHECK(r == nullptr);
  CHECK(Region::create(Region::kMaxBytes + 1, PageSource::system(), &r) == Status::kInvalidArgument);
  REQUIRE(Region::create(1, PageSource::system(), &r) == Status::kOk);
  CHECK_EQ(r->size(), PageSource::page_size());
  r->release();
}

// A refused reservation is a value, not a crash.
TEST(region_reserve_failure_is_a_status) {
  test::FailingPageSource src;
  src.fail_reserve = true;
  Region* r = nullptr;
  CHECK(Region::create(1 << 20, src, &r) == Status::kOsFailure);
  CHECK(r == nullptr);
}

// Decommitted pages read back as zeros and leave RSS.
TEST(region_decommit_returns_pages) {
  Region* r = nullptr;
  REQUIRE(Region::create(64 << 20, PageSource::system(), &r) == Status::kOk);
  const size_t before = rss_bytes();
  std::memset(r->base(), 0xAB, 32 << 20);
  CHECK(rss_bytes() - before >= (size_t{30} << 20));
  CHECK(r->decommit(0, 32 << 20) == Status::kOk);
  CHECK(rss_bytes() < before + (size_t{2} << 20));
  CHECK_EQ(r->base()[12345], 0);
  r->release();
}

// Only whole pages inside the range are decommitted: neighbours keep data.
TEST(region_decommit_keeps_partial_pages) {
  Region* r = nullptr;
  REQUIRE(Region::create(1 << 20, PageSource::system(), &r) == Status::kOk);
  const size_t page = PageSource::page_size();
  std::memset(r->base(), 7, 4 * page);
  CHECK(r->decommit(100, 2 * page) == Status::kOk);  // covers page 1 only
  CHECK_EQ(r->base()[99], 7);
  CHECK_EQ(r->base()[page - 1], 7);
  CHECK_EQ(r->base()[page], 0);
  CHECK_EQ(r->base()[2 * page + 100], 7);
  CHECK(r->decommit(r->size(), 1) == Status::kInvalidArgument);
  r->release();
}

// A refused madvise is reported, and the region stays usable.
TEST(region_decommit_failure_is_a_status) {
  test::FailingPageSource src;
  Region* r = nullptr;
  REQUIRE(Region::create(1 << 20, src, &r) == Status::kOk);
  src.fail_decommit = true;
  CHECK(r->decommit(0, 1 << 20) == Status::kOsFailure);
  r->base()[0] = 1;
  CHECK_EQ(r->base()[0], 1);
  r->release();
}

// commit() accounts the range and faults its whole pages in, keeping their
// bytes; the partial page at the end and the pages after it stay as they were.
TEST(region_commit_faults_in_whole_pages) {
  Region* r = nullptr;
  REQUIRE(Region::create(1 << 20, PageSource::system(), &r) == Status::kOk);
  const size_t page = PageSource::page_size();
  r->base()[page + 5] = 9;  // page 1 holds a byte already
  const bool populated = r->commit(page, 4 * page + 100);
  CHECK_EQ(r->committed(), 3 * page + 100);
  CHECK_EQ(r->base()[page + 5], 9);
  if (test::populate_visible()) {
    CHECK(populated);
    CHECK_EQ(resident_pages(r->base() + page, 3 * page), size_t{3});
  }
  CHECK_EQ(resident_pages(r->base() + 4 * page, 8 * page), size_t{0});
  CHECK(r->commit(5 * page, 5 * page));  // nothing to fault in
  CHECK_EQ(r->committed(), 3 * page + 100);
  r->release();
}

// A refused populate is an answer, not a failure: the range is accounted and
// its pages fault in when written, as without it.
TEST(region_commit_refused_populate_still_accounts) {
  test::FailingPageSource src;
  Region* r = nullptr;
  REQUIRE(Region::create(1 << 20, src, &r) == Status::kOk);
  src.fail_populate = true;
  CHECK(!r->commit(0, 1 << 16));
  CHECK_EQ(src.populates, 1);
  CHECK_EQ(r->committed(), size_t{1} << 16);
  CHECK_EQ(resident_pages(r->base(), 1 << 16), size_t{0});
  r->base()[100] = 1;
  CHECK_EQ(r->base()[100], 1);
  r->release();
}

// destroy() drops pages at once but the mapping lives until the last release.
TEST(region_destroy_then_last_release_unmaps) {
  const size_t live = PageSource::live_reservations();
  Region* r = nullptr;
  REQUIRE(Region::create(1 << 20, PageSource::system(), &r) == Status::kOk);
  r->retain();  // an ArrayBuffer over the region
  r->base()[10] = 42;
  r->add_committed(4096);
  r->destroy();
  CHECK(r->destroyed());
  CHECK_EQ(r->committed(), size_t{0});
  CHECK_EQ(r->base()[10], 0);  // stale reads see zeros, not a fault
  r->destroy();                // idempotent
  r->release();                // the allocator's reference
  CHECK_EQ(PageSource::live_reservations(), live + 1);
  r->release();                // the ArrayBuffer's reference
  CHECK_EQ(PageSource::live_reservations(), live);
}

TEST(region_contains_is_overflow_safe) {
  Region* r = nullptr;
  REQUIRE(Region::create(1 << 20, PageSource::system(), &r) == Status::kOk);
  CHECK(r->contains(0, 1 << 20));
  CHECK(!r->contains(1, 1 << 20));
  CHECK(!r->contains(static_cast<size_t>(-1), 2));
  CHECK(r->contains(1 << 20, 0));
  r->release();
}

// Planned faults of the system source are consumed one call at a time.
TEST(system_source_fault_injection) {
  PageSource::inject_faults(1, 1);
  Region* r = nullptr;
  CHECK(Region::create(1 << 20, PageSource::system(), &r) == Status::kOsFailure);
  REQUIRE(Region::create(1 << 20, PageSource::system(), &r) == Status::kOk);
  CHECK(r->decommit(0, 1 << 20) == Status::kOsFailure);
  CHECK(r->decommit(0, 1 << 20) == Status::kOk);
  PageSource::inject_faults(0, 0);
  r->release();
}
