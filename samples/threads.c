/*
 * threads: first-touch faults from several threads at once.
 *
 * Starts 4 threads. Each maps its own 256 pages of private anonymous memory
 * (MADV_NOHUGEPAGE), waits at a barrier so that all four touch at the same
 * time, and writes one byte in each of its pages: exactly 256 anon faults
 * per thread, each taken by the thread that writes (error code 0x6). Each
 * thread prints its own EXPECT line with its own tid.
 */
#include "common.h"
#include <pthread.h>

#define NTHREADS 4
#define NPAGES 256

static pthread_barrier_t barrier;

static void *worker(void *arg)
{
    (void)arg;
    char *p = map_anon(NPAGES, PROT_READ | PROT_WRITE);
    expect("anon", p, p + NPAGES * PAGE_SIZE, NPAGES, NULL);

    int rc = pthread_barrier_wait(&barrier);
    if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
        errno = rc;
        die("pthread_barrier_wait");
    }

    struct selfcheck sc; /* per thread: /proc/thread-self/stat */
    selfcheck_begin(&sc);
    for (size_t i = 0; i < NPAGES; i++)
        *(volatile char *)(p + i * PAGE_SIZE) = 1;
    selfcheck_end(&sc);

    if (munmap(p, NPAGES * PAGE_SIZE) != 0)
        die("munmap");
    return NULL;
}

int main(void)
{
    pthread_t t[NTHREADS];
    int rc = pthread_barrier_init(&barrier, NULL, NTHREADS);
    if (rc != 0) {
        errno = rc;
        die("pthread_barrier_init");
    }
    for (int i = 0; i < NTHREADS; i++) {
        rc = pthread_create(&t[i], NULL, worker, NULL);
        if (rc != 0) {
            errno = rc;
            die("pthread_create");
        }
    }
    for (int i = 0; i < NTHREADS; i++) {
        rc = pthread_join(t[i], NULL);
        if (rc != 0) {
            errno = rc;
            die("pthread_join");
        }
    }
    if (pthread_barrier_destroy(&barrier) != 0)
        die("pthread_barrier_destroy");
    if (fflush(stdout) != 0)
        die("fflush");
    return 0;
}
