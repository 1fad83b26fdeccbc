/* What the fuzz targets share: an invariant that aborts (so libFuzzer keeps the input). */
#ifndef DOW_FUZZ_CHECK_H
#define DOW_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(condition)                                                                  \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      fprintf(stderr, "invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

#endif
