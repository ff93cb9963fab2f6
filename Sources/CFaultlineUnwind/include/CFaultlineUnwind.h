// Unwinds a ptrace-stopped thread with libunwind's _UPT accessors. In C because libunwind's
// API is macros (unw_init_remote is _Ux86_64_init_remote, ...) that Swift cannot import.
#ifndef CFAULTLINE_UNWIND_H
#define CFAULTLINE_UNWIND_H
#include <stdint.h>
#include <sys/types.h>

/// Writes up to `max` instruction pointers of `tid`'s user stack, innermost first, into
/// `ips`. The thread must be in a ptrace-stop. Returns how many were written (0 on error).
int fl_unwind_stopped_thread(pid_t tid, uint64_t *ips, int max);

#endif
