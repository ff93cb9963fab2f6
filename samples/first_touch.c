/*
 * first_touch: anonymous first-touch faults.
 *
 * Maps 1000 pages of private anonymous memory (MADV_NOHUGEPAGE) and writes
 * one byte in each page. Each write hits a not-present PTE in an anonymous
 * private VMA, so the kernel allocates one zeroed 4 KiB page per fault
 * (error code 0x6): exactly 1000 anon faults. THP is off for the range, and
 * anonymous faults do no fault-around, so no fault maps more than its page.
 */
#include "common.h"

#define NPAGES 1000

int main(void)
{
    char *p = map_anon(NPAGES, PROT_READ | PROT_WRITE);
    expect("anon", p, p + NPAGES * PAGE_SIZE, NPAGES, NULL);

    struct selfcheck sc;
    selfcheck_begin(&sc);
    for (size_t i = 0; i < NPAGES; i++)
        *(volatile char *)(p + i * PAGE_SIZE) = 1;
    selfcheck_end(&sc);

    if (munmap(p, NPAGES * PAGE_SIZE) != 0)
        die("munmap");
    return 0;
}
