/* gantry: the reference backend.
 *
 * The oracle every other backend is compared against: host memory, one
 * thread, plain loops that follow the formulas in gantry/backend.h line by
 * line.  Every sum (GEMM dot products, reductions, batch-norm statistics,
 * bias gradients, losses) is accumulated in double, and the per-element
 * arithmetic of the non-trivial ops is done in double and rounded to float
 * once when stored.  Nothing here is fast; everything here should be
 * obviously right.
 *
 * Buffers are malloc'd blocks of floats; a gantry_mem addresses
 * `(float *)buf + offset`.  Every elementwise loop reads all inputs of index
 * i before writing index i, so the in-place forms the ABI allows (y == x,
 * dx == dy, ...) are safe; the per-channel ops finish their reductions over
 * a channel before writing any output of that channel. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/backend.h"
#include "gantry/philox.h"
#include "ref_v2.h"

#include "../host_memory.h"
#include "../lane_sums.h"
#include "../tanh_double.h"

#define REF_NAME "reference"

typedef struct ref_ctx {
    const gantry_host *host; /* may be NULL when created without options */
} ref_ctx;

/* ---- helpers ------------------------------------------------------------ */

static const gantry_host *ref_host_of(const gantry_backend_options *opts)
{
    if (!opts || opts->struct_size < offsetof(gantry_backend_options, host) + sizeof(opts->host))
        return NULL;
    return opts->host;
}

/* Reports through the host when there is one; always returns `status`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static gantry_status ref_error(const gantry_host *host, gantry_status status, const char *fmt, ...)
{
    if (!host || !host->set_error)
        return status;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return host->set_error(status, "%s", msg);
}

static float *ref_f(gantry_mem m)
{
    return (float *)m.buf + m.offset;
}

static const float *ref_cf(gantry_mem m)
{
    return (const float *)m.buf + m.offset;
}

/* ---- module ------------------------------------------------------------- */

static int ref_probe(const gantry_backend_options *opts, char *why, size_t why_size)
{
    (void)opts;
    if (why && why_size > 0)
        why[0] = '\0';
    return 10;
}

static void ref_describe(const gantry_backend_options *opts, char *buf, size_t size)
{
    (void)opts;
    if (buf && size > 0)
        snprintf(buf, size, "host memory, single thread, float64 accumulation");
}

static gantry_status ref_create(const gantry_backend_options *opts, void **ctx)
{
    const gantry_host *host = ref_host_of(opts);
    ref_ctx *c = malloc(sizeof *c);
    if (!c)
        return ref_error(host, GANTRY_OUT_OF_MEMORY, REF_NAME ": create: out of memory (%zu bytes)",
                         sizeof *c);
    c->host = host;
    *ctx = c;
    return GANTRY_OK;
}

static void ref_destroy(void *ctx)
{
    free(ctx);
}

/* ---- buffers ------------------------------------------------------------ */

static gantry_status ref_buffer_alloc(void *ctx, size_t bytes, void **buf)
{
    ref_ctx *c = ctx;
    /* malloc(0) may return NULL; a zero-byte buffer must still be valid. */
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        return ref_error(c->host, GANTRY_OUT_OF_MEMORY, REF_NAME ": buffer_alloc of %zu bytes failed", bytes);
    *buf = p;
    return GANTRY_OK;
}

static gantry_status ref_fill(void *ctx, gantry_mem x, size_t n, float value)
{
    (void)ctx;
    float *xp = ref_f(x);
    for (size_t i = 0; i < n; i++)
        xp[i] = value;
    return GANTRY_OK;
}

/* ---- linear algebra ----------------------------------------------------- */

/* Each C element is a double sum over p in ascending order.  The loop order
 * only decides which operand is walked contiguously: dot products when B is
 * transposed (rows of A and B), row updates otherwise (rows of B), so every
 * case reads memory in order and gives the same bits as the naive triple loop. */
static gantry_status ref_gemm(void *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                              gantry_mem a, size_t lda, gantry_mem b, size_t ldb, float beta, gantry_mem c,
                              size_t ldc)
{
    ref_ctx *rc = ctx;
    const float *ap = ref_cf(a);
    const float *bp = ref_cf(b);
    float *cp = ref_f(c);
    double *row = malloc((n ? n : 1) * sizeof *row);
    if (!row)
        return ref_error(rc->host, GANTRY_OUT_OF_MEMORY, "reference: gemm: no memory for a row of %zu", n);
    for (size_t i = 0; i < m; i++) {
        if (trans_b) {
            for (size_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (size_t p = 0; p < k; p++) {
                    double aip = trans_a ? ap[p * lda + i] : ap[i * lda + p]; /* op(A)[i][p] */
                    acc += aip * (double)bp[j * ldb + p];                     /* op(B)[p][j] */
                }
                row[j] = acc;
            }
        } else {
            for (size_t j = 0; j < n; j++)
                row[j] = 0.0;
            for (size_t p = 0; p < k; p++) {
                double aip = trans_a ? ap[p * lda + i] : ap[i * lda + p];
                const float *brow = bp + p * ldb;
                for (size_t j = 0; j < n; j++)
                    row[j] += aip * (double)brow[j];
            }
        }
        for (size_t j = 0; j < n; j++) {
            double r = (double)alpha * row[j];
            if (beta != 0.0f) /* beta == 0: C is not read, NaN in C must not leak */
                r += (double)beta * (double)cp[i * ldc + j];
            cp[i * ldc + j] = (float)r;
        }
    }
    free(row);
    return GANTRY_OK;
}

static gantry_status ref_bias_add(void *ctx, gantry_mem x, gantry_mem bias, size_t outer, size_t channels,
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

static gantry_status ref_bias_grad(void *ctx, gantry_mem dy, gantry_mem dbias, size_t outer, size_t channels,
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

static double ref_sigmoid(double x)
{
    /* Both branches avoid exp() of a large positive argument. */
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static gantry_status ref_activation_forward(void *ctx, gantry_activation act, float param, gantry_mem x,
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
            r = ref_sigmoid(v);
            break;
        default:
            return ref_error(c->host, GANTRY_UNSUPPORTED, REF_NAME ": activation_forward: unknown activation %d",
                             (int)act);
        }
        yp[i] = (float)r;
    }
    return GANTRY_OK;
}

static gantry_status ref_activation_backward(void *ctx, gantry_activation act, float param, gantry_mem x,
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

/* ---- batch normalisation ------------------------------------------------ */

static size_t ref_nchw(size_t o, size_t ch, size_t i, size_t channels, size_t inner)
{
    return (o * channels + ch) * inner + i;
}

static gantry_status ref_batchnorm_forward_train(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma,
                                                 gantry_mem beta, gantry_mem running_mean,
                                                 gantry_mem running_var, gantry_mem save_mean,
                                                 gantry_mem save_invstd, size_t outer, size_t channels,
                                                 size_t inner, float momentum, float eps)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *yp = ref_f(y);
    const float *gp = ref_cf(gamma);
    const float *bp = ref_cf(beta);
    float *rm = ref_f(running_mean);
    float *rv = ref_f(running_var);
    float *sm = ref_f(save_mean);
    float *si = ref_f(save_invstd);
    const size_t count = outer * inner;
    const double mom = momentum;
    for (size_t ch = 0; ch < channels; ch++) {
        /* Two passes: the mean, then the biased variance about it. */
        double sum = 0.0;
        for (size_t o = 0; o < outer; o++)
            sum += gantry_run_sum(xp + ref_nchw(o, ch, 0, channels, inner), inner);
        const double mean = sum / (double)count;
        double sq = 0.0;
        for (size_t o = 0; o < outer; o++)
            sq += gantry_run_sum_sqdev(xp + ref_nchw(o, ch, 0, channels, inner), inner, mean);
        const double var = sq / (double)count;
        const double invstd = 1.0 / sqrt(var + (double)eps);
        const double unbiased = count > 1 ? var * (double)count / (double)(count - 1) : var;

        const double g = gp[ch], b = bp[ch];
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                size_t at = ref_nchw(o, ch, i, channels, inner);
                yp[at] = (float)(g * ((xp[at] - mean) * invstd) + b);
            }
        sm[ch] = (float)mean;
        si[ch] = (float)invstd;
        rm[ch] = (float)((1.0 - mom) * rm[ch] + mom * mean);
        rv[ch] = (float)((1.0 - mom) * rv[ch] + mom * unbiased);
    }
    return GANTRY_OK;
}

static gantry_status ref_batchnorm_forward_eval(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma,
                                                gantry_mem beta, gantry_mem running_mean, gantry_mem running_var,
                                                size_t outer, size_t channels, size_t inner, float eps)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *yp = ref_f(y);
    const float *gp = ref_cf(gamma);
    const float *bp = ref_cf(beta);
    const float *rm = ref_cf(running_mean);
    const float *rv = ref_cf(running_var);
    for (size_t ch = 0; ch < channels; ch++) {
        const double mean = rm[ch];
        const double invstd = 1.0 / sqrt((double)rv[ch] + (double)eps);
        const double g = gp[ch], b = bp[ch];
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                size_t at = ref_nchw(o, ch, i, channels, inner);
                yp[at] = (float)(g * ((xp[at] - mean) * invstd) + b);
            }
    }
    return GANTRY_OK;
}

static gantry_status ref_batchnorm_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma,
                                            gantry_mem save_mean, gantry_mem save_invstd, gantry_mem dx,
                                            gantry_mem dgamma, gantry_mem dbeta, size_t outer, size_t channels,
                                            size_t inner, float grad_beta)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    const float *dyp = ref_cf(dy);
    const float *gp = ref_cf(gamma);
    const float *sm = ref_cf(save_mean);
    const float *si = ref_cf(save_invstd);
    float *dxp = ref_f(dx);
    float *dgp = ref_f(dgamma);
    float *dbp = ref_f(dbeta);
    const double count = (double)(outer * inner);
    for (size_t ch = 0; ch < channels; ch++) {
        const double mean = sm[ch], invstd = si[ch];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (size_t o = 0; o < outer; o++) {
            size_t at = ref_nchw(o, ch, 0, channels, inner);
            gantry_run_sum_bn_grad(xp + at, dyp + at, inner, mean, invstd, &sum_dy, &sum_dy_xhat);
        }
        /* dx = gamma * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)) */
        const double k = (double)gp[ch] * invstd / count;
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                size_t at = ref_nchw(o, ch, i, channels, inner);
                double xhat = (xp[at] - mean) * invstd;
                dxp[at] = (float)(k * (count * dyp[at] - sum_dy - xhat * sum_dy_xhat));
            }
        double dg = sum_dy_xhat, db = sum_dy;
        if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
            dg += (double)grad_beta * (double)dgp[ch];
            db += (double)grad_beta * (double)dbp[ch];
        }
        dgp[ch] = (float)dg;
        dbp[ch] = (float)db;
    }
    return GANTRY_OK;
}

/* ---- elementwise and reductions ----------------------------------------- */

static gantry_status ref_add(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n)
{
    (void)ctx;
    const float *ap = ref_cf(a), *bp = ref_cf(b);
    float *yp = ref_f(y);
    for (size_t i = 0; i < n; i++)
        yp[i] = ap[i] + bp[i];
    return GANTRY_OK;
}

static gantry_status ref_mul(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n)
{
    (void)ctx;
    const float *ap = ref_cf(a), *bp = ref_cf(b);
    float *yp = ref_f(y);
    for (size_t i = 0; i < n; i++)
        yp[i] = ap[i] * bp[i];
    return GANTRY_OK;
}

static gantry_status ref_scale(void *ctx, gantry_mem x, gantry_mem y, float alpha, size_t n)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *yp = ref_f(y);
    for (size_t i = 0; i < n; i++)
        yp[i] = alpha * xp[i];
    return GANTRY_OK;
}

static gantry_status ref_axpy(void *ctx, float alpha, gantry_mem x, gantry_mem y, size_t n)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *yp = ref_f(y);
    for (size_t i = 0; i < n; i++)
        yp[i] = (float)((double)yp[i] + (double)alpha * (double)xp[i]);
    return GANTRY_OK;
}

static double ref_sum_of(const float *xp, size_t n)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += xp[i];
    return acc;
}

static gantry_status ref_sum(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    (void)ctx;
    double s = ref_sum_of(ref_cf(x), n);
    ref_f(out)[0] = (float)s;
    return GANTRY_OK;
}

static gantry_status ref_mean(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    (void)ctx;
    double s = ref_sum_of(ref_cf(x), n);
    ref_f(out)[0] = (float)(n ? s / (double)n : 0.0);
    return GANTRY_OK;
}

/* ---- losses ------------------------------------------------------------- */

static gantry_status ref_bce_logits_forward(void *ctx, gantry_mem x, size_t n, float target, gantry_mem out)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    const double t = target;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = xp[i];
        acc += (v > 0.0 ? v : 0.0) - v * t + log1p(exp(-fabs(v)));
    }
    ref_f(out)[0] = (float)(n ? acc / (double)n : 0.0);
    return GANTRY_OK;
}

static gantry_status ref_bce_logits_backward(void *ctx, gantry_mem x, size_t n, float target, float scale,
                                             gantry_mem dx)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *dxp = ref_f(dx);
    const double t = target, k = (double)scale / (double)n;
    for (size_t i = 0; i < n; i++)
        dxp[i] = (float)(k * (ref_sigmoid(xp[i]) - t));
    return GANTRY_OK;
}

/* ---- optimizers --------------------------------------------------------- */

/* The gradient buffer is never written: weight decay goes into a local g. */

static gantry_status ref_sgd_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem v, size_t n, float lr,
                                    float momentum, float weight_decay)
{
    (void)ctx;
    float *pp = ref_f(p);
    const float *gp = ref_cf(g);
    float *vp = momentum != 0.0f ? ref_f(v) : NULL;
    for (size_t i = 0; i < n; i++) {
        double gi = gp[i];
        if (weight_decay != 0.0f)
            gi += (double)weight_decay * (double)pp[i];
        double step = gi;
        if (vp) {
            vp[i] = (float)((double)momentum * (double)vp[i] + gi);
            step = vp[i];
        }
        pp[i] = (float)((double)pp[i] - (double)lr * step);
    }
    return GANTRY_OK;
}

static gantry_status ref_adam_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem m, gantry_mem v, size_t n,
                                     float lr, float beta1, float beta2, float eps, float weight_decay,
                                     uint64_t step)
{
    ref_ctx *c = ctx;
    if (step == 0)
        return ref_error(c->host, GANTRY_INVALID_ARGUMENT, REF_NAME ": adam_update: step must count from 1");
    float *pp = ref_f(p);
    const float *gp = ref_cf(g);
    float *mp = ref_f(m);
    float *vp = ref_f(v);
    const double b1 = beta1, b2 = beta2;
    const double bc1 = 1.0 - pow(b1, (double)step);
    const double bc2 = 1.0 - pow(b2, (double)step);
    const double step_size = (double)lr / bc1;
    const double sqrt_bc2 = sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        double gi = gp[i];
        if (weight_decay != 0.0f)
            gi += (double)weight_decay * (double)pp[i];
        mp[i] = (float)(b1 * (double)mp[i] + (1.0 - b1) * gi);
        vp[i] = (float)(b2 * (double)vp[i] + (1.0 - b2) * gi * gi);
        /* The stored (float) moments drive the step, as in PyTorch. */
        double denom = sqrt((double)vp[i]) / sqrt_bc2 + (double)eps;
        pp[i] = (float)((double)pp[i] - step_size * (double)mp[i] / denom);
    }
    return GANTRY_OK;
}

static gantry_status ref_rmsprop_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem sq, size_t n, float lr,
                                        float alpha, float eps, float weight_decay)
{
    (void)ctx;
    float *pp = ref_f(p);
    const float *gp = ref_cf(g);
    float *sp = ref_f(sq);
    const double a = alpha;
    for (size_t i = 0; i < n; i++) {
        double gi = gp[i];
        if (weight_decay != 0.0f)
            gi += (double)weight_decay * (double)pp[i];
        sp[i] = (float)(a * (double)sp[i] + (1.0 - a) * gi * gi);
        pp[i] = (float)((double)pp[i] - (double)lr * gi / (sqrt((double)sp[i]) + (double)eps));
    }
    return GANTRY_OK;
}

static gantry_status ref_clamp(void *ctx, gantry_mem x, size_t n, float lo, float hi)
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

/* ---- random fills ------------------------------------------------------- */

static gantry_status ref_rand_uniform(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float lo,
                                      float hi)
{
    (void)ctx;
    float *xp = ref_f(x);
    for (size_t i = 0; i < n; i++)
        xp[i] = gantry_philox_uniform(seed, offset, i, lo, hi);
    return GANTRY_OK;
}

static gantry_status ref_rand_normal(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float mean,
                                     float std)
{
    (void)ctx;
    float *xp = ref_f(x);
    for (size_t i = 0; i < n; i++)
        xp[i] = gantry_philox_normal(seed, offset, i, mean, std);
    return GANTRY_OK;
}

/* ---- the table ---------------------------------------------------------- */

static const gantry_backend_ops ref_ops = {
    .abi_version = GANTRY_BACKEND_ABI_VERSION,
    .struct_size = sizeof(gantry_backend_ops),
    .name = REF_NAME,
    .description = "plain single-threaded C loops with float64 accumulation; the oracle for other backends",
    .probe = ref_probe,
    .describe = ref_describe,
    .create = ref_create,
    .destroy = ref_destroy,
    .buffer_alloc = ref_buffer_alloc,
    .buffer_free = host_buffer_free,
    .buffer_write = host_buffer_write,
    .buffer_read = host_buffer_read,
    .buffer_copy = host_buffer_copy,
    .fill = ref_fill,
    .gemm = ref_gemm,
    .bias_add = ref_bias_add,
    .bias_grad = ref_bias_grad,
    .activation_forward = ref_activation_forward,
    .activation_backward = ref_activation_backward,
    .batchnorm_forward_train = ref_batchnorm_forward_train,
    .batchnorm_forward_eval = ref_batchnorm_forward_eval,
    .batchnorm_backward = ref_batchnorm_backward,
    .add = ref_add,
    .mul = ref_mul,
    .scale = ref_scale,
    .axpy = ref_axpy,
    .sum = ref_sum,
    .mean = ref_mean,
    .bce_logits_forward = ref_bce_logits_forward,
    .bce_logits_backward = ref_bce_logits_backward,
    .sgd_update = ref_sgd_update,
    .adam_update = ref_adam_update,
    .rmsprop_update = ref_rmsprop_update,
    .clamp = ref_clamp,
    .rand_uniform = ref_rand_uniform,
    .rand_normal = ref_rand_normal,
    .synchronize = host_synchronize,
    /* ABI version 2 */
    .im2col = ref_im2col,
    .col2im = ref_col2im,
    .swap_axes = ref_swap_axes,
    .copy_rows = ref_copy_rows,
    .regression_loss_forward = ref_regression_loss_forward,
    .regression_loss_backward = ref_regression_loss_backward,
    .softmax_ce_forward = ref_softmax_ce_forward,
    .softmax_ce_backward = ref_softmax_ce_backward,
    .logsumexp_forward = ref_logsumexp_forward,
    .logsumexp_backward = ref_logsumexp_backward,
    .dropout_mask = ref_dropout_mask,
    .minibatch_disc_forward = ref_minibatch_disc_forward,
    .minibatch_disc_backward = ref_minibatch_disc_backward,
    .batchnorm_forward_frozen = ref_batchnorm_forward_frozen,
    .batchnorm_backward_frozen = ref_batchnorm_backward_frozen,
    .vbn_forward = ref_vbn_forward,
    .vbn_backward = ref_vbn_backward,
};

/* The module's only exported symbol. */
__attribute__((visibility("default"))) const gantry_backend_ops *gantry_backend_entry(void);

__attribute__((visibility("default"))) const gantry_backend_ops *gantry_backend_entry(void)
{
    return &ref_ops;
}
