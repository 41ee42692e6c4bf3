/* gantry: files: PNG sample grids, .npy arrays and safetensors checkpoints.
 *
 * Every writer writes to a temporary file next to the target and renames it
 * into place, so an error never leaves a half-written file behind. */
#ifndef GANTRY_IO_H
#define GANTRY_IO_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/export.h"
#include "gantry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes `n` images (NCHW float, values in [-1, 1], clamped) as one PNG grid
 * with `per_row` images per row and `padding` pixels between and around
 * them, like torchvision.utils.save_image(x, nrow=per_row, padding=padding,
 * normalize=True, value_range=(-1, 1)).  C is 1 (gray) or 3 (RGB). */
GANTRY_API gantry_status gantry_png_write_grid(const char *path, const float *images, size_t n, size_t c,
                                               size_t h, size_t w, size_t per_row, size_t padding);

/* A grid for people to look at: as gantry_png_write_grid with a 2-pixel
 * border, each image scaled up by the smallest whole factor (nearest
 * neighbour) that makes the grid at least 512 pixels wide, so that 28x28
 * samples can be seen without zooming. */
GANTRY_API gantry_status gantry_png_write_samples(const char *path, const float *images, size_t n, size_t c,
                                                  size_t h, size_t w, size_t per_row);

/* Writes a little-endian float32 C-order .npy (format 1.0). */
GANTRY_API gantry_status gantry_npy_write(const char *path, const float *data, int ndim, const size_t *shape);
/* Reads a float32 little-endian C-order .npy of up to 4 dims; *data is
 * malloc'd and owned by the caller. */
GANTRY_API gantry_status gantry_npy_read(const char *path, float **data, int *ndim, size_t shape[4]);

/* ---- safetensors ------------------------------------------------------- */

typedef enum gantry_dtype {
    GANTRY_DTYPE_F32 = 0,
    GANTRY_DTYPE_I64 = 1,
} gantry_dtype;

typedef struct gantry_st_tensor {
    const char *name;
    gantry_dtype dtype;
    int ndim;         /* 0 (scalar) .. 4 */
    size_t shape[4];
    const void *data; /* little-endian elements, product(shape) of them */
} gantry_st_tensor;

typedef struct gantry_st_meta {
    const char *key;
    const char *value;
} gantry_st_meta;

/* Writes a safetensors file: 8-byte little-endian header length, a JSON
 * header {"__metadata__": {...}, "name": {"dtype", "shape",
 * "data_offsets"}, ...} padded with spaces to 8 bytes, then the data. */
GANTRY_API gantry_status gantry_safetensors_write(const char *path, const gantry_st_tensor *tensors,
                                                  size_t count, const gantry_st_meta *meta, size_t meta_count);

/* A file read completely into memory and validated: header length within
 * the file, JSON parses, every entry has a known dtype (F32 or I64), a shape
 * and data_offsets that match the shape and lie inside the data section. */
typedef struct gantry_safetensors gantry_safetensors;

GANTRY_API gantry_status gantry_safetensors_read(const char *path, gantry_safetensors **out);
GANTRY_API void gantry_safetensors_destroy(gantry_safetensors *st);
GANTRY_API size_t gantry_safetensors_count(const gantry_safetensors *st);
/* Entry i (0 <= i < count), pointers valid until destroy. */
GANTRY_API const gantry_st_tensor *gantry_safetensors_at(const gantry_safetensors *st, size_t i);
/* NULL when absent. */
GANTRY_API const gantry_st_tensor *gantry_safetensors_find(const gantry_safetensors *st, const char *name);
/* The __metadata__ value for `key`, or NULL. */
GANTRY_API const char *gantry_safetensors_meta(const gantry_safetensors *st, const char *key);
/* That value as a decimal integer >= min; GANTRY_CORRUPT_FILE with a message
 * naming the file and key when it is missing or not one. */
GANTRY_API gantry_status gantry_safetensors_meta_u64(const gantry_safetensors *st, const char *key, uint64_t min,
                                                     uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
