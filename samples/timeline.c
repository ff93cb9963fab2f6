/*
 * timeline: makes one of each address-space call the recorder follows, and prints each
 * with its exact arguments so a test can find it in the export:
 *
 *   TIMELINE <call> address=0x<hex> length=<n> [new_address=0x<hex> new_length=<n>]
 *            [advice=<name>] [prot=<n>]
 *
 * (brk's address is the requested break.) It also touches the memory around the calls,
 * so the faults are classified against the mappings as they were at that moment:
 *   - 8 pages mapped and written (anon 8), madvise(DONTNEED) on them, written again:
 *     anon 8 more (the pages were freed);
 *   - 4 pages mprotect'ed to read-only and back;
 *   - a 4-page mapping mremap'ed to 16 pages at a new place and all 16 written: anon 16 in
 *     the new range (the first 4 were moved with their contents: the kernel moves page
 *     tables, so those pages do not fault again);
 *   - 2 pages munmap'ed;
 *   - the break raised by 16 pages with sbrk and written: anon 16 in the heap.
 */
#include "common.h"

static void touch(char *p, size_t pages)
{
    for (size_t i = 0; i < pages; i++) ((volatile char *)p)[i * PAGE_SIZE] = 1;
}

int main(void)
{
    char *a = map_anon(8, PROT_READ | PROT_WRITE);
    touch(a, 8);
    if (madvise(a, 8 * PAGE_SIZE, MADV_DONTNEED) != 0) die("madvise");
    printf("TIMELINE madvise address=%p length=%lu advice=dontneed\n", (void *)a, 8 * PAGE_SIZE);
    touch(a, 8);
    expect("anon", a, a + 8 * PAGE_SIZE, 16, NULL);

    if (mprotect(a, 4 * PAGE_SIZE, PROT_READ) != 0) die("mprotect");
    printf("TIMELINE mprotect address=%p length=%lu prot=%d\n", (void *)a, 4 * PAGE_SIZE, PROT_READ);
    if (mprotect(a, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE) != 0) die("mprotect");

    char *small = map_anon(4, PROT_READ | PROT_WRITE);
    touch(small, 4);
    char *big = mremap(small, 4 * PAGE_SIZE, 16 * PAGE_SIZE, MREMAP_MAYMOVE);
    if (big == MAP_FAILED) die("mremap");
    printf("TIMELINE mremap address=%p length=%lu new_address=%p new_length=%lu\n",
           (void *)small, 4 * PAGE_SIZE, (void *)big, 16 * PAGE_SIZE);
    touch(big, 16);
    expect("anon", big + 4 * PAGE_SIZE, big + 16 * PAGE_SIZE, 12, NULL);

    if (munmap(a + 6 * PAGE_SIZE, 2 * PAGE_SIZE) != 0) die("munmap");
    printf("TIMELINE munmap address=%p length=%lu\n", (void *)(a + 6 * PAGE_SIZE), 2 * PAGE_SIZE);

    /* Page-align the break first, so the 16 new pages are exactly the ones touched. */
    char *top = sbrk(0);
    uintptr_t misalign = (uintptr_t)top % PAGE_SIZE;
    if (misalign && sbrk((intptr_t)(PAGE_SIZE - misalign)) == (void *)-1) die("sbrk");
    char *heap = sbrk(0);
    if (sbrk(16 * PAGE_SIZE) == (void *)-1) die("sbrk");
    printf("TIMELINE brk address=%p length=0\n", (void *)(heap + 16 * PAGE_SIZE));
    touch(heap, 16);
    expect("anon", heap, heap + 16 * PAGE_SIZE, 16, NULL);
    fflush(stdout);
    return 0;
}
