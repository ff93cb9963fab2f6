/*
 * cpp_names: faults taken in a C++ method whose name is long and templated, as in real
 * C++ code, for the reports' name shortening.
 *
 * very_long_namespace_name::inner_detail_namespace::PageToucherWithAnExtremelyLongName<
 * std::string, std::pair<std::string, long>, std::string>::touch_every_page_of_the_mapping
 * maps 300 pages of private anonymous memory itself (MADV_NOHUGEPAGE) and writes each
 * once: exactly 300 anon faults in that range, each with that method as the leaf frame,
 * called from main; the method is also the origin (the mmap's caller) of that memory.
 * C++, so it does not include common.h (which is C); it prints the same EXPECT line.
 */
#include <cstdio>
#include <map>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace very_long_namespace_name {
namespace inner_detail_namespace {

template <class Key, class Value, class Extra>
struct PageToucherWithAnExtremelyLongName {
    static const long pageSize = 4096;

    __attribute__((noinline)) static void touch_every_page_of_the_mapping(std::map<Key, std::vector<Value>> &m,
                                                                          const Extra &extra, int pages)
    {
        char *p = static_cast<char *>(mmap(nullptr, pages * pageSize, PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (p == MAP_FAILED || madvise(p, pages * pageSize, MADV_NOHUGEPAGE) != 0) {
            perror("mmap/madvise");
            _exit(1);
        }
        std::printf("EXPECT kind=anon pid=%d tid=%d start=%#lx end=%#lx count=%d\n", (int)getpid(),
                    (int)syscall(SYS_gettid), (unsigned long)p, (unsigned long)(p + pages * pageSize), pages);
        if (std::fflush(stdout) != 0)
            _exit(1);
        for (int i = 0; i < pages; i++)
            *(volatile char *)(p + i * pageSize) = (char)(m.size() + extra.size());
    }
};

} // namespace inner_detail_namespace
} // namespace very_long_namespace_name

int main()
{
    std::map<std::string, std::vector<std::pair<std::string, long>>> m;
    std::string extra = "x";
    very_long_namespace_name::inner_detail_namespace::PageToucherWithAnExtremelyLongName<
        std::string, std::pair<std::string, long>, std::string>::touch_every_page_of_the_mapping(m, extra, 300);
    return 0;
}
