#include <stdlib.h>
int main(void) {
    /* 16 pages written once, then read twice in order: a known pattern at the end of the trace */
    volatile char *p = malloc(16 * 4096);
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 16; i++) {
            if (r == 0) p[i * 4096] = 1; else (void)p[i * 4096];
        }
    return 0;
}
