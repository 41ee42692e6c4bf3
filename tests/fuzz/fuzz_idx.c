/* libFuzzer harness: gantry_idx_load (core/idx.c), plain or gzip, images
 * with or without labels.  The input is split (fuzz_split): the first part
 * is the image file, the rest (when there is any) the label file, and the
 * prefix's top byte is `limit` (0: all). */
#include "gantry/data.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parts p = fuzz_split(data, size);
    const char *images = fuzz_file("images.idx", p.a, p.a_size);
    const char *labels = p.b ? fuzz_file("labels.idx", p.b, p.b_size) : NULL;
    gantry_dataset *ds = NULL;
    if (gantry_idx_load(images, labels, p.small, &ds) != GANTRY_OK)
        return 0;
    fuzz_touch(ds->pixels, ds->count * ds->channels * ds->height * ds->width);
    if (ds->labels) {
        fuzz_touch(ds->labels, ds->count);
        for (size_t i = 0; i < ds->count; i++)
            if (ds->labels[i] >= ds->num_classes)
                abort(); /* data.h: labels are below num_classes */
    }
    gantry_dataset_destroy(ds);
    return 0;
}
