/*
 * exit7: takes no faults of interest; prints "exiting with 7" and exits with
 * status 7, so tests can check that the recorder reports the traced
 * program's exit status. No EXPECT lines.
 */
#include "common.h"

int main(void)
{
    printf("exiting with 7\n");
    if (fflush(stdout) != 0)
        die("fflush");
    return 7;
}
