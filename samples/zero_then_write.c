/*
 * zero_then_write: zero-page faults, then copy-on-write of the zero page.
 *
 * Maps 500 pages of private anonymous memory (MADV_NOHUGEPAGE), reads one
 * byte of each page, then writes one byte of each page.
 *   - Each first read hits a not-present PTE with a read access: the kernel
 *     maps the shared zero page read-only (error code 0x4): 500 zero faults.
 *   - Each later write hits a present, write-protected PTE (the zero page):
 *     the kernel copies it into a fresh page (error code 0x7): 500 cow faults.
 * No THP (madvised off) and no fault-around for anonymous memory, so each
 * fault handles exactly one page.
 */
#include "common.h"

#define NPAGES 500

int main(void)
{
    char *p = map_anon(NPAGES, PROT_READ | PROT_WRITE);
    char *end = p + NPAGES * PAGE_SIZE;
    expect("zero", p, end, NPAGES, NULL);
    expect("cow", p, end, NPAGES, NULL);

    struct selfcheck sc;
    selfcheck_begin(&sc);
    unsigned sum = 0;
    for (size_t i = 0; i < NPAGES; i++)
        sum += *(volatile char *)(p + i * PAGE_SIZE);
    for (size_t i = 0; i < NPAGES; i++)
        *(volatile char *)(p + i * PAGE_SIZE) = 1;
    selfcheck_end(&sc);

    if (sum != 0) {
        fprintf(stderr, "fresh anonymous memory was not zero\n");
        return 1;
    }
    if (munmap(p, NPAGES * PAGE_SIZE) != 0)
        die("munmap");
    return 0;
}
