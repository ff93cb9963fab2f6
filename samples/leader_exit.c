/*
 * leader_exit: the main thread leaves with pthread_exit while a worker goes on, so the
 * process's leader is a zombie that cannot be traced and never stops again. A recorder
 * attaching to it, and detaching from it, must neither fail nor hold the worker up.
 *
 *   leader_exit [SECONDS]      (default 4)
 *
 * Prints "leader_exit pid=P" as the leader leaves, then, when the worker ends after
 * SECONDS, "worker longest_gap_ms=N": the longest time between two of its 1 ms naps,
 * which a stop by a tracer stretches. Each nap is followed by one write to a fresh page
 * (SECONDS * 1000 pages at most), so an attached recorder sees anon faults.
 */
#include "common.h"
#include <pthread.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double seconds = 4;

static void *worker(void *arg)
{
    (void)arg;
    size_t npages = (size_t)(seconds * 1000) + 16;
    char *pages = map_anon(npages, PROT_READ | PROT_WRITE);
    double start = now(), last = start, longest = 0;
    for (size_t i = 0; i < npages && now() - start < seconds; i++) {
        usleep(1000);
        double t = now();
        if (t - last > longest)
            longest = t - last;
        last = t;
        *(volatile char *)(pages + i * PAGE_SIZE) = 1;
    }
    printf("worker longest_gap_ms=%d\n", (int)(longest * 1000));
    fflush(stdout);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atof(argv[1]);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        die("pthread_create");
    printf("leader_exit pid=%d\n", (int)getpid());
    fflush(stdout);
    pthread_exit(NULL);
}
