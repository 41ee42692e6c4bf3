/* gantry reference backend: batch normalisation with the batch's
 * statistics (training), the running statistics (evaluation) and given
 * statistics (frozen: reference batch norm), and virtual batch norm. */
#include <math.h>

#include "reference_impl.h"

#include "../bn_act_sequence.h"
#include "../host_norm.h"
#include "../lane_sums.h"

/* ---- training and evaluation -------------------------------------------- */

static size_t ref_nchw(size_t o, size_t ch, size_t i, size_t channels, size_t inner)
{
    return (o * channels + ch) * inner + i;
}

gantry_status ref_batchnorm_forward_train(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma,
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

gantry_status ref_batchnorm_forward_eval(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma,
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

gantry_status ref_batchnorm_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma,
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

/* ---- given statistics --------------------------------------------------- */

gantry_status ref_batchnorm_forward_frozen(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                           gantry_mem mean, gantry_mem invstd, size_t outer, size_t channels,
                                           size_t inner)
{
    (void)ctx;
    const float *xp = ref_cf(x), *gp = ref_cf(gamma), *bp = ref_cf(beta), *mp = ref_cf(mean), *ip = ref_cf(invstd);
    float *yp = ref_f(y);
    for (size_t o = 0; o < outer; o++)
        for (size_t ch = 0; ch < channels; ch++)
            for (size_t i = 0; i < inner; i++) {
                size_t at = (o * channels + ch) * inner + i;
                yp[at] = (float)((double)gp[ch] * (((double)xp[at] - mp[ch]) * (double)ip[ch]) + (double)bp[ch]);
            }
    return GANTRY_OK;
}

gantry_status ref_batchnorm_backward_frozen(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem mean,
                                            gantry_mem invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                            size_t outer, size_t channels, size_t inner, float grad_beta)
{
    (void)ctx;
    const float *xp = ref_cf(x), *dyp = ref_cf(dy), *gp = ref_cf(gamma), *mp = ref_cf(mean), *ip = ref_cf(invstd);
    float *dxp = ref_f(dx), *dgp = ref_f(dgamma), *dbp = ref_f(dbeta);
    for (size_t ch = 0; ch < channels; ch++) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        const double k = (double)gp[ch] * (double)ip[ch];
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                size_t at = (o * channels + ch) * inner + i;
                sum_dy += dyp[at];
                sum_dy_xhat += (double)dyp[at] * (((double)xp[at] - mp[ch]) * (double)ip[ch]);
                dxp[at] = (float)(k * (double)dyp[at]);
            }
        if (grad_beta != 0.0f) {
            sum_dy_xhat += (double)dgp[ch];
            sum_dy += (double)dbp[ch];
        }
        dgp[ch] = (float)sum_dy_xhat;
        dbp[ch] = (float)sum_dy;
    }
    return GANTRY_OK;
}

/* ---- virtual batch norm ------------------------------------------------- */

gantry_status ref_vbn_forward(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                              gantry_mem ref_mean, gantry_mem ref_invstd, size_t ref_count, gantry_mem save_mean,
                              gantry_mem save_invstd, size_t outer, size_t channels, size_t inner, float eps)
{
    (void)ctx;
    const float *xp = ref_cf(x), *gp = ref_cf(gamma), *bp = ref_cf(beta);
    const float *rm = ref_cf(ref_mean), *ri = ref_cf(ref_invstd);
    float *yp = ref_f(y), *sm = ref_f(save_mean), *si = ref_f(save_invstd);
    for (size_t o = 0; o < outer; o++)
        for (size_t ch = 0; ch < channels; ch++) {
            const float *xo = xp + (o * channels + ch) * inner;
            host_vbn_stats st = host_vbn_plane_stats(xo, inner, rm[ch], ri[ch], ref_count, eps);
            double mean = st.mean, invstd = st.invstd;
            float *yo = yp + (o * channels + ch) * inner;
            for (size_t i = 0; i < inner; i++)
                yo[i] = (float)((double)gp[ch] * (((double)xo[i] - mean) * invstd) + (double)bp[ch]);
            sm[o * channels + ch] = (float)mean;
            si[o * channels + ch] = (float)invstd;
        }
    return GANTRY_OK;
}

gantry_status ref_vbn_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                               gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                               size_t ref_count, size_t outer, size_t channels, size_t inner, float grad_beta)
{
    (void)ctx;
    const float *xp = ref_cf(x), *dyp = ref_cf(dy), *gp = ref_cf(gamma);
    const float *sm = ref_cf(save_mean), *si = ref_cf(save_invstd);
    float *dxp = ref_f(dx), *dgp = ref_f(dgamma), *dbp = ref_f(dbeta);
    const double n = (double)ref_count + (double)inner;
    for (size_t ch = 0; ch < channels; ch++) {
        double dg = 0.0, db = 0.0;
        for (size_t o = 0; o < outer; o++) {
            size_t base = (o * channels + ch) * inner;
            double mean = sm[o * channels + ch], invstd = si[o * channels + ch];
            host_vbn_grad_sums sums = host_vbn_plane_grad_sums(xp + base, dyp + base, inner, mean, invstd);
            const double sum_dy = sums.dy, sum_dy_xhat = sums.dy_xhat;
            const double k = (double)gp[ch] * invstd;
            for (size_t i = 0; i < inner; i++) {
                double xhat = ((double)xp[base + i] - mean) * invstd;
                dxp[base + i] = (float)(k * ((double)dyp[base + i] - sum_dy / n - xhat * sum_dy_xhat / n));
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

/* ---- with the activation after it ---------------------------------------- */

/* The two ops in turn: the definition the other backends are held to. */
BN_ACT_SEQUENCE_DEFINE(ref)
