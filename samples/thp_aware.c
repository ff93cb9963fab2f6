/*
 * thp_aware: a program that chooses by the host's THP mode, as Redis does: it reads
 * /sys/kernel/mm/transparent_hugepage/enabled and, where the mode is `always`, turns THP
 * off for itself with prctl(PR_SET_THP_DISABLE); then it writes MIB of anonymous memory
 * (no madvise), one write a page.
 *
 *   thp_aware [MIB]     (default 16)
 *
 * Prints one line the tests read:
 *   THP_AWARE mode=<always|madvise|never> disabled=<0|1> pages=<N> pid=<pid>
 */
#include "common.h"
#include <sys/prctl.h>

#ifndef PR_SET_THP_DISABLE
#define PR_SET_THP_DISABLE 41
#endif

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
    printf("THP_AWARE mode=%s disabled=%d pages=%zu pid=%d\n", mode, disabled, pages, (int)getpid());
    return 0;
}
