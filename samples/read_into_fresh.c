/*
 * read_into_fresh: faults taken by the kernel inside read().
 *
 * Usage: read_into_fresh [DIR]   (file is created in DIR, default ".")
 *
 * Writes a 100-page file with write() (so it is in the page cache), maps
 * 100 fresh pages of private anonymous memory (MADV_NOHUGEPAGE) and read()s
 * the whole file into them with one call. The program never touches the
 * buffer itself: the kernel's copy_to_user() inside read() writes each page
 * first, hitting a not-present PTE (error code 0x2: write, kernel mode), and
 * the kernel allocates a page just as for a user write: exactly 100 anon
 * faults, all in kernel mode, all from this thread.
 */
#include "common.h"

#define NPAGES 100

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int fd = create_sample_file(dir, "read_into_fresh", NPAGES);
    char *p = map_anon(NPAGES, PROT_READ | PROT_WRITE);
    expect("anon", p, p + NPAGES * PAGE_SIZE, NPAGES, "kernel_mode=1");

    if (lseek(fd, 0, SEEK_SET) != 0)
        die("lseek");

    struct selfcheck sc;
    selfcheck_begin(&sc);
    ssize_t n = read(fd, p, NPAGES * PAGE_SIZE);
    selfcheck_end(&sc);

    if (n < 0)
        die("read");
    if ((size_t)n != NPAGES * PAGE_SIZE) {
        fprintf(stderr, "read: short read (%zd bytes)\n", n);
        return 1;
    }
    if (munmap(p, NPAGES * PAGE_SIZE) != 0)
        die("munmap");
    if (close(fd) != 0)
        die("close");
    remove_sample_file();
    return 0;
}
