// FUZZ_CHECK: a property that must hold for every input; a violation aborts, so libFuzzer keeps
// the input as a reproducer.
#ifndef ACCORD_TESTS_FUZZ_FUZZ_CHECK_H_
#define ACCORD_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

#endif  // ACCORD_TESTS_FUZZ_FUZZ_CHECK_H_
