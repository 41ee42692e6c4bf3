/* Reference ops of ABI version 2: convolution unfolding, reshuffles, the
 * regression and classification losses, dropout masks, minibatch
 * discrimination and batch norm with given statistics.  Plain loops with
 * float64 accumulation, written for clarity: these are the oracle. */
#include <math.h>
#include <string.h>

#include "gantry/philox.h"
#include "../row_lse.h"
#include "ref_v2.h"

static float *f(gantry_mem m)
{
    return (float *)m.buf + m.offset;
}

static const float *cf(gantry_mem m)
{
    return (const float *)m.buf + m.offset;
}

/* The image position im2col reads for (row, column) of col, or -1 in the padding. */
static long conv_source(const gantry_conv_geometry *g, size_t row, size_t column)
{
    size_t kj = row % g->kw, ki = (row / g->kw) % g->kh, ci = row / (g->kw * g->kh);
    size_t ox = column % g->ow, oy = (column / g->ow) % g->oh, b = column / (g->ow * g->oh);
    long iy = (long)(oy * g->sh + ki) - (long)g->ph, ix = (long)(ox * g->sw + kj) - (long)g->pw;
    if (iy < 0 || ix < 0 || iy >= (long)g->h || ix >= (long)g->w)
        return -1;
    return (long)(((b * g->c + ci) * g->h + (size_t)iy) * g->w + (size_t)ix);
}

gantry_status ref_im2col(void *ctx, gantry_mem x, gantry_mem col, const gantry_conv_geometry *g)
{
    (void)ctx;
    const float *xp = cf(x);
    float *cp = f(col);
    size_t rows = g->c * g->kh * g->kw, cols = g->n * g->oh * g->ow;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) {
            long at = conv_source(g, r, j);
            cp[r * cols + j] = at < 0 ? 0.0f : xp[at];
        }
    return GANTRY_OK;
}

gantry_status ref_col2im(void *ctx, gantry_mem col, gantry_mem x, const gantry_conv_geometry *g, float beta)
{
    (void)ctx;
    const float *cp = cf(col);
    float *xp = f(x);
    size_t n = g->n * g->c * g->h * g->w, cols = g->n * g->oh * g->ow;
    /* Gathered per image position in float64, in (row, column) order. */
    for (size_t i = 0; i < n; i++) {
        size_t ix = i % g->w, iy = (i / g->w) % g->h, ci = (i / (g->w * g->h)) % g->c, b = i / (g->w * g->h * g->c);
        double acc = beta != 0.0f ? (double)xp[i] : 0.0;
        for (size_t ki = 0; ki < g->kh; ki++) {
            long ty = (long)(iy + g->ph) - (long)ki;
            if (ty < 0 || ty % (long)g->sh != 0 || ty / (long)g->sh >= (long)g->oh)
                continue;
            for (size_t kj = 0; kj < g->kw; kj++) {
                long tx = (long)(ix + g->pw) - (long)kj;
                if (tx < 0 || tx % (long)g->sw != 0 || tx / (long)g->sw >= (long)g->ow)
                    continue;
                size_t r = (ci * g->kh + ki) * g->kw + kj;
                size_t j = (b * g->oh + (size_t)(ty / (long)g->sh)) * g->ow + (size_t)(tx / (long)g->sw);
                acc += cp[r * cols + j];
            }
        }
        xp[i] = (float)acc;
    }
    return GANTRY_OK;
}

gantry_status ref_swap_axes(void *ctx, gantry_mem x, gantry_mem y, size_t a, size_t b, size_t inner)
{
    (void)ctx;
    const float *xp = cf(x);
    float *yp = f(y);
    for (size_t i = 0; i < a; i++)
        for (size_t j = 0; j < b; j++)
            memcpy(yp + (j * a + i) * inner, xp + (i * b + j) * inner, inner * sizeof *yp);
    return GANTRY_OK;
}

gantry_status ref_copy_rows(void *ctx, gantry_mem x, size_t ldx, gantry_mem y, size_t ldy, size_t rows, size_t cols)
{
    (void)ctx;
    const float *xp = cf(x);
    float *yp = f(y);
    for (size_t r = 0; r < rows; r++)
        memcpy(yp + r * ldy, xp + r * ldx, cols * sizeof *yp);
    return GANTRY_OK;
}

gantry_status ref_regression_loss_forward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                          gantry_mem out)
{
    (void)ctx;
    const float *xp = cf(x), *tp = cf(t);
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)xp[i] - (double)tp[i];
        acc += kind == GANTRY_LOSS_MSE ? d * d : fabs(d);
    }
    f(out)[0] = (float)(acc / (double)n);
    return GANTRY_OK;
}

gantry_status ref_regression_loss_backward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                           float scale, gantry_mem dx)
{
    (void)ctx;
    const float *xp = cf(x), *tp = cf(t);
    float *dxp = f(dx);
    const double k = (double)scale / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = (double)xp[i] - (double)tp[i];
        double g = kind == GANTRY_LOSS_MSE ? 2.0 * d : (double)((d > 0.0) - (d < 0.0));
        dxp[i] = (float)(k * g);
    }
    return GANTRY_OK;
}

gantry_status ref_softmax_ce_forward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, gantry_mem out)
{
    (void)ctx;
    const float *xp = cf(x), *tp = cf(t);
    double acc = 0.0;
    for (size_t r = 0; r < rows; r++) {
        gantry_row_lse lse = gantry_row_lse_of(xp + r * k, k);
        for (size_t j = 0; j < k; j++)
            if (tp[r * k + j] != 0.0f) /* -t log softmax = t ((max - x) + log_sum) */
                acc += (double)tp[r * k + j] * ((lse.max - (double)xp[r * k + j]) + lse.log_sum);
    }
    f(out)[0] = (float)(acc / (double)rows);
    return GANTRY_OK;
}

gantry_status ref_softmax_ce_backward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, float scale,
                                      gantry_mem dx)
{
    (void)ctx;
    const float *xp = cf(x), *tp = cf(t);
    float *dxp = f(dx);
    const double s = (double)scale / (double)rows;
    for (size_t r = 0; r < rows; r++) {
        gantry_row_lse lse = gantry_row_lse_of(xp + r * k, k);
        double tsum = 0.0;
        for (size_t j = 0; j < k; j++)
            tsum += tp[r * k + j];
        for (size_t j = 0; j < k; j++) {
            double p = gantry_row_softmax(lse, xp[r * k + j]);
            dxp[r * k + j] = (float)(s * (p * tsum - (double)tp[r * k + j]));
        }
    }
    return GANTRY_OK;
}

gantry_status ref_logsumexp_forward(void *ctx, gantry_mem x, gantry_mem out, size_t rows, size_t k)
{
    (void)ctx;
    const float *xp = cf(x);
    float *op = f(out);
    for (size_t r = 0; r < rows; r++) {
        gantry_row_lse lse = gantry_row_lse_of(xp + r * k, k);
        op[r] = (float)(lse.max + lse.log_sum);
    }
    return GANTRY_OK;
}

gantry_status ref_logsumexp_backward(void *ctx, gantry_mem x, gantry_mem dout, gantry_mem dx, size_t rows, size_t k)
{
    (void)ctx;
    const float *xp = cf(x), *dp = cf(dout);
    float *dxp = f(dx);
    for (size_t r = 0; r < rows; r++) {
        gantry_row_lse lse = gantry_row_lse_of(xp + r * k, k);
        for (size_t j = 0; j < k; j++)
            dxp[r * k + j] = (float)((double)dp[r] * gantry_row_softmax(lse, xp[r * k + j]));
    }
    return GANTRY_OK;
}

gantry_status ref_dropout_mask(void *ctx, gantry_mem mask, size_t n, float p, uint64_t seed, uint64_t offset)
{
    (void)ctx;
    float *mp = f(mask);
    const float keep = (float)(1.0 / (1.0 - (double)p));
    for (size_t i = 0; i < n; i++)
        mp[i] = gantry_philox_uniform(seed, offset, i, 0.0f, 1.0f) >= p ? keep : 0.0f;
    return GANTRY_OK;
}

/* exp(-L1 distance) between rows i and j of kernel k. */
static double mbd_similarity(const float *mp, size_t i, size_t j, size_t k, size_t b, size_t c)
{
    const float *mi = mp + (i * b + k) * c, *mj = mp + (j * b + k) * c;
    double d = 0.0;
    for (size_t l = 0; l < c; l++)
        d += fabs((double)mi[l] - (double)mj[l]);
    return exp(-d);
}

gantry_status ref_minibatch_disc_forward(void *ctx, gantry_mem m, gantry_mem o, size_t n, size_t b, size_t c)
{
    (void)ctx;
    const float *mp = cf(m);
    float *op = f(o);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < b; k++) {
            double acc = 0.0;
            for (size_t j = 0; j < n; j++)
                acc += mbd_similarity(mp, i, j, k, b, c);
            op[i * b + k] = (float)acc;
        }
    return GANTRY_OK;
}

gantry_status ref_minibatch_disc_backward(void *ctx, gantry_mem m, gantry_mem dout, gantry_mem dm, size_t n, size_t b,
                                          size_t c)
{
    (void)ctx;
    const float *mp = cf(m), *dp = cf(dout);
    float *dmp = f(dm);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < b; k++)
            for (size_t l = 0; l < c; l++) {
                double acc = 0.0;
                double mil = mp[(i * b + k) * c + l];
                for (size_t j = 0; j < n; j++) {
                    double diff = mil - (double)mp[(j * b + k) * c + l];
                    if (diff == 0.0)
                        continue;
                    double e = mbd_similarity(mp, i, j, k, b, c);
                    acc -= ((double)dp[i * b + k] + (double)dp[j * b + k]) * e * (diff > 0.0 ? 1.0 : -1.0);
                }
                dmp[(i * b + k) * c + l] = (float)acc;
            }
    return GANTRY_OK;
}

gantry_status ref_batchnorm_forward_frozen(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                           gantry_mem mean, gantry_mem invstd, size_t outer, size_t channels,
                                           size_t inner)
{
    (void)ctx;
    const float *xp = cf(x), *gp = cf(gamma), *bp = cf(beta), *mp = cf(mean), *ip = cf(invstd);
    float *yp = f(y);
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
    const float *xp = cf(x), *dyp = cf(dy), *gp = cf(gamma), *mp = cf(mean), *ip = cf(invstd);
    float *dxp = f(dx), *dgp = f(dgamma), *dbp = f(dbeta);
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

gantry_status ref_vbn_forward(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                              gantry_mem ref_mean, gantry_mem ref_invstd, size_t ref_count, gantry_mem save_mean,
                              gantry_mem save_invstd, size_t outer, size_t channels, size_t inner, float eps)
{
    (void)ctx;
    const float *xp = cf(x), *gp = cf(gamma), *bp = cf(beta), *rm = cf(ref_mean), *ri = cf(ref_invstd);
    float *yp = f(y), *sm = f(save_mean), *si = f(save_invstd);
    const double r = (double)ref_count, n = r + (double)inner;
    for (size_t o = 0; o < outer; o++)
        for (size_t ch = 0; ch < channels; ch++) {
            const float *xo = xp + (o * channels + ch) * inner;
            double s = 0.0, q = 0.0;
            for (size_t i = 0; i < inner; i++) {
                s += xo[i];
                q += (double)xo[i] * (double)xo[i];
            }
            double rmean = rm[ch], rvar = 1.0 / ((double)ri[ch] * (double)ri[ch]) - (double)eps;
            double mean = (r * rmean + s) / n;
            double var = (r * (rvar + rmean * rmean) + q) / n - mean * mean;
            if (var < 0.0)
                var = 0.0;
            double invstd = 1.0 / sqrt(var + (double)eps);
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
    const float *xp = cf(x), *dyp = cf(dy), *gp = cf(gamma), *sm = cf(save_mean), *si = cf(save_invstd);
    float *dxp = f(dx), *dgp = f(dgamma), *dbp = f(dbeta);
    const double n = (double)ref_count + (double)inner;
    for (size_t ch = 0; ch < channels; ch++) {
        double dg = 0.0, db = 0.0;
        for (size_t o = 0; o < outer; o++) {
            size_t base = (o * channels + ch) * inner;
            double mean = sm[o * channels + ch], invstd = si[o * channels + ch];
            double sum_dy = 0.0, sum_dy_xhat = 0.0;
            for (size_t i = 0; i < inner; i++) {
                double xhat = ((double)xp[base + i] - mean) * invstd;
                sum_dy += dyp[base + i];
                sum_dy_xhat += (double)dyp[base + i] * xhat;
            }
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
