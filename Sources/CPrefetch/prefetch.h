// A hint that memory will be read soon, which Swift cannot give by itself: the replay
// model asks for the page-map lines of faults a few places ahead, so that their cache
// misses overlap instead of following one another. GCC and Clang on every target.
#ifndef FAULTLINE_PREFETCH_H
#define FAULTLINE_PREFETCH_H

static inline void faultline_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
