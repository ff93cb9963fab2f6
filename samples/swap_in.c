/*
 * swap_in: writes a region page by page, then reads it back; run in a memory cgroup
 * smaller than the region with swap on, most pages go to swap in between, and the reads
 * bring them back: from the swap cache (minor faults) or from disk (major ones).
 *
 * Usage: swap_in anon|shmem|fork MIB
 *   anon   private anonymous memory: the writes are `anon` faults
 *   shmem  shared anonymous memory (shmem): the writes are `file` faults (shmem's page cache)
 *   fork   as anon, but a forked child does the reads: fork copies the swap entries of the
 *          pages that are out, so the child's faults are swap-ins of its parent's pages
 *   populate  a sixth of MIB, mapped with MAP_POPULATE: the kernel fills every page before
 *          mmap returns (no faults: anon 0 there), and it fits in the cgroup; then MIB of
 *          other memory is written (anon), which pushes the populated pages out to swap; the
 *          reads of the populated region bring them back
 *
 * Prints one EXPECT line (see common.h) for the writes, then one line for the reads:
 *
 *   WINDOW pid=P tid=T start=0x.. end=0x.. from_ns=A to_ns=B minflt=X majflt=Y pages=N
 *
 * X and Y are the kernel's minor and major fault counts of this thread over the read loop
 * (/proc/thread-self/stat, read just after A and just before B, CLOCK_MONOTONIC): every one
 * of those faults is a swap-in of a page in [start, end), unless something outside the
 * region faulted inside the window too. The loop also checks every page still holds what
 * was written.
 */
#include "common.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#include <sys/wait.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "anon") != 0 && strcmp(argv[1], "shmem") != 0 && strcmp(argv[1], "fork") != 0
                      && strcmp(argv[1], "populate") != 0)) {
        fprintf(stderr, "usage: swap_in anon|shmem|fork|populate MIB\n");
        return 2;
    }
    int shmem = strcmp(argv[1], "shmem") == 0;
    int in_child = strcmp(argv[1], "fork") == 0;
    int populate = strcmp(argv[1], "populate") == 0;
    size_t npages = strtoul(argv[2], NULL, 10) * (1024 * 1024 / PAGE_SIZE);
    if (npages == 0) {
        fprintf(stderr, "MIB must be at least 1\n");
        return 2;
    }
    size_t pushed = npages;
    if (populate)
        npages = npages / 6 > 0 ? npages / 6 : 1;
    size_t len = npages * PAGE_SIZE;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, (shmem ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    if (madvise(p, len, MADV_NOHUGEPAGE) != 0)
        die("madvise MADV_NOHUGEPAGE");
    expect(shmem ? "file" : "anon", p, p + len, populate ? 0 : npages, NULL);

    for (size_t i = 0; i < npages; i++)
        *(volatile uint32_t *)(p + i * PAGE_SIZE) = (uint32_t)i + 1;

    if (populate) {
        /* MAP_POPULATE faults pages in through get_user_pages, which under memory pressure
         * can end in the cgroup's OOM killer: populate what fits, then push it out. */
        char *q = mmap(NULL, pushed * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (q == MAP_FAILED)
            die("mmap");
        if (madvise(q, pushed * PAGE_SIZE, MADV_NOHUGEPAGE) != 0)
            die("madvise MADV_NOHUGEPAGE");
        expect("anon", q, q + pushed * PAGE_SIZE, pushed, NULL);
        /* First ask the kernel to page the populated region out (MADV_PAGEOUT, 5.4+):
         * reclaim's own choice under pressure alone left it resident in some runs. Then
         * three passes: the pusher's pages are the ones in use, the populated ones the
         * oldest, which reclaim takes first (and what MADV_PAGEOUT left in the swap cache
         * goes to disk). */
        if (madvise(p, len, MADV_PAGEOUT) != 0 && errno != EINVAL)
            die("madvise MADV_PAGEOUT");
        for (int pass = 0; pass < 3; pass++)
            for (size_t i = 0; i < pushed; i++)
                *(volatile char *)(q + i * PAGE_SIZE) = (char)(pass + 1);
    }

    pid_t child = 0;
    if (in_child) {
        if (fflush(stdout) != 0)
            die("fflush");
        child = fork();
        if (child < 0)
            die("fork");
        if (child > 0) {
            int status;
            if (waitpid(child, &status, 0) != child)
                die("waitpid");
            return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        }
    }

    /* Warm up everything the window's edges use, so that little else faults inside it. */
    prefault_stack();
    unsigned long min0, maj0, min1, maj1;
    (void)now_ns();
    read_fault_counters(&min0, &maj0);

    uint64_t from = now_ns();
    read_fault_counters(&min0, &maj0);
    size_t wrong = 0;
    for (size_t i = 0; i < npages; i++)
        if (*(volatile uint32_t *)(p + i * PAGE_SIZE) != (uint32_t)i + 1)
            wrong++;
    read_fault_counters(&min1, &maj1);
    uint64_t to = now_ns();

    if (wrong != 0) {
        fprintf(stderr, "%zu pages did not read back what was written\n", wrong);
        return 1;
    }
    printf("WINDOW pid=%d tid=%d start=%#lx end=%#lx from_ns=%llu to_ns=%llu minflt=%lu majflt=%lu pages=%zu\n",
           (int)getpid(), (int)get_tid(), (unsigned long)p, (unsigned long)(p + len), (unsigned long long)from,
           (unsigned long long)to, min1 - min0, maj1 - maj0, npages);
    if (fflush(stdout) != 0)
        die("fflush");
    return 0;
}
