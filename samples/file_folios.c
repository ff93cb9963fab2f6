/*
 * file_folios: a file read through a mapping, from a page cache that may hold it in large
 * folios (ext4 and xfs do on Linux 6.18): a read fault there maps the whole folio around
 * it, where fault-around alone maps 64 KiB. No fault shows those pages; the kernel's
 * resident memory does.
 *
 * Usage: file_folios [DIR]   (file is created in DIR, default ".")
 *
 * Writes an 8 MiB file a megabyte at a time (the page cache keeps each write in folios
 * as large as the filesystem allows), maps it read-only at a 2 MiB-aligned address, reads
 * one byte, then one byte of every page. Prints what it
 * measured itself, from /proc/self/smaps:
 *
 *   ORACLE first_read_kb=N rss_kb=M
 *
 * first_read_kb: the mapping's Rss after its first read (64 with fault-around alone);
 * rss_kb: after every page was read (8192).
 */
#include "common.h"

#define NPAGES 2048 /* 8 MiB */

/* The Rss of the smaps entry that starts at p, in KiB. */
static unsigned long rss_kb(const char *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        die("open /proc/self/smaps");
    char line[512];
    int in = 0;
    unsigned long kb = 0, start, end;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') == line + strcspn(line, "-"))
            in = start == (unsigned long)p;
        else if (in && sscanf(line, "Rss: %lu kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int fd = create_sample_file(dir, "file_folios", 0);
    /* Written a megabyte a call: a filesystem with large folios caches each write in
     * folios as large as it allows. */
    static char chunk[1 << 20];
    for (size_t done = 0; done < NPAGES * PAGE_SIZE; done += sizeof chunk) {
        memset(chunk, 'a' + (int)(done >> 20) % 26, sizeof chunk);
        if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
            die("write sample file");
    }
    char *p = map_file_aligned(fd, NPAGES, PROT_READ, MAP_PRIVATE, 2UL << 20);
    unsigned sum = *(volatile char *)p;
    unsigned long first = rss_kb(p);
    for (size_t i = 0; i < NPAGES; i++)
        sum += *(volatile char *)(p + i * PAGE_SIZE);
    printf("ORACLE first_read_kb=%lu rss_kb=%lu\n", first, rss_kb(p));
    if (sum == 0) {
        fprintf(stderr, "file content unexpectedly zero\n");
        return 1;
    }
    return 0;
}
