/*
 * heap_rows: grows the program break with sbrk, writes part of the heap, lowers the break,
 * then reads how the kernel names and counts its heap in /proc/self/smaps:
 *
 *   ORACLE heap_start=0x<hex> heap_end=0x<hex> rss_kb=<n> break_start=0x<hex>
 *
 * (the [heap] VMA's bounds and resident memory, and where this program's break began).
 *   - 40 pages added and all written: anon 40;
 *   - 24 more added and the first 12 of them written: anon 12;
 *   - the break lowered by 8 pages, which were never written;
 * so the heap ends with 52 pages resident, its peak too.
 *
 * Nothing else may use the heap: stdout gets a static buffer before anything is printed
 * (stdio would malloc it from the heap), and THP is off for the process (its mTHP sizes
 * too), so each page takes its own fault.
 */
#include "common.h"
#include <sys/prctl.h>

static char out[1 << 14];
static char smaps[1 << 20];

/* The [heap] line of /proc/self/smaps and its Rss, read with no allocation. */
static void kernel_heap(unsigned long *start, unsigned long *end, unsigned long *rss_kb)
{
    int fd = open("/proc/self/smaps", O_RDONLY);
    if (fd < 0) die("open /proc/self/smaps");
    size_t used = 0;
    ssize_t n;
    while (used < sizeof smaps - 1 && (n = read(fd, smaps + used, sizeof smaps - 1 - used)) > 0) used += (size_t)n;
    close(fd);
    smaps[used] = 0;
    char *heap = strstr(smaps, "[heap]\n");
    if (!heap) { fprintf(stderr, "no [heap] in smaps\n"); exit(1); }
    char *line = heap;
    while (line > smaps && line[-1] != '\n') line--;
    if (sscanf(line, "%lx-%lx", start, end) != 2) { fprintf(stderr, "bad smaps line\n"); exit(1); }
    char *rss = strstr(heap, "\nRss:");
    if (!rss || sscanf(rss, "\nRss: %lu kB", rss_kb) != 1) { fprintf(stderr, "no Rss for [heap]\n"); exit(1); }
}

static void touch(char *p, size_t pages)
{
    for (size_t i = 0; i < pages; i++) ((volatile char *)p)[i * PAGE_SIZE] = 1;
}

int main(void)
{
    if (setvbuf(stdout, out, _IOFBF, sizeof out) != 0) die("setvbuf");
    if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) die("prctl PR_SET_THP_DISABLE");

    char *top = sbrk(0);
    uintptr_t misalign = (uintptr_t)top % PAGE_SIZE;
    if (misalign && sbrk((intptr_t)(PAGE_SIZE - misalign)) == (void *)-1) die("sbrk");
    char *heap = sbrk(0);
    if (sbrk(40 * PAGE_SIZE) == (void *)-1) die("sbrk");
    touch(heap, 40);
    if (sbrk(24 * PAGE_SIZE) == (void *)-1) die("sbrk");
    touch(heap + 40 * PAGE_SIZE, 12);
    if (sbrk(-(intptr_t)(8 * PAGE_SIZE)) == (void *)-1) die("sbrk");

    unsigned long start, end, rss_kb;
    kernel_heap(&start, &end, &rss_kb);
    printf("ORACLE heap_start=%#lx heap_end=%#lx rss_kb=%lu break_start=%#lx\n", start, end, rss_kb, (unsigned long)top);
    expect("anon", heap, heap + 64 * PAGE_SIZE, 52, NULL);
    return 0;
}
