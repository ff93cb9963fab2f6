/*
 * page_out: file pages that MADV_PAGEOUT takes from the page tables, and their faults after.
 *
 * Usage: page_out [DIR]   (the file is created in DIR, default "."; not tmpfs, whose pages
 *                          go only to swap)
 *
 * Writes a 256-page file with write() (so every page is in the page cache), maps it
 * MAP_PRIVATE PROT_READ at a 64 KiB-aligned address and reads one byte of every 16th page:
 * 16 faults, fault-around mapping the rest of each 64 KiB window (as in page_cache). Then
 * madvise(MADV_PAGEOUT) over the mapping: reclaim unmaps every page only this process maps
 * (and may or may not drop it from the page cache), and the same pages are read again.
 * Prints the region and the kernel's own counts for this thread over each reading loop
 * (/proc/thread-self/stat, minflt + majflt):
 *
 *   PAGEOUT pid=P start=0x.. end=0x.. first=N second=M
 *
 * Both are 16 where reclaim took every page: a page still cached is a minor fault that maps
 * its window again, one it dropped is read back (a major fault).
 */
#include "common.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define NPAGES 256
#define WINDOW_PAGES 16 /* 64 KiB */

static unsigned long read_every_window(const char *p, unsigned *sum)
{
    unsigned long minflt0, majflt0, minflt1, majflt1;
    read_fault_counters(&minflt0, &majflt0);
    for (size_t i = 0; i < NPAGES; i += WINDOW_PAGES)
        *sum += *(volatile const char *)(p + i * PAGE_SIZE);
    read_fault_counters(&minflt1, &majflt1);
    return (minflt1 - minflt0) + (majflt1 - majflt0);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    refuse_tmpfs(dir, "reclaim can move its pages only to swap");
    int fd = create_sample_file(dir, "page_out", NPAGES);
    char *p = map_file_aligned(fd, NPAGES, PROT_READ, MAP_PRIVATE, WINDOW_PAGES * PAGE_SIZE);
    prefault_stack();
    unsigned long warm_minflt, warm_majflt;   /* the counters' own first faults (libc, stdio) */
    read_fault_counters(&warm_minflt, &warm_majflt);
    unsigned sum = 0;
    unsigned long first = read_every_window(p, &sum);
    if (madvise(p, NPAGES * PAGE_SIZE, MADV_PAGEOUT) != 0)
        die("madvise MADV_PAGEOUT");
    unsigned long second = read_every_window(p, &sum);
    if (sum == 0) {
        fprintf(stderr, "file content unexpectedly zero\n");
        return 1;
    }
    printf("PAGEOUT pid=%d start=%#lx end=%#lx first=%lu second=%lu\n", (int)getpid(),
           (unsigned long)p, (unsigned long)(p + NPAGES * PAGE_SIZE), first, second);
    if (munmap(p, NPAGES * PAGE_SIZE) != 0)
        die("munmap");
    if (close(fd) != 0)
        die("close");
    return 0;
}
