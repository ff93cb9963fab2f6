// glibc's mallopt(M_ARENA_MAX), which Swift's Glibc module does not declare. Replay's
// reading decodes each chunk's faults on worker threads and frees them on the thread that
// puts them in time order, and then a model runs on each CPU; how many arenas they share
// is set here, before the first of those threads allocates (glibc fixes the number then).
#ifndef FAULTLINE_MALLOC_ARENA_H
#define FAULTLINE_MALLOC_ARENA_H

#include <malloc.h>
#include <unistd.h>

/// One malloc arena for each online CPU, up to 8: no more threads than that run at once, so
/// no two of them wait for one arena's lock (as models replaying many processes at once did
/// with a single arena). Each arena keeps memory its threads freed (a second one cost 1.7 MB
/// of peak RSS, 2 CPUs), hence the cap: the eight configurations of a default replay.
static inline void faultline_use_an_arena_per_cpu(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    mallopt(M_ARENA_MAX, cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus);
}

#endif
