// What Swift cannot call or express directly, and nothing more:
//  - ptrace(2), prctl(2) and syscall(2) are variadic: Swift cannot call them;
//  - perf_event_open(2) has no libc wrapper;
//  - the perf ring buffer's head/tail need acquire/release ordering that Swift's
//    standard library does not offer on plain memory;
//  - the W* wait-status macros are macros;
//  - between fork and exec only async-signal-safe code may run: the launcher is in C.
#ifndef CFAULTLINE_LINUX_H
#define CFAULTLINE_LINUX_H

#include <stdint.h>
#include <sys/types.h>
#include <signal.h>
#include <linux/perf_event.h>

/// perf_event_open(2). Returns the fd, or -1 with errno set.
int fl_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags);

/// ioctl(2) on a perf event fd (PERF_EVENT_IOC_ENABLE, _DISABLE, _SET_OUTPUT).
int fl_perf_ioctl(int fd, unsigned long request, unsigned long argument);
unsigned long fl_perf_ioc_enable(void);
unsigned long fl_perf_ioc_disable(void);
unsigned long fl_perf_ioc_set_output(void);
/// PERF_EVENT_IOC_SET_FILTER: a tracepoint event's filter, in ftrace's language; 0 or -1.
int fl_perf_set_filter(int fd, const char *filter);
/// PERF_EVENT_IOC_ID: the id that PERF_SAMPLE_IDENTIFIER puts in this event's records
/// (inherited copies in children report their parent's id). Returns 0 on error.
uint64_t fl_perf_event_id(int fd);

/// Fills the fields of a perf_event_attr that are bit-fields, which Swift cannot set.
void fl_attr_set_flags(struct perf_event_attr *attr, int disabled, int inherit, int enable_on_exec,
                       int exclude_callchain_kernel, int sample_id_all, int use_clockid,
                       int mmap_records, int task_records, int watermark);

/// ptrace(2). errno is cleared first, so PEEK requests can be told from errors.
long fl_ptrace(int request, pid_t pid, unsigned long addr, unsigned long data);

/// The ring buffer's data_head, loaded with acquire semantics (pairs with the kernel's
/// smp_store_release), so the records before it are visible.
uint64_t fl_ring_load_head(const struct perf_event_mmap_page *page);
/// Publishes data_tail with release semantics: the kernel may overwrite what is before it.
void fl_ring_store_tail(struct perf_event_mmap_page *page, uint64_t tail);

// Wait-status decoding (the W* macros).
int fl_wifexited(int status);
int fl_wexitstatus(int status);
int fl_wifsignaled(int status);
int fl_wtermsig(int status);
int fl_wifstopped(int status);
int fl_wstopsig(int status);
/// status >> 16: the PTRACE_EVENT_* number of a ptrace-event stop, 0 otherwise.
int fl_wptrace_event(int status);

/// Forks a child that waits until a byte arrives on `*go_pipe` (the write end, returned to
/// the caller), then execs `file` (searched in PATH) with `argv`, in an unblocked signal
/// mask. Meanwhile the caller seizes it with ptrace and opens its perf events: the child
/// runs no code of ours and takes no stop. If the go pipe closes without a byte, the child
/// exits 127 without exec. If exec fails, the child writes its errno to a close-on-exec
/// pipe and exits 127; `*error_pipe` receives the read end (non-blocking), which reads EOF
/// once exec has succeeded. Returns the child's pid, or -1 with errno set.
pid_t fl_launch_waiting(const char *file, char *const argv[], const sigset_t *mask, int *go_pipe, int *error_pipe);

/// siginfo_t's fields that Swift cannot reach through the union.
struct fl_fault_siginfo {
    int signo;
    int code;
    uint64_t address;
};
/// PTRACE_GETSIGINFO for a stopped tracee, reduced to what a fault needs.
int fl_get_fault_siginfo(pid_t tid, struct fl_fault_siginfo *out);

/// Blocks `signals` in the calling thread and returns a signalfd(2) that reads them.
int fl_block_and_signalfd(const int *signals, int count);
/// Reads one signal from a signalfd; returns its number, 0 if none, -1 on error.
int fl_read_signalfd(int fd, int *sender_pid);

/// Closes `fds` in a detached grandchild and returns at once. Releasing the last perf event
/// of a tracepoint waits for an RCU grace period (tracepoint_synchronize_unregister): with
/// a dozen tracepoints that is half a second a recording would otherwise spend exiting.
/// The grandchild holds the only other references, so our copies close instantly.
void fl_close_in_background(const int *fds, int count);
/* Raises this process's soft limit on open files to its hard limit; returns the soft
 * limit now in force (-1 if unknown). */
long fl_raise_open_file_limit(void);

/// clock_gettime(CLOCK_MONOTONIC) in ns: the clock perf is told to use (use_clockid).
uint64_t fl_monotonic_ns(void);

/// sched_getaffinity(2) for the calling thread, counted with CPU_COUNT (a macro, and the
/// call needs _GNU_SOURCE): the CPUs this process may run on, at least 1.
int fl_usable_cpus(void);

/// prctl(PR_SET_THP_DISABLE, disable) for the calling process (prctl is variadic): kept by
/// fork and execve, so a command launched afterwards runs without THP.
int fl_set_thp_disable(int disable);
/// prctl(PR_GET_THP_DISABLE): 1 (or 3 with PR_THP_DISABLE_EXCEPT_ADVISED) when THP is off.
int fl_get_thp_disable(void);

#endif
