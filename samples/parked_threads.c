/*
 * parked_threads: argv[1] threads (default 150) that start, then wait, doing nothing, until
 * standard input reaches end of file; then the program exits 0. Prints
 *
 *   READY pid=P threads=N
 *
 * once every thread is running. For attaching to a process of many threads: the recorder
 * opens its events on each one, thousands of descriptors in all.
 */
#include "common.h"
#include <pthread.h>

static int gate[2];

static void *parked(void *unused)
{
    (void)unused;
    char byte;
    while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {}
    return NULL;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 150;
    if (n < 1 || n > 4000) {
        fprintf(stderr, "usage: parked_threads [THREADS (1-4000)]\n");
        return 2;
    }
    if (pipe(gate) != 0) die("pipe");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, parked, NULL) != 0) die("pthread_create");
        pthread_detach(t);
    }
    printf("READY pid=%d threads=%ld\n", (int)getpid(), n);
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {}
    close(gate[1]); /* every thread's read sees end of file */
    return 0;
}
