/* Synchronised batch norm (see nn_bn_sync.h).  The statistics are summed
 * on the host, in double, through the caller's reduce: per channel the
 * sums of x and x^2 and the row count forward; the sums of dy and
 * dy * xhat backward.  The per-element work stays on the backend (the
 * frozen-statistics ops) except the backward's correction of dx for the
 * statistics, done on the host: synchronised batch norm is for jobs
 * spread over processes, where a host round trip per layer is already paid. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn_bn_sync.h"
#include "core/tensor_impl.h"
#include "gantry/ops.h"

/* Channels and elements per channel and row of x ([N, C] or [N, C, H, W]). */
static void bn_dims(const gantry_tensor *x, size_t *c, size_t *inner)
{
    *c = x->shape[1];
    *inner = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
}

/* The layer's host scratch: `floats` floats and `doubles` zeroed doubles. */
static gantry_status host_scratch(gantry__bn_sync *sync, size_t floats, size_t doubles, float **f, double **d)
{
    if (floats > sync->host_cap) {
        float *h = realloc(sync->host, floats * sizeof *h);
        if (!h)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "synchronised batch norm: out of host memory");
        sync->host = h;
        sync->host_cap = floats;
    }
    if (doubles > sync->sums_cap) {
        double *v = realloc(sync->sums, doubles * sizeof *v);
        if (!v)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "synchronised batch norm: out of host memory");
        sync->sums = v;
        sync->sums_cap = doubles;
    }
    memset(sync->sums, 0, doubles * sizeof *sync->sums);
    *f = sync->host;
    *d = sync->sums;
    return GANTRY_OK;
}

void gantry__bn_sync_free(gantry__bn_sync *sync)
{
    free(sync->host);
    free(sync->sums);
    sync->host = NULL;
    sync->sums = NULL;
    sync->host_cap = sync->sums_cap = 0;
}

gantry_status gantry__bn_sync_forward(gantry__bn_sync *sync, const gantry_tensor *x, gantry_tensor *y,
                                      const gantry_tensor *gamma, const gantry_tensor *beta,
                                      gantry_tensor *running_mean, gantry_tensor *running_var,
                                      gantry_tensor *save_mean, gantry_tensor *save_invstd, float momentum, float eps)
{
    size_t c, inner, n = x->shape[0];
    bn_dims(x, &c, &inner);
    float *h;
    double *v; /* sums of x, of x^2, then the row count */
    GANTRY_TRY(host_scratch(sync, x->numel > 4 * c ? x->numel : 4 * c, 2 * c + 1, &h, &v));
    gantry_status s = gantry_tensor_read(x, h, x->numel);
    for (size_t r = 0; !s && r < n; r++)
        for (size_t ch = 0; ch < c; ch++)
            for (size_t i = 0; i < inner; i++) {
                double e = h[(r * c + ch) * inner + i];
                v[ch] += e;
                v[c + ch] += e * e;
            }
    v[2 * c] = (double)(n * inner);
    if (!s)
        s = sync->reduce(sync->user, v, 2 * c + 1);
    float *mean = h, *invstd = h + c, *rm = h + 2 * c, *rv = h + 3 * c;
    const double count = v[2 * c];
    for (size_t ch = 0; !s && ch < c; ch++) {
        double m = v[ch] / count, var = v[c + ch] / count - m * m;
        var = var > 0.0 ? var : 0.0;
        mean[ch] = (float)m;
        invstd[ch] = (float)(1.0 / sqrt(var + (double)eps));
        v[c + ch] = count > 1.0 ? var * count / (count - 1.0) : var; /* unbiased, for the running variance */
    }
    if (!s)
        s = gantry_tensor_write(save_mean, mean, c);
    if (!s)
        s = gantry_tensor_write(save_invstd, invstd, c);
    if (!s)
        s = gantry_op_batchnorm_forward_frozen(x, y, gamma, beta, save_mean, save_invstd);
    if (!s)
        s = gantry_tensor_read(running_mean, rm, c);
    if (!s)
        s = gantry_tensor_read(running_var, rv, c);
    for (size_t ch = 0; !s && ch < c; ch++) {
        rm[ch] = (1.0f - momentum) * rm[ch] + momentum * mean[ch];
        rv[ch] = (1.0f - momentum) * rv[ch] + momentum * (float)v[c + ch];
    }
    if (!s)
        s = gantry_tensor_write(running_mean, rm, c);
    if (!s)
        s = gantry_tensor_write(running_var, rv, c);
    return s;
}

/* dst = (accumulate ? dst : 0) + src, for a parameter gradient. */
static gantry_status into_grad(gantry_tensor *dst, const gantry_tensor *src, int accumulate)
{
    if (dst == src)
        return GANTRY_OK;
    return accumulate ? gantry_op_axpy(1.0f, src, dst) : gantry_tensor_copy(dst, src);
}

gantry_status gantry__bn_sync_backward(gantry__bn_sync *sync, const gantry_tensor *x, const gantry_tensor *dy,
                                       const gantry_tensor *gamma, const gantry_tensor *mean,
                                       const gantry_tensor *invstd, gantry_tensor *dx, gantry_tensor *dgamma,
                                       gantry_tensor *dbeta, gantry_tensor *scratch_dgamma,
                                       gantry_tensor *scratch_dbeta, int accumulate)
{
    /* dx = gamma invstd dy, and this process's sums of dy xhat and dy */
    GANTRY_TRY(gantry_op_batchnorm_backward_frozen(x, dy, gamma, mean, invstd, dx, scratch_dgamma, scratch_dbeta, 0));
    GANTRY_TRY(into_grad(dgamma, scratch_dgamma, accumulate));
    GANTRY_TRY(into_grad(dbeta, scratch_dbeta, accumulate));
    size_t c, inner, n = x->shape[0];
    bn_dims(x, &c, &inner);
    float *h;
    double *v; /* sums of dy xhat, of dy, then the row count */
    GANTRY_TRY(host_scratch(sync, 2 * x->numel + 5 * c, 2 * c + 1, &h, &v));
    float *hx = h, *hdx = h + x->numel, *p = h + 2 * x->numel; /* p: sdyx, sdy, gamma, mean, invstd */
    gantry_status s = gantry_tensor_read(scratch_dgamma, p, c);
    if (!s)
        s = gantry_tensor_read(scratch_dbeta, p + c, c);
    for (size_t ch = 0; !s && ch < 2 * c; ch++)
        v[ch] = p[ch];
    v[2 * c] = (double)(n * inner);
    if (!s)
        s = sync->reduce(sync->user, v, 2 * c + 1);
    if (!s)
        s = gantry_tensor_read(gamma, p + 2 * c, c);
    if (!s)
        s = gantry_tensor_read(mean, p + 3 * c, c);
    if (!s)
        s = gantry_tensor_read(invstd, p + 4 * c, c);
    if (!s)
        s = gantry_tensor_read(x, hx, x->numel);
    if (!s)
        s = gantry_tensor_read(dx, hdx, x->numel);
    /* dx = gamma invstd (dy - mean(dy) - xhat mean(dy xhat)), the means over every process's rows */
    for (size_t r = 0; !s && r < n; r++)
        for (size_t ch = 0; ch < c; ch++) {
            double g = (double)p[2 * c + ch] * p[4 * c + ch], mdyx = v[ch] / v[2 * c], mdy = v[c + ch] / v[2 * c];
            for (size_t i = 0; i < inner; i++) {
                size_t k = (r * c + ch) * inner + i;
                double xhat = ((double)hx[k] - p[3 * c + ch]) * p[4 * c + ch];
                hdx[k] = (float)(hdx[k] - g * (mdy + xhat * mdyx));
            }
        }
    if (!s)
        s = gantry_tensor_write(dx, hdx, x->numel);
    return s;
}
