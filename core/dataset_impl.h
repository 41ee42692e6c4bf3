/* gantry internal: how data sets are built, shared by the sources (idx.c,
 * cifar.c, npy_images.c, image_folder.c), the preprocessing of whole sets
 * (dataset_fit.c) and the cache (data_cache.c). */
#ifndef GANTRY_CORE_DATASET_IMPL_H
#define GANTRY_CORE_DATASET_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/data.h"
#include "gantry/status.h"

/* Labels are uint8: at most this many classes. */
#define GANTRY__MAX_CLASSES 256

struct gantry_dataset_storage {
    uint8_t *pixels;         /* malloc'd pixels, or NULL (mapped or empty) */
    uint8_t *labels;         /* malloc'd labels, or NULL */
    char *names;             /* malloc'd class names, each ended by a NUL, or NULL */
    const char **name_list;  /* malloc'd pointers to the names (here or in the mapping) */
    void *map;               /* a memory-mapped cache file, or NULL */
    size_t map_size;
};

/* A data set of `count` images of c x h x w that takes ownership of
 * `pixels` and `labels` (malloc'd; labels may be NULL), also on failure. */
gantry_status gantry__dataset_wrap(size_t count, size_t c, size_t h, size_t w, uint8_t *pixels, uint8_t *labels,
                                   gantry_dataset **out);

/* A data set with room for `count` images of c x h x w, and labels when
 * `with_labels`; `what` names the source in an out-of-memory message. */
gantry_status gantry__dataset_alloc(size_t count, size_t c, size_t h, size_t w, int with_labels, const char *what,
                                    gantry_dataset **out);

/* Bytes of one image. */
static inline size_t gantry__image_bytes(const gantry_dataset *ds)
{
    return ds->channels * ds->height * ds->width;
}

/* Keeps the first `count` images (count <= ds->count), giving the rest of
 * the malloc'd memory back. */
void gantry__dataset_truncate(gantry_dataset *ds, size_t count);

/* Sets the class names from `size` bytes of names, each ended by a NUL
 * (`num_classes` of them, checked by the caller).  With `copy` the bytes
 * are copied; otherwise they must outlive the data set (a mapping). */
gantry_status gantry__dataset_set_names(gantry_dataset *ds, const char *names, size_t size, int copy);

/* pixel -> float exactly as batches hold it: (float)v / 127.5f - 1.0f. */
void gantry__pixels_to_float(const uint8_t *pixels, size_t n, float *out);

/* Resolved preprocessing of an all-planar source: the target size and
 * channels from the options and the data set's own. */
void gantry__fit_target(const gantry_dataset *ds, const gantry_data_options *opts, size_t *size, size_t *channels);

/* Converts every image of `ds` to `size` x `size` and `channels` (see
 * data.h), in place of its pixels; nothing when they already match. */
gantry_status gantry__dataset_fit(gantry_dataset *ds, size_t size, size_t channels, const gantry_data_options *opts);

/* Reports a warning through opts->warn, formatted like printf. */
void gantry__data_warn(const gantry_data_options *opts, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- sources ------------------------------------------------------------ */

gantry_status gantry__cifar_load(const char *dir, int test_split, size_t limit, gantry_dataset **out);
gantry_status gantry__npy_images_load(const char *path, size_t limit, gantry_dataset **out);
gantry_status gantry__image_folder_load(const char *dir, const char *split, size_t limit,
                                        const gantry_data_options *opts, gantry_dataset **out);

#endif
