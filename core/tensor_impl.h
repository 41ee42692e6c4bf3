/* Internal: the tensor and backend structs shared by the core's files. */
#ifndef GANTRY_TENSOR_IMPL_H
#define GANTRY_TENSOR_IMPL_H

#include "gantry/backend.h"
#include "gantry/tensor.h"

struct gantry_backend {
    const gantry_backend_ops *ops;
    void *ctx;
    void *module; /* dlopen handle */
    char name[64];
    char path[1024];
};

struct gantry_tensor {
    gantry_backend *be;
    void *buf;     /* backend buffer */
    size_t offset; /* in floats, for views */
    size_t numel;
    int ndim;
    size_t shape[GANTRY_MAX_DIMS];
    int owns_buffer;
    size_t capacity; /* floats in an owned buffer (>= numel), 0 for views */
};

static inline gantry_mem gantry__mem(const gantry_tensor *t)
{
    gantry_mem m = { t->buf, t->offset };
    return m;
}

/* Batch (dim 0), channels (dim 1) and the product of the rest, for ops on
 * [N, C] and [N, C, H, W] tensors. */
static inline size_t gantry__inner(const gantry_tensor *t)
{
    size_t inner = 1;
    for (int i = 2; i < t->ndim; i++)
        inner *= t->shape[i];
    return inner;
}

/* "[64, 784]" into buf. */
const char *gantry__shape_str(const gantry_tensor *t, char *buf, size_t size);

/* The host services handed to backends. */
extern const gantry_host gantry__host;

void gantry__log(gantry_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
