// glibc's mallopt(M_ARENA_MAX), which Swift's Glibc module does not declare. Replay's
// reading decodes each chunk's faults on worker threads and frees them on the thread that
// puts them in time order, and then a model runs on each CPU; how many arenas they share
// is set here, before the first of those threads allocates (glibc fixes the number then).
#ifndef FAULTLINE_MALLOC_ARENA_H
#define FAULTLINE_MALLOC_ARENA_H

#include <malloc.h>
#include <unistd.h>

/// One malloc arena for each online CPU: no more threads than that run at once, so no
/// two of them wait for one arena's lock (as models replaying many processes at once did
/// with a single arena), and memory one thread frees stays within reach of the others.
static inline void faultline_use_an_arena_per_cpu(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    mallopt(M_ARENA_MAX, cpus > 0 && cpus < 1024 ? (int)cpus : 1);
}

#endif
