/*
 * fault_storm: many faults quickly, for benchmarks.
 *
 * Usage: fault_storm [MIB]   (default 512)
 *
 * Maps MIB MiB of private anonymous memory (MADV_NOHUGEPAGE) and writes one
 * byte in every page: MIB*256 anon faults in the parent. Then forks; the
 * child writes every 4th page (pages 0, 4, 8, ...): each is a present,
 * write-protected page shared with the parent, so MIB*64 cow faults in the
 * child. The parent does not touch the region after fork(). At 512 MiB that
 * is 131072 + 32768 = 163840 faults.
 */
#include "common.h"

int main(int argc, char **argv)
{
    unsigned long mib = 512;
    if (argc > 1) {
        char *endp;
        errno = 0;
        mib = strtoul(argv[1], &endp, 10);
        if (errno != 0 || *endp != '\0' || endp == argv[1] || mib == 0 ||
            mib > (1UL << 20)) {
            fprintf(stderr, "usage: %s [MIB]   (MIB: 1..1048576, default 512)\n", argv[0]);
            return 1;
        }
    }
    size_t npages = mib * (1024 * 1024 / PAGE_SIZE);
    char *p = map_anon(npages, PROT_READ | PROT_WRITE);
    char *end = p + npages * PAGE_SIZE;
    expect("anon", p, end, npages, NULL);

    struct selfcheck sc;
    selfcheck_begin(&sc);
    for (size_t i = 0; i < npages; i++)
        *(volatile char *)(p + i * PAGE_SIZE) = 1;
    selfcheck_end(&sc);

    if (fflush(stdout) != 0 || fflush(stderr) != 0)
        die("fflush");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        expect("cow", p, end, (npages + 3) / 4, NULL);
        selfcheck_begin(&sc);
        for (size_t i = 0; i < npages; i += 4)
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
    if (munmap(p, npages * PAGE_SIZE) != 0)
        die("munmap");
    if (fflush(stdout) != 0)
        die("fflush");
    return 0;
}
