// zlib against libdeflate on a log's own chunks: each deflated chunk is inflated by both,
// and each inflated payload deflated again by zlib (level 1, what faultline used) and by
// libdeflate (levels 1 to 4). Reads chunks.bin: for each chunk, u32 stored length, u32
// inflated length, the stored bytes (tools/deflate-cost/run writes it from a .flt).
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static unsigned u32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (unsigned)p[3] << 24; }

int main(int argc, char **argv) {
    FILE *f = fopen(argc > 1 ? argv[1] : "chunks.bin", "rb");
    if (!f) { perror("chunks.bin"); return 1; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n), *raw = malloc(1 << 25), *out = malloc(1 << 26);
    if (fread(b, 1, n, f) != (size_t)n) { perror("read"); return 1; }
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    for (int round = 0; round < 3; round++) {
        double tz = 0, tl = 0;
        long total = 0;
        for (long at = 0; at + 8 <= n;) {
            unsigned stored = u32(b + at), len = u32(b + at + 4);
            uLongf size = len;
            double t0 = now();
            if (uncompress(raw, &size, b + at + 8, stored) != Z_OK || size != len) { fprintf(stderr, "zlib: bad chunk\n"); return 1; }
            double t1 = now();
            size_t got;
            if (libdeflate_zlib_decompress(d, b + at + 8, stored, raw, len, &got) != LIBDEFLATE_SUCCESS || got != len) { fprintf(stderr, "libdeflate: bad chunk\n"); return 1; }
            tz += t1 - t0;
            tl += now() - t1;
            total += len;
            at += 8 + stored;
        }
        printf("round %d: inflating %ld bytes: zlib %.1f ms, libdeflate %.1f ms\n", round + 1, total, tz * 1e3, tl * 1e3);
    }
    for (int level = 0; level <= 4; level++) {
        struct libdeflate_compressor *c = level ? libdeflate_alloc_compressor(level) : NULL;
        double t = 0;
        long total = 0, packed = 0;
        for (long at = 0; at + 8 <= n;) {
            unsigned stored = u32(b + at), len = u32(b + at + 4);
            size_t got;
            libdeflate_zlib_decompress(d, b + at + 8, stored, raw, len, &got);
            double t0 = now();
            if (level == 0) {
                uLongf size = 1 << 26;
                compress2(out, &size, raw, len, 1);
                packed += size;
            } else {
                packed += libdeflate_zlib_compress(c, raw, len, out, 1 << 26);
            }
            t += now() - t0;
            total += len;
            at += 8 + stored;
        }
        printf("%s level %d: %ld -> %ld bytes (%.2f%%) in %.1f ms\n", level ? "libdeflate" : "zlib", level ? level : 1,
               total, packed, 100.0 * packed / total, t * 1e3);
        libdeflate_free_compressor(c);
    }
    return 0;
}
