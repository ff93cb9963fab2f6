/*
 * common.h - helpers shared by the faultline sample programs.
 *
 * Every sample prints the faults it expects to take, one line each:
 *
 *   EXPECT kind=<anon|zero|file|cow|major|segv> pid=<pid> tid=<tid>
 *          start=0x<hex> end=0x<hex> count=<N> [kernel_mode=1] [si_code=<n>]
 *
 * (on one line): thread tid of process pid takes exactly N faults of that
 * kind whose fault address lies in [start, end).
 *
 * Rules every sample follows so that the counts are exact:
 *   - touched memory is mapped by the sample itself with mmap();
 *   - anonymous memory gets MADV_NOHUGEPAGE, so neither PMD THP nor mTHP
 *     can fill more than one 4 KiB page per fault;
 *   - files are written one page per write() call, so the page cache holds
 *     order-0 folios (ext4 sizes write() folios by the write length) and a
 *     read fault can only map what fault-around maps;
 *   - touches go through volatile pointers; nothing else (memset, printf)
 *     touches an expected range.
 *
 * With FAULTLINE_SAMPLE_SELFCHECK=1 in the environment, selfcheck_begin() /
 * selfcheck_end() bracket the touching code and print the kernel's own count
 * for the calling thread (/proc/thread-self/stat fields 10 and 12) to stderr:
 *
 *   SELFCHECK minflt_delta=X majflt_delta=Y pid=P tid=T
 *
 * samples/selfcheck.sh compares those against the EXPECT lines.
 */
#ifndef FAULTLINE_SAMPLES_COMMON_H
#define FAULTLINE_SAMPLES_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE_SIZE 4096UL

/* Print "what: <strerror(errno)>" and exit 1. */
static inline void die(const char *what)
{
    perror(what);
    exit(1);
}

static inline pid_t get_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* Print one EXPECT line for the calling thread and flush it at once.
 * extra is NULL or e.g. "kernel_mode=1" / "si_code=2". */
static inline void expect(const char *kind, const void *start, const void *end,
                          unsigned long count, const char *extra)
{
    if (printf("EXPECT kind=%s pid=%d tid=%d start=%#lx end=%#lx count=%lu%s%s\n",
               kind, (int)getpid(), (int)get_tid(), (unsigned long)start,
               (unsigned long)end, count, extra ? " " : "", extra ? extra : "") < 0)
        die("printf");
    if (fflush(stdout) != 0)
        die("fflush");
}

/* Private anonymous memory, npages pages, with THP (and mTHP) disabled so
 * every 4 KiB page takes its own fault. */
static inline char *map_anon(size_t npages, int prot)
{
    size_t len = npages * PAGE_SIZE;
    char *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap anonymous");
    if (madvise(p, len, MADV_NOHUGEPAGE) != 0)
        die("madvise MADV_NOHUGEPAGE");
    return p;
}

/* Map fd (offset 0, npages pages) at a virtual address aligned to `align`
 * bytes: reserve a PROT_NONE range with slack, MAP_FIXED the file into the
 * aligned spot, release the slack. */
static inline char *map_file_aligned(int fd, size_t npages, int prot, int flags,
                                     size_t align)
{
    size_t len = npages * PAGE_SIZE;
    size_t rlen = len + align;
    char *r = mmap(NULL, rlen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        die("mmap reservation");
    char *p = (char *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1));
    if (mmap(p, len, prot, flags | MAP_FIXED, fd, 0) == MAP_FAILED)
        die("mmap file MAP_FIXED");
    if (p > r && munmap(r, (size_t)(p - r)) != 0)
        die("munmap slack below");
    char *rend = r + rlen;
    if (rend > p + len && munmap(p + len, (size_t)(rend - (p + len))) != 0)
        die("munmap slack above");
    return p;
}

/* ---- sample data files ------------------------------------------------ */

/* Exits 1, saying why, when dir is on tmpfs or ramfs, whose pages reclaim can neither
 * evict nor drop (they go only to swap): the samples that need pages out of the page
 * cache call this first. */
static inline void refuse_tmpfs(const char *dir, const char *why)
{
    struct statfs fs;
    if (statfs(dir, &fs) != 0)
        die("statfs");
    if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
        fprintf(stderr, "%s is tmpfs/ramfs: %s\n", dir, why);
        exit(1);
    }
}

static char sample_file_path[PATH_MAX];

static void remove_sample_file(void)
{
    if (sample_file_path[0] != '\0') {
        unlink(sample_file_path);
        sample_file_path[0] = '\0';
    }
}

/* Create <dir>/faultline-<tag>-<pid>.dat holding npages pages, written with
 * one write() per page so the pages are in the page cache as order-0 folios.
 * dir is argv[1] or "." (never /tmp: it may be tmpfs). The file is removed
 * at exit, including exit(1) from die(). Returns an O_RDWR fd. */
static inline int create_sample_file(const char *dir, const char *tag, size_t npages)
{
    static char page[PAGE_SIZE];
    int n = snprintf(sample_file_path, sizeof sample_file_path,
                     "%s/faultline-%s-%d.dat", dir, tag, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof sample_file_path) {
        fprintf(stderr, "file path too long\n");
        exit(1);
    }
    int fd = open(sample_file_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        sample_file_path[0] = '\0';
        die("open sample file");
    }
    if (atexit(remove_sample_file) != 0) {
        fprintf(stderr, "atexit failed\n");
        exit(1);
    }
    for (size_t i = 0; i < npages; i++) {
        memset(page, 'a' + (int)(i % 26), sizeof page);
        ssize_t w = write(fd, page, sizeof page);
        if (w < 0)
            die("write sample file");
        if ((size_t)w != sizeof page) {
            fprintf(stderr, "write sample file: short write\n");
            exit(1);
        }
    }
    return fd;
}

/* ---- optional self-check against the kernel's own counters ----------- */

struct selfcheck {
    int on;
    unsigned long minflt, majflt;
};

/* Read minflt (field 10) and majflt (field 12) of the calling thread. */
static inline void read_fault_counters(unsigned long *minflt, unsigned long *majflt)
{
    char buf[1024];
    int fd = open("/proc/thread-self/stat", O_RDONLY);
    if (fd < 0)
        die("open /proc/thread-self/stat");
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0)
        die("read /proc/thread-self/stat");
    if (close(fd) != 0)
        die("close /proc/thread-self/stat");
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    /* after ')': state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt */
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %lu %*u %lu",
                            minflt, majflt) != 2) {
        fprintf(stderr, "cannot parse /proc/thread-self/stat\n");
        exit(1);
    }
}

/* Fault in 64 KiB of stack below us so that neither the self-check nor a
 * signal frame takes a stack fault inside the measured window. */
static __attribute__((noinline)) void prefault_stack(void)
{
    volatile char pad[64 * 1024];
    for (size_t i = 0; i < sizeof pad; i += PAGE_SIZE)
        pad[i] = 0;
}

static inline void selfcheck_begin(struct selfcheck *sc)
{
    const char *e = getenv("FAULTLINE_SAMPLE_SELFCHECK");
    sc->on = e != NULL && strcmp(e, "1") == 0;
    if (!sc->on)
        return;
    prefault_stack();
    /* read twice: the first read warms up everything the read itself touches */
    read_fault_counters(&sc->minflt, &sc->majflt);
    read_fault_counters(&sc->minflt, &sc->majflt);
}

static inline void selfcheck_end(struct selfcheck *sc)
{
    if (!sc->on)
        return;
    unsigned long minflt, majflt;
    read_fault_counters(&minflt, &majflt);
    fprintf(stderr, "SELFCHECK minflt_delta=%lu majflt_delta=%lu pid=%d tid=%d\n",
            minflt - sc->minflt, majflt - sc->majflt, (int)getpid(), (int)get_tid());
}

/* Puts the n values at `v` in a shuffled order, the same every run for one seed (Fisher-
 * Yates over xorshift64). */
static inline void shuffle(size_t *v, size_t n, uint64_t seed)
{
    uint64_t x = seed ? seed : 1;
    for (size_t i = n; i > 1; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i), t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

#endif
