/*
 * mapping_churn: many short-lived mappings and a buffer that mremap keeps moving,
 * the address-space history of a malloc-heavy program.
 *
 *   mapping_churn [CYCLES] [GROWTHS [PROGRAM]]     (defaults 2000 and 200)
 *
 * churn_once() maps 16 pages, writes each once and unmaps them, CYCLES times,
 * mostly at the same address: 16 anon faults per cycle in memory mapped by
 * churn_once. grow_buffer() maps one page and grows it GROWTHS times by one
 * page with mremap(MREMAP_MAYMOVE), writing the new page each time; a one-page
 * blocker mapped after every growth sits right after the buffer, so each
 * growth moves it. 1 + GROWTHS anon faults land in memory first mapped by
 * grow_buffer, at addresses it never had when it was mapped: only following
 * each mremap from the original mmap attributes them to it.
 *
 * With PROGRAM, it then makes an mmap that fails (no mapping, no MMAP2 record)
 * and execs PROGRAM: none of PROGRAM's mappings was made by this program's code.
 *
 * Prints two lines the tests read:
 *   CHURN origin=churn_once faults=<16*CYCLES> pid=<pid>
 *   CHURN origin=grow_buffer faults=<1+GROWTHS> pid=<pid>
 */
#include "common.h"

#define CHURN_PAGES 16

static void churn_once(void)
{
    char *p = map_anon(CHURN_PAGES, PROT_READ | PROT_WRITE);
    for (size_t i = 0; i < CHURN_PAGES; i++)
        *(volatile char *)(p + i * PAGE_SIZE) = 1;
    if (munmap(p, CHURN_PAGES * PAGE_SIZE) != 0)
        die("munmap");
}

static void grow_buffer(unsigned long growths)
{
    char *buf = map_anon(1, PROT_READ | PROT_WRITE);
    *(volatile char *)buf = 1;
    for (unsigned long k = 1; k <= growths; k++) {
        /* Occupy the page after the buffer so the next growth cannot extend in place. */
        char *blocker = mmap(buf + k * PAGE_SIZE, PAGE_SIZE, PROT_READ,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        buf = mremap(buf, k * PAGE_SIZE, (k + 1) * PAGE_SIZE, MREMAP_MAYMOVE);
        if (buf == MAP_FAILED)
            die("mremap");
        if (blocker != MAP_FAILED && munmap(blocker, PAGE_SIZE) != 0)
            die("munmap blocker");
        *(volatile char *)(buf + k * PAGE_SIZE) = 1;
    }
    if (munmap(buf, (growths + 1) * PAGE_SIZE) != 0)
        die("munmap buffer");
}

static void fail_to_map_then_exec(const char *program)
{
    char *taken = map_anon(1, PROT_READ);
    if (mmap(taken, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != MAP_FAILED)
        die("mmap over a taken page succeeded");
    execl(program, program, (char *)NULL);
    die("execl");
}

int main(int argc, char **argv)
{
    unsigned long cycles = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
    unsigned long growths = argc > 2 ? strtoul(argv[2], NULL, 10) : 200;

    for (unsigned long c = 0; c < cycles; c++)
        churn_once();
    grow_buffer(growths);

    printf("CHURN origin=churn_once faults=%lu pid=%d\n", cycles * CHURN_PAGES, (int)getpid());
    printf("CHURN origin=grow_buffer faults=%lu pid=%d\n", 1 + growths, (int)getpid());
    if (argc > 3) {
        if (fflush(stdout) != 0)
            die("fflush");
        fail_to_map_then_exec(argv[3]);
    }
    return 0;
}
