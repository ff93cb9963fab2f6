/*
 * jit_map: code run from anonymous memory and named only by a perf map, as a JIT
 * runtime's is (Python -X perf, node --perf-basic-prof): /tmp/perf-PID.map, one
 * `START SIZE NAME` line (hex) per compiled function.
 *
 * A child copies a small function into an anonymous mapping, makes it executable,
 * writes its perf map naming it JIT_NAME, and calls it through call_jit once for each
 * of 32 pages: 32 anon faults whose stack is JIT_NAME <- call_jit <- main (the code
 * keeps a frame pointer, as Python's trampolines do). Then it exits, and the parent
 * deletes the child's map at once, as a wrapper cleaning up after a runtime might: the
 * recorder must have read it when the child exited.
 *
 * x86-64 only (the copied bytes are x86-64 code); elsewhere it prints SKIP.
 */
#include "common.h"

#define PAGES 32
#define JIT_NAME "jit::touch_page [faultline sample]"

#if defined(__x86_64__)
/* push %rbp; mov %rsp,%rbp; movb $1,(%rdi); pop %rbp; ret */
static const unsigned char touch_code[] = { 0x55, 0x48, 0x89, 0xe5, 0xc6, 0x07, 0x01, 0x5d, 0xc3 };

typedef void (*touch_fn)(volatile char *);

__attribute__((noinline)) void call_jit(touch_fn fn, volatile char *page)
{
    fn(page);
    __asm__ volatile("" ::: "memory");
}

static void write_perf_map(const void *code, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
    FILE *map = fopen(path, "w");
    if (!map) die("fopen perf map");
    /* A line for other code first: lookups must pick the region that holds the address. */
    fprintf(map, "%lx %lx jit::elsewhere\n", (unsigned long)code + 0x1000, 0x100UL);
    fprintf(map, "%lx %zx %s\n", (unsigned long)code, size, JIT_NAME);
    if (fclose(map) != 0) die("fclose perf map");
}

static void run_child(void)
{
    unsigned char *code = mmap(NULL, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) die("mmap code");
    memcpy(code, touch_code, sizeof touch_code);
    if (mprotect(code, 2 * PAGE_SIZE, PROT_READ | PROT_EXEC) != 0) die("mprotect");
    write_perf_map(code, sizeof touch_code);

    char *p = map_anon(PAGES, PROT_READ | PROT_WRITE);
    expect("anon", p, p + PAGES * PAGE_SIZE, PAGES, NULL);
    printf("JIT pid=%d name=%s\n", (int)getpid(), JIT_NAME);
    fflush(stdout);
    for (size_t i = 0; i < PAGES; i++)
        call_jit((touch_fn)(void *)code, p + i * PAGE_SIZE);
    _exit(0);
}

int main(void)
{
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) run_child();
    int status;
    if (waitpid(child, &status, 0) != child) die("waitpid");
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)child);
    if (unlink(path) != 0) die("unlink perf map");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
#else
int main(void)
{
    printf("SKIP jit_map: the copied code is x86-64\n");
    return 0;
}
#endif
