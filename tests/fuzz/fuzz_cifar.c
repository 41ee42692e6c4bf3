/* libFuzzer harness: gantry__cifar_load (core/cifar.c) on the test split of
 * a folder of this process.  The input is split (fuzz_split): the first part
 * is test_batch.bin, the rest (when there is any) batches.meta.txt, and the
 * prefix's top byte is `limit` (0: all). */
#include "core/dataset_impl.h"
#include "gantry/data.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_path("cifar");
    mkdir(dir, 0700);
    fuzz_parts p = fuzz_split(data, size);
    fuzz_write(fuzz_path("cifar/test_batch.bin"), p.a, p.a_size);
    const char *names = fuzz_path("cifar/batches.meta.txt");
    if (p.b)
        fuzz_write(names, p.b, p.b_size);
    else
        remove(names);
    gantry_dataset *ds = NULL;
    if (gantry__cifar_load(dir, 1, p.small, &ds) != GANTRY_OK)
        return 0;
    fuzz_touch(ds->pixels, ds->count * ds->channels * ds->height * ds->width);
    fuzz_touch(ds->labels, ds->count);
    for (size_t i = 0; ds->class_names && i < ds->num_classes; i++)
        fuzz_touch(ds->class_names[i], strlen(ds->class_names[i]));
    gantry_dataset_destroy(ds);
    return 0;
}
