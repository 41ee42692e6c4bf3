/* gantry: backends as seen by applications, and tensors.
 *
 * A gantry_backend is one loaded backend module with one created instance
 * (a device and its queue).  A gantry_tensor is float32, 1 to 4 dimensions,
 * contiguous, NCHW; its storage is owned by the backend that created it and
 * the core moves data only through the backend's write/read/copy. */
#ifndef GANTRY_TENSOR_H
#define GANTRY_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/export.h"
#include "gantry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GANTRY_MAX_DIMS 4

typedef struct gantry_backend gantry_backend;
typedef struct gantry_tensor gantry_tensor;

/* ---- Backends ---------------------------------------------------------- */

typedef struct gantry_backend_config {
    int num_threads;       /* 0: default; otherwise GANTRY_NUM_THREADS is read */
    const char *device;    /* NULL: GANTRY_<NAME>_DEVICE / the backend's default */
    const char *cache_dir; /* NULL: GANTRY_CACHE_DIR, XDG cache, ~/.cache/gantry */
} gantry_backend_config;

/* Opens a backend by name.  `name` NULL or "" means: GANTRY_BACKEND if set,
 * else "auto"; "auto" picks the loaded module with the highest probe score.
 * An unknown name fails with GANTRY_NOT_FOUND and a message listing the
 * available backends.  `config` may be NULL.  The caller owns *out and
 * releases it with gantry_backend_close() after destroying its tensors. */
GANTRY_API gantry_status gantry_backend_open(const char *name, const gantry_backend_config *config,
                                             gantry_backend **out);
GANTRY_API void gantry_backend_close(gantry_backend *be);
GANTRY_API const char *gantry_backend_name(const gantry_backend *be);
GANTRY_API gantry_status gantry_backend_synchronize(gantry_backend *be);

/* What the loader found, for `gantry backends` and diagnostics. */
typedef struct gantry_backend_info {
    char name[64];
    char path[1024];
    char description[256];
    char reason[512];   /* why it was skipped; "" when usable */
    char devices[2048]; /* the module's describe() text, if any */
    uint32_t abi_version;
    int usable;         /* opened, ABI accepted, probe > 0 */
    int score;
    int is_auto_choice;
} gantry_backend_info;

/* Scans the search path (GANTRY_PLUGIN_PATH, the build tree, the install
 * directory).  *infos is malloc'd; release with free(). */
GANTRY_API gantry_status gantry_backend_scan(gantry_backend_info **infos, size_t *count);

/* The directories searched, in order, joined with ':'; static storage. */
GANTRY_API const char *gantry_backend_search_path(void);

/* ---- Tensors ----------------------------------------------------------- */

/* Creates an uninitialised tensor; `shape` has `ndim` (1..4) positive
 * entries.  The caller owns *out. */
GANTRY_API gantry_status gantry_tensor_create(gantry_backend *be, int ndim, const size_t *shape,
                                              gantry_tensor **out);
/* Shorthand: up to four dimensions, trailing zeros ignored (d0 required). */
GANTRY_API gantry_status gantry_tensor_new(gantry_backend *be, gantry_tensor **out, size_t d0, size_t d1,
                                           size_t d2, size_t d3);
/* A tensor that shares `base`'s storage from element `offset` on, with its
 * own shape.  `base` must outlive the view; destroying the view frees only
 * the handle. */
GANTRY_API gantry_status gantry_tensor_view(gantry_tensor *base, size_t offset, int ndim, const size_t *shape,
                                            gantry_tensor **out);
/* Changes the shape in place; the element count must stay the same. */
GANTRY_API gantry_status gantry_tensor_reshape(gantry_tensor *t, int ndim, const size_t *shape);
GANTRY_API void gantry_tensor_destroy(gantry_tensor *t);

GANTRY_API int gantry_tensor_ndim(const gantry_tensor *t);
GANTRY_API size_t gantry_tensor_dim(const gantry_tensor *t, int i);
GANTRY_API size_t gantry_tensor_numel(const gantry_tensor *t);
GANTRY_API gantry_backend *gantry_tensor_backend(const gantry_tensor *t);

/* Host <-> tensor transfers of exactly `n` == numel floats. */
GANTRY_API gantry_status gantry_tensor_write(gantry_tensor *t, const float *src, size_t n);
GANTRY_API gantry_status gantry_tensor_read(const gantry_tensor *t, float *dst, size_t n);
/* dst = src; same backend, same element count. */
GANTRY_API gantry_status gantry_tensor_copy(gantry_tensor *dst, const gantry_tensor *src);
/* Reads element 0; a convenience for losses and scalar statistics. */
GANTRY_API gantry_status gantry_tensor_item(const gantry_tensor *t, float *value);

#ifdef __cplusplus
}
#endif
#endif
