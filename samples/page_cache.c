/*
 * page_cache: minor faults on cached file pages, with fault-around.
 *
 * Usage: page_cache [DIR]   (file is created in DIR, default ".")
 *
 * Writes a 256-page file with write() (so every page is in the page cache),
 * maps it MAP_SHARED PROT_READ at a 64 KiB-aligned address and reads one byte
 * of every 16th page. A read fault on a file VMA maps, besides the faulting
 * page, every cached page of its 64 KiB-aligned (virtual address) window
 * ("fault-around", fault_around_bytes = 64 KiB). With the mapping aligned,
 * the 256 pages form exactly 16 windows and each read is the first touch of
 * its window: exactly 16 file faults (error code 0x4), none major.
 */
#include "common.h"

#define NPAGES 256
#define WINDOW_PAGES 16 /* 64 KiB */

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int fd = create_sample_file(dir, "page_cache", NPAGES);
    char *p = map_file_aligned(fd, NPAGES, PROT_READ, MAP_SHARED, WINDOW_PAGES * PAGE_SIZE);
    expect("file", p, p + NPAGES * PAGE_SIZE, NPAGES / WINDOW_PAGES, NULL);

    struct selfcheck sc;
    selfcheck_begin(&sc);
    unsigned sum = 0;
    for (size_t i = 0; i < NPAGES; i += WINDOW_PAGES)
        sum += *(volatile char *)(p + i * PAGE_SIZE);
    selfcheck_end(&sc);

    if (sum == 0) {
        fprintf(stderr, "file content unexpectedly zero\n");
        return 1;
    }
    if (munmap(p, NPAGES * PAGE_SIZE) != 0)
        die("munmap");
    if (close(fd) != 0)
        die("close");
    remove_sample_file();
    return 0;
}
