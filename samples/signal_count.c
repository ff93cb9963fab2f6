/*
 * signal_count: counts the SIGTERMs and SIGINTs its own handler receives for two seconds,
 * then prints "handled N" and exits 0. Under the recorder a signal sent to the whole
 * process group (or a terminal's Ctrl-C) must reach the handler exactly once, as untraced,
 * and the handler may take its time: nothing kills the program for handling it.
 */
#include "common.h"
#include <signal.h>
#include <time.h>

static volatile sig_atomic_t handled;
static void on_signal(int signo) { (void)signo; handled++; }

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) die("sigaction");
    for (int i = 0; i < 40; i++) {
        struct timespec t = { 0, 50 * 1000 * 1000 };
        while (nanosleep(&t, &t) != 0) {}
    }
    printf("handled %d\n", (int)handled);
    return 0;
}
