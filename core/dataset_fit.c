/* Preprocessing of a whole data set held as planes (IDX, CIFAR-10, .npy):
 * every image to the target size and channels, on every core. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/dataset_impl.h"
#include "core/image.h"
#include "core/parallel.h"

typedef struct fit_job {
    const gantry_dataset *src;
    uint8_t *dst;
    size_t size, channels;
    atomic_int failed; /* out of memory somewhere */
} fit_job;

static void fit_task(void *ctx, size_t i)
{
    fit_job *j = ctx;
    const gantry_dataset *ds = j->src;
    size_t area = ds->height * ds->width, out = j->channels * j->size * j->size;
    gantry__image_view v = { ds->pixels + i * ds->channels * area, ds->width, ds->height, ds->channels == 1 ? 1 : 3,
                             ds->width, 1, area };
    if (gantry__image_fit(&v, j->channels, j->size, j->dst + i * out) != GANTRY_OK)
        atomic_store(&j->failed, 1);
}

void gantry__fit_target(const gantry_dataset *ds, const gantry_data_options *opts, size_t *size, size_t *channels)
{
    *size = opts && opts->image_size ? opts->image_size : ds->height == ds->width ? ds->height : 64;
    *channels = opts && opts->channels ? opts->channels : ds->channels;
}

gantry_status gantry__dataset_fit(gantry_dataset *ds, size_t size, size_t channels, const gantry_data_options *opts)
{
    if (size == ds->height && size == ds->width && channels == ds->channels)
        return GANTRY_OK;
    size_t item = channels * size * size;
    fit_job j = { ds, ds->count <= SIZE_MAX / item ? malloc(ds->count * item) : NULL, size, channels, 0 };
    if (!j.dst)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "data set: cannot allocate %zu images of %zux%zux%zu",
                                ds->count, channels, size, size);
    gantry__parallel_for(ds->count, opts ? opts->threads : 0, fit_task, &j, opts, 0, ds->count);
    if (atomic_load(&j.failed)) {
        free(j.dst);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "data set: out of memory resizing its images to %zux%zu", size,
                                size);
    }
    free(ds->storage->pixels);
    ds->storage->pixels = j.dst;
    ds->pixels = j.dst;
    ds->channels = channels;
    ds->height = ds->width = size;
    return GANTRY_OK;
}
