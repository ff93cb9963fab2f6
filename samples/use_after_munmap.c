/*
 * use_after_munmap: a write to freed memory that the kernel had merged with a neighbour.
 *
 * mallocs two 1 MiB blocks (above glibc's mmap threshold, so each is an mmap of its own,
 * the second placed right below the first, where the kernel merges the two into one VMA
 * and announces the second mmap with the merged range), frees the first (munmap of its
 * pages only) and writes to it: SIGSEGV, SEGV_MAPERR, 0x10 bytes into the hole, right
 * above what is left of the merged mapping. Exactly 1 segv fault in the first block's
 * first page. The BLOCKS line gives each block's mapping start and the length of one
 * mapping, so a test can name the mapping left below the hole. Core dumps are off.
 */
#include "common.h"
#include <malloc.h>
#include <sys/resource.h>

#define BLOCK (1024 * 1024)

int main(void)
{
    struct rlimit nocore = {0, 0};
    if (setrlimit(RLIMIT_CORE, &nocore) != 0)
        die("setrlimit RLIMIT_CORE");
    /* The default threshold, fixed: glibc raises it after a free of an mmapped block. */
    if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 1)
        die("mallopt M_MMAP_THRESHOLD");

    char *first = malloc(BLOCK);
    char *second = malloc(BLOCK);
    if (first == NULL || second == NULL)
        die("malloc");
    /* glibc's mmapped chunk: a 16-byte header, then the block, rounded up to pages. */
    uintptr_t first_map = (uintptr_t)first - 16, second_map = (uintptr_t)second - 16;
    size_t length = (BLOCK + 16 + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    if (first_map % PAGE_SIZE != 0 || second_map + length != first_map) {
        fprintf(stderr, "use_after_munmap: blocks not adjacent mmaps (%p, %p)\n", (void *)first, (void *)second);
        return 1;
    }
    second[0] = 1; /* the merged mapping is in use */
    printf("BLOCKS first=%#lx second=%#lx length=%#lx\n", (unsigned long)first_map,
           (unsigned long)second_map, (unsigned long)length);
    expect("segv", (void *)first_map, (void *)(first_map + PAGE_SIZE), 1, "si_code=1");

    /* Kept through a volatile pointer: the compiler rightly refuses a use after free. */
    char *volatile dangling = first;
    free(first); /* munmap(first_map, length) */
    *(volatile char *)dangling = 1; /* SIGSEGV, SEGV_MAPERR */

    fprintf(stderr, "use_after_munmap: write to freed memory did not fault\n");
    return 1;
}
