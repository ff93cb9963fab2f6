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
 *   64: the entry is not a perf sample: a BPF program on the same tracepoint writes its
 *   time, address and error code (16 bytes and a header) to a BPF ring buffer, for the
 *   command's processes only (tgid at or above the command's pid: a quiet machine's
 *   stand-in for a map of traced processes), and returns 0 so that perf writes nothing.
 *   128: the callchain and stack bits (4, 8) go on the completion event instead.
 *   64 + 128 + 1 + 4 + 8 + 16 + 32 = 253 is the design where one perf sample a fault
 *   carries the stack and BPF carries the entry's error code.
 * Prints the command's wall time in seconds and the bytes the events wrote; the command's
 * own output is discarded.
 */
#define _GNU_SOURCE
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

enum { MINOR = 1, ENTRY = 2, CALLCHAIN = 4, STACK = 8, PAGE_SIZE_BIT = 16, TIME = 32, BPF_ENTRY = 64,
       STACK_ON_COMPLETION = 128 };
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
    int stacks = (entry != 0) == !(events & STACK_ON_COMPLETION);
    if (stacks) {
        a.sample_type |= ((events & CALLCHAIN) ? PERF_SAMPLE_CALLCHAIN : 0) | ((events & STACK) ? PERF_SAMPLE_STACK_USER : 0);
        a.sample_stack_user = 128;
        a.exclude_callchain_kernel = 1;
    }
    if (entry) {
        a.type = PERF_TYPE_TRACEPOINT;
        a.config = tracepoint;
        a.sample_type |= PERF_SAMPLE_RAW;
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

static long bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

#define INSN(c, d, s_, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s_), .off = (o), .imm = (i) })
#define MOV64_REG(d, s_) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s_, 0, 0)
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD64_IMM(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define RSH64_IMM(d, i) INSN(BPF_ALU64 | BPF_RSH | BPF_K, d, 0, 0, i)
#define LDX64(d, s_, o) INSN(BPF_LDX | BPF_MEM | BPF_DW, d, s_, o, 0)
#define STX64(d, s_, o) INSN(BPF_STX | BPF_MEM | BPF_DW, d, s_, o, 0)
#define CALL(f) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define JEQ_IMM(d, i, o) INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define JLT_IMM(d, i, o) INSN(BPF_JMP | BPF_JLT | BPF_K, d, 0, o, i)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* The entry program: ctx is the tracepoint's record (8 bytes of common fields, then
 * address, ip, error_code, each 8 bytes); returns 0, so perf writes no sample. */
static int load_entry_program(int ring, pid_t first)
{
    struct bpf_insn prog[] = {
        MOV64_REG(BPF_REG_6, BPF_REG_1),
        CALL(BPF_FUNC_get_current_pid_tgid),
        RSH64_IMM(BPF_REG_0, 32),
        JLT_IMM(BPF_REG_0, first, 16),                       /* not the command's: out */
        INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, ring), INSN(0, 0, 0, 0, 0),
        MOV64_IMM(BPF_REG_2, 24),
        MOV64_IMM(BPF_REG_3, 0),
        CALL(BPF_FUNC_ringbuf_reserve),
        JEQ_IMM(BPF_REG_0, 0, 10),                            /* full: out */
        MOV64_REG(BPF_REG_7, BPF_REG_0),
        CALL(BPF_FUNC_ktime_get_ns),
        STX64(BPF_REG_7, BPF_REG_0, 0),
        LDX64(BPF_REG_1, BPF_REG_6, 8), STX64(BPF_REG_7, BPF_REG_1, 8),
        LDX64(BPF_REG_1, BPF_REG_6, 24), STX64(BPF_REG_7, BPF_REG_1, 16),
        MOV64_REG(BPF_REG_1, BPF_REG_7),
        MOV64_IMM(BPF_REG_2, 0),
        CALL(BPF_FUNC_ringbuf_submit),
        MOV64_IMM(BPF_REG_0, 0),                             /* out */
        EXIT(),
    };
    static char log[65536];
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_TRACEPOINT;
    a.insns = (unsigned long)prog;
    a.insn_cnt = sizeof prog / sizeof prog[0];
    a.license = (unsigned long)"GPL";
    a.log_buf = (unsigned long)log;
    a.log_size = sizeof log;
    a.log_level = 1;
    int fd = (int)bpf(BPF_PROG_LOAD, &a);
    if (fd < 0) fprintf(stderr, "BPF_PROG_LOAD: %s\n%s\n", strerror(errno), log);
    return fd;
}

#define BPF_RING_BYTES (16u << 20)

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
            if (!(events & (entry ? ENTRY : MINOR)) || (entry && (events & BPF_ENTRY))) continue;
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
    unsigned long *ring_consumer = NULL;
    const unsigned long *ring_producer = NULL;
    if (events & BPF_ENTRY) {
        union bpf_attr m;
        memset(&m, 0, sizeof m);
        m.map_type = BPF_MAP_TYPE_RINGBUF;
        m.max_entries = BPF_RING_BYTES;
        int ring = (int)bpf(BPF_MAP_CREATE, &m);
        if (ring < 0) { perror("BPF_MAP_CREATE ringbuf"); kill(child, SIGKILL); return 1; }
        ring_consumer = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ring, 0);
        ring_producer = mmap(NULL, 4096 + 2 * (size_t)BPF_RING_BYTES, PROT_READ, MAP_SHARED, ring, 4096);
        if (ring_consumer == MAP_FAILED || ring_producer == MAP_FAILED) { perror("mmap ringbuf"); kill(child, SIGKILL); return 1; }
        int prog = load_entry_program(ring, child);
        if (prog < 0) { kill(child, SIGKILL); return 1; }
        struct perf_event_attr a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        a.type = PERF_TYPE_TRACEPOINT;
        a.config = tracepoint;
        a.sample_period = 1;
        a.sample_type = PERF_SAMPLE_RAW;
        int anchor = (int)syscall(SYS_perf_event_open, &a, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
        if (anchor < 0 || ioctl(anchor, PERF_EVENT_IOC_SET_BPF, prog) != 0 || ioctl(anchor, PERF_EVENT_IOC_ENABLE, 0) != 0) {
            perror("attach the entry program"); kill(child, SIGKILL); return 1;
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
        if (ring_consumer) {
            unsigned long produced = __atomic_load_n(ring_producer, __ATOMIC_ACQUIRE);
            bytes += produced - *ring_consumer;
            __atomic_store_n(ring_consumer, produced, __ATOMIC_RELEASE);
        }
        if (waitpid(child, &status, WNOHANG) == child) break;
    }
    printf("%.3f %llu\n", now() - start, bytes);
    return 0;
}
