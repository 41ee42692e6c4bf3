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

/* ---- one channel of [outer, channels, inner] data ------------------------
 * The per-channel passes of batch norm in double, compiled twice: for the
 * baseline (SSE2: two doubles a vector) and for AVX2 (four), chosen by the
 * CPU.  Both do the same double operations in the same order per value
 * (the lane sums of ../lane_sums.h; no contraction into FMAs: -std=c11), so
 * they give the same bits, the reference's.  x, y, dy and dx point at the
 * channel's first run; runs are `stride` apart. */

/* Two passes, as the reference: the mean, then the biased variance; then y. */
static inline __attribute__((always_inline)) void bn_train_channel_body(const float *x, float *y, size_t outer,
                                                                        size_t stride, size_t inner, double g,
                                                                        double b, float eps, double *mean_out,
                                                                        double *var_out)
{
    const double count = (double)(outer * inner);
    double sum = 0.0, sq = 0.0;
    for (size_t o = 0; o < outer; o++)
        sum += gantry_run_sum(x + o * stride, inner);
    const double mean = sum / count;
    for (size_t o = 0; o < outer; o++)
        sq += gantry_run_sum_sqdev(x + o * stride, inner, mean);
    const double var = sq / count;
    const double invstd = 1.0 / sqrt(var + (double)eps);
    for (size_t o = 0; o < outer; o++) {
        const float *run = x + o * stride;
        float *out = y + o * stride;
        for (size_t i = 0; i < inner; i++)
            out[i] = (float)(g * ((run[i] - mean) * invstd) + b);
    }
    *mean_out = mean;
    *var_out = var;
}

/* The sums of dy and dy xhat, then dx. */
static inline __attribute__((always_inline)) void bn_backward_channel_body(const float *x, const float *dy, float *dx,
                                                                           size_t outer, size_t stride, size_t inner,
                                                                           double mean, double invstd, double g,
                                                                           double *sdy_out, double *sdyx_out)
{
    const double count = (double)(outer * inner);
    double sdy = 0.0, sdyx = 0.0;
    for (size_t o = 0; o < outer; o++)
        gantry_run_sum_bn_grad(x + o * stride, dy + o * stride, inner, mean, invstd, &sdy, &sdyx);
    /* dx = gamma * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)) */
    const double k = g * invstd / count;
    for (size_t o = 0; o < outer; o++) {
        const float *xr = x + o * stride, *dyr = dy + o * stride;
        float *dxr = dx + o * stride;
        for (size_t i = 0; i < inner; i++) {
            double xhat = (xr[i] - mean) * invstd;
            dxr[i] = (float)(k * (count * dyr[i] - sdy - xhat * sdyx));
        }
    }
    *sdy_out = sdy;
    *sdyx_out = sdyx;
}

typedef void (*bn_train_channel_fn)(const float *x, float *y, size_t outer, size_t stride, size_t inner, double g,
                                    double b, float eps, double *mean, double *var);
typedef void (*bn_backward_channel_fn)(const float *x, const float *dy, float *dx, size_t outer, size_t stride,
                                       size_t inner, double mean, double invstd, double g, double *sdy,
                                       double *sdyx);

static void bn_train_channel_generic(const float *x, float *y, size_t outer, size_t stride, size_t inner, double g,
                                     double b, float eps, double *mean, double *var)
{
    bn_train_channel_body(x, y, outer, stride, inner, g, b, eps, mean, var);
}

static void bn_backward_channel_generic(const float *x, const float *dy, float *dx, size_t outer, size_t stride,
                                        size_t inner, double mean, double invstd, double g, double *sdy,
                                        double *sdyx)
{
    bn_backward_channel_body(x, dy, dx, outer, stride, inner, mean, invstd, g, sdy, sdyx);
}

#if CPU_X86
__attribute__((target("avx2"))) static void bn_train_channel_avx2(const float *x, float *y, size_t outer,
                                                                  size_t stride, size_t inner, double g, double b,
                                                                  float eps, double *mean, double *var)
{
    bn_train_channel_body(x, y, outer, stride, inner, g, b, eps, mean, var);
}

__attribute__((target("avx2"))) static void bn_backward_channel_avx2(const float *x, const float *dy, float *dx,
                                                                     size_t outer, size_t stride, size_t inner,
                                                                     double mean, double invstd, double g,
                                                                     double *sdy, double *sdyx)
{
    bn_backward_channel_body(x, dy, dx, outer, stride, inner, mean, invstd, g, sdy, sdyx);
}
#else
#define bn_train_channel_avx2 bn_train_channel_generic
#define bn_backward_channel_avx2 bn_backward_channel_generic
#endif

/* ---- training and evaluation -------------------------------------------- */

gantry_status cpu_batchnorm_forward_train(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                          gantry_mem running_mean, gantry_mem running_var, gantry_mem save_mean,
                                          gantry_mem save_invstd, size_t outer, size_t channels, size_t inner,
                                          float momentum, float eps)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *gp = cpu_cf(gamma), *bp = cpu_cf(beta);
    float *yp = cpu_f(y), *rm = cpu_f(running_mean), *rv = cpu_f(running_var);
    float *sm = cpu_f(save_mean), *si = cpu_f(save_invstd);
    const double count = (double)(outer * inner), mom = momentum;
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    if (inner == 1) {
        size_t blocks = (channels + CPU_CH_BLOCK - 1) / CPU_CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
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
                    out[j] = (float)(g[j] * ((row[j] - mean[j]) * invstd[j]) + b[j]);
            }
        }
        return GANTRY_OK;
    }
    bn_train_channel_fn train_channel = c->avx2 ? bn_train_channel_avx2 : bn_train_channel_generic;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < channels; ch++) {
        double mean, var;
        train_channel(xp + ch * inner, yp + ch * inner, outer, channels * inner, inner, gp[ch], bp[ch], eps, &mean,
                      &var);
        const double invstd = 1.0 / sqrt(var + (double)eps);
        const double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
        sm[ch] = (float)mean;
        si[ch] = (float)invstd;
        rm[ch] = (float)((1.0 - mom) * rm[ch] + mom * mean);
        rv[ch] = (float)((1.0 - mom) * rv[ch] + mom * unbiased);
    }
    return GANTRY_OK;
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

gantry_status cpu_batchnorm_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                                     gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                     size_t outer, size_t channels, size_t inner, float grad_beta)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *dyp = cpu_cf(dy), *gp = cpu_cf(gamma);
    const float *sm = cpu_cf(save_mean), *si = cpu_cf(save_invstd);
    float *dxp = cpu_f(dx), *dgp = cpu_f(dgamma), *dbp = cpu_f(dbeta);
    const double count = (double)(outer * inner), gb = grad_beta;
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    if (inner == 1) {
        size_t blocks = (channels + CPU_CH_BLOCK - 1) / CPU_CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            size_t c0 = blk * CPU_CH_BLOCK, cb = cpu_min_size(CPU_CH_BLOCK, channels - c0);
            double mean[CPU_CH_BLOCK], invstd[CPU_CH_BLOCK], k[CPU_CH_BLOCK];
            double sdy[CPU_CH_BLOCK] = { 0.0 }, sdyx[CPU_CH_BLOCK] = { 0.0 };
            for (size_t j = 0; j < cb; j++) {
                mean[j] = sm[c0 + j];
                invstd[j] = si[c0 + j];
            }
            for (size_t o = 0; o < outer; o++) {
                const float *xr = xp + o * channels + c0, *dyr = dyp + o * channels + c0;
                for (size_t j = 0; j < cb; j++) {
                    double xhat = (xr[j] - mean[j]) * invstd[j];
                    sdy[j] += dyr[j];
                    sdyx[j] += dyr[j] * xhat;
                }
            }
            /* dx = gamma * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)) */
            for (size_t j = 0; j < cb; j++)
                k[j] = (double)gp[c0 + j] * invstd[j] / count;
            for (size_t o = 0; o < outer; o++) {
                const float *xr = xp + o * channels + c0, *dyr = dyp + o * channels + c0;
                float *dxr = dxp + o * channels + c0;
                for (size_t j = 0; j < cb; j++) {
                    double xhat = (xr[j] - mean[j]) * invstd[j];
                    dxr[j] = (float)(k[j] * (count * dyr[j] - sdy[j] - xhat * sdyx[j]));
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
        return GANTRY_OK;
    }
    bn_backward_channel_fn backward_channel = c->avx2 ? bn_backward_channel_avx2 : bn_backward_channel_generic;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < channels; ch++) {
        double sdy, sdyx;
        backward_channel(xp + ch * inner, dyp + ch * inner, dxp + ch * inner, outer, channels * inner, inner, sm[ch],
                         si[ch], gp[ch], &sdy, &sdyx);
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
