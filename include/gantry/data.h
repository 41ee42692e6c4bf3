/* gantry: data sets and minibatch loading.
 *
 * Data sets live on the host as float32 NCHW images scaled to [-1, 1]
 * (value / 127.5 - 1) with optional uint8 labels. */
#ifndef GANTRY_DATA_H
#define GANTRY_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/export.h"
#include "gantry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gantry_dataset {
    size_t count;                   /* number of images */
    size_t channels, height, width; /* 1 x 28 x 28 for (Fashion-)MNIST */
    float *images;                  /* count * channels * height * width */
    uint8_t *labels;                /* count entries, or NULL */
    size_t num_classes;             /* 1 + the largest label, 0 without labels */
} gantry_dataset;

/* Default directory of `--data fashion-mnist` (Debian's dataset-fashion-mnist). */
#define GANTRY_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Reads an IDX image file (magic 0x00000803, uint8, N x rows x cols) and,
 * when `labels_path` is non-NULL, its label file (0x00000801, N).  Both may
 * be gzip-compressed (detected from the content).  Validates magic numbers,
 * dimensions and that the file holds exactly the data it declares.  `limit`
 * > 0 keeps only the first `limit` images.  The caller owns *out. */
GANTRY_API gantry_status gantry_idx_load(const char *images_path, const char *labels_path, size_t limit,
                                         gantry_dataset **out);

/* Loads split "train" or "t10k" from a directory holding
 * SPLIT-images-idx3-ubyte[.gz] and SPLIT-labels-idx1-ubyte[.gz] (labels
 * optional).  `source` is a directory, or "fashion-mnist" for
 * GANTRY_DATA_DIR if set, else GANTRY_FASHION_MNIST_DIR. */
GANTRY_API gantry_status gantry_dataset_load(const char *source, const char *split, size_t limit,
                                             gantry_dataset **out);
GANTRY_API void gantry_dataset_destroy(gantry_dataset *ds);

/* Minibatches of a fixed size in a seeded order that is reshuffled at every
 * epoch; the last incomplete batch of an epoch is dropped.  The loader keeps
 * a pointer to `ds`, which must outlive it. */
typedef struct gantry_loader gantry_loader;

GANTRY_API gantry_status gantry_loader_create(const gantry_dataset *ds, size_t batch, uint64_t seed,
                                              gantry_loader **out);
GANTRY_API void gantry_loader_destroy(gantry_loader *loader);
/* Copies the next batch into images (batch * C*H*W floats) and labels
 * (batch entries; may be NULL).  Returns the epoch (0-based) it belongs to. */
GANTRY_API gantry_status gantry_loader_next(gantry_loader *loader, float *images, uint8_t *labels,
                                            size_t *epoch);
GANTRY_API size_t gantry_loader_batches_per_epoch(const gantry_loader *loader);
/* Positions the loader as if `batches` batches had been taken since it was
 * created (a resumed training run continues with the same data order). */
GANTRY_API gantry_status gantry_loader_seek(gantry_loader *loader, uint64_t batches);

#ifdef __cplusplus
}
#endif
#endif
