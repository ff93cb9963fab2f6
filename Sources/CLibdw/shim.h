// elfutils' libdw and libdwfl (Debian: libdw-dev), imported through pkg-config `libdw`.
// Used to symbolize frames (function, file:line) and, later, to unwind with CFI.
#include <elfutils/libdwfl.h>
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <gelf.h>
