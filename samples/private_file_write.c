/*
 * private_file_write: copy-on-write of private file pages.
 *
 * Usage: private_file_write [DIR]   (file is created in DIR, default ".")
 *
 * Writes a 200-page file with write() (so every page is in the page cache),
 * maps it MAP_PRIVATE with PROT_READ|PROT_WRITE and writes one byte in each
 * page. Each write hits a not-present PTE in a private file VMA: the kernel
 * finds the cached page and copies it into a private anonymous page in that
 * same fault (error code 0x6). Fault-around only runs for read faults, so
 * every page takes its own fault: exactly 200 cow faults, none major.
 */
#include "common.h"

#define NPAGES 200

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int fd = create_sample_file(dir, "private_file_write", NPAGES);
    char *p = mmap(NULL, NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        die("mmap file");
    expect("cow", p, p + NPAGES * PAGE_SIZE, NPAGES, NULL);

    struct selfcheck sc;
    selfcheck_begin(&sc);
    for (size_t i = 0; i < NPAGES; i++)
        *(volatile char *)(p + i * PAGE_SIZE) = 'X';
    selfcheck_end(&sc);

    if (munmap(p, NPAGES * PAGE_SIZE) != 0)
        die("munmap");
    if (close(fd) != 0)
        die("close");
    remove_sample_file();
    return 0;
}
