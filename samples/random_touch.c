/*
 * random_touch: THREADS threads (argv[2], default 4) write every page of one shared
 * anonymous mapping of argv[1] MiB (default 64) once, in a shuffled order (a seeded
 * xorshift shuffle, the same every run): thread t writes the pages at positions
 * t, t + THREADS, ... of the shuffled order. Every page is one first-touch fault of the
 * thread that wrote it; no two faults in a row are neighbours. The shape a page-table
 * model and a time-ordered log like least: many threads, random pages.
 */
#include "common.h"
#include <pthread.h>

static char *base;
static size_t pages, threads;
static size_t *order;

static void *touch(void *arg)
{
    size_t t = (size_t)arg, mine = 0;
    for (size_t i = t; i < pages; i += threads) {
        ((volatile char *)base)[order[i] * PAGE_SIZE] = 1;
        mine++;
    }
    expect("anon", base, base + pages * PAGE_SIZE, mine, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    threads = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
    pages = mib * 1024 * 1024 / PAGE_SIZE;
    if (pages == 0 || threads == 0 || threads > 64) {
        fprintf(stderr, "usage: random_touch [MIB] [THREADS (1-64)]\n");
        return 2;
    }
    base = map_anon(pages, PROT_READ | PROT_WRITE);
    order = malloc(pages * sizeof *order);
    if (!order) die("malloc");
    for (size_t i = 0; i < pages; i++) order[i] = i;
    shuffle(order, pages, 88172645463325252ULL);
    pthread_t th[64];
    for (size_t t = 0; t < threads; t++)
        if (pthread_create(&th[t], NULL, touch, (void *)t) != 0) die("pthread_create");
    for (size_t t = 0; t < threads; t++) pthread_join(th[t], NULL);
    return 0;
}
