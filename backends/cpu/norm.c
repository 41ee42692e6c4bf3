/* gantry cpu backend: batch normalisation with the batch's statistics
 * (training), the running statistics (evaluation) and given statistics
 * (frozen: reference batch norm), and virtual batch norm.  All give the
 * reference's bits on any thread count:
 *
 * - training and its backward run channels in parallel, as cpu_impl.h's
 *   CPU_CH_BLOCK describes; evaluation runs every (row, channel) plane in
 *   parallel.
 * - frozen batch norm is the reference's double expression per element;
 *   its backward sums each channel in the reference's order (channels in
 *   parallel; blocks of adjacent channels for [N, C] tensors, as in
 *   training).
 * - virtual batch norm runs (example, channel) planes in parallel in the
 *   forward and channels in the backward (dgamma, dbeta sum over examples),
 *   each sum in the reference's order.
 *
 * This file must never be built with -ffast-math or -ffp-contract=fast. */
#include <math.h>

#include "../host_norm.h"
#include "../lane_sums.h"
#include "cpu_impl.h"

/* ---- the activation the fused ops apply -----------------------------------
 * BN_ACT_NONE for the plain ops; ReLU and LeakyReLU (slope >= 0) as the
 * reference's activation ops give them: f on the float each normalised
 * value rounds to, f'(.) dy from the output's sign as a float product
 * (the exact product of two floats, rounded once, as the reference's
 * double product rounded to float). */
enum { BN_ACT_NONE = 0, BN_ACT_RELU = GANTRY_ACT_RELU, BN_ACT_LEAKY = GANTRY_ACT_LEAKY_RELU };

static inline __attribute__((always_inline)) float bn_act(const int act, float slope, float v)
{
    if (act == BN_ACT_RELU)
        return v > 0.0f ? v : 0.0f;
    if (act == BN_ACT_LEAKY)
        return v > 0.0f ? v : slope * v;
    return v;
}

/* f'(.) dy as one product with a factor picked by y's sign (slope 0 for
 * ReLU: 0 * dy is what the reference's derivative 0 gives), which
 * vectorises. */
static inline __attribute__((always_inline)) float bn_act_grad(const int act, float slope, const float *y, size_t i,
                                                                float dy)
{
    if (act == BN_ACT_NONE)
        return dy;
    return dy * (y[i] > 0.0f ? 1.0f : act == BN_ACT_RELU ? 0.0f : slope);
}

/* ---- one channel of [outer, channels, inner] data ------------------------
 * The per-channel passes of batch norm in double, compiled twice: for the
 * baseline (SSE2: two doubles a vector) and for AVX2 (four), chosen by the
 * CPU, and once per activation.  Both do the same double operations in the
 * same order per value (the lane sums of ../lane_sums.h; no contraction
 * into FMAs: -std=c11), so they give the same bits, the reference's.  x, y,
 * dy and dx point at the channel's first run; runs are `stride` apart. */

typedef struct bn_channel {
    const float *x, *y, *dy; /* y: the fused forward's output (backward) */
    float *out;              /* y (forward) or dx (backward) */
    size_t outer, stride, inner;
    double g, b;
    float eps, slope;
} bn_channel;

/* Two passes, as the reference: the mean, then the biased variance; then y. */
static inline __attribute__((always_inline)) void bn_train_channel_body(const bn_channel *p, const int act,
                                                                        double *mean_out, double *var_out)
{
    const size_t outer = p->outer, stride = p->stride, inner = p->inner;
    const double count = (double)(outer * inner), g = p->g, b = p->b;
    double sum = 0.0, sq = 0.0;
    for (size_t o = 0; o < outer; o++)
        sum += gantry_run_sum(p->x + o * stride, inner);
    const double mean = sum / count;
    for (size_t o = 0; o < outer; o++)
        sq += gantry_run_sum_sqdev(p->x + o * stride, inner, mean);
    const double var = sq / count;
    const double invstd = 1.0 / sqrt(var + (double)p->eps);
    for (size_t o = 0; o < outer; o++) {
        const float *run = p->x + o * stride;
        float *out = p->out + o * stride;
        for (size_t i = 0; i < inner; i++)
            out[i] = bn_act(act, p->slope, (float)(g * ((run[i] - mean) * invstd) + b));
    }
    *mean_out = mean;
    *var_out = var;
}

/* gantry_run_sum_bn_grad of f'(.) dy, in its order: f'(.) dy of a piece of
 * the run into a buffer first (a loop that vectorises; the lane sums with
 * a select inside do not), the lanes carried from piece to piece. */
#define BN_ACT_PIECE 512 /* a multiple of GANTRY_LANES */
static inline __attribute__((always_inline)) void run_sum_bn_act_grad(const float *x, const float *y, const float *dy,
                                                                      size_t n, double mean, double invstd,
                                                                      const int act, float slope, double *sdy,
                                                                      double *sdyx)
{
    double a[GANTRY_LANES] = { 0.0 }, b[GANTRY_LANES] = { 0.0 };
    float d[BN_ACT_PIECE];
    for (size_t at = 0; at < n; at += BN_ACT_PIECE) {
        const size_t len = n - at < BN_ACT_PIECE ? n - at : BN_ACT_PIECE;
        for (size_t i = 0; i < len; i++)
            d[i] = bn_act_grad(act, slope, y + at, i, dy[at + i]);
        gantry_run_lanes_bn_grad(x + at, d, len, mean, invstd, a, b);
    }
    *sdy += gantry_lanes_combine(a);
    *sdyx += gantry_lanes_combine(b);
}

/* The sums of dy and dy xhat, then dx (dy: f'(.) dy when fused). */
static inline __attribute__((always_inline)) void bn_backward_channel_body(const bn_channel *p, const int act,
                                                                           double mean, double invstd,
                                                                           double *sdy_out, double *sdyx_out)
{
    const size_t outer = p->outer, stride = p->stride, inner = p->inner;
    const double count = (double)(outer * inner);
    double sdy = 0.0, sdyx = 0.0;
    for (size_t o = 0; o < outer; o++) {
        const size_t at = o * stride;
        if (act == BN_ACT_NONE)
            gantry_run_sum_bn_grad(p->x + at, p->dy + at, inner, mean, invstd, &sdy, &sdyx);
        else
            run_sum_bn_act_grad(p->x + at, p->y + at, p->dy + at, inner, mean, invstd, act, p->slope, &sdy, &sdyx);
    }
    /* dx = gamma * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)) */
    const double k = p->g * invstd / count;
    for (size_t o = 0; o < outer; o++) {
        const float *xr = p->x + o * stride, *dyr = p->dy + o * stride, *yr = act ? p->y + o * stride : NULL;
        float *dxr = p->out + o * stride;
        for (size_t i = 0; i < inner; i++) {
            double xhat = (xr[i] - mean) * invstd;
            dxr[i] = (float)(k * (count * bn_act_grad(act, p->slope, yr, i, dyr[i]) - sdy - xhat * sdyx));
        }
    }
    *sdy_out = sdy;
    *sdyx_out = sdyx;
}

typedef void (*bn_train_channel_fn)(const bn_channel *p, int act, double *mean, double *var);
typedef void (*bn_backward_channel_fn)(const bn_channel *p, int act, double mean, double invstd, double *sdy,
                                       double *sdyx);

/* One instance per activation, each with act a constant. */
#define BN_CHANNEL_FNS(suffix, target)                                                                              \
    target static void bn_train_channel_##suffix(const bn_channel *p, int act, double *mean, double *var)           \
    {                                                                                                               \
        if (act == BN_ACT_RELU)                                                                                     \
            bn_train_channel_body(p, BN_ACT_RELU, mean, var);                                                       \
        else if (act == BN_ACT_LEAKY)                                                                               \
            bn_train_channel_body(p, BN_ACT_LEAKY, mean, var);                                                      \
        else                                                                                                        \
            bn_train_channel_body(p, BN_ACT_NONE, mean, var);                                                       \
    }                                                                                                               \
    target static void bn_backward_channel_##suffix(const bn_channel *p, int act, double mean, double invstd,       \
                                                    double *sdy, double *sdyx)                                      \
    {                                                                                                               \
        if (act == BN_ACT_RELU)                                                                                     \
            bn_backward_channel_body(p, BN_ACT_RELU, mean, invstd, sdy, sdyx);                                      \
        else if (act == BN_ACT_LEAKY)                                                                               \
            bn_backward_channel_body(p, BN_ACT_LEAKY, mean, invstd, sdy, sdyx);                                     \
        else                                                                                                        \
            bn_backward_channel_body(p, BN_ACT_NONE, mean, invstd, sdy, sdyx);                                      \
    }

BN_CHANNEL_FNS(generic, )
#if CPU_X86
BN_CHANNEL_FNS(avx2, __attribute__((target("avx2"))))
#else
#define bn_train_channel_avx2 bn_train_channel_generic
#define bn_backward_channel_avx2 bn_backward_channel_generic
#endif

/* ---- training and evaluation -------------------------------------------- */

/* One block of CPU_CH_BLOCK channels of [N, C] data (inner 1): the
 * training forward with activation act after it, act a constant where it
 * is inlined. */
static inline __attribute__((always_inline)) void bn_train_rows(const float *xp, float *yp, const float *gp,
                                                                const float *bp, float *rm, float *rv, float *sm,
                                                                float *si, size_t outer, size_t channels, size_t blk,
                                                                double mom, float eps, const int act, float slope)
{
    const double count = (double)outer;
    size_t c0 = blk * CPU_CH_BLOCK, cb = cpu_min_size(CPU_CH_BLOCK, channels - c0);
    double sum[CPU_CH_BLOCK] = { 0.0 }, sq[CPU_CH_BLOCK] = { 0.0 }, mean[CPU_CH_BLOCK], invstd[CPU_CH_BLOCK];
    double g[CPU_CH_BLOCK], b[CPU_CH_BLOCK];
    for (size_t o = 0; o < outer; o++) {
        const float *row = xp + o * channels + c0;
        for (size_t j = 0; j < cb; j++)
            sum[j] += row[j];
    }
    for (size_t j = 0; j < cb; j++)
        mean[j] = sum[j] / count;
    for (size_t o = 0; o < outer; o++) {
        const float *row = xp + o * channels + c0;
        for (size_t j = 0; j < cb; j++) {
            double d = row[j] - mean[j];
            sq[j] += d * d;
        }
    }
    for (size_t j = 0; j < cb; j++) {
        const double var = sq[j] / count;
        const double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
        invstd[j] = 1.0 / sqrt(var + (double)eps);
        g[j] = gp[c0 + j];
        b[j] = bp[c0 + j];
        sm[c0 + j] = (float)mean[j];
        si[c0 + j] = (float)invstd[j];
        rm[c0 + j] = (float)((1.0 - mom) * rm[c0 + j] + mom * mean[j]);
        rv[c0 + j] = (float)((1.0 - mom) * rv[c0 + j] + mom * unbiased);
    }
    for (size_t o = 0; o < outer; o++) {
        const float *row = xp + o * channels + c0;
        float *out = yp + o * channels + c0;
        for (size_t j = 0; j < cb; j++)
            out[j] = bn_act(act, slope, (float)(g[j] * ((row[j] - mean[j]) * invstd[j]) + b[j]));
    }
}

/* batchnorm_forward_train, with activation act (BN_ACT_NONE: none) after it. */
static gantry_status bn_forward_train(const cpu_ctx *c, int act, float slope, gantry_mem x, gantry_mem y,
                                      gantry_mem gamma, gantry_mem beta, gantry_mem running_mean,
                                      gantry_mem running_var, gantry_mem save_mean, gantry_mem save_invstd,
                                      size_t outer, size_t channels, size_t inner, float momentum, float eps)
{
    const float *xp = cpu_cf(x), *gp = cpu_cf(gamma), *bp = cpu_cf(beta);
    float *yp = cpu_f(y), *rm = cpu_f(running_mean), *rv = cpu_f(running_var);
    float *sm = cpu_f(save_mean), *si = cpu_f(save_invstd);
    const double count = (double)(outer * inner), mom = momentum;
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    if (inner == 1) {
        size_t blocks = (channels + CPU_CH_BLOCK - 1) / CPU_CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            if (act == BN_ACT_RELU)
                bn_train_rows(xp, yp, gp, bp, rm, rv, sm, si, outer, channels, blk, mom, eps, BN_ACT_RELU, slope);
            else if (act == BN_ACT_LEAKY)
                bn_train_rows(xp, yp, gp, bp, rm, rv, sm, si, outer, channels, blk, mom, eps, BN_ACT_LEAKY, slope);
            else
                bn_train_rows(xp, yp, gp, bp, rm, rv, sm, si, outer, channels, blk, mom, eps, BN_ACT_NONE, slope);
        }
        return GANTRY_OK;
    }
    bn_train_channel_fn train_channel = c->avx2 ? bn_train_channel_avx2 : bn_train_channel_generic;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < channels; ch++) {
        double mean, var;
        const bn_channel p = { .x = xp + ch * inner, .out = yp + ch * inner, .outer = outer,
                               .stride = channels * inner, .inner = inner, .g = gp[ch], .b = bp[ch], .eps = eps,
                               .slope = slope };
        train_channel(&p, act, &mean, &var);
        const double invstd = 1.0 / sqrt(var + (double)eps);
        const double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
        sm[ch] = (float)mean;
        si[ch] = (float)invstd;
        rm[ch] = (float)((1.0 - mom) * rm[ch] + mom * mean);
        rv[ch] = (float)((1.0 - mom) * rv[ch] + mom * unbiased);
    }
    return GANTRY_OK;
}

gantry_status cpu_batchnorm_forward_train(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                          gantry_mem running_mean, gantry_mem running_var, gantry_mem save_mean,
                                          gantry_mem save_invstd, size_t outer, size_t channels, size_t inner,
                                          float momentum, float eps)
{
    return bn_forward_train(ctx, BN_ACT_NONE, 0.0f, x, y, gamma, beta, running_mean, running_var, save_mean,
                            save_invstd, outer, channels, inner, momentum, eps);
}

gantry_status cpu_batchnorm_act_forward_train(void *ctx, gantry_activation act, float param, gantry_mem x,
                                              gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                              gantry_mem running_mean, gantry_mem running_var, gantry_mem save_mean,
                                              gantry_mem save_invstd, size_t outer, size_t channels, size_t inner,
                                              float momentum, float eps)
{
    return bn_forward_train(ctx, (int)act, param, x, y, gamma, beta, running_mean, running_var, save_mean,
                            save_invstd, outer, channels, inner, momentum, eps);
}

gantry_status cpu_batchnorm_forward_eval(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                         gantry_mem running_mean, gantry_mem running_var, size_t outer,
                                         size_t channels, size_t inner, float eps)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *gp = cpu_cf(gamma), *bp = cpu_cf(beta);
    const float *rm = cpu_cf(running_mean), *rv = cpu_cf(running_var);
    float *yp = cpu_f(y);
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    size_t planes = outer * channels;
    /* Every (row, channel) plane is independent: parallel over all of them. */
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t oc = 0; oc < planes; oc++) {
        size_t ch = oc % channels;
        const double mean = rm[ch];
        const double invstd = 1.0 / sqrt((double)rv[ch] + (double)eps);
        const double g = gp[ch], b = bp[ch];
        const float *run = xp + oc * inner;
        float *out = yp + oc * inner;
        for (size_t i = 0; i < inner; i++)
            out[i] = (float)(g * ((run[i] - mean) * invstd) + b);
    }
    return GANTRY_OK;
}

/* One block of channels of [N, C] data: the backward of f'(.) dy. */
static inline __attribute__((always_inline)) void bn_backward_rows(const float *xp, const float *yp, const float *dyp,
                                                                   const float *gp, const float *sm, const float *si,
                                                                   float *dxp, float *dgp, float *dbp, size_t outer,
                                                                   size_t channels, size_t blk, float grad_beta,
                                                                   const int act, float slope)
{
    const double count = (double)outer, gb = grad_beta;
    size_t c0 = blk * CPU_CH_BLOCK, cb = cpu_min_size(CPU_CH_BLOCK, channels - c0);
    double mean[CPU_CH_BLOCK], invstd[CPU_CH_BLOCK], k[CPU_CH_BLOCK];
    double sdy[CPU_CH_BLOCK] = { 0.0 }, sdyx[CPU_CH_BLOCK] = { 0.0 };
    for (size_t j = 0; j < cb; j++) {
        mean[j] = sm[c0 + j];
        invstd[j] = si[c0 + j];
    }
    for (size_t o = 0; o < outer; o++) {
        const size_t at = o * channels + c0;
        const float *xr = xp + at, *dyr = dyp + at, *yr = yp ? yp + at : NULL;
        for (size_t j = 0; j < cb; j++) {
            double xhat = (xr[j] - mean[j]) * invstd[j];
            float d = bn_act_grad(act, slope, yr, j, dyr[j]);
            sdy[j] += d;
            sdyx[j] += d * xhat;
        }
    }
    /* dx = gamma * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)) */
    for (size_t j = 0; j < cb; j++)
        k[j] = (double)gp[c0 + j] * invstd[j] / count;
    for (size_t o = 0; o < outer; o++) {
        const size_t at = o * channels + c0;
        const float *xr = xp + at, *dyr = dyp + at, *yr = yp ? yp + at : NULL;
        float *dxr = dxp + at;
        for (size_t j = 0; j < cb; j++) {
            double xhat = (xr[j] - mean[j]) * invstd[j];
            dxr[j] = (float)(k[j] * (count * bn_act_grad(act, slope, yr, j, dyr[j]) - sdy[j] - xhat * sdyx[j]));
        }
    }
    for (size_t j = 0; j < cb; j++) {
        double dg = sdyx[j], db = sdy[j];
        if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
            dg += gb * (double)dgp[c0 + j];
            db += gb * (double)dbp[c0 + j];
        }
        dgp[c0 + j] = (float)dg;
        dbp[c0 + j] = (float)db;
    }
}

/* batchnorm_backward of f'(.) dy, f the activation act after the forward
 * (BN_ACT_NONE: none; y, its output, is then not read). */
static gantry_status bn_backward(const cpu_ctx *c, int act, float slope, gantry_mem x, gantry_mem y, gantry_mem dy,
                                 gantry_mem gamma, gantry_mem save_mean, gantry_mem save_invstd, gantry_mem dx,
                                 gantry_mem dgamma, gantry_mem dbeta, size_t outer, size_t channels, size_t inner,
                                 float grad_beta)
{
    const float *xp = cpu_cf(x), *dyp = cpu_cf(dy), *gp = cpu_cf(gamma);
    const float *yp = act != BN_ACT_NONE ? cpu_cf(y) : NULL;
    const float *sm = cpu_cf(save_mean), *si = cpu_cf(save_invstd);
    float *dxp = cpu_f(dx), *dgp = cpu_f(dgamma), *dbp = cpu_f(dbeta);
    const double gb = grad_beta;
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    if (inner == 1) {
        size_t blocks = (channels + CPU_CH_BLOCK - 1) / CPU_CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            if (act == BN_ACT_RELU)
                bn_backward_rows(xp, yp, dyp, gp, sm, si, dxp, dgp, dbp, outer, channels, blk, grad_beta, BN_ACT_RELU,
                                 slope);
            else if (act == BN_ACT_LEAKY)
                bn_backward_rows(xp, yp, dyp, gp, sm, si, dxp, dgp, dbp, outer, channels, blk, grad_beta,
                                 BN_ACT_LEAKY, slope);
            else
                bn_backward_rows(xp, yp, dyp, gp, sm, si, dxp, dgp, dbp, outer, channels, blk, grad_beta, BN_ACT_NONE,
                                 slope);
        }
        return GANTRY_OK;
    }
    bn_backward_channel_fn backward_channel = c->avx2 ? bn_backward_channel_avx2 : bn_backward_channel_generic;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < channels; ch++) {
        double sdy, sdyx;
        const size_t at = ch * inner;
        const bn_channel p = { .x = xp + at, .y = yp ? yp + at : NULL, .dy = dyp + at, .out = dxp + at,
                               .outer = outer, .stride = channels * inner, .inner = inner, .g = gp[ch],
                               .slope = slope };
        backward_channel(&p, act, sm[ch], si[ch], &sdy, &sdyx);
        double dg = sdyx, db = sdy;
        if (grad_beta != 0.0f) {
            dg += gb * (double)dgp[ch];
            db += gb * (double)dbp[ch];
        }
        dgp[ch] = (float)dg;
        dbp[ch] = (float)db;
    }
    return GANTRY_OK;
}

gantry_status cpu_batchnorm_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                                     gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                     size_t outer, size_t channels, size_t inner, float grad_beta)
{
    return bn_backward(ctx, BN_ACT_NONE, 0.0f, x, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, outer,
                       channels, inner, grad_beta);
}

gantry_status cpu_batchnorm_act_backward(void *ctx, gantry_activation act, float param, gantry_mem x, gantry_mem y,
                                         gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                                         gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                         size_t outer, size_t channels, size_t inner, float grad_beta)
{
    return bn_backward(ctx, (int)act, param, x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, outer,
                       channels, inner, grad_beta);
}

/* ---- given statistics --------------------------------------------------- */

gantry_status cpu_batchnorm_forward_frozen(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                           gantry_mem mean, gantry_mem invstd, size_t outer, size_t channels,
                                           size_t inner)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *gp = cpu_cf(gamma), *bp = cpu_cf(beta);
    const float *mp = cpu_cf(mean), *ip = cpu_cf(invstd);
    float *yp = cpu_f(y);
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    if (inner == 1) {
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t o = 0; o < outer; o++) {
            const float *row = xp + o * channels;
            float *out = yp + o * channels;
#pragma omp simd
            for (size_t ch = 0; ch < channels; ch++)
                out[ch] = (float)((double)gp[ch] * (((double)row[ch] - (double)mp[ch]) * (double)ip[ch]) +
                                  (double)bp[ch]);
        }
        return GANTRY_OK;
    }
    const size_t planes = outer * channels;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t oc = 0; oc < planes; oc++) {
        const size_t ch = oc % channels;
        const double g = gp[ch], b = bp[ch], mu = mp[ch], is = ip[ch];
        const float *run = xp + oc * inner;
        float *out = yp + oc * inner;
#pragma omp simd
        for (size_t i = 0; i < inner; i++)
            out[i] = (float)(g * (((double)run[i] - mu) * is) + b);
    }
    return GANTRY_OK;
}

gantry_status cpu_batchnorm_backward_frozen(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem mean,
                                            gantry_mem invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                            size_t outer, size_t channels, size_t inner, float grad_beta)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *dyp = cpu_cf(dy), *gp = cpu_cf(gamma);
    const float *mp = cpu_cf(mean), *ip = cpu_cf(invstd);
    float *dxp = cpu_f(dx), *dgp = cpu_f(dgamma), *dbp = cpu_f(dbeta);
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    if (inner == 1) {
        const size_t blocks = (channels + CPU_CH_BLOCK - 1) / CPU_CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            const size_t c0 = blk * CPU_CH_BLOCK, cb = cpu_min_size(CPU_CH_BLOCK, channels - c0);
            double mu[CPU_CH_BLOCK], is[CPU_CH_BLOCK], k[CPU_CH_BLOCK];
            double sdy[CPU_CH_BLOCK] = { 0.0 }, sdyx[CPU_CH_BLOCK] = { 0.0 };
            for (size_t j = 0; j < cb; j++) {
                mu[j] = mp[c0 + j];
                is[j] = ip[c0 + j];
                k[j] = (double)gp[c0 + j] * is[j];
            }
            for (size_t o = 0; o < outer; o++) {
                const float *xr = xp + o * channels + c0, *dyr = dyp + o * channels + c0;
                float *dxr = dxp + o * channels + c0;
                for (size_t j = 0; j < cb; j++) {
                    const double g = dyr[j];
                    sdy[j] += g;
                    sdyx[j] += g * (((double)xr[j] - mu[j]) * is[j]);
                    dxr[j] = (float)(k[j] * g);
                }
            }
            for (size_t j = 0; j < cb; j++) {
                if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
                    sdyx[j] += (double)dgp[c0 + j];
                    sdy[j] += (double)dbp[c0 + j];
                }
                dgp[c0 + j] = (float)sdyx[j];
                dbp[c0 + j] = (float)sdy[j];
            }
        }
        return GANTRY_OK;
    }
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < channels; ch++) {
        const double mu = mp[ch], is = ip[ch], k = (double)gp[ch] * is;
        double sdy = 0.0, sdyx = 0.0;
        for (size_t o = 0; o < outer; o++) {
            const size_t at = (o * channels + ch) * inner;
            const float *xr = xp + at, *dyr = dyp + at;
            float *dxr = dxp + at;
            for (size_t i = 0; i < inner; i++) {
                const double g = dyr[i];
                sdy += g;
                sdyx += g * (((double)xr[i] - mu) * is);
            }
#pragma omp simd
            for (size_t i = 0; i < inner; i++)
                dxr[i] = (float)(k * (double)dyr[i]);
        }
        if (grad_beta != 0.0f) {
            sdyx += (double)dgp[ch];
            sdy += (double)dbp[ch];
        }
        dgp[ch] = (float)sdyx;
        dbp[ch] = (float)sdy;
    }
    return GANTRY_OK;
}

/* ---- virtual batch norm ------------------------------------------------- */

/* Each (example, channel) plane is independent in the forward: its sums,
 * statistics and outputs are the reference's double expressions in the
 * reference's order, so planes run in parallel. */
gantry_status cpu_vbn_forward(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                              gantry_mem ref_mean, gantry_mem ref_invstd, size_t ref_count, gantry_mem save_mean,
                              gantry_mem save_invstd, size_t outer, size_t channels, size_t inner, float eps)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *gp = cpu_cf(gamma), *bp = cpu_cf(beta);
    const float *rm = cpu_cf(ref_mean), *ri = cpu_cf(ref_invstd);
    float *yp = cpu_f(y), *sm = cpu_f(save_mean), *si = cpu_f(save_invstd);
    const size_t planes = outer * channels;
    int t = cpu_threads_for(c, planes * inner, CPU_GRAIN / 4);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t oc = 0; oc < planes; oc++) {
        const size_t ch = oc % channels;
        const float *run = xp + oc * inner;
        const host_vbn_stats st = host_vbn_plane_stats(run, inner, rm[ch], ri[ch], ref_count, eps);
        const double mean = st.mean, is = st.invstd, g = gp[ch], b = bp[ch];
        float *out = yp + oc * inner;
#pragma omp simd
        for (size_t i = 0; i < inner; i++)
            out[i] = (float)(g * (((double)run[i] - mean) * is) + b);
        sm[oc] = (float)mean;
        si[oc] = (float)is;
    }
    return GANTRY_OK;
}

/* dgamma and dbeta sum over examples, so channels run in parallel and each
 * sums its examples in the reference's order (blocks of adjacent channels
 * for [N, C] tensors, as the frozen backward).  The per-example sums start
 * from 0.0 as the reference's do (0.0 + -0.0 is +0.0). */
gantry_status cpu_vbn_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                               gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                               size_t ref_count, size_t outer, size_t channels, size_t inner, float grad_beta)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *dyp = cpu_cf(dy), *gp = cpu_cf(gamma);
    const float *sm = cpu_cf(save_mean), *si = cpu_cf(save_invstd);
    float *dxp = cpu_f(dx), *dgp = cpu_f(dgamma), *dbp = cpu_f(dbeta);
    const double n = (double)ref_count + (double)inner;
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    if (inner == 1) {
        const size_t blocks = (channels + CPU_CH_BLOCK - 1) / CPU_CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            const size_t c0 = blk * CPU_CH_BLOCK, cb = cpu_min_size(CPU_CH_BLOCK, channels - c0);
            double dg[CPU_CH_BLOCK] = { 0.0 }, db[CPU_CH_BLOCK] = { 0.0 };
            for (size_t o = 0; o < outer; o++) {
                const size_t at = o * channels + c0;
                for (size_t j = 0; j < cb; j++) {
                    const double mean = sm[at + j], is = si[at + j];
                    const double xhat = ((double)xp[at + j] - mean) * is;
                    double sum_dy = 0.0, sum_dy_xhat = 0.0;
                    sum_dy += dyp[at + j];
                    sum_dy_xhat += (double)dyp[at + j] * xhat;
                    const double k = (double)gp[c0 + j] * is;
                    dxp[at + j] = (float)(k * ((double)dyp[at + j] - sum_dy / n - xhat * sum_dy_xhat / n));
                    dg[j] += sum_dy_xhat;
                    db[j] += sum_dy;
                }
            }
            for (size_t j = 0; j < cb; j++) {
                if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
                    dg[j] += (double)dgp[c0 + j];
                    db[j] += (double)dbp[c0 + j];
                }
                dgp[c0 + j] = (float)dg[j];
                dbp[c0 + j] = (float)db[j];
            }
        }
        return GANTRY_OK;
    }
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < channels; ch++) {
        const double g = gp[ch];
        double dg = 0.0, db = 0.0;
        for (size_t o = 0; o < outer; o++) {
            const size_t at = (o * channels + ch) * inner;
            const float *xr = xp + at, *dyr = dyp + at;
            float *dxr = dxp + at;
            const double mean = sm[o * channels + ch], is = si[o * channels + ch];
            const host_vbn_grad_sums sums = host_vbn_plane_grad_sums(xr, dyr, inner, mean, is);
            const double sum_dy = sums.dy, sum_dy_xhat = sums.dy_xhat;
            const double k = g * is, a = sum_dy / n;
#pragma omp simd
            for (size_t i = 0; i < inner; i++) {
                const double xhat = ((double)xr[i] - mean) * is;
                dxr[i] = (float)(k * ((double)dyr[i] - a - xhat * sum_dy_xhat / n));
            }
            dg += sum_dy_xhat;
            db += sum_dy;
        }
        if (grad_beta != 0.0f) {
            dg += (double)dgp[ch];
            db += (double)dbp[ch];
        }
        dgp[ch] = (float)dg;
        dbp[ch] = (float)db;
    }
    return GANTRY_OK;
}
