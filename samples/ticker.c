/*
 * ticker: a long-running program to attach to. Every 100 ms it writes 256 pages it has
 * never touched (256 anon faults a tick), for argv[1] ticks (default 40: 4 s), then prints
 * what it did and exits 3, so a test can tell its own exit status from a default one.
 * Recording it for 2 s gives about 20 ticks × 256 = 5120 first-touch faults.
 *
 * It prints "ticker pid=<pid> start=0x.. end=0x.." first, so a test knows where to look,
 * and at the end "ticker faults_before=N0,N1,..": its minflt+majflt (getrusage) just before
 * each tick's writes. Each tick's writes are the only faults it takes while ticking, so page
 * 256*t + i is the process's fault number N_t + i + 1: a test that knows the kernel's count
 * when an attach began and ended knows exactly which pages were written meanwhile.
 *
 * Each page is written by libc's memset, called through a pointer so the compiler cannot
 * inline it: memset keeps no frame pointer, so a DWARF unwinder finds main above it only
 * with libc's CFI, which an attached recorder learns from /proc/PID/maps.
 */
#include "common.h"
#include <time.h>
#include <sys/resource.h>

#define PAGES_PER_TICK 256

static void *(*volatile write_bytes)(void *, int, size_t) = memset;

static unsigned long faults_so_far(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        die("getrusage");
    return (unsigned long)(u.ru_minflt + u.ru_majflt);
}

int main(int argc, char **argv)
{
    int ticks = argc > 1 ? atoi(argv[1]) : 40;
    if (ticks <= 0) ticks = 40;
    char *p = map_anon((size_t)ticks * PAGES_PER_TICK, PROT_READ | PROT_WRITE);
    /* Touched now, as are memset's, getrusage's and nanosleep's code and this frame: while
     * ticking, the only faults are the ticks' own pages. */
    unsigned long *before = calloc((size_t)ticks, sizeof *before);
    if (!before)
        die("calloc");
    for (int t = 0; t < ticks; t++)
        before[t] = 0;
    char warm = 0;
    write_bytes(&warm, 1, 1);
    (void)faults_so_far();
    struct timespec none = { 0, 0 };
    nanosleep(&none, NULL);
    printf("ticker pid=%d start=%p end=%p\n", (int)getpid(), (void *)p,
           (void *)(p + (size_t)ticks * PAGES_PER_TICK * PAGE_SIZE));
    fflush(stdout);
    struct timespec tick = { 0, 100 * 1000 * 1000 };
    for (int t = 0; t < ticks; t++) {
        before[t] = faults_so_far();
        for (size_t i = 0; i < PAGES_PER_TICK; i++)
            write_bytes(p + ((size_t)t * PAGES_PER_TICK + i) * PAGE_SIZE, 1, 1);
        while (nanosleep(&tick, &tick) != 0) {} /* an attach's stop may interrupt the sleep */
        tick.tv_nsec = 100 * 1000 * 1000;
    }
    printf("ticker faults_before=");
    for (int t = 0; t < ticks; t++)
        printf("%s%lu", t ? "," : "", before[t]);
    printf("\n");
    printf("ticker done ticks=%d pages=%d\n", ticks, ticks * PAGES_PER_TICK);
    return 3;
}
