/*
 * thp_shapes: memory shapes whose huge pages the kernel decides, for checking the replay
 * model against the kernel itself.
 *
 *   thp_shapes SHAPE MIB [aligned|unaligned]
 *
 * SHAPE is one of:
 *   sequential       write every 4 KiB page of the region
 *   sparse           write one byte in every 2 MiB of the region
 *   read_then_write  read every page, then write every page
 *   fork_cow         write every page; fork; the child writes every other page
 *   hugetlb          a MAP_HUGETLB region (2 MiB pages), every page written
 *   threads_random   four threads, each with every fourth 2 MiB of the region (so no two
 *                    race for one huge page), touch their pages in a shuffled order, a
 *                    third of them read first, then write them all in another order
 *   mlock_half       mlock the first half of the region (the kernel fills it, without
 *                    faults), then write every page
 *   mlock_onfault    mlock2(MLOCK_ONFAULT) the whole region (nothing filled), then write
 *                    every page
 *   mlockall_future  mlockall(MCL_CURRENT | MCL_FUTURE) before the region is mapped: its
 *                    mmap fills it (before MADV_HUGEPAGE, so in base pages), and the writes
 *                    take no faults
 *   thp_disabled     prctl(PR_SET_THP_DISABLE) before the region is mapped, then every page
 *                    written: base pages only, MADV_HUGEPAGE notwithstanding
 *   dontneed_partial write every page; MADV_DONTNEED 1 MiB in the middle of every 4 MiB
 *                    (splitting the huge page it falls in); write every page again
 *   munmap_partial   write every page; munmap 1 MiB in the middle of every 4 MiB; write
 *                    every page still mapped again
 *   mprotect_split   write every page; mprotect 1 MiB in the middle of every 4 MiB read-only
 *                    and back; write every page again
 *   collapse         write one page in every 64; MADV_COLLAPSE the region (no MADV_HUGEPAGE
 *                    here: the call needs none); write every page (no faults where it
 *                    collapsed)
 *   arena_regrow     glibc's thread arenas: the region made inaccessible, then made
 *                    writable one page at a time, each page written as it is (so no 2 MiB
 *                    fits in the writable part when it is first touched: base pages); then
 *                    MADV_DONTNEED from 1 MiB in to the end, and those pages written again.
 *                    Since Linux 6.14 the call frees the page tables it empties, and the
 *                    second writes take huge pages where a whole 2 MiB was given back
 *   fork_rewrite     write every page; mprotect one page 1.5 MiB into every 4 MiB read-only
 *                    (a VMA boundary through that huge page, which splits it); fork; the
 *                    child writes one page in every 2 MiB and exits; the parent writes
 *                    every writable page again: a huge page the child no longer shares is
 *                    made writable whole by one fault, a split one takes a fault a page
 *   mremap_grow      write every page; mremap the region to twice its size (it moves:
 *                    the rest of the mapping it was cut from lies after it); write every
 *                    page of the grown region (the ORACLE line gives where it went)
 *   shared_reads     shared anonymous memory (MAP_SHARED, shmem), THP off for the process
 *                    (no shmem folios whatever the host's modes): read every page of the
 *                    first quarter (fresh shmem has no zero page: each read allocates, and
 *                    fault-around finds nothing to map), write every page of the second;
 *                    fork; the child reads every page (fault-around maps the pages the
 *                    parent put in the page cache; the rest take a fault each)
 *
 * The region gets MADV_HUGEPAGE (so THP is used in the kernel's `madvise` mode, and the
 * region is a VMA of its own), but for shared_reads. `aligned` starts it on a 2 MiB boundary, `unaligned` 4 KiB
 * past one. For each process that touched it, one line on stdout:
 *
 *   ORACLE pid=P role=parent|child start=0x.. end=0x.. minflt=N huge_kb=K fallback=F khugepaged=C
 *
 * minflt: the faults the kernel counted for the touching thread from just before the region
 * is mapped to the end of the touching loop (/proc/thread-self/stat field 10), so the faults
 * of filling it for mlock and mlockall(MCL_FUTURE) too; huge_kb: the region's AnonHugePages (hugetlb:
 * Private_Hugetlb) from /proc/self/smaps afterwards, over every VMA it is split into;
 * fallback: THP allocations the kernel could not satisfy meanwhile (/proc/vmstat
 * thp_fault_fallback), and khugepaged: the pages khugepaged collapsed meanwhile, anywhere
 * (its pages_collapsed), either of which makes the run incomparable. The shapes that split or move
 * huge pages after the first writes (dontneed_partial ... mremap_grow, arena_regrow) give as huge_kb the
 * larger of AnonHugePages then and at the end, which is their peak; mremap_grow adds
 * mapped=0x.., where the region was before it moved.
 */
#include "common.h"
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define HUGE (2UL << 20)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25   /* Linux 6.1; older C libraries lack the name */
#endif

/* The calling thread's minflt (common.h). */
static unsigned long thread_minflt(void)
{
    unsigned long minflt, majflt;
    read_fault_counters(&minflt, &majflt);
    return minflt;
}

static unsigned long vmstat(const char *name)
{
    FILE *f = fopen("/proc/vmstat", "r");
    char key[128];
    unsigned long v, found = 0;
    if (!f) return 0;
    while (fscanf(f, "%127s %lu", key, &v) == 2)
        if (strcmp(key, name) == 0) found = v;
    fclose(f);
    return found;
}

/* A field (in kB) of the smaps entries of the VMAs in [start, end) (mlock splits a region). */
static unsigned long smaps_kb(const void *start, const void *end, const char *field)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int inside = 0;
    unsigned long result = 0, lo, hi, v;
    if (!f) die("smaps");
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = lo < (unsigned long)end && hi > (unsigned long)start;
            continue;
        }
        size_t len = strlen(field);
        if (inside && strncmp(line, field, len) == 0 && line[len] == ':' && sscanf(line + len + 1, "%lu", &v) == 1)
            result += v;
    }
    fclose(f);
    return result;
}

/* Every page of [start, end) written. */
static void write_all(volatile char *start, volatile char *end, char value)
{
    for (volatile char *p = start; p < end; p += PAGE_SIZE) *p = value;
}

/* [lo, hi) of each 4 MiB of the region: 1 MiB from 1.5 MiB in, across a 2 MiB boundary's
 * huge pages when the region is aligned, inside one when it is not. */
#define CUT_START (3UL << 19)
#define CUT_LENGTH (1UL << 20)

/* khugepaged's collapses so far (machine-wide): one during a run may have collapsed the
 * region's pages, which the prediction (khugepaged off) cannot have. Once in a full test
 * run an mlockall_future region showed 2 MiB of AnonHugePages it never faulted in. */
static unsigned long khugepaged_collapsed(void)
{
    unsigned long n = 0;
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed", "r");
    if (f) {
        if (fscanf(f, "%lu", &n) != 1) n = 0;
        fclose(f);
    }
    return n;
}
static unsigned long collapsed_at_start;

/* AnonHugePages measured before huge pages were split or moved, 0 if none was. */
static unsigned long earlier_huge_kb;
/* Where the region was first mapped, when it moved. */
static char *mapped_at;

static void report(const char *role, char *start, char *end, unsigned long minflt, int hugetlb,
                   unsigned long fallback)
{
    unsigned long huge = smaps_kb(start, end, hugetlb ? "Private_Hugetlb" : "AnonHugePages");
    printf("ORACLE pid=%d role=%s start=%#lx end=%#lx minflt=%lu huge_kb=%lu fallback=%lu",
           (int)getpid(), role, (unsigned long)start, (unsigned long)end, minflt,
           huge > earlier_huge_kb ? huge : earlier_huge_kb, fallback);
    if (mapped_at) printf(" mapped=%#lx", (unsigned long)mapped_at);
    printf(" khugepaged=%lu\n", khugepaged_collapsed() - collapsed_at_start);
    fflush(stdout);
}

/* threads_random: one thread's share of the region and what the kernel counted for it. */
#define THREADS 4
struct share {
    char *region;
    size_t size;
    int index;
    unsigned long minflt;
};

static void *touch_share(void *arg)
{
    struct share *s = arg;
    volatile char *v = s->region;
    /* The pages in every THREADS-th 2 MiB range (counted from the 2 MiB boundary at or
     * below the region's start), so that no two threads fault in one huge page. */
    unsigned long base = (unsigned long)s->region & ~(HUGE - 1);
    size_t count = 0, *pages = malloc((s->size / PAGE_SIZE + 1) * sizeof *pages);
    if (!pages) die("malloc");
    for (size_t off = 0; off < s->size; off += PAGE_SIZE)
        if (((unsigned long)s->region + off - base) / HUGE % THREADS == (size_t)s->index) pages[count++] = off;
    shuffle(pages, count, 0x9E3779B97F4A7C15ull * (s->index + 1));
    (void)thread_minflt();   /* its buffer's stack page faulted before the count, not in it */
    unsigned long before = thread_minflt(), sum = 0;
    for (size_t i = 0; i < count; i++) {
        if ((pages[i] / PAGE_SIZE) % 3 == 0) sum += v[pages[i]];
        else v[pages[i]] = 1;
    }
    shuffle(pages, count, 0xD1B54A32D192ED03ull * (s->index + 1));
    for (size_t i = 0; i < count; i++) v[pages[i]] = (char)(sum + 2);
    s->minflt = thread_minflt() - before;
    free(pages);
    return NULL;
}

/* The threads_random shape: the kernel's counts, each thread's, for the whole region. */
static void threads_random(char *region, size_t size)
{
    struct share shares[THREADS];
    pthread_t threads[THREADS];
    unsigned long fallback = vmstat("thp_fault_fallback");
    for (int i = 0; i < THREADS; i++) {
        shares[i] = (struct share){ .region = region, .size = size, .index = i };
        if (pthread_create(&threads[i], NULL, touch_share, &shares[i]) != 0) die("pthread_create");
    }
    for (int i = 0; i < THREADS; i++)
        if (pthread_join(threads[i], NULL) != 0) die("pthread_join");
    fallback = vmstat("thp_fault_fallback") - fallback;
    for (int i = 0; i < THREADS; i++)
        report(i == 0 ? "parent" : "thread", region, region + size, shares[i].minflt, 0, fallback);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: thp_shapes sequential|sparse|read_then_write|fork_cow|hugetlb|threads_random|mlock_half|mlock_onfault|mlockall_future|thp_disabled|dontneed_partial|munmap_partial|mprotect_split|fork_rewrite|collapse|mremap_grow|arena_regrow|shared_reads MIB [aligned|unaligned]\n");
        return 2;
    }
    const char *shape = argv[1];
    size_t size = strtoul(argv[2], NULL, 10) << 20;
    int unaligned = argc > 3 && strcmp(argv[3], "unaligned") == 0;
    int hugetlb = strcmp(shape, "hugetlb") == 0;
    int shared = strcmp(shape, "shared_reads") == 0;

    /* Lock what is mapped so far (text, libraries, stack; not the region, mapped below):
     * reclaim cannot take one of those pages between the two counts, so a re-fault on
     * it cannot add to them. This machine runs a DAMON pageout scheme (kdamond, paddr)
     * that did so in 1 run in 7 (513 faults for 512). Not fatal: without the privilege
     * (RLIMIT_MEMLOCK) the counts are only less sure. */
    (void)mlockall(MCL_CURRENT);
    if (strcmp(shape, "mlockall_future") == 0 && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        die("mlockall (needs CAP_IPC_LOCK or a RLIMIT_MEMLOCK above the region)");
    if ((strcmp(shape, "thp_disabled") == 0 || shared) && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0)
        die("prctl PR_SET_THP_DISABLE");

    /* The count starts before the region is mapped: mlock and mlockall(MCL_FUTURE) fill it
     * through get_user_pages, whose faults the kernel counts too. */
    unsigned long fallback = vmstat("thp_fault_fallback");
    collapsed_at_start = khugepaged_collapsed();
    unsigned long before = thread_minflt();
    char *region;
    if (hugetlb) {
        region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        if (region == MAP_FAILED) die("mmap MAP_HUGETLB");
    } else {
        char *raw = mmap(NULL, size + 2 * HUGE, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) die("mmap");
        region = (char *)(((unsigned long)raw + HUGE - 1) & ~(HUGE - 1)) + (unaligned ? PAGE_SIZE : 0);
        if (strcmp(shape, "collapse") != 0 && !shared && madvise(region, size, MADV_HUGEPAGE) != 0) die("madvise");
    }
    char *end = region + size;
    volatile char *v = region;

    if (strcmp(shape, "threads_random") == 0) {
        threads_random(region, size);
        return 0;
    }
    if (strcmp(shape, "mlock_half") == 0 && mlock(region, size / 2 & ~(PAGE_SIZE - 1)) != 0)
        die("mlock (needs CAP_IPC_LOCK or a RLIMIT_MEMLOCK above the region)");
    if (strcmp(shape, "mlock_onfault") == 0 && mlock2(region, size, MLOCK_ONFAULT) != 0)
        die("mlock2 (needs CAP_IPC_LOCK or a RLIMIT_MEMLOCK above the region)");
    if (strcmp(shape, "sparse") == 0) {
        for (size_t off = PAGE_SIZE; off < size; off += HUGE) v[off] = 1;
    } else if (strcmp(shape, "read_then_write") == 0) {
        unsigned long sum = 0;
        for (size_t off = 0; off < size; off += PAGE_SIZE) sum += v[off];
        for (size_t off = 0; off < size; off += PAGE_SIZE) v[off] = (char)(sum + 1);
    } else if (strcmp(shape, "dontneed_partial") == 0 || strcmp(shape, "munmap_partial") == 0 ||
               strcmp(shape, "mprotect_split") == 0) {
        int dontneed = strcmp(shape, "dontneed_partial") == 0, unmap = strcmp(shape, "munmap_partial") == 0;
        write_all(region, end, 1);
        earlier_huge_kb = smaps_kb(region, end, "AnonHugePages");
        for (size_t off = 0; off + CUT_START + CUT_LENGTH <= size; off += 4 * CUT_LENGTH) {
            char *cut = region + off + CUT_START;
            if (dontneed) {
                if (madvise(cut, CUT_LENGTH, MADV_DONTNEED) != 0) die("madvise MADV_DONTNEED");
            } else if (unmap) {
                if (munmap(cut, CUT_LENGTH) != 0) die("munmap");
            } else if (mprotect(cut, CUT_LENGTH, PROT_READ) != 0 || mprotect(cut, CUT_LENGTH, PROT_READ | PROT_WRITE) != 0) {
                die("mprotect");
            }
        }
        for (size_t off = 0; off < size; off += PAGE_SIZE) {
            size_t in = off % (4 * CUT_LENGTH);
            int unmapped = unmap && in >= CUT_START && in < CUT_START + CUT_LENGTH &&
                           off - in + CUT_START + CUT_LENGTH <= size;
            if (!unmapped) v[off] = 2;
        }
    } else if (strcmp(shape, "fork_rewrite") == 0) {
        write_all(region, end, 1);
        earlier_huge_kb = smaps_kb(region, end, "AnonHugePages");
        for (size_t off = 0; off + CUT_START + PAGE_SIZE <= size; off += 4 * CUT_LENGTH)
            if (mprotect(region + off + CUT_START, PAGE_SIZE, PROT_READ) != 0) die("mprotect");
        pid_t child = fork();
        if (child < 0) die("fork");
        if (child == 0) {
            for (size_t off = 16 * PAGE_SIZE; off < size; off += HUGE) v[off] = 2;
            _exit(0);
        }
        int status;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child");
        for (size_t off = 0; off < size; off += PAGE_SIZE) {
            size_t in = off % (4 * CUT_LENGTH);
            int readOnly = in == CUT_START && off - in + CUT_START + PAGE_SIZE <= size;
            if (!readOnly) v[off] = 3;
        }
    } else if (strcmp(shape, "collapse") == 0) {
        for (size_t off = 0; off < size; off += 64 * PAGE_SIZE) v[off] = 1;
        /* Refused (EINVAL) under `record --no-thp`, whose prctl the program does not know of. */
        (void)madvise(region, size, MADV_COLLAPSE);
        write_all(region, end, 2);
    } else if (strcmp(shape, "arena_regrow") == 0) {
        if (mprotect(region, size, PROT_NONE) != 0) die("mprotect PROT_NONE");
        for (size_t off = 0; off < size; off += PAGE_SIZE) {
            if (mprotect(region + off, PAGE_SIZE, PROT_READ | PROT_WRITE) != 0) die("mprotect");
            v[off] = 1;
        }
        earlier_huge_kb = smaps_kb(region, end, "AnonHugePages");
        if (madvise(region + CUT_LENGTH, size - CUT_LENGTH, MADV_DONTNEED) != 0) die("madvise MADV_DONTNEED");
        write_all(region + CUT_LENGTH, end, 2);
    } else if (strcmp(shape, "mremap_grow") == 0) {
        write_all(region, end, 1);
        earlier_huge_kb = smaps_kb(region, end, "AnonHugePages");
        mapped_at = region;
        char *moved = mremap(region, size, 2 * size, MREMAP_MAYMOVE);
        if (moved == MAP_FAILED) die("mremap");
        region = moved;
        end = moved + 2 * size;
        write_all(region, end, 2);
    } else if (shared) {
        unsigned long sum = 0;
        for (size_t off = 0; off < size / 4; off += PAGE_SIZE) sum += v[off];
        write_all(region + size / 4, region + size / 2, (char)(sum + 1));
    } else {
        write_all(region, end, 1);
    }
    unsigned long after = thread_minflt();
    report("parent", region, end, after - before, hugetlb, vmstat("thp_fault_fallback") - fallback);

    if (strcmp(shape, "fork_cow") == 0 || shared) {
        pid_t child = fork();
        if (child < 0) die("fork");
        if (child == 0) {
            /* The stack is shared copy-on-write after fork: write this frame's variables once
             * before counting, or the first store to one would be counted in the delta. */
            size_t off = 0;
            before = after = fallback = off = 0;
            fallback = vmstat("thp_fault_fallback");
            (void)thread_minflt();   /* its read() copies into stack the fork shares, too */
            before = thread_minflt();
            unsigned long sum = 0;
            if (shared)
                for (off = 0; off < size; off += PAGE_SIZE) sum += v[off];
            else
                for (off = 0; off < size; off += 2 * PAGE_SIZE) v[off] = 2;
            after = thread_minflt();
            if (sum == 1) printf("(never)\n");   /* keeps the reads */
            report("child", region, end, after - before, 0, vmstat("thp_fault_fallback") - fallback);
            _exit(0);
        }
        int status;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child");
    }
    return 0;
}
