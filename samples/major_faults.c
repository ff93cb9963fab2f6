/*
 * major_faults: major faults on file pages that are not in the page cache.
 *
 * Usage: major_faults [DIR]   (file is created in DIR, default ".";
 *                              DIR must not be tmpfs, which never evicts)
 *
 * Writes a 256-page file, fsync()s it (so its pages are clean), maps it
 * MAP_SHARED PROT_READ, sets MADV_RANDOM (no readahead: each fault reads only
 * its own page) and drops its pages with POSIX_FADV_DONTNEED, retrying until
 * mincore() says no page is resident. Then it reads one byte of every page.
 * Each read of a non-resident page must wait for the disk read: one major
 * fault per page. Fault-around cannot map a page that is not cached, so none
 * of those pages is mapped without its own fault. The expected count is the
 * number of pages mincore() reported non-resident (256 unless some page
 * refused to leave the cache; any such page is reported on stderr and is
 * a minor fault, if any, not counted here).
 */
#include "common.h"

#define NPAGES 256
#define ATTEMPTS 20

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    refuse_tmpfs(dir, "its pages cannot be evicted");

    int fd = create_sample_file(dir, "major_faults", NPAGES);
    if (fsync(fd) != 0)
        die("fsync");
    char *p = mmap(NULL, NPAGES * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        die("mmap file");
    if (madvise(p, NPAGES * PAGE_SIZE, MADV_RANDOM) != 0)
        die("madvise MADV_RANDOM");

    unsigned char vec[NPAGES];
    size_t missing = 0;
    for (int attempt = 0; attempt < ATTEMPTS && missing < NPAGES; attempt++) {
        if (attempt > 0)
            usleep(10000);
        int err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        if (err != 0) {
            errno = err;
            die("posix_fadvise POSIX_FADV_DONTNEED");
        }
        if (mincore(p, NPAGES * PAGE_SIZE, vec) != 0)
            die("mincore");
        missing = 0;
        for (size_t i = 0; i < NPAGES; i++)
            missing += !(vec[i] & 1);
    }
    if (missing == 0) {
        fprintf(stderr, "no page of the file could be evicted\n");
        return 1;
    }
    if (missing < NPAGES)
        fprintf(stderr, "major_faults: %zu of %d pages stayed resident\n",
                NPAGES - missing, NPAGES);
    expect("major", p, p + NPAGES * PAGE_SIZE, missing, NULL);

    struct selfcheck sc;
    selfcheck_begin(&sc);
    unsigned sum = 0;
    for (size_t i = 0; i < NPAGES; i++)
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
