/*
 * thread_storm: two threads each write every page of their own 1 GiB (argv[1] MiB) of
 * anonymous memory as fast as they can: 262,144 first-touch faults each, ~524k in about a
 * second and a half. The recorder must lose none of them.
 *
 * argv[2] ROUNDS (default 1): each thread writes its region that many times, dropping its
 * pages with MADV_DONTNEED between rounds, so every round faults every page again: a log
 * of millions of faults without gigabytes of memory (the readers' benchmarks).
 */
#include "common.h"
#include <pthread.h>

static size_t pages, rounds = 1;

static void *storm(void *unused)
{
    (void)unused;
    char *p = map_anon(pages, PROT_READ | PROT_WRITE);
    for (size_t r = 0; r < rounds; r++) {
        if (r > 0 && madvise(p, pages * PAGE_SIZE, MADV_DONTNEED) != 0) die("madvise MADV_DONTNEED");
        for (size_t i = 0; i < pages; i++) ((volatile char *)p)[i * PAGE_SIZE] = 1;
    }
    expect("anon", p, p + pages * PAGE_SIZE, pages * rounds, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    pages = mib * 1024 * 1024 / PAGE_SIZE;
    rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 1;
    if (pages == 0 || rounds == 0 || rounds > 1000) {
        fprintf(stderr, "usage: thread_storm [MIB per thread] [ROUNDS (1-1000)]\n");
        return 2;
    }
    pthread_t a, b;
    if (pthread_create(&a, NULL, storm, NULL) != 0 || pthread_create(&b, NULL, storm, NULL) != 0) die("pthread_create");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
