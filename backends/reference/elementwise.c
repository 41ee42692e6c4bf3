/* gantry reference backend: fill, bias, activations, element-wise
 * arithmetic, clamp and the whole-tensor sums. */
#include <math.h>

#include "reference_impl.h"

#include "../lane_sums.h"
#include "../sigmoid_double.h"
#include "../tanh_double.h"

gantry_status ref_fill(void *ctx, gantry_mem x, size_t n, float value)
{
    (void)ctx;
    float *xp = ref_f(x);
    for (size_t i = 0; i < n; i++)
        xp[i] = value;
    return GANTRY_OK;
}

/* ---- bias --------------------------------------------------------------- */

gantry_status ref_bias_add(void *ctx, gantry_mem x, gantry_mem bias, size_t outer, size_t channels,
                           size_t inner)
{
    (void)ctx;
    float *xp = ref_f(x);
    const float *bp = ref_cf(bias);
    for (size_t o = 0; o < outer; o++)
        for (size_t ch = 0; ch < channels; ch++)
            for (size_t i = 0; i < inner; i++)
                xp[(o * channels + ch) * inner + i] += bp[ch];
    return GANTRY_OK;
}

gantry_status ref_bias_grad(void *ctx, gantry_mem dy, gantry_mem dbias, size_t outer, size_t channels,
                            size_t inner, float beta)
{
    (void)ctx;
    const float *dyp = ref_cf(dy);
    float *dbp = ref_f(dbias);
    for (size_t ch = 0; ch < channels; ch++) {
        double acc = 0.0;
        for (size_t o = 0; o < outer; o++)
            acc += gantry_run_sum(dyp + (o * channels + ch) * inner, inner);
        if (beta != 0.0f) /* beta == 0: dbias is not read */
            acc += (double)beta * (double)dbp[ch];
        dbp[ch] = (float)acc;
    }
    return GANTRY_OK;
}

/* ---- activations -------------------------------------------------------- */

gantry_status ref_activation_forward(void *ctx, gantry_activation act, float param, gantry_mem x,
                                     gantry_mem y, size_t n)
{
    ref_ctx *c = ctx;
    const float *xp = ref_cf(x);
    float *yp = ref_f(y);
    for (size_t i = 0; i < n; i++) {
        double v = xp[i];
        double r;
        switch (act) {
        case GANTRY_ACT_IDENTITY:
            r = v;
            break;
        case GANTRY_ACT_RELU:
            r = v > 0.0 ? v : 0.0;
            break;
        case GANTRY_ACT_LEAKY_RELU:
            r = v > 0.0 ? v : (double)param * v;
            break;
        case GANTRY_ACT_TANH:
            r = gantry_tanh_double(v); /* libm's float results, shared with cpu */
            break;
        case GANTRY_ACT_SIGMOID:
            r = gantry_sigmoid_double(v);
            break;
        default:
            return ref_error(c->host, GANTRY_UNSUPPORTED, REF_NAME ": activation_forward: unknown activation %d",
                             (int)act);
        }
        yp[i] = (float)r;
    }
    return GANTRY_OK;
}

gantry_status ref_activation_backward(void *ctx, gantry_activation act, float param, gantry_mem x,
                                      gantry_mem y, gantry_mem dy, gantry_mem dx, size_t n)
{
    ref_ctx *c = ctx;
    const float *xp = ref_cf(x);
    const float *yp = ref_cf(y);
    const float *dyp = ref_cf(dy);
    float *dxp = ref_f(dx);
    for (size_t i = 0; i < n; i++) {
        double g = dyp[i];
        double d; /* f'(x) */
        switch (act) {
        case GANTRY_ACT_IDENTITY:
            d = 1.0;
            break;
        case GANTRY_ACT_RELU:
            d = xp[i] > 0.0f ? 1.0 : 0.0; /* f'(0) = 0 */
            break;
        case GANTRY_ACT_LEAKY_RELU:
            d = xp[i] > 0.0f ? 1.0 : (double)param; /* f'(0) = slope, as PyTorch */
            break;
        case GANTRY_ACT_TANH: {
            double yv = yp[i];
            d = 1.0 - yv * yv;
            break;
        }
        case GANTRY_ACT_SIGMOID: {
            double yv = yp[i];
            d = yv * (1.0 - yv);
            break;
        }
        default:
            return ref_error(c->host, GANTRY_UNSUPPORTED,
                             REF_NAME ": activation_backward: unknown activation %d", (int)act);
        }
        dxp[i] = (float)(d * g);
    }
    return GANTRY_OK;
}

/* ---- arithmetic --------------------------------------------------------- */

gantry_status ref_add(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n)
{
    (void)ctx;
    const float *ap = ref_cf(a), *bp = ref_cf(b);
    float *yp = ref_f(y);
    for (size_t i = 0; i < n; i++)
        yp[i] = ap[i] + bp[i];
    return GANTRY_OK;
}

gantry_status ref_mul(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n)
{
    (void)ctx;
    const float *ap = ref_cf(a), *bp = ref_cf(b);
    float *yp = ref_f(y);
    for (size_t i = 0; i < n; i++)
        yp[i] = ap[i] * bp[i];
    return GANTRY_OK;
}

gantry_status ref_scale(void *ctx, gantry_mem x, gantry_mem y, float alpha, size_t n)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *yp = ref_f(y);
    for (size_t i = 0; i < n; i++)
        yp[i] = alpha * xp[i];
    return GANTRY_OK;
}

gantry_status ref_axpy(void *ctx, float alpha, gantry_mem x, gantry_mem y, size_t n)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *yp = ref_f(y);
    for (size_t i = 0; i < n; i++)
        yp[i] = (float)((double)yp[i] + (double)alpha * (double)xp[i]);
    return GANTRY_OK;
}

gantry_status ref_clamp(void *ctx, gantry_mem x, size_t n, float lo, float hi)
{
    (void)ctx;
    float *xp = ref_f(x);
    for (size_t i = 0; i < n; i++) {
        float v = xp[i];
        /* Written with comparisons so that NaN passes through unchanged. */
        if (v < lo)
            v = lo;
        if (v > hi)
            v = hi;
        xp[i] = v;
    }
    return GANTRY_OK;
}

/* ---- reductions --------------------------------------------------------- */

static double ref_sum_of(const float *xp, size_t n)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += xp[i];
    return acc;
}

gantry_status ref_sum(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    (void)ctx;
    double s = ref_sum_of(ref_cf(x), n);
    ref_f(out)[0] = (float)s;
    return GANTRY_OK;
}

gantry_status ref_mean(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    (void)ctx;
    double s = ref_sum_of(ref_cf(x), n);
    ref_f(out)[0] = (float)(n ? s / (double)n : 0.0);
    return GANTRY_OK;
}
