/*
 * self_trace: a program that uses ptrace itself, as debuggers and tracers do. It forks a
 * child that asks to be traced (PTRACE_TRACEME) and stops; the parent continues it and
 * waits. Untraced that works and it exits 0. Under another tracer (faultline) the kernel
 * refuses PTRACE_TRACEME with EPERM, since a process has one tracer: the child says so and
 * exits 3, and the program exits 1. With argv[1] "attach" the parent instead attaches to
 * a child with PTRACE_ATTACH (refused the same way). With argv[1] "wait" it checks as gdb
 * does before it attaches (linux_check_ptrace_features): the child asks to be traced,
 * ignoring the answer, and stops itself; the parent waits for that stop as its tracer.
 * Under another tracer the stop is not the parent's to see, and the program waits for
 * ever, as gdb -p does under faultline.
 */
#include "common.h"
#include <signal.h>
#include <sys/ptrace.h>

int main(int argc, char **argv)
{
    int attach = argc > 1 && strcmp(argv[1], "attach") == 0; /* else "traceme" */
    int wait_for_stop = argc > 1 && strcmp(argv[1], "wait") == 0;
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        if (attach) {
            pause(); /* until the parent attaches, continues and kills it */
            _exit(0);
        }
        if (wait_for_stop) {
            ptrace(PTRACE_TRACEME, 0, NULL, NULL);
            kill(getpid(), SIGSTOP);
            _exit(0);
        }
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) {
            printf("PTRACE_TRACEME: %s\n", strerror(errno));
            fflush(stdout);
            _exit(3);
        }
        raise(SIGSTOP);
        _exit(0);
    }
    int status;
    if (attach) {
        if (ptrace(PTRACE_ATTACH, child, NULL, NULL) != 0) {
            printf("PTRACE_ATTACH: %s\n", strerror(errno));
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            return 1;
        }
        waitpid(child, &status, 0);
        ptrace(PTRACE_DETACH, child, NULL, NULL);
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        printf("traced the child\n");
        return 0;
    }
    if (waitpid(child, &status, 0) != child)
        die("waitpid");
    if (WIFSTOPPED(status)) {
        ptrace(PTRACE_CONT, child, NULL, NULL);
        waitpid(child, &status, 0);
        printf("traced the child\n");
        return 0;
    }
    return 1;
}
