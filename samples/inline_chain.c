/*
 * inline_chain: faults inside inlined code, at known lines, with a known stack.
 *
 * Built -O2 -g with frame pointers (see Makefile), so both --call-graph fp and dwarf
 * see every real frame. Each of the 64 pages is first written by touch_page, which
 * the compiler inlines into touch_range, which it inlines into fill_pages (a real
 * function); main calls fill_pages from run_phase, inlined into main. So every fault's
 * stack, leaf first, must read exactly:
 *
 *   touch_page (inlined)  inline_chain.c:LINE:fault
 *   touch_range (inlined) inline_chain.c:LINE:touch_page_call
 *   fill_pages            inline_chain.c:LINE:touch_range_call
 *   run_phase (inlined)   inline_chain.c:LINE:fill_pages_call
 *   main                  inline_chain.c:LINE:run_phase_call
 *
 * where LINE:name is the line holding the comment "LINE:name" below (tests find them
 * in this file). The empty asm after each call keeps it from becoming a tail call.
 */
#include "common.h"

#define PAGES 64

static inline __attribute__((always_inline)) void touch_page(volatile char *page)
{
    page[0] = 1; /* LINE:fault */
}

static inline __attribute__((always_inline)) void touch_range(char *p, size_t pages)
{
    for (size_t i = 0; i < pages; i++) {
        touch_page(p + i * PAGE_SIZE); /* LINE:touch_page_call */
        __asm__ volatile("" ::: "memory");
    }
}

__attribute__((noinline)) void fill_pages(char *p, size_t pages)
{
    touch_range(p, pages); /* LINE:touch_range_call */
    __asm__ volatile("" ::: "memory");
}

static inline __attribute__((always_inline)) void run_phase(char *p, size_t pages)
{
    fill_pages(p, pages); /* LINE:fill_pages_call */
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    char *p = map_anon(PAGES, PROT_READ | PROT_WRITE);
    expect("anon", p, p + PAGES * PAGE_SIZE, PAGES, NULL);
    run_phase(p, PAGES); /* LINE:run_phase_call */
    __asm__ volatile("" ::: "memory");
    return 0;
}
