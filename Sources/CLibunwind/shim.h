// libunwind with its ptrace accessors (Debian: libunwind-dev), pkg-config libunwind-ptrace:
// unwinds a stopped tracee from outside, reading its registers and memory through ptrace.
#include <libunwind-ptrace.h>
