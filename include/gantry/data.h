/* gantry: data sets and minibatch loading.
 *
 * A data set holds decoded images as uint8 pixels, NCHW, with optional
 * uint8 labels.  Batches are converted to float at batch time with
 * value / 127.5 - 1, so that they lie in [-1, 1].
 *
 * Sources, told apart in this order (gantry_dataset_open):
 *   - "fashion-mnist": the IDX files in GANTRY_DATA_DIR if set, else in
 *     GANTRY_FASHION_MNIST_DIR.
 *   - a regular file starting with the .npy magic: a NumPy array of images,
 *     [N, C, H, W], [N, H, W, C] (C in 1, 3, 4) or [N, H, W], uint8 or
 *     float32; no labels.  Dimension 1 is taken as C when it is 1, 3 or 4
 *     and dimension 3 is not (or both are and H == W); otherwise dimension 3
 *     is C.  A fourth channel (alpha) is dropped.  Floats map to bytes as
 *     round(v * 255) when no value is negative (data in [0, 1]) and as
 *     round((v + 1) * 127.5) otherwise (data in [-1, 1], the inverse of the
 *     batch formula); a value outside [-1, 1], or NaN, is an error.
 *   - a directory holding SPLIT-images-idx3-ubyte[.gz] for "train" or
 *     "t10k": IDX files (labels from SPLIT-labels-idx1-ubyte[.gz] when
 *     present).
 *   - a directory holding data_batch_1.bin or test_batch.bin: CIFAR-10's
 *     binary batches (data_batch_1..5.bin for "train", test_batch.bin for
 *     "t10k"/"test"), class names from batches.meta.txt when present.
 *   - any other directory: PNG and JPEG images (.png, .jpg, .jpeg in any
 *     case), searched recursively; hidden entries are ignored.  When the
 *     top directory holds subdirectories and no images of its own, the
 *     sorted subdirectory names are the classes 0..K-1 (torchvision's
 *     ImageFolder); otherwise the set has no labels.  Images are ordered by
 *     file name (byte order of the base name), ties broken by the relative
 *     path.  An image that cannot be read or decoded is reported through
 *     `warn` and skipped; only a folder without any usable image is an
 *     error.
 * A .npy file and an image folder are one split: they load as "train", and
 * "t10k"/"test" is NOT_FOUND.
 *
 * Preprocessing (every source): the target size S is image_size, or when
 * that is 0 the images' own size when they are all square and of one size,
 * else 64; the target channel count is `channels`, or when that is 0 the
 * data's (1 when every image is grayscale, else 3).  An image is converted
 * to the target channels first (RGB to gray with ITU-R 601 weights,
 * (299 R + 587 G + 114 B + 500) / 1000 as PIL's convert("L"); gray to RGB
 * by copying), then resized so that its shorter side is S (the longer
 * becomes floor(S * long / short)) with PIL's BILINEAR resampling, which
 * widens the triangle filter by the scale factor when shrinking
 * (antialiasing, as torchvision's Resize does), then cropped to S x S
 * around the centre (torchvision's CenterCrop offsets).  An image already
 * S x S with the target channels is copied unchanged.  16-bit samples are
 * scaled to 8 bits with rounding; palette images are expanded; alpha is
 * dropped.
 *
 * Image folders are decoded on every core (or `threads`) and the result,
 * independent of the thread count, is cached: see gantry_data_options. */
#ifndef GANTRY_DATA_H
#define GANTRY_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/export.h"
#include "gantry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the library holds a data set's memory (malloc'd or a memory-mapped
 * cache file); opaque. */
typedef struct gantry_dataset_storage gantry_dataset_storage;

typedef struct gantry_dataset {
    size_t count;                   /* number of images */
    size_t channels, height, width; /* 1 x 28 x 28 for Fashion-MNIST */
    /* count * channels * height * width bytes: image i starts at
     * i * channels * height * width, each channel a height x width plane. */
    const uint8_t *pixels;
    const uint8_t *labels;          /* count labels below num_classes, or NULL */
    size_t num_classes;             /* 1 + the largest label, or the class folders; 0 without labels */
    const char *const *class_names; /* num_classes names (class folders, CIFAR's meta file), or NULL */
    size_t skipped;                 /* images found but unusable, each reported through `warn` */
    const char *kind;               /* "idx", "npy", "cifar10" or "images" (a folder of images) */
    int from_cache;                 /* 1 when the pixels were read from the cache */
    gantry_dataset_storage *storage; /* the library's; NULL in a set the caller builds */
} gantry_dataset;

/* Default directory of `--data fashion-mnist` (Debian's dataset-fashion-mnist). */
#define GANTRY_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* A message about one skipped image or a cache problem ("PATH: ..."), on
 * the thread that called gantry_dataset_open, in file order. */
typedef void (*gantry_data_warn_fn)(const char *message, void *user);
/* Decoding progress: `done` of `total` images, on the calling thread,
 * about ten times a second while decoding and once at the end.  Not called
 * when nothing is decoded (a cache hit, IDX without resizing). */
typedef void (*gantry_data_progress_fn)(size_t done, size_t total, void *user);

/* All zero means the defaults. */
typedef struct gantry_data_options {
    size_t image_size; /* S; 0: the images' own when all square and of one size, else 64 */
    size_t channels;   /* 1 or 3; 0: 1 when every image is grayscale, else 3 */
    /* Folder of the decoded-image cache (its data/ subfolder is used); NULL:
     * GANTRY_CACHE_DIR, else $XDG_CACHE_HOME/gantry, else ~/.cache/gantry;
     * "": no cache.  Only image folders are cached, and only without a
     * `limit` (a limited load neither reads nor writes the cache).  A cache
     * file is keyed by the files' relative names, sizes and modification
     * times, the preprocessing and the format version; a corrupt one is
     * reported and rebuilt, an unwritable folder reported once. */
    const char *cache_dir;
    int threads; /* decoding threads; 0: one per online core */
    gantry_data_warn_fn warn;         /* NULL: warnings are dropped (skipped still counts) */
    gantry_data_progress_fn progress; /* may be NULL */
    void *user;                       /* passed to warn and progress */
} gantry_data_options;

/* Opens split "train" or "t10k" ("test" is the same) of `source` (see the
 * top of this file); "eval" is the test split where the source has one
 * (IDX, CIFAR-10) and all of a source that has not (a folder, a .npy
 * file).  `limit` > 0 keeps only the first `limit` usable images.  `opts`
 * may be NULL.  The caller owns *out. */
GANTRY_API gantry_status gantry_dataset_open(const char *source, const char *split, size_t limit,
                                             const gantry_data_options *opts, gantry_dataset **out);
/* gantry_dataset_open with the default options. */
GANTRY_API gantry_status gantry_dataset_load(const char *source, const char *split, size_t limit,
                                             gantry_dataset **out);
/* Moves the last `n` images (0 < n < ds->count) of a data set the library
 * made into a new one, *tail (the caller owns it), keeping the first
 * ds->count - n in `ds`: a held-out split of a source that has none. */
GANTRY_API gantry_status gantry_dataset_split_off(gantry_dataset *ds, size_t n, gantry_dataset **tail);
/* Releases a data set the library made (not one the caller built). */
GANTRY_API void gantry_dataset_destroy(gantry_dataset *ds);

/* Images first .. first+n-1 as floats, value / 127.5 - 1, into `out`
 * (n * channels * height * width floats): the values batches hold. */
GANTRY_API gantry_status gantry_dataset_images(const gantry_dataset *ds, size_t first, size_t n, float *out);

/* Reads an IDX image file (magic 0x00000803, uint8, N x rows x cols) and,
 * when `labels_path` is non-NULL, its label file (0x00000801, N).  Both may
 * be gzip-compressed (detected from the content).  Validates magic numbers,
 * dimensions and that the file holds exactly the data it declares.  `limit`
 * > 0 keeps only the first `limit` images.  No preprocessing.  The caller
 * owns *out. */
GANTRY_API gantry_status gantry_idx_load(const char *images_path, const char *labels_path, size_t limit,
                                         gantry_dataset **out);

/* Minibatches of a fixed size in a seeded order that is reshuffled at every
 * epoch; the last incomplete batch of an epoch is dropped.  The loader keeps
 * a pointer to `ds`, which must outlive it. */
typedef struct gantry_loader gantry_loader;

GANTRY_API gantry_status gantry_loader_create(const gantry_dataset *ds, size_t batch, uint64_t seed,
                                              gantry_loader **out);
GANTRY_API void gantry_loader_destroy(gantry_loader *loader);
/* Copies the next batch into images (batch * C*H*W floats, converted as
 * gantry_dataset_images does) and labels (batch entries; may be NULL).
 * Returns the epoch (0-based) it belongs to. */
GANTRY_API gantry_status gantry_loader_next(gantry_loader *loader, float *images, uint8_t *labels,
                                            size_t *epoch);
/* Data-parallel training: from now on `next` copies only the rows of shard
 * `rank` of `world` of each batch (rows rank x batch/world onwards, batch/world
 * of them), in the same order of batches.  batch must be a multiple of world. */
GANTRY_API gantry_status gantry_loader_set_shard(gantry_loader *loader, unsigned rank, unsigned world);
GANTRY_API size_t gantry_loader_batches_per_epoch(const gantry_loader *loader);
/* Positions the loader as if `batches` batches had been taken since it was
 * created (a resumed training run continues with the same data order). */
GANTRY_API gantry_status gantry_loader_seek(gantry_loader *loader, uint64_t batches);

#ifdef __cplusplus
}
#endif
#endif
