/* Tensors: shape bookkeeping on the host, storage in the backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/profile.h"
#include "core/tensor_impl.h"

const char *gantry__shape_str(const gantry_tensor *t, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %zu" : "%zu", t->shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

static gantry_status check_shape(const char *what, int ndim, const size_t *shape, size_t *numel)
{
    if (ndim < 1 || ndim > GANTRY_MAX_DIMS)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %d dimensions (1 to %d supported)", what, ndim,
                                GANTRY_MAX_DIMS);
    if (!shape)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: shape is NULL", what);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: dimension %d is 0", what, i);
        if (n > SIZE_MAX / sizeof(float) / shape[i])
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: shape too large", what);
        n *= shape[i];
    }
    *numel = n;
    return GANTRY_OK;
}

gantry_status gantry_tensor_create(gantry_backend *be, int ndim, const size_t *shape, gantry_tensor **out)
{
    if (!be || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "tensor_create: backend or out is NULL");
    *out = NULL;
    size_t numel;
    gantry_status s = check_shape("tensor_create", ndim, shape, &numel);
    if (s)
        return s;
    gantry_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "tensor_create: out of host memory");
    s = be->ops->buffer_alloc(be->ctx, numel * sizeof(float), &t->buf);
    if (s) {
        free(t);
        return s;
    }
    t->be = be;
    t->numel = numel;
    t->capacity = numel;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->owns_buffer = 1;
    *out = t;
    return GANTRY_OK;
}

gantry_status gantry_tensor_new(gantry_backend *be, gantry_tensor **out, size_t d0, size_t d1, size_t d2,
                                size_t d3)
{
    size_t shape[4] = { d0, d1, d2, d3 };
    int ndim = d3 ? 4 : d2 ? 3 : d1 ? 2 : 1;
    return gantry_tensor_create(be, ndim, shape, out);
}

gantry_status gantry_tensor_view(gantry_tensor *base, size_t offset, int ndim, const size_t *shape,
                                 gantry_tensor **out)
{
    if (!base || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "tensor_view: base or out is NULL");
    *out = NULL;
    size_t numel;
    gantry_status s = check_shape("tensor_view", ndim, shape, &numel);
    if (s)
        return s;
    if (offset > base->numel || numel > base->numel - offset) {
        char b[96];
        return gantry_set_error(GANTRY_SHAPE_MISMATCH,
                                "tensor_view: %zu elements at offset %zu exceed the base tensor %s", numel,
                                offset, gantry__shape_str(base, b, sizeof b));
    }
    gantry_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "tensor_view: out of host memory");
    t->be = base->be;
    t->buf = base->buf;
    t->offset = base->offset + offset;
    t->numel = numel;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    *out = t;
    return GANTRY_OK;
}

gantry_status gantry_tensor_reshape(gantry_tensor *t, int ndim, const size_t *shape)
{
    if (!t)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "tensor_reshape: tensor is NULL");
    size_t numel;
    gantry_status s = check_shape("tensor_reshape", ndim, shape, &numel);
    if (s)
        return s;
    if (numel != t->numel) {
        char b[96];
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "tensor_reshape: %s holds %zu elements, not %zu",
                                gantry__shape_str(t, b, sizeof b), t->numel, numel);
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    return GANTRY_OK;
}

void gantry_tensor_destroy(gantry_tensor *t)
{
    if (!t)
        return;
    if (t->owns_buffer)
        t->be->ops->buffer_free(t->be->ctx, t->buf);
    free(t);
}

int gantry_tensor_ndim(const gantry_tensor *t)
{
    return t ? t->ndim : 0;
}

size_t gantry_tensor_dim(const gantry_tensor *t, int i)
{
    return (t && i >= 0 && i < t->ndim) ? t->shape[i] : 0;
}

size_t gantry_tensor_numel(const gantry_tensor *t)
{
    return t ? t->numel : 0;
}

gantry_backend *gantry_tensor_backend(const gantry_tensor *t)
{
    return t ? t->be : NULL;
}

static gantry_status check_transfer(const char *op, const gantry_tensor *t, const void *host, size_t n)
{
    if (!t || !host)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensor or host pointer is NULL", op);
    if (n != t->numel) {
        char b[96];
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: %zu floats given for a tensor %s of %zu", op, n,
                                gantry__shape_str(t, b, sizeof b), t->numel);
    }
    return GANTRY_OK;
}

gantry_status gantry_tensor_write(gantry_tensor *t, const float *src, size_t n)
{
    gantry_status s = check_transfer("tensor_write", t, src, n);
    if (s)
        return s;
    return GANTRY__DISPATCH(t->be, "buffer_write",
                            t->be->ops->buffer_write(t->be->ctx, t->buf, t->offset * sizeof(float), src,
                                                     n * sizeof(float)));
}

gantry_status gantry_tensor_read(const gantry_tensor *t, float *dst, size_t n)
{
    gantry_status s = check_transfer("tensor_read", t, dst, n);
    if (s)
        return s;
    return GANTRY__DISPATCH(t->be, "buffer_read",
                            t->be->ops->buffer_read(t->be->ctx, t->buf, t->offset * sizeof(float), dst,
                                                    n * sizeof(float)));
}

gantry_status gantry_tensor_item(const gantry_tensor *t, float *value)
{
    if (!t || !value)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "tensor_item: tensor or value is NULL");
    return GANTRY__DISPATCH(t->be, "buffer_read",
                            t->be->ops->buffer_read(t->be->ctx, t->buf, t->offset * sizeof(float), value,
                                                    sizeof(float)));
}

gantry_status gantry_tensor_copy(gantry_tensor *dst, const gantry_tensor *src)
{
    if (!dst || !src)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "tensor_copy: tensor is NULL");
    if (dst->be != src->be)
        return gantry_set_error(GANTRY_BACKEND_MISMATCH, "tensor_copy: tensors on backends '%s' and '%s'",
                                dst->be->name, src->be->name);
    if (dst->numel != src->numel)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "tensor_copy: %zu elements into %zu", src->numel,
                                dst->numel);
    return GANTRY__DISPATCH(dst->be, "buffer_copy",
                            dst->be->ops->buffer_copy(dst->be->ctx, dst->buf, dst->offset * sizeof(float), src->buf,
                                                      src->offset * sizeof(float), dst->numel * sizeof(float)));
}
