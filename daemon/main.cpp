#include "daemon/app.hpp"

#include <malloc.h>

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#error "a fuzzing build accepts forged signatures (channels/crypto.cpp): never build the daemon so"
#endif

int main(int argc, char** argv) {
  // For builds on glibc's malloc (SB_TCMALLOC=OFF; tcmalloc ignores these):
  // glibc returns freed memory to the kernel eagerly (128 KiB thresholds): with several
  // threads freeing request buffers, madvise() and the TLB flushes it causes took 20% of the
  // daemon's CPU under load (perf, scripts/bench.sh). Keep up to 32 MiB of free heap instead,
  // and serve allocations below 4 MiB from the heap rather than fresh mmaps.
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  return sb::run_cli(argc, argv);
}
