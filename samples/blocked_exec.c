/*
 * blocked_exec: runs a command with SIGUSR1 and SIGUSR2 blocked, as a shell, a
 * supervisor or a daemon may start programs. Used to check that a command run under
 * faultline starts with the signal mask faultline itself was given, as it would
 * untraced (faultline blocks signals of its own while recording).
 *
 *   blocked_exec COMMAND [ARG...]
 */
#include "common.h"
#include <signal.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: blocked_exec COMMAND [ARG...]\n");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        die("sigprocmask");
    execvp(argv[1], argv + 1);
    die("execvp");
}
