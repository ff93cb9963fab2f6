/*
 * cpu_hop: a program whose libraries were mapped on one CPU and whose work runs on
 * another, the case of any program the scheduler moves.
 *
 *   cpu_hop [CYCLES]     (default 500)
 *
 * It pins itself to the last online CPU and re-executes itself there, so the loader
 * maps libc on that CPU (the MMAP2 records go to that CPU's perf ring); then it pins
 * itself to CPU 0 and maps, writes and unmaps 16 pages CYCLES times, as
 * mapping_churn's churn_once does (the mmap samples go to CPU 0's ring). A recorder
 * that unwinds each ring's records before the next ring's sees the mmap calls in libc
 * before it knows libc is mapped.
 *
 * Prints what the tests read:
 *   CHURN origin=churn_once faults=<16*CYCLES> pid=<pid> cpus=<online CPUs>
 * With one online CPU there is nothing to hop to; it says cpus=1 and churns anyway.
 */
#include "common.h"
#include <sched.h>

#define CHURN_PAGES 16

static void churn_once(void)
{
    char *p = map_anon(CHURN_PAGES, PROT_READ | PROT_WRITE);
    for (size_t i = 0; i < CHURN_PAGES; i++)
        *(volatile char *)(p + i * PAGE_SIZE) = 1;
    if (munmap(p, CHURN_PAGES * PAGE_SIZE) != 0)
        die("munmap");
}

static void pin(long cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        die("sched_setaffinity");
}

int main(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (argc < 3 || strcmp(argv[2], "hopped") != 0) {
        char *cycles = argc > 1 ? argv[1] : "500";
        if (cpus > 1)
            pin(cpus - 1);
        execl("/proc/self/exe", argv[0], cycles, "hopped", (char *)NULL);
        die("execl /proc/self/exe");
    }
    unsigned long cycles = strtoul(argv[1], NULL, 10);
    pin(0);
    for (unsigned long c = 0; c < cycles; c++)
        churn_once();
    printf("CHURN origin=churn_once faults=%lu pid=%d cpus=%ld\n", cycles * CHURN_PAGES, (int)getpid(), cpus);
    return 0;
}
