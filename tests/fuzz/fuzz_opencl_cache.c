/* libFuzzer harness: the opencl backend's program cache reader
 * (backends/opencl/ocl_cache.c), which needs no device: every entry is read
 * twice, once for the key in its own header (so that a well-formed entry
 * reaches the size and checksum checks) and once for another key (a stale
 * entry).  A payload it accepts is read whole. */
#include "backends/opencl/ocl_cache.h"
#include "tests/fuzz/fuzz.h"

static uint64_t key_of(const uint8_t *data, size_t size)
{
    uint64_t key = 0;
    for (int i = 7; size >= 24 && i >= 0; i--)
        key = key << 8 | data[16 + i];
    return key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("cache.bin", data, size);
    const uint64_t keys[2] = { key_of(data, size), 0x0123456789abcdefull };
    for (int k = 0; k < 2; k++) {
        char why[300];
        size_t n = 0;
        unsigned char *payload = ocl_cache_read(path, keys[k], &n, why, sizeof why);
        if (payload) {
            if (!n || why[0])
                abort(); /* accepted an empty entry, or gave a payload with a reason */
            fuzz_touch(payload, n);
            free(payload);
        } else if (!why[0]) {
            abort(); /* an entry that exists was refused without a reason */
        }
    }
    return 0;
}
