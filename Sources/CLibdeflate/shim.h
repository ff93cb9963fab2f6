// libdeflate (Debian: libdeflate-dev): deflates and inflates each log chunk whole, as zlib
// streams, in about half of zlib's time (FaultlineLog/Deflate.swift).
#include <libdeflate.h>
