// Runs every registered case, prints one line per case, then a summary line
// "native: N passed, N failed". Optional argv[1]: a file to write
// {"passed":N,"failed":N} into, for the npm test summary.
#include <cstdlib>
#include <cstring>

#include "test.h"

namespace offheap::test {

std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

static bool g_failed = false;

void fail(const char* file, int line, const std::string& what) {
  g_failed = true;
  std::fprintf(stderr, "    %s:%d: %s\n", file, line, what.c_str());
}

bool current_failed() { return g_failed; }

}  // namespace offheap::test

int main(int argc, char** argv) {
  using namespace offheap::test;
  const char* filter = std::getenv("OFFHEAP_TEST_FILTER");
  int passed = 0, failed = 0;
  for (const Case& c : registry()) {
    if (filter && std::strstr(c.name, filter) == nullptr) continue;
    g_failed = false;
    try {
      c.fn();
    } catch (const Stop&) {
    }
    std::printf("%s %s\n", g_failed ? "FAIL" : "ok  ", c.name);
    (g_failed ? failed : passed)++;
  }
  std::printf("native: %d passed, %d failed\n", passed, failed);
  if (argc > 1) {
    if (FILE* f = std::fopen(argv[1], "w")) {
      std::fprintf(f, "{\"passed\":%d,\"failed\":%d}\n", passed, failed);
      std::fclose(f);
    }
  }
  return failed == 0 ? 0 : 1;
}
