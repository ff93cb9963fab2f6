/*
 * cow_fork: copy-on-write after fork().
 *
 * The parent maps 1000 pages of private anonymous memory (MADV_NOHUGEPAGE)
 * and writes each page: 1000 anon faults (not present, write) in the parent.
 * fork() then write-protects every one of those PTEs in both processes.
 * The child writes the first 250 pages: each write hits a present,
 * write-protected PTE of a page still mapped by the parent, so the kernel
 * copies it (error code 0x7): exactly 250 cow faults in the child. The
 * parent does not touch the region after fork(), so it takes no more faults
 * there. The child prints its own EXPECT line.
 */
#include "common.h"

#define NPAGES 1000
#define CHILD_PAGES 250

int main(void)
{
    char *p = map_anon(NPAGES, PROT_READ | PROT_WRITE);
    expect("anon", p, p + NPAGES * PAGE_SIZE, NPAGES, NULL);

    struct selfcheck sc;
    selfcheck_begin(&sc);
    for (size_t i = 0; i < NPAGES; i++)
        *(volatile char *)(p + i * PAGE_SIZE) = 1;
    selfcheck_end(&sc);

    if (fflush(stdout) != 0 || fflush(stderr) != 0)
        die("fflush");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        expect("cow", p, p + CHILD_PAGES * PAGE_SIZE, CHILD_PAGES, NULL);
        selfcheck_begin(&sc);
        for (size_t i = 0; i < CHILD_PAGES; i++)
            *(volatile char *)(p + i * PAGE_SIZE) = 2;
        selfcheck_end(&sc);
        if (fflush(stdout) != 0)
            die("fflush");
        _exit(0);
    }

    int status;
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "child failed (status %#x)\n", status);
        return 1;
    }
    if (munmap(p, NPAGES * PAGE_SIZE) != 0)
        die("munmap");
    return 0;
}
