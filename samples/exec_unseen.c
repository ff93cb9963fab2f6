/*
 * exec_unseen: how many faults the kernel counts for a launched command that no perf event
 * reports, measured natively, without faultline: launches PROGRAM the way the recorder does
 * (fork; the child waits on a pipe; counters of PAGE_FAULTS_MIN and _MAJ are opened on it,
 * enabled at its exec, as the recorder's events are; the child's minflt+majflt is read
 * once it waits; then it is let go and execs), and prints
 *
 *   UNSEEN n counted=C seen=S
 *
 * where C is what the kernel counted for the child from that moment to its end (wait4's
 * rusage) and S what the counters saw. n = C - S: execve copying the file name, arguments
 * and environment into the new stack through get_user_pages, which counts a fault per page
 * and raises no perf event, and the child's own steps from the pipe to execve.
 *
 *   exec_unseen PROGRAM [ARG...]      (PROGRAM gets this process's environment)
 *
 * Needs what recording needs: root, or perf_event_paranoid <= 1 (kernel-mode faults count).
 */
#include "common.h"
#include <linux/perf_event.h>
#include <sys/resource.h>

static int open_counter(pid_t pid, unsigned long config)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = config;
    attr.disabled = 1;
    attr.enable_on_exec = 1;
    int fd = (int)syscall(SYS_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0)
        die("perf_event_open");
    return fd;
}

/* minflt + majflt of pid (/proc/PID/stat fields 10 and 12), and its state letter. */
static unsigned long stat_faults(pid_t pid, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open /proc/PID/stat");
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        die("read /proc/PID/stat");
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long minflt, majflt;
    if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %lu %*u %lu", state, &minflt, &majflt) != 3)
        die("parse /proc/PID/stat");
    return minflt + majflt;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: exec_unseen PROGRAM [ARG...]\n");
        return 2;
    }
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0)
        die("pipe2");
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        char byte;
        close(go[1]);
        if (read(go[0], &byte, 1) != 1)
            _exit(127);
        close(go[0]);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    close(go[0]);
    /* Waiting on the pipe (state S): nothing moves until it is let go. */
    char state = 0;
    for (;;) {
        (void)stat_faults(child, &state);
        if (state == 'S')
            break;
        usleep(1000);
    }
    int minor = open_counter(child, PERF_COUNT_SW_PAGE_FAULTS_MIN);
    int major = open_counter(child, PERF_COUNT_SW_PAGE_FAULTS_MAJ);
    unsigned long baseline = stat_faults(child, &state);
    if (write(go[1], "g", 1) != 1)
        die("write");
    close(go[1]);
    int status;
    struct rusage usage;
    if (wait4(child, &status, 0, &usage) != child)
        die("wait4");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "exec_unseen: %s did not exit 0 (wait status %#x)\n", argv[1], status);
        return 1;
    }
    uint64_t seen_minor, seen_major;
    if (read(minor, &seen_minor, sizeof seen_minor) != sizeof seen_minor ||
        read(major, &seen_major, sizeof seen_major) != sizeof seen_major)
        die("read counter");
    unsigned long counted = (unsigned long)(usage.ru_minflt + usage.ru_majflt) - baseline;
    unsigned long seen = (unsigned long)(seen_minor + seen_major);
    printf("UNSEEN %ld counted=%lu seen=%lu\n", (long)counted - (long)seen, counted, seen);
    return 0;
}
