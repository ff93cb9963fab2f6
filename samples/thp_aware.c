/*
 * thp_aware: a program that chooses by the host's THP mode, as Redis does: it reads
 * /sys/kernel/mm/transparent_hugepage/enabled and, where the mode is `always`, turns THP
 * off for itself with prctl(PR_SET_THP_DISABLE); then it writes MIB of anonymous memory
 * (no madvise), one write a page. First it reads hpage_pmd_size, as Go's runtime does at
 * every start, for the size alone: no choice by the mode.
 *
 *   thp_aware [MIB]     (default 16)
 *
 * Prints one line the tests read:
 *   THP_AWARE mode=<always|madvise|never> disabled=<0|1> pages=<N> huge_page_size=<bytes> pid=<pid>
 */
#include "common.h"
#include <sys/prctl.h>

#ifndef PR_SET_THP_DISABLE
#define PR_SET_THP_DISABLE 41
#endif

/* The huge page's size, as Go's runtime reads it at every start: no choice by the mode. */
static unsigned long huge_page_size(void)
{
    unsigned long size = 0;
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%lu", &size) != 1)
        size = 0;
    fclose(f);
    return size;
}

static const char *host_mode(void)
{
    static char text[128];
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return "unknown";
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    if (strstr(text, "[always]"))
        return "always";
    if (strstr(text, "[madvise]"))
        return "madvise";
    if (strstr(text, "[never]"))
        return "never";
    return "unknown";
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
    unsigned long huge_size = huge_page_size();
    const char *mode = host_mode();
    int disabled = 0;
    if (strcmp(mode, "always") == 0) {
        if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0)
            die("prctl PR_SET_THP_DISABLE");
        disabled = 1;
    }
    size_t pages = mib * 256;
    char *p = mmap(NULL, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    for (size_t i = 0; i < pages; i++)
        p[i * PAGE_SIZE] = 1;
    printf("THP_AWARE mode=%s disabled=%d pages=%zu huge_page_size=%lu pid=%d\n", mode, disabled, pages, huge_size,
           (int)getpid());
    return 0;
}
