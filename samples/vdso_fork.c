/*
 * vdso_fork: faults on the pages the kernel itself provides ([vdso], [vvar],
 * [vvar_vclock]), before and after fork().
 *
 * clock_gettime() runs the vDSO's code (an instruction fetch in [vdso]) and
 * reads the kernel's clock data ([vvar] or [vvar_vclock]). Those faults map
 * a page the kernel already has: nothing is allocated and nothing is zeroed,
 * so they are neither anon nor zero, and a child's are no swap-in either.
 * fork() copies the page tables of [vvar] (a PFN map) but not of [vdso] (no
 * anonymous pages): each child faults on the vDSO's code again, not on its
 * data. No fault-around maps the vDSO's other page.
 *
 * Usage: vdso_fork [CHILDREN] (default 4). Each process prints, after its
 * clock_gettime() calls, one line per special mapping with the kernel's own
 * view of it (/proc/self/smaps):
 *
 *   SPECIAL pid=<pid> name=<[vdso]|[vvar]|[vvar_vclock]> start=0x<hex>
 *           end=0x<hex> rss_kb=<N>
 */
#include "common.h"
#include <time.h>

static void print_special_mappings(void)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        die("/proc/self/smaps");
    char line[512], name[256] = "";
    unsigned long start = 0, end = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        char path[256] = "";
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &s, &e, path) >= 2) {
            start = s;
            end = e;
            strcpy(name, path);
            continue;
        }
        unsigned long rss;
        if (name[0] == '[' && strcmp(name, "[heap]") != 0 && strcmp(name, "[stack]") != 0
            && sscanf(line, "Rss: %lu kB", &rss) == 1)
            printf("SPECIAL pid=%d name=%s start=0x%lx end=0x%lx rss_kb=%lu\n", getpid(), name, start, end, rss);
    }
    fclose(f);
}

static void read_clocks(void)
{
    struct timespec a, b;
    if (clock_gettime(CLOCK_MONOTONIC, &a) != 0 || clock_gettime(CLOCK_REALTIME, &b) != 0)
        die("clock_gettime");
}

int main(int argc, char **argv)
{
    int children = argc > 1 ? atoi(argv[1]) : 4;
    if (children < 0 || children > 1000) {
        fprintf(stderr, "usage: vdso_fork [CHILDREN 0..1000]\n");
        return 2;
    }
    read_clocks();
    print_special_mappings();
    for (int i = 0; i < children; i++) {
        if (fflush(stdout) != 0)
            die("fflush");
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            read_clocks();
            print_special_mappings();
            if (fflush(stdout) != 0)
                die("fflush");
            _exit(0);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid)
            die("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child failed (status %#x)\n", status);
            return 1;
        }
    }
    return 0;
}
