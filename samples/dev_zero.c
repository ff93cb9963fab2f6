/*
 * dev_zero: mappings of /dev/zero, which /proc/PID/maps and perf name as a file but which
 * are not file memory. A private mapping is anonymous memory (mmap_zero makes it so): a
 * read maps the zero page (zero), a write after it copies (cow), a first write allocates
 * (anon). A shared mapping is shmem (its pages come from shmem's page cache: file).
 *
 * The private mapping's first half is read, then all of it written: 32 zero and 32 cow in
 * the first half, 32 anon in the second. The shared mapping's 32 pages are written: 32
 * file.
 */
#include "common.h"

#define NPAGES 64
#define SHARED_PAGES 32

int main(void)
{
    int fd = open("/dev/zero", O_RDWR);
    if (fd < 0)
        die("open /dev/zero");
    size_t len = NPAGES * PAGE_SIZE;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        die("mmap /dev/zero private");
    if (madvise(p, len, MADV_NOHUGEPAGE) != 0)
        die("madvise MADV_NOHUGEPAGE");
    char *q = mmap(NULL, SHARED_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (q == MAP_FAILED)
        die("mmap /dev/zero shared");
    char *half = p + len / 2;
    expect("zero", p, half, NPAGES / 2, NULL);
    expect("cow", p, half, NPAGES / 2, NULL);
    expect("anon", half, p + len, NPAGES / 2, NULL);
    expect("file", q, q + SHARED_PAGES * PAGE_SIZE, SHARED_PAGES, NULL);

    struct selfcheck sc;
    selfcheck_begin(&sc);
    unsigned sum = 0;
    for (char *a = p; a < half; a += PAGE_SIZE)
        sum += *(volatile char *)a;
    for (char *a = p; a < p + len; a += PAGE_SIZE)
        *(volatile char *)a = 1;
    for (size_t i = 0; i < SHARED_PAGES; i++)
        *(volatile char *)(q + i * PAGE_SIZE) = 1;
    selfcheck_end(&sc);
    printf("read %u\n", sum);
    return 0;
}
