/*
 * event_cost: what the kernel's side of recording costs a program, alone. Opens the perf
 * events `faultline record` opens for each fault (per CPU, inherited, enabled at exec),
 * runs the command, and drains the rings without reading them: no parsing, no log, no
 * ptrace. The command's wall time under it, against its wall time untraced, is the floor
 * under any recorder built on these events.
 *
 * Usage: event_cost EVENTS TRACEPOINT_ID COMMAND [ARGS...]
 *   EVENTS, a sum of: 1 minor-fault event (completion), 2 exceptions:page_fault_user
 *   (entry, its raw fields), 4 the entry's user callchain, 8 the entry's 128 bytes of user
 *   stack, 16 the completion's mapped page size, 32 timestamps. faultline's default is 63.
 * Prints the command's wall time in seconds and the bytes the events wrote; the command's
 * own output is discarded.
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MINOR = 1, ENTRY = 2, CALLCHAIN = 4, STACK = 8, PAGE_SIZE_BIT = 16, TIME = 32 };
#define MAX_CPUS 256
#define RING_PAGES 1024

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int open_event(int events, int entry, unsigned long tracepoint, pid_t pid, int cpu)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.sample_period = 1;
    a.sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | ((events & TIME) ? PERF_SAMPLE_TIME : 0);
    if (entry) {
        a.type = PERF_TYPE_TRACEPOINT;
        a.config = tracepoint;
        a.sample_type |= PERF_SAMPLE_RAW | ((events & CALLCHAIN) ? PERF_SAMPLE_CALLCHAIN : 0)
                         | ((events & STACK) ? PERF_SAMPLE_STACK_USER : 0);
        a.sample_stack_user = 128;
        a.exclude_callchain_kernel = 1;
    } else {
        a.type = PERF_TYPE_SOFTWARE;
        a.config = PERF_COUNT_SW_PAGE_FAULTS_MIN;
        a.sample_type |= PERF_SAMPLE_ADDR | ((events & PAGE_SIZE_BIT) ? PERF_SAMPLE_DATA_PAGE_SIZE : 0);
    }
    a.disabled = 1;
    a.inherit = 1;
    a.enable_on_exec = 1;
    a.sample_id_all = 1;
    a.use_clockid = 1;
    a.clockid = CLOCK_MONOTONIC;
    a.watermark = 1;
    a.wakeup_watermark = RING_PAGES * 4096 / 4;
    return (int)syscall(SYS_perf_event_open, &a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s EVENTS TRACEPOINT_ID COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    int events = atoi(argv[1]);
    unsigned long tracepoint = strtoul(argv[2], NULL, 10);
    int go[2];
    if (pipe(go) != 0) { perror("pipe"); return 1; }
    pid_t child = fork();
    if (child == 0) {
        char b;
        close(go[1]);
        if (read(go[0], &b, 1) != 1) _exit(127);
        freopen("/dev/null", "w", stdout);   /* only the result line goes to stdout */
        execvp(argv[3], argv + 3);
        _exit(127);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > MAX_CPUS) ncpu = MAX_CPUS;
    struct perf_event_mmap_page *rings[MAX_CPUS];
    struct pollfd fds[MAX_CPUS];
    int nrings = 0;
    for (int cpu = 0; cpu < ncpu; cpu++) {
        int leader = -1;
        for (int entry = 0; entry < 2; entry++) {
            if (!(events & (entry ? ENTRY : MINOR))) continue;
            int fd = open_event(events, entry, tracepoint, child, cpu);
            if (fd < 0) { perror("perf_event_open"); kill(child, SIGKILL); return 1; }
            if (leader < 0) {
                void *ring = mmap(NULL, (RING_PAGES + 1) * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (ring == MAP_FAILED) { perror("mmap"); kill(child, SIGKILL); return 1; }
                leader = fd;
                rings[nrings] = ring;
                fds[nrings].fd = fd;
                fds[nrings].events = POLLIN;
                nrings++;
            } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, leader) != 0) {
                perror("PERF_EVENT_IOC_SET_OUTPUT"); kill(child, SIGKILL); return 1;
            }
        }
    }
    double start = now();
    if (write(go[1], "x", 1) != 1) { perror("write"); return 1; }
    unsigned long long bytes = 0;
    int status;
    for (;;) {
        poll(fds, nrings, 10);
        for (int i = 0; i < nrings; i++) {
            unsigned long long head = __atomic_load_n(&rings[i]->data_head, __ATOMIC_ACQUIRE);
            bytes += head - rings[i]->data_tail;
            __atomic_store_n(&rings[i]->data_tail, head, __ATOMIC_RELEASE);
        }
        if (waitpid(child, &status, WNOHANG) == child) break;
    }
    printf("%.3f %llu\n", now() - start, bytes);
    return 0;
}
