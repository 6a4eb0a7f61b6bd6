// A minimal test harness for the core: TEST registers a case, CHECK records a
// failure and goes on, REQUIRE stops the case. main() lives in test_main.cc.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace offheap::test {

struct Case {
  const char* name;
  void (*fn)();
};

std::vector<Case>& registry();
void fail(const char* file, int line, const std::string& what);
bool current_failed();

struct Register {
  Register(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

struct Stop {};  // thrown by REQUIRE to end a case

}  // namespace offheap::test

#define OFFHEAP_CAT2(a, b) a##b
#define OFFHEAP_CAT(a, b) OFFHEAP_CAT2(a, b)
#define TEST(name)                                                              \
  static void name();                                                           \
  static ::offheap::test::Register OFFHEAP_CAT(reg_, name)(#name, &name);       \
  static void name()

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) ::offheap::test::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b)                                                          \
  do {                                                                          \
    auto va_ = (a);                                                             \
    auto vb_ = (b);                                                             \
    if (!(va_ == vb_))                                                          \
      ::offheap::test::fail(__FILE__, __LINE__,                                 \
                            "CHECK_EQ(" #a ", " #b "): " + std::to_string(static_cast<long long>(va_)) + \
                                " != " + std::to_string(static_cast<long long>(vb_)));            \
  } while (0)

#define REQUIRE(cond)                                                           \
  do {                                                                          \
    if (!(cond)) {                                                              \
      ::offheap::test::fail(__FILE__, __LINE__, "REQUIRE(" #cond ")");          \
      throw ::offheap::test::Stop{};                                            \
    }                                                                           \
  } while (0)
