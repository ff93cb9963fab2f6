// libdeflate (Debian: libdeflate-dev): inflates each log chunk whole, about twice as fast
// as zlib's streaming inflate on the same chunks.
#include <libdeflate.h>
