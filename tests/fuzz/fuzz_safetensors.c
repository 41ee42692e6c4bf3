/* libFuzzer harness: gantry_safetensors_read (core/safetensors.c) on any
 * file, then every entry, name and metadata lookup the loaders make.  Each
 * tensor's bytes are read whole: the reader promises they lie in the file. */
#include "gantry/io.h"
#include "tests/fuzz/fuzz.h"

static const char *const meta_keys[] = { "format", "model", "z_dim", "image_shape", "step", "classes", "k_t" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gantry_safetensors *st = NULL;
    if (gantry_safetensors_read(fuzz_file("st", data, size), &st) != GANTRY_OK)
        return 0;
    for (size_t i = 0; i < gantry_safetensors_count(st); i++) {
        const gantry_st_tensor *t = gantry_safetensors_at(st, i);
        size_t n = t->dtype == GANTRY_DTYPE_I64 ? 8 : 4;
        for (int d = 0; d < t->ndim; d++)
            n *= t->shape[d];
        fuzz_touch(t->data, n);
        fuzz_touch(t->name, strlen(t->name));
        if (!gantry_safetensors_find(st, t->name))
            abort(); /* an entry the reader lists but cannot find */
    }
    for (size_t k = 0; k < sizeof meta_keys / sizeof *meta_keys; k++) {
        const char *v = gantry_safetensors_meta(st, meta_keys[k]);
        if (v)
            fuzz_touch(v, strlen(v));
        uint64_t x;
        (void)gantry_safetensors_meta_u64(st, meta_keys[k], 1, &x);
    }
    gantry_safetensors_destroy(st);
    return 0;
}
