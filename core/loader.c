/* The shuffling minibatch loader.
 *
 * The order of epoch e is a Fisher-Yates shuffle of 0..count-1 driven by
 * Philox4x32-10 with key  seed ^ splitmix64(e):  draw k (k = 0, 1, ...)
 * swaps position i = count-1-k with j = r mod (i+1), where r is the 64-bit
 * value hi:lo of words (2*(k%2), 2*(k%2)+1) of counter block k/2.  The order
 * depends only on (seed, epoch, count). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dataset_impl.h"
#include "gantry/data.h"
#include "gantry/philox.h"
#include "gantry/status.h"

struct gantry_loader {
    const gantry_dataset *ds; /* borrowed: must outlive the loader */
    size_t batch;
    size_t per_epoch; /* count / batch (drop last) */
    size_t item;      /* pixels per image */
    uint64_t seed;
    size_t epoch;
    size_t next; /* batch index within the epoch */
    size_t *order;
    size_t first, rows; /* the shard's rows of each batch (gantry_loader_set_shard) */
};

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void shuffle(gantry_loader *l)
{
    size_t n = l->ds->count;
    uint64_t key = l->seed ^ splitmix64((uint64_t)l->epoch);
    for (size_t i = 0; i < n; i++)
        l->order[i] = i;
    gantry_philox_block b = { { 0, 0, 0, 0 } };
    for (size_t k = 0; k + 1 < n; k++) {
        if (k % 2 == 0)
            b = gantry_philox4x32_10(key, (uint64_t)(k / 2));
        unsigned w = (unsigned)(k % 2) * 2;
        uint64_t r = (uint64_t)b.v[w] << 32 | b.v[w + 1];
        size_t i = n - 1 - k;
        size_t j = (size_t)(r % ((uint64_t)i + 1));
        size_t t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
}

gantry_status gantry_loader_create(const gantry_dataset *ds, size_t batch, uint64_t seed, gantry_loader **out)
{
    if (!out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_loader_create: out is NULL");
    *out = NULL;
    if (!ds || !ds->pixels)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_loader_create: no data set");
    if (batch == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "loader: batch size must be at least 1");
    if (batch > ds->count)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "loader: batch size %zu is larger than the data set (%zu images)", batch, ds->count);
    gantry_loader *l = calloc(1, sizeof *l);
    size_t *order = ds->count <= SIZE_MAX / sizeof(size_t) ? malloc(ds->count * sizeof(size_t)) : NULL;
    if (!l || !order) {
        free(l);
        free(order);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "loader: cannot allocate the order of %zu images", ds->count);
    }
    l->ds = ds;
    l->batch = batch;
    l->rows = batch;
    l->per_epoch = ds->count / batch;
    l->item = ds->channels * ds->height * ds->width;
    l->seed = seed;
    l->epoch = 0;
    l->next = 0;
    l->order = order;
    shuffle(l);
    *out = l;
    return GANTRY_OK;
}

void gantry_loader_destroy(gantry_loader *loader)
{
    if (!loader)
        return;
    free(loader->order);
    free(loader);
}

gantry_status gantry_loader_seek(gantry_loader *loader, uint64_t batches)
{
    if (!loader)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_loader_seek: loader is NULL");
    size_t epoch = (size_t)(batches / loader->per_epoch);
    if (epoch != loader->epoch) {
        loader->epoch = epoch;
        shuffle(loader);
    }
    loader->next = (size_t)(batches % loader->per_epoch);
    return GANTRY_OK;
}

gantry_status gantry_loader_next(gantry_loader *loader, float *images, uint8_t *labels, size_t *epoch)
{
    if (!loader || !images)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_loader_next: %s is NULL",
                                loader ? "images" : "loader");
    if (labels && !loader->ds->labels)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "loader: labels were requested but the data set has none (no label file)");
    if (loader->next == loader->per_epoch) {
        loader->epoch++;
        loader->next = 0;
        shuffle(loader);
    }
    const size_t *idx = loader->order + loader->next * loader->batch + loader->first;
    const gantry_dataset *ds = loader->ds;
    for (size_t b = 0; b < loader->rows; b++) {
        gantry__pixels_to_float(ds->pixels + idx[b] * loader->item, loader->item, images + b * loader->item);
        if (labels)
            labels[b] = ds->labels[idx[b]];
    }
    if (epoch)
        *epoch = loader->epoch;
    loader->next++;
    return GANTRY_OK;
}

gantry_status gantry_loader_set_shard(gantry_loader *loader, unsigned rank, unsigned world)
{
    if (!loader || world == 0 || rank >= world || loader->batch % world)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "loader: shard %u of %u of batches of %zu", rank, world,
                                loader ? loader->batch : 0);
    loader->rows = loader->batch / world;
    loader->first = rank * loader->rows;
    return GANTRY_OK;
}

size_t gantry_loader_batches_per_epoch(const gantry_loader *loader)
{
    return loader ? loader->per_epoch : 0;
}
