// glibc's mallopt(M_ARENA_MAX), which Swift's Glibc module does not declare. Replay's
// reading decodes each chunk's faults on worker threads and frees them on the thread that
// puts them in time order; with an arena per thread, the freed pages stayed in the workers'
// arenas while the time order took fresh ones from the kernel. With one arena it reuses them.
#ifndef FAULTLINE_MALLOC_ARENA_H
#define FAULTLINE_MALLOC_ARENA_H

#include <malloc.h>

static inline void faultline_use_one_malloc_arena(void) {
    mallopt(M_ARENA_MAX, 1);
}

#endif
