// glibc's malloc_trim, which Swift's Glibc module does not declare: it gives back to the
// kernel the free pages inside malloc's arenas, not only at their tops. Replay's reading
// frees many chunk-sized buffers that worker threads' arenas then keep resident.
#ifndef FAULTLINE_MALLOC_TRIM_H
#define FAULTLINE_MALLOC_TRIM_H

#include <malloc.h>

static inline void faultline_return_free_memory(void) {
    malloc_trim(0);
}

#endif
