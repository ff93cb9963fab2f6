// See CFaultlineUnwind.h.
#include "CFaultlineUnwind.h"
#include <libunwind-ptrace.h>

int fl_unwind_stopped_thread(pid_t tid, uint64_t *ips, int max) {
    unw_addr_space_t space = unw_create_addr_space(&_UPT_accessors, 0);
    if (!space) return 0;
    void *context = _UPT_create(tid);
    if (!context) {
        unw_destroy_addr_space(space);
        return 0;
    }
    int count = 0;
    unw_cursor_t cursor;
    if (unw_init_remote(&cursor, space, context) == 0) {
        do {
            unw_word_t ip = 0;
            if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) break;
            ips[count++] = (uint64_t)ip;
        } while (count < max && unw_step(&cursor) > 0);
    }
    _UPT_destroy(context);
    unw_destroy_addr_space(space);
    return count;
}
