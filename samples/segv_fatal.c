/*
 * segv_fatal: a fatal access to unmapped memory.
 *
 * Maps one page (private anonymous), unmaps it again and writes to it. No VMA
 * covers the address, so the kernel delivers SIGSEGV with si_code
 * SEGV_MAPERR (1); there is no handler, so the process dies by signal 11:
 * exactly 1 segv fault, and no minor or major fault in that page. The EXPECT
 * line is printed (and flushed) before the write; nothing runs between the
 * munmap() and the write, so nothing can be mapped there in between. Core
 * dumps are switched off so that no core file is left behind.
 *
 * `segv_fatal null` writes 16 bytes past NULL instead (a field of a null struct
 * pointer): the same SIGSEGV, SEGV_MAPERR, at address 0x10.
 */
#include "common.h"
#include <sys/resource.h>

int main(int argc, char **argv)
{
    struct rlimit nocore = {0, 0};
    if (setrlimit(RLIMIT_CORE, &nocore) != 0)
        die("setrlimit RLIMIT_CORE");

    if (argc > 1 && strcmp(argv[1], "null") == 0) {
        /* expect() would print start=0 (%#lx writes no 0x for zero). */
        if (printf("EXPECT kind=segv pid=%d tid=%d start=0x0 end=%#lx count=1 si_code=1\n",
                   (int)getpid(), (int)get_tid(), PAGE_SIZE) < 0 || fflush(stdout) != 0)
            die("printf");
        *(volatile char *)(uintptr_t)0x10 = 1; /* SIGSEGV, SEGV_MAPERR */
        fprintf(stderr, "segv_fatal: write near NULL did not fault\n");
        return 1;
    }

    char *p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    expect("segv", p, p + PAGE_SIZE, 1, "si_code=1");
    if (munmap(p, PAGE_SIZE) != 0)
        die("munmap");

    *(volatile char *)p = 1; /* SIGSEGV, SEGV_MAPERR */

    fprintf(stderr, "segv_fatal: write to an unmapped page did not fault\n");
    return 1;
}
