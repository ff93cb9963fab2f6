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
 * (SECONDS * 1000 pages at most), so an attached recorder sees anon faults. It also prints
 * "worker start=0x.. pages=N faults_before_first=M contiguous=1": page i (at start + i*4096)
 * was the process's fault number M + i + 1 (minflt+majflt, getrusage, read before each
 * write), contiguous=0 if any other fault came between, so that a test that knows the
 * kernel's count when an attach began and ended knows exactly which pages were written.
 */
#include "common.h"
#include <pthread.h>
#include <time.h>
#include <sys/resource.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double seconds = 4;

static unsigned long faults_so_far(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        die("getrusage");
    return (unsigned long)(u.ru_minflt + u.ru_majflt);
}

static void *worker(void *arg)
{
    (void)arg;
    size_t npages = (size_t)(seconds * 1000) + 16;
    char *pages = map_anon(npages, PROT_READ | PROT_WRITE);
    /* Touched before the loop, with usleep's, now()'s and getrusage's code: in the loop the
     * only faults are the pages' own. */
    unsigned long *before = calloc(npages, sizeof *before);
    if (!before)
        die("calloc");
    for (size_t i = 0; i < npages; i++)
        before[i] = 0;
    usleep(1);
    (void)faults_so_far();
    double start = now(), last = start, longest = 0;
    size_t i;
    for (i = 0; i < npages && now() - start < seconds; i++) {
        usleep(1000);
        double t = now();
        if (t - last > longest)
            longest = t - last;
        last = t;
        before[i] = faults_so_far();
        *(volatile char *)(pages + i * PAGE_SIZE) = 1;
    }
    int contiguous = 1;
    for (size_t k = 1; k < i; k++)
        if (before[k] != before[0] + k)
            contiguous = 0;
    printf("worker start=%p pages=%zu faults_before_first=%lu contiguous=%d\n", (void *)pages, i,
           i ? before[0] : 0, contiguous);
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
