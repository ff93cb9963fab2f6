/*
 * stack_growth: the main thread's stack grown down by a deep recursion, each frame
 * writing its own 4 KiB page, for checking the replay model's resident memory against
 * the kernel's.
 *
 *   stack_growth [FRAMES]     (default 1500; the default 8 MiB stack rlimit holds about 1,900)
 *
 * Every fault on a page below the stack grows its VMA (expand_downwards), which perf reports
 * as a mapping the kernel made: the stack's growth, not a new mapping over the old stack.
 * At the deepest frame it prints one line:
 *
 *   ORACLE minflt=N stack_rss_kb=K start=0x.. end=0x.. frames=F
 *
 * minflt: the faults the kernel counted for the thread over the recursion
 * (/proc/thread-self/stat field 10); stack_rss_kb: the [stack] VMA's Rss in
 * /proc/self/smaps at that moment, which is its peak; start and end: the VMA then; frames:
 * how deep it went (fewer than asked under a stack rlimit below 8 MiB).
 */
#include "common.h"
#include <sys/resource.h>

/* The calling thread's minflt (common.h). */
static unsigned long thread_minflt(void)
{
    unsigned long minflt, majflt;
    read_fault_counters(&minflt, &majflt);
    return minflt;
}

static unsigned long before;
static int frames_asked;

/* The [stack] VMA's Rss, and its range. */
static void report(void)
{
    unsigned long after = thread_minflt();
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    unsigned long lo = 0, hi = 0, start = 0, end = 0, rss = 0, v;
    int inside = 0;
    if (!f) die("smaps");
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = strstr(line, "[stack]") != NULL;
            if (inside) { start = lo; end = hi; }
            continue;
        }
        if (inside && sscanf(line, "Rss: %lu", &v) == 1) rss = v;
    }
    fclose(f);
    printf("ORACLE minflt=%lu stack_rss_kb=%lu start=%#lx end=%#lx frames=%d\n", after - before, rss, start, end, frames_asked);
    fflush(stdout);
}

/* One page of stack per frame, written at both ends. */
static __attribute__((noinline)) unsigned long descend(int frames)
{
    volatile char page[PAGE_SIZE];
    page[0] = (char)frames;
    page[PAGE_SIZE - 1] = (char)frames;
    if (frames == 0) {
        report();
        return page[0];
    }
    return descend(frames - 1) + page[PAGE_SIZE - 1];
}

int main(int argc, char **argv)
{
    int frames = argc > 1 ? atoi(argv[1]) : 1500;
    if (frames < 0 || frames > 1800) {
        fprintf(stderr, "usage: stack_growth [FRAMES <= 1800]\n");
        return 2;
    }
    /* A smaller stack rlimit than the usual 8 MiB takes fewer frames (1 MiB spare). */
    struct rlimit limit;
    if (getrlimit(RLIMIT_STACK, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        long fit = ((long)limit.rlim_cur - (1L << 20)) / (long)(PAGE_SIZE + 256);
        if (fit < frames) frames = fit > 0 ? (int)fit : 0;
    }
    /* Lock what is mapped (not the stack below, which grows): nothing is reclaimed and
     * faulted back between the counts. Not fatal without the privilege. */
    (void)mlockall(MCL_CURRENT);
    frames_asked = frames;
    (void)thread_minflt();
    before = thread_minflt();
    return descend(frames) == 0xdead ? 1 : 0;
}
