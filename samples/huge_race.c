/*
 * huge_race: argv[1] threads (default 64) wait at a barrier, then write and read at random
 * over one MADV_HUGEPAGE region of argv[2] MiB (default 64), argv[3] accesses each
 * (default 4000). Threads race into the same huge pages: while one thread's fault
 * allocates a huge page (zeroing 2 MiB, perhaps compacting first), others fault at other
 * base pages of it and find the page there when their own faults end. Nothing is ever
 * freed or reclaimed by the program, so none of these faults is a swap-in.
 *
 * No EXPECT line: how many faults the race adds is the scheduler's to say. It prints
 * "RANGE start end" for the region.
 */
#include "common.h"
#include <pthread.h>
#include <stdint.h>

static char *region;
static size_t bytes;
static long accesses;
static pthread_barrier_t barrier;

static void *worker(void *arg)
{
    uint64_t x = (uintptr_t)arg * 2654435761u + 1;
    int rc = pthread_barrier_wait(&barrier);
    if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
        errno = rc;
        die("pthread_barrier_wait");
    }
    for (long i = 0; i < accesses; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t at = (size_t)(x >> 8) % bytes;
        if ((x >> 40) & 1)
            ((volatile char *)region)[at] = 1;
        else
            (void)((volatile char *)region)[at];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    size_t threads = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    bytes = (argc > 2 ? strtoul(argv[2], NULL, 10) : 64) << 20;
    accesses = argc > 3 ? strtol(argv[3], NULL, 10) : 4000;
    if (threads == 0 || threads > 1024 || bytes == 0)
        die("usage: huge_race [THREADS 1-1024] [MIB] [ACCESSES]");
    size_t huge = 2u << 20;
    char *raw = mmap(NULL, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        die("mmap");
    region = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
    if (madvise(region, bytes, MADV_HUGEPAGE) != 0)
        die("madvise MADV_HUGEPAGE");
    pthread_t *tids = calloc(threads, sizeof *tids);
    if (!tids)
        die("calloc");
    int rc = pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    if (rc != 0) {
        errno = rc;
        die("pthread_barrier_init");
    }
    for (size_t i = 0; i < threads; i++) {
        rc = pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)(i + 1));
        if (rc != 0) {
            errno = rc;
            die("pthread_create");
        }
    }
    for (size_t i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    printf("RANGE %p %p\n", (void *)region, (void *)(region + bytes));
    return 0;
}
