/*
 * deep_nofp: code built WITHOUT frame pointers (-O2 -fomit-frame-pointer, see Makefile)
 * faults three of its own calls deep, inside libc's memset, and a child dies of SIGSEGV
 * three calls deep. With --call-graph dwarf every fault's stack must read
 * memset ← fill_level3 ← fill_level2 ← fill_level1 ← main, and the segfault's
 * crash_level3 ← crash_level2 ← crash_level1 ← main.
 *
 * The empty asm after each call keeps the compiler from turning it into a tail call,
 * which would remove the caller from the stack for real.
 */
#include "common.h"

#define PAGES 256

__attribute__((noinline)) void fill_level3(char *p, size_t n) { memset(p, 1, n); __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void fill_level2(char *p, size_t n) { fill_level3(p, n); __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void fill_level1(char *p, size_t n) { fill_level2(p, n); __asm__ volatile("" ::: "memory"); }

__attribute__((noinline)) void crash_level3(volatile int *p) { *p = 42; __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void crash_level2(volatile int *p) { crash_level3(p); __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void crash_level1(volatile int *p) { crash_level2(p); __asm__ volatile("" ::: "memory"); }

int main(void)
{
    char *p = map_anon(PAGES, PROT_READ | PROT_WRITE);
    fill_level1(p, PAGES * PAGE_SIZE);
    expect("anon", p, p + PAGES * PAGE_SIZE, PAGES, NULL);

    char *hole = map_anon(1, PROT_NONE);
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        expect("segv", hole, hole + PAGE_SIZE, 1, "si_code=2");
        crash_level1((volatile int *)hole);
        _exit(0); /* not reached */
    }
    int status;
    if (waitpid(child, &status, 0) != child) die("waitpid");
    printf("child died of signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 0;
}
