/*
 * hugetlb_kinds: faults on hugetlb memory, each shape with the kind its access makes and
 * the 2 MiB page it maps.
 *
 * Usage: hugetlb_kinds DIR [N]
 *   DIR  a hugetlbfs mount with 2 MiB pages (its files are created and removed here)
 *   N    huge pages per shape (default 4)
 *
 * Needs about 5*N free 2 MiB huge pages (/proc/sys/vm/nr_hugepages). Shapes, each N huge
 * pages touched once per page, one EXPECT line per kind (see common.h), with
 * page_size=2097152: every one of those faults mapped a 2 MiB page.
 *   1. MAP_HUGETLB private anonymous, written:         anon N
 *   2. MAP_HUGETLB private anonymous, read then written: anon N (no zero page: a read
 *      allocates), then cow N (the read mapped it read-only)
 *   3. a hugetlbfs file, MAP_SHARED, written:           file N (the page goes into the file)
 *   4. the same file, MAP_PRIVATE, read:                file N (the file's page, read-only)
 *      another MAP_PRIVATE mapping of it, written:      cow N (the file's page copied)
 *   5. a second file, never written, MAP_PRIVATE, written: anon N (a page of its own)
 */
#include "common.h"

#define HUGE (2UL << 20)

static char paths[2][PATH_MAX];

static void remove_files(void)
{
    for (int i = 0; i < 2; i++)
        if (paths[i][0] != '\0')
            unlink(paths[i]);
}

static int huge_file(const char *dir, int which, size_t size)
{
    snprintf(paths[which], sizeof paths[which], "%s/faultline-huge%d-%d", dir, which, (int)getpid());
    int fd = open(paths[which], O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        paths[which][0] = '\0';
        die("open hugetlbfs file");
    }
    if (ftruncate(fd, (off_t)size) != 0)
        die("ftruncate hugetlbfs file");
    return fd;
}

static char *map(size_t size, int flags, int fd)
{
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED)
        die(fd < 0 ? "mmap MAP_HUGETLB (are there free huge pages?)" : "mmap hugetlbfs file");
    return p;
}

static void expect_huge(const char *kind, char *p, size_t n)
{
    expect(kind, p, p + n * HUGE, n, "page_size=2097152");
}

static unsigned long write_all(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((volatile char *)p)[i * HUGE + 64] = (char)(i + 1);
    return n;
}

static unsigned long read_all(char *p, size_t n)
{
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ((volatile char *)p)[i * HUGE + 64];
    return sum;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: hugetlb_kinds HUGETLBFS_DIR [N]\n");
        return 2;
    }
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
    if (n == 0 || n > 64) {
        fprintf(stderr, "N: 1..64\n");
        return 2;
    }
    size_t size = n * HUGE;
    atexit(remove_files);
    int anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;

    char *a = map(size, anon, -1);
    expect_huge("anon", a, n);
    write_all(a, n);

    char *b = map(size, anon, -1);
    expect_huge("anon", b, n);
    expect_huge("cow", b, n);
    unsigned long sum = read_all(b, n);
    write_all(b, n);

    int fd = huge_file(argv[1], 0, size);
    char *shared = map(size, MAP_SHARED, fd);
    expect_huge("file", shared, n);
    write_all(shared, n);

    char *reader = map(size, MAP_PRIVATE, fd);
    expect_huge("file", reader, n);
    sum += read_all(reader, n);
    char *writer = map(size, MAP_PRIVATE, fd);
    expect_huge("cow", writer, n);
    write_all(writer, n);

    int fresh = huge_file(argv[1], 1, size);
    char *own = map(size, MAP_PRIVATE, fresh);
    expect_huge("anon", own, n);
    write_all(own, n);

    /* The shared file's pages hold what was written; the private reader saw them. */
    if (sum != n * (n + 1) / 2) {
        fprintf(stderr, "read back %lu, expected %lu\n", sum, (unsigned long)(n * (n + 1) / 2));
        return 1;
    }
    printf("done %zu\n", n);
    return 0;
}
