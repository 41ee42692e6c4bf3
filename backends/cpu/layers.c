/* gantry cpu backend: the layer ops of ABI version 2 that are neither
 * convolution nor a loss: dropout masks, minibatch discrimination, batch
 * normalisation with given statistics (reference / virtual batch norm) and
 * virtual batch norm proper.  All give the reference's bits on any thread count:
 *
 * - dropout_mask draws each counter block once for its four elements, as
 *   rand_uniform (random.c) does, and applies gantry/philox.h's uniform
 *   formula for [0, 1) in float exactly as the header writes it.
 * - minibatch discrimination runs samples i in parallel and computes every
 *   L1 distance, exponential and sum over j in the reference's order; the
 *   backward computes e_ijk once per (i, k, j) instead of once per l (the
 *   same value) and accumulates each dm element over j ascending.
 * - frozen batch norm is the reference's double expression per element;
 *   its backward sums each channel in the reference's order (channels in
 *   parallel; blocks of adjacent channels for [N, C] tensors, as nn_ops.c).
 * - virtual batch norm runs (example, channel) planes in parallel in the
 *   forward and channels in the backward (dgamma, dbeta sum over examples),
 *   each sum in the reference's order.
 *
 * This file must never be built with -ffast-math or -ffp-contract=fast. */
#include <math.h>

#include "gantry/philox.h"

#include "cpu_impl.h"

#define CH_BLOCK 32
/* minibatch_disc_backward accumulates at most this many of the c
 * dimensions at a time (doubles on the stack). */
#define MBD_TILE 64

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- dropout ------------------------------------------------------------ */

gantry_status cpu_dropout_mask(void *ctx, gantry_mem mask, size_t n, float p, uint64_t seed, uint64_t offset)
{
    const cpu_ctx *c = ctx;
    float *mp = cpu_f(mask);
    const float keep = (float)(1.0 / (1.0 - (double)p));
    const float lo = 0.0f, hi = 1.0f;
    const size_t blocks = (n + 3) / 4;
    int t = cpu_threads_for(c, n, CPU_GRAIN / 8);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t blk = 0; blk < blocks; blk++) {
        gantry_philox_block b = gantry_philox4x32_10(seed, offset + blk);
        size_t i0 = blk * 4, end = n - i0 < 4 ? n - i0 : 4;
        for (size_t w = 0; w < end; w++) {
            /* gantry_philox_uniform(seed, offset, i0 + w, 0, 1) */
            float u = gantry_philox_u01(b.v[w]);
            float span = hi - lo;
            float scaled = span * u;
            float v = lo + scaled;
            mp[i0 + w] = v >= p ? keep : 0.0f;
        }
    }
    return GANTRY_OK;
}

/* ---- minibatch discrimination ------------------------------------------- */

/* exp(-L1 distance) between rows mi and mj of c values, as the reference. */
static double similarity(const float *mi, const float *mj, size_t c)
{
    double d = 0.0;
    for (size_t l = 0; l < c; l++)
        d += fabs((double)mi[l] - (double)mj[l]);
    return exp(-d);
}

gantry_status cpu_minibatch_disc_forward(void *ctx, gantry_mem m, gantry_mem o, size_t n, size_t b, size_t c)
{
    const cpu_ctx *cx = ctx;
    const float *mp = cpu_cf(m);
    float *op = cpu_f(o);
    int t = cpu_threads_for(cx, n * n * b * c, CPU_GRAIN);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < b; k++) {
            const float *mi = mp + (i * b + k) * c;
            double acc = 0.0;
            for (size_t j = 0; j < n; j++)
                acc += similarity(mi, mp + (j * b + k) * c, c);
            op[i * b + k] = (float)acc;
        }
    return GANTRY_OK;
}

gantry_status cpu_minibatch_disc_backward(void *ctx, gantry_mem m, gantry_mem dout, gantry_mem dm, size_t n, size_t b,
                                          size_t c)
{
    const cpu_ctx *cx = ctx;
    const float *mp = cpu_cf(m), *dp = cpu_cf(dout);
    float *dmp = cpu_f(dm);
    int t = cpu_threads_for(cx, n * n * b * c, CPU_GRAIN / 2);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < b; k++) {
            const float *mi = mp + (i * b + k) * c;
            const double dpi = dp[i * b + k];
            for (size_t l0 = 0; l0 < c; l0 += MBD_TILE) {
                const size_t len = min_size(MBD_TILE, c - l0);
                double acc[MBD_TILE];
                for (size_t l = 0; l < len; l++)
                    acc[l] = 0.0;
                for (size_t j = 0; j < n; j++) {
                    const float *mj = mp + (j * b + k) * c;
                    const double w = dpi + (double)dp[j * b + k];
                    const double e = similarity(mi, mj, c);
                    for (size_t l = 0; l < len; l++) {
                        double diff = (double)mi[l0 + l] - (double)mj[l0 + l];
                        if (diff == 0.0)
                            continue;
                        acc[l] -= w * e * (diff > 0.0 ? 1.0 : -1.0);
                    }
                }
                for (size_t l = 0; l < len; l++)
                    dmp[(i * b + k) * c + l0 + l] = (float)acc[l];
            }
        }
    return GANTRY_OK;
}

/* ---- batch normalisation with given statistics -------------------------- */

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
        const size_t blocks = (channels + CH_BLOCK - 1) / CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            const size_t c0 = blk * CH_BLOCK, cb = min_size(CH_BLOCK, channels - c0);
            double mu[CH_BLOCK], is[CH_BLOCK], k[CH_BLOCK];
            double sdy[CH_BLOCK] = { 0.0 }, sdyx[CH_BLOCK] = { 0.0 };
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

/* ---- virtual batch norm --------------------------------------------------- */

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
    const double r = (double)ref_count, n = r + (double)inner, e = (double)eps;
    const size_t planes = outer * channels;
    int t = cpu_threads_for(c, planes * inner, CPU_GRAIN / 4);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t oc = 0; oc < planes; oc++) {
        const size_t ch = oc % channels;
        const float *run = xp + oc * inner;
        double s = 0.0, q = 0.0;
        for (size_t i = 0; i < inner; i++) { /* in order: no simd reduction */
            s += run[i];
            q += (double)run[i] * (double)run[i];
        }
        const double rmean = rm[ch], rvar = 1.0 / ((double)ri[ch] * (double)ri[ch]) - e;
        const double mean = (r * rmean + s) / n;
        double var = (r * (rvar + rmean * rmean) + q) / n - mean * mean;
        if (var < 0.0)
            var = 0.0;
        const double is = 1.0 / sqrt(var + e), g = gp[ch], b = bp[ch];
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
        const size_t blocks = (channels + CH_BLOCK - 1) / CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            const size_t c0 = blk * CH_BLOCK, cb = min_size(CH_BLOCK, channels - c0);
            double dg[CH_BLOCK] = { 0.0 }, db[CH_BLOCK] = { 0.0 };
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
            double sum_dy = 0.0, sum_dy_xhat = 0.0;
            for (size_t i = 0; i < inner; i++) { /* in order: no simd reduction */
                const double xhat = ((double)xr[i] - mean) * is;
                sum_dy += dyr[i];
                sum_dy_xhat += (double)dyr[i] * xhat;
            }
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
