/* The core's checks before dispatch, shared by the op families of
 * core/ops/: every op validates its arguments (tensors present, on one
 * backend, shapes and scalars that make sense), then calls its backend
 * through the vtable and the profiler's hooks.  Backends trust what
 * arrives. */
#ifndef GANTRY_CORE_OPS_CHECK_H
#define GANTRY_CORE_OPS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/profile.h"
#include "core/tensor_impl.h"
#include "gantry/ops.h"

/* Picks the comma-separated name number `i` out of `names`. */
static inline const char *arg_name(const char *names, size_t i, char *buf, size_t size)
{
    const char *p = names;
    while (i-- && (p = strchr(p, ',')))
        p++;
    if (!p)
        return "?";
    size_t len = strcspn(p, ",");
    if (len >= size)
        len = size - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

static inline gantry_status check_tensors(const char *op, const char *names, const gantry_tensor *const *ts,
                                          size_t count)
{
    char name[32], other[32];
    for (size_t i = 0; i < count; i++) {
        if (!ts[i])
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensor '%s' is NULL", op,
                                    arg_name(names, i, name, sizeof name));
        if (ts[i]->be != ts[0]->be)
            return gantry_set_error(GANTRY_BACKEND_MISMATCH, "%s: '%s' is on backend '%s' but '%s' on '%s'", op,
                                    arg_name(names, i, name, sizeof name), ts[i]->be->name,
                                    arg_name(names, 0, other, sizeof other), ts[0]->be->name);
    }
    return GANTRY_OK;
}

#define CHECK_TENSORS(op, names, ...)                                                                       \
    do {                                                                                                    \
        const gantry_tensor *const check_ts_[] = { __VA_ARGS__ };                                           \
        gantry_status check_s_ = check_tensors(op, names, check_ts_, sizeof check_ts_ / sizeof *check_ts_); \
        if (check_s_)                                                                                       \
            return check_s_;                                                                                \
    } while (0)

static inline gantry_status same_numel(const char *op, const char *an, const gantry_tensor *a, const char *bn,
                                       const gantry_tensor *b)
{
    if (a->numel == b->numel)
        return GANTRY_OK;
    char sa[96], sb[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: '%s' %s and '%s' %s differ in size", op, an,
                            gantry__shape_str(a, sa, sizeof sa), bn, gantry__shape_str(b, sb, sizeof sb));
}

static inline gantry_status check_finite(const char *op, const char *name, float v)
{
    if (isfinite(v))
        return GANTRY_OK;
    return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %s is %g", op, name, (double)v);
}

static inline gantry_status check_range(const char *op, const char *name, float v, float lo, float hi)
{
    if (v >= lo && v <= hi)
        return GANTRY_OK;
    return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %s = %g outside [%g, %g]", op, name, (double)v, (double)lo,
                            (double)hi);
}

/* x must be [N, C, ...] with at least two dimensions. */
static inline gantry_status check_channels(const char *op, const char *name, const gantry_tensor *x)
{
    if (x->ndim >= 2)
        return GANTRY_OK;
    char b[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: '%s' %s needs a batch and a channel dimension", op, name,
                            gantry__shape_str(x, b, sizeof b));
}

static inline gantry_status check_per_channel(const char *op, const char *name, const gantry_tensor *v, size_t channels)
{
    if (v->numel == channels)
        return GANTRY_OK;
    char b[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: '%s' %s should hold one value per channel (%zu)", op, name,
                            gantry__shape_str(v, b, sizeof b), channels);
}

#define OPS(t) ((t)->be->ops)
/* OPS(t)->fn(CTX(t), ...) through the profiler's hooks. */
#define DISPATCH(t, fn, ...) GANTRY__DISPATCH((t)->be, #fn, OPS(t)->fn(CTX(t), __VA_ARGS__))
#define CTX(t) ((t)->be->ctx)
#define MEM(t) gantry__mem(t)

#endif
