// zlib (Debian: zlib1g-dev, which libdw-dev depends on): deflates each log chunk.
#include <zlib.h>
