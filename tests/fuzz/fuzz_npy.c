/* libFuzzer harness: the .npy readers: gantry__npy_read_array (core/npy.c,
 * float32 and uint8), the public gantry_npy_read (float32 only) and
 * gantry__npy_images_load (core/npy_images.c: layouts NHW, NCHW, NHWC and
 * the value range), with every byte they return read back. */
#include "core/dataset_impl.h"
#include "core/npy.h"
#include "gantry/data.h"
#include "gantry/io.h"
#include "tests/fuzz/fuzz.h"

static size_t elements(int ndim, const size_t *shape)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("array.npy", data, size);
    gantry__npy_array a;
    if (gantry__npy_read_array(path, &a) == GANTRY_OK) {
        fuzz_touch(a.data, elements(a.ndim, a.shape) * (a.dtype == GANTRY__NPY_F32 ? 4 : 1));
        free(a.data);
    }
    float *floats = NULL;
    int ndim = 0;
    size_t shape[4];
    if (gantry_npy_read(path, &floats, &ndim, shape) == GANTRY_OK) {
        fuzz_touch(floats, elements(ndim, shape) * sizeof *floats);
        free(floats);
    }
    gantry_dataset *ds = NULL;
    if (gantry__npy_images_load(path, size % 3, &ds) == GANTRY_OK) {
        fuzz_touch(ds->pixels, ds->count * ds->channels * ds->height * ds->width);
        gantry_dataset_destroy(ds);
    }
    return 0;
}
