/*
 * thread_swarm: many threads at once, each writing its own pages: argv[1] threads (default
 * 200), argv[2] pages each (default 1000). With argv[3] "together" (the default) every
 * thread maps its memory and waits at a barrier, so all of them storm at once: a thousand
 * runnable threads leave a recorder little CPU. With "staggered" each starts writing as
 * soon as it is created, so threads are being created while others storm (and while a
 * recorder holds the others stopped). With argv[4] "shuffled" each thread writes its
 * pages in a shuffled order of its own (xorshift, seeded by the thread's
 * number): more threads than CPUs, preempted inside faults, write some faults long after
 * their time (the recorder writes a fault when it completes). Each writes one byte per
 * page of its own private anonymous mapping: exactly PAGES anon faults per thread, in its
 * own range. The recorder must lose none.
 *
 * Threads get 64 KiB stacks so that 1000 of them fit comfortably; the EXPECT line is
 * printed after the writes (printf's buffers are not in the range).
 */
#include "common.h"
#include <pthread.h>

static size_t pages;
static int together, shuffled;
static pthread_barrier_t barrier;

/* Page i of a shuffled order of `pages` pages: a full-period step through the pages,
 * starting at a seeded point (an odd step modulo a power of two visits every residue; the
 * ones past `pages` are skipped). */
static size_t shuffled_page(size_t i, size_t seed, size_t span)
{
    return (seed + i * 0x9E3779B97F4A7C15ull) & (span - 1);
}

static void *worker(void *arg)
{
    size_t seed = (size_t)arg * 0x2545F4914F6CDD1Dull;
    char *p = map_anon(pages, PROT_READ | PROT_WRITE);
    if (together) {
        int rc = pthread_barrier_wait(&barrier);
        if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
            errno = rc;
            die("pthread_barrier_wait");
        }
    }
    if (shuffled) {
        size_t span = 1;
        while (span < pages)
            span <<= 1;
        for (size_t i = 0; i < span; i++) {
            size_t page = shuffled_page(i, seed, span);
            if (page < pages)
                ((volatile char *)p)[page * PAGE_SIZE] = 1;
        }
    } else {
        for (size_t i = 0; i < pages; i++)
            ((volatile char *)p)[i * PAGE_SIZE] = 1;
    }
    expect("anon", p, p + pages * PAGE_SIZE, pages, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    size_t threads = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
    pages = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    const char *start = argc > 3 ? argv[3] : "together";
    const char *order = argc > 4 ? argv[4] : "in-order";
    together = strcmp(start, "together") == 0;
    shuffled = strcmp(order, "shuffled") == 0;
    if (threads == 0 || threads > 100000 || pages == 0 || (!together && strcmp(start, "staggered") != 0)
        || (!shuffled && strcmp(order, "in-order") != 0)) {
        fprintf(stderr, "usage: thread_swarm [THREADS (1-100000)] [PAGES per thread] [together|staggered] [in-order|shuffled]\n");
        return 2;
    }
    if (together) {
        int rc = pthread_barrier_init(&barrier, NULL, (unsigned)threads);
        if (rc != 0) {
            errno = rc;
            die("pthread_barrier_init");
        }
    }
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 64 * 1024) != 0)
        die("pthread_attr");
    pthread_t *t = calloc(threads, sizeof *t);
    if (t == NULL)
        die("calloc");
    for (size_t i = 0; i < threads; i++) {
        int rc = pthread_create(&t[i], &attr, worker, (void *)i);
        if (rc != 0) {
            errno = rc;
            die("pthread_create");
        }
    }
    for (size_t i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
