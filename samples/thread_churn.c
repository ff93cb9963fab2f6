/*
 * thread_churn: starts threads one at a time and joins each before the next, as a program
 * that runs short tasks on threads of their own does: argv[1] threads (default 4000), each
 * with a 64 KiB stack and nothing to do. It takes almost no faults; what it measures is
 * what a recorder costs at each thread's start and end (the events a new thread inherits,
 * and each stop a tracer waits for), one after another, with nothing to hide them behind.
 */
#include "common.h"
#include <pthread.h>

static void *nothing(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    unsigned long threads = argc > 1 ? strtoul(argv[1], NULL, 10) : 4000;
    if (threads == 0 || threads > 1000000) {
        fprintf(stderr, "usage: thread_churn [THREADS (1-1000000)]\n");
        return 2;
    }
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 64 * 1024) != 0)
        die("pthread_attr");
    for (unsigned long i = 0; i < threads; i++) {
        pthread_t t;
        int rc = pthread_create(&t, &attr, nothing, NULL);
        if (rc == 0)
            rc = pthread_join(t, NULL);
        if (rc != 0) {
            errno = rc;
            die("pthread_create/join");
        }
    }
    printf("thread_churn: %lu threads started and joined\n", threads);
    return 0;
}
