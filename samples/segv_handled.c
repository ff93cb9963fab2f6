/*
 * segv_handled: access faults that a SIGSEGV handler repairs.
 *
 * Maps 3 pages PROT_NONE (private anonymous, MADV_NOHUGEPAGE) and writes one
 * byte in each. Each write is refused (the VMA forbids writing): the kernel
 * delivers SIGSEGV with si_code SEGV_ACCERR (2): 3 segv faults. The handler
 * mprotect()s just the faulting page PROT_READ|PROT_WRITE and returns, so the
 * write is restarted; it now hits a not-present PTE in a writable anonymous
 * VMA: 3 anon faults (error code 0x6). A refused fault is not counted as a
 * minor or major fault by the kernel, only the 3 retried writes are.
 * Prints "handled 3" at the end.
 */
#include "common.h"
#include <signal.h>

#define NPAGES 3

static char *region;
static volatile sig_atomic_t handled;

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    (void)uctx;
    char *a = si->si_addr;
    if (si->si_code != SEGV_ACCERR || a < region || a >= region + NPAGES * PAGE_SIZE) {
        /* not ours: fall back to the default action; the access faults again */
        signal(SIGSEGV, SIG_DFL);
        return;
    }
    char *page = (char *)((uintptr_t)a & ~(uintptr_t)(PAGE_SIZE - 1));
    if (mprotect(page, PAGE_SIZE, PROT_READ | PROT_WRITE) != 0)
        _exit(1);
    handled++;
}

int main(void)
{
    region = map_anon(NPAGES, PROT_NONE);
    char *end = region + NPAGES * PAGE_SIZE;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    if (sigemptyset(&sa.sa_mask) != 0)
        die("sigemptyset");
    if (sigaction(SIGSEGV, &sa, NULL) != 0)
        die("sigaction");

    expect("segv", region, end, NPAGES, "si_code=2");
    expect("anon", region, end, NPAGES, NULL);

    struct selfcheck sc;
    selfcheck_begin(&sc);
    for (size_t i = 0; i < NPAGES; i++)
        *(volatile char *)(region + i * PAGE_SIZE) = 1;
    selfcheck_end(&sc);

    if (handled != NPAGES) {
        fprintf(stderr, "handler ran %d times, expected %d\n", (int)handled, NPAGES);
        return 1;
    }
    printf("handled %d\n", (int)handled);
    if (fflush(stdout) != 0)
        die("fflush");
    if (munmap(region, NPAGES * PAGE_SIZE) != 0)
        die("munmap");
    return 0;
}
