/*
 * page_history: memory freed and touched again at the same address, with no memory
 * pressure: every touch after the free is a first touch (`anon`), never a swap-in. The
 * recorder's page history must forget what munmap, MAP_FIXED and mremap took away, or it
 * would take these faults for pages coming back from swap.
 *
 * Three shapes of N pages (N = 64), each written page by page:
 *   1. written, munmap'ed, mapped again at the same address, written:  anon 2N there
 *   2. written, replaced by a MAP_FIXED mapping, written:               anon 2N there
 *   3. written at A, moved by mremap to B, written at B (the pages went with it: no
 *      faults), then A mapped again and written:                        anon 2N at A, 0 at B
 * One EXPECT line per range and kind (see common.h).
 */
#include "common.h"

#define N 64
#define LEN (N * PAGE_SIZE)

static void write_all(char *p)
{
    for (size_t i = 0; i < N; i++)
        *(volatile char *)(p + i * PAGE_SIZE) = (char)(i + 1);
}

/* Maps LEN bytes of private anonymous memory at `at` (NULL: anywhere), THP off. */
static char *map_at(char *at, int flags)
{
    char *p = mmap(at, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    if (at != NULL && p != at) {
        fprintf(stderr, "mmap gave %p, not %p\n", (void *)p, (void *)at);
        exit(1);
    }
    if (madvise(p, LEN, MADV_NOHUGEPAGE) != 0)
        die("madvise MADV_NOHUGEPAGE");
    return p;
}

int main(void)
{
    /* 1. munmap, then the same address again. */
    char *a = map_at(NULL, 0);
    expect("anon", a, a + LEN, 2 * N, NULL);
    write_all(a);
    if (munmap(a, LEN) != 0)
        die("munmap");
    map_at(a, MAP_FIXED_NOREPLACE);
    write_all(a);

    /* 2. MAP_FIXED over populated memory. */
    char *b = map_at(NULL, 0);
    expect("anon", b, b + LEN, 2 * N, NULL);
    write_all(b);
    map_at(b, MAP_FIXED);
    write_all(b);

    /* 3. mremap moves the pages; the old place is empty memory when mapped again. */
    char *from = map_at(NULL, 0);
    char *to = map_at(NULL, 0); /* a place to move to */
    expect("anon", from, from + LEN, 2 * N, NULL);
    expect("anon", to, to + LEN, 0, NULL);
    write_all(from);
    if (mremap(from, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, to) != to)
        die("mremap");
    write_all(to);
    map_at(from, MAP_FIXED_NOREPLACE);
    write_all(from);

    printf("done %d\n", N);
    if (fflush(stdout) != 0)
        die("fflush");
    return 0;
}
