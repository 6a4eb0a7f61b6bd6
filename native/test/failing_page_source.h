// A PageSource for fault injection: forwards to the system source until told
// to refuse reserve, decommit, populate or release calls.
#pragma once

#include "../core/page_source.h"

namespace offheap::test {

class FailingPageSource final : public PageSource {
 public:
  bool fail_reserve = false;
  bool fail_decommit = false;
  bool fail_release = false;
  bool fail_populate = false;
  int reserves = 0, decommits = 0, releases = 0, populates = 0;

  void* reserve(size_t bytes) noexcept override {
    ++reserves;
    return fail_reserve ? nullptr : PageSource::system().reserve(bytes);
  }
  bool decommit(void* addr, size_t bytes) noexcept override {
    ++decommits;
    return !fail_decommit && PageSource::system().decommit(addr, bytes);
  }
  bool populate(void* addr, size_t bytes) noexcept override {
    ++populates;
    return !fail_populate && PageSource::populate(addr, bytes);
  }
  bool release(void* addr, size_t bytes) noexcept override {
    ++releases;
    // A refused release must not leak the mapping in tests: unmap anyway.
    const bool ok = PageSource::system().release(addr, bytes);
    return ok && !fail_release;
  }
};

}  // namespace offheap::test
