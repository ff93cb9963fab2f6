/*
 * thread_storm: two threads each write every page of their own 1 GiB (argv[1] MiB) of
 * anonymous memory as fast as they can: 262,144 first-touch faults each, ~524k in about a
 * second and a half. The recorder must lose none of them.
 */
#include "common.h"
#include <pthread.h>

static size_t pages;

static void *storm(void *unused)
{
    (void)unused;
    char *p = map_anon(pages, PROT_READ | PROT_WRITE);
    for (size_t i = 0; i < pages; i++) ((volatile char *)p)[i * PAGE_SIZE] = 1;
    expect("anon", p, p + pages * PAGE_SIZE, pages, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    pages = mib * 1024 * 1024 / PAGE_SIZE;
    pthread_t a, b;
    if (pthread_create(&a, NULL, storm, NULL) != 0 || pthread_create(&b, NULL, storm, NULL) != 0) die("pthread_create");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
