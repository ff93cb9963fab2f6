// Implementations of the shims declared in CFaultlineLinux.h; see there for why each exists.
#define _GNU_SOURCE
#include "CFaultlineLinux.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>

_Static_assert(sizeof(struct perf_event_attr) >= PERF_ATTR_SIZE_VER5, "perf_event_attr too old");

int fl_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags) {
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

int fl_perf_ioctl(int fd, unsigned long request, unsigned long argument) {
    return ioctl(fd, request, argument);
}
unsigned long fl_perf_ioc_enable(void) { return PERF_EVENT_IOC_ENABLE; }
unsigned long fl_perf_ioc_disable(void) { return PERF_EVENT_IOC_DISABLE; }
unsigned long fl_perf_ioc_set_output(void) { return PERF_EVENT_IOC_SET_OUTPUT; }
int fl_perf_set_filter(int fd, const char *filter) { return ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter); }

uint64_t fl_perf_event_id(int fd) {
    uint64_t id = 0;
    if (ioctl(fd, PERF_EVENT_IOC_ID, &id) != 0) return 0;
    return id;
}

void fl_attr_set_flags(struct perf_event_attr *attr, int disabled, int inherit, int enable_on_exec,
                       int exclude_callchain_kernel, int sample_id_all, int use_clockid,
                       int mmap_records, int task_records, int watermark) {
    attr->disabled = disabled;
    attr->inherit = inherit;
    attr->enable_on_exec = enable_on_exec;
    attr->exclude_callchain_kernel = exclude_callchain_kernel;
    attr->sample_id_all = sample_id_all;
    attr->use_clockid = use_clockid;
    // MMAP2 for every mapping (mmap_data: not only executable ones), with the kernel's
    // build-id in place of device/inode, and COMM (with exec flag) records.
    attr->mmap = mmap_records;
    attr->mmap2 = mmap_records;
    attr->mmap_data = mmap_records;
    attr->build_id = mmap_records;
    attr->comm = mmap_records;
    attr->comm_exec = mmap_records;
    attr->task = task_records;
    attr->watermark = watermark;
}

long fl_ptrace(int request, pid_t pid, unsigned long addr, unsigned long data) {
    errno = 0;
    return ptrace((enum __ptrace_request)request, pid, (void *)addr, (void *)data);
}

uint64_t fl_ring_load_head(const struct perf_event_mmap_page *page) {
    return __atomic_load_n(&page->data_head, __ATOMIC_ACQUIRE);
}

void fl_ring_store_tail(struct perf_event_mmap_page *page, uint64_t tail) {
    __atomic_store_n(&page->data_tail, tail, __ATOMIC_RELEASE);
}

int fl_wifexited(int status) { return WIFEXITED(status); }
int fl_wexitstatus(int status) { return WEXITSTATUS(status); }
int fl_wifsignaled(int status) { return WIFSIGNALED(status); }
int fl_wtermsig(int status) { return WTERMSIG(status); }
int fl_wifstopped(int status) { return WIFSTOPPED(status); }
int fl_wstopsig(int status) { return WSTOPSIG(status); }
int fl_wptrace_event(int status) { return (unsigned)status >> 16; }

pid_t fl_launch_waiting(const char *file, char *const argv[], const sigset_t *mask, int *go_pipe, int *error_pipe) {
    int errors[2], go[2];
    if (pipe2(errors, O_CLOEXEC) != 0) return -1;
    if (pipe2(go, O_CLOEXEC) != 0) {
        int saved = errno;
        close(errors[0]); close(errors[1]);
        errno = saved;
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(errors[0]); close(errors[1]); close(go[0]); close(go[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        // Only async-signal-safe calls from here to exec.
        close(errors[0]);
        close(go[1]);
        // The tracer blocks signals for its signalfd: the command gets the mask faultline
        // itself was started with, as it would untraced.
        sigprocmask(SIG_SETMASK, mask, NULL);
        char byte;
        ssize_t n;
        do { n = read(go[0], &byte, 1); } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(127); // the tracer gave up: run nothing
        close(go[0]);
        execvp(file, argv);
        int err = errno;
        ssize_t unused = write(errors[1], &err, sizeof err);
        (void)unused;
        _exit(127);
    }
    close(errors[1]);
    close(go[0]);
    fcntl(errors[0], F_SETFL, O_NONBLOCK);
    *error_pipe = errors[0];
    *go_pipe = go[1];
    return pid;
}

int fl_get_fault_siginfo(pid_t tid, struct fl_fault_siginfo *out) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) != 0) return -1;
    out->signo = si.si_signo;
    out->code = si.si_code;
    out->address = (uint64_t)(uintptr_t)si.si_addr;
    return 0;
}

int fl_block_and_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int fl_read_signalfd(int fd, int *sender_pid) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n == (ssize_t)sizeof info) {
        if (sender_pid) *sender_pid = (int)info.ssi_pid;
        return (int)info.ssi_signo;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
}

static int fl_compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Closes every descriptor in [first, last] (last may be INT_MAX): close_range where the
 * kernel has it (5.9), else one close at a time up to the descriptor limit. */
static void fl_close_span(int first, int last, int limit) {
    if (first > last) return;
    if (syscall(SYS_close_range, (unsigned)first, (unsigned)last, 0) == 0) return;
    for (int fd = first; fd <= last && fd < limit; fd++) close(fd);
}

void fl_close_in_background(const int *fds, int count) {
    // The grandchild waits for the recorder to drop its copies first (EOF on the gate):
    // then each of the grandchild's closes is the last one and pays the teardown (a
    // tracepoint event's costs an RCU grace period, 36 ms here), never the recorder's.
    // Without the gate the two raced through the same list, and the recorder paid for
    // whichever events the grandchild had already let go: 0.6 s at the end of a recording.
    int gate[2];
    int gated = pipe2(gate, O_CLOEXEC) == 0;
    // What the grandchild keeps, sorted here (after fork only async-signal-safe calls):
    // the events and the gate's read end. Everything else it closes, whatever its number;
    // it once closed only descriptors below 4096, and an attach to 115 threads (38 events
    // a thread on 2 CPUs) left it holding its own copy of the gate's write end, waiting
    // for an EOF that never came, with every event open, for ever.
    int *keep = malloc(sizeof(int) * (size_t)(count + 1));
    int kept = 0;
    if (keep) {
        for (int i = 0; i < count; i++) keep[kept++] = fds[i];
        if (gated) keep[kept++] = gate[0];
        qsort(keep, (size_t)kept, sizeof(int), fl_compare_ints);
    }
    struct rlimit files;
    int limit = getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < (rlim_t)INT_MAX ? (int)files.rlim_cur : 1 << 20;
    pid_t child = keep ? fork() : -1;
    if (child == 0) {
        // Only async-signal-safe calls: close, read, fork, _exit (and the close_range syscall).
        if (fork() == 0) {
            // Hold nothing else open (a pipe on stderr would keep a reader waiting for us),
            // then release the events.
            int next = 0;
            for (int i = 0; i < kept; i++) {
                fl_close_span(next, keep[i] - 1, limit);
                next = keep[i] + 1;
            }
            fl_close_span(next, INT_MAX, limit);
            if (gated) {
                char byte;
                while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {}
            }
            for (int i = 0; i < count; i++) close(fds[i]);
            _exit(0);
        }
        _exit(0);
    }
    free(keep);
    for (int i = 0; i < count; i++) close(fds[i]);
    if (gated) {
        close(gate[0]);
        close(gate[1]);
    }
    if (child > 0) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    }
}

long fl_raise_open_file_limit(void) {
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) != 0) return -1;
    if (files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &files) != 0) getrlimit(RLIMIT_NOFILE, &files);
    }
    return files.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)files.rlim_cur;
}

uint64_t fl_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int fl_usable_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

int fl_set_thp_disable(int disable) {
    return prctl(PR_SET_THP_DISABLE, (unsigned long)(disable != 0), 0ul, 0ul, 0ul);
}

int fl_get_thp_disable(void) {
    return prctl(PR_GET_THP_DISABLE, 0ul, 0ul, 0ul, 0ul);
}
