/* gantry cpu backend: the losses (BCE with logits, MSE / L1 regression,
 * softmax cross-entropy) and logsumexp.
 *
 * The arithmetic is the reference's, in double, expression for expression.
 * Per-element and per-row work (the gradients, softmax, logsumexp) runs in
 * parallel and gives the reference's bits.  The whole-tensor means (BCE,
 * the regression loss, softmax CE's mean over rows) add double partial sums
 * of fixed chunks, each summed in the reference's order, the chunks
 * depending on the size alone: the reference's bits when there is one
 * chunk, within an ulp of them otherwise, and the same result on any thread
 * count. */
#include "../host_loss.h"
#include "../row_lse.h"
#include "../sigmoid_double.h"
#include "cpu_impl.h"

/* ---- binary cross-entropy ----------------------------------------------- */

gantry_status cpu_bce_logits_forward(void *ctx, gantry_mem x, size_t n, float target, gantry_mem out)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    const double tg = target;
    size_t chunks = cpu_reduce_chunks(n, CPU_GRAIN / 16);
    double acc = 0.0;
    if (chunks == 1) {
        acc = host_bce_logits_sum(xp, n, tg); /* the reference's order exactly */
    } else {
        double part[CPU_MAX_REDUCE_CHUNKS];
        int t = cpu_threads_for(c, chunks, 1);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t ch = 0; ch < chunks; ch++) {
            size_t lo = n / chunks * ch, hi = ch + 1 == chunks ? n : n / chunks * (ch + 1);
            part[ch] = host_bce_logits_sum(xp + lo, hi - lo, tg);
        }
        for (size_t ch = 0; ch < chunks; ch++)
            acc += part[ch];
    }
    cpu_f(out)[0] = (float)(n ? acc / (double)n : 0.0);
    return GANTRY_OK;
}

gantry_status cpu_bce_logits_backward(void *ctx, gantry_mem x, size_t n, float target, float scale, gantry_mem dx)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    float *dxp = cpu_f(dx);
    const double tg = target, k = (double)scale / (double)n;
    int t = cpu_threads_for(c, n, CPU_GRAIN / 16);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        dxp[i] = (float)(k * (gantry_sigmoid_double(xp[i]) - tg));
    return GANTRY_OK;
}

/* ---- regression losses -------------------------------------------------- */

gantry_status cpu_regression_loss_forward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                          gantry_mem out)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *tp = cpu_cf(t);
    size_t chunks = cpu_reduce_chunks(n, CPU_GRAIN);
    double acc = 0.0;
    if (chunks == 1) {
        acc = host_regression_sum(kind, xp, tp, n); /* the reference's order exactly */
    } else {
        double part[CPU_MAX_REDUCE_CHUNKS];
        int th = cpu_threads_for(c, chunks, 1);
#pragma omp parallel for num_threads(th) if (parallel : th > 1) schedule(static)
        for (size_t ch = 0; ch < chunks; ch++) {
            size_t lo = n / chunks * ch, hi = ch + 1 == chunks ? n : n / chunks * (ch + 1);
            part[ch] = host_regression_sum(kind, xp + lo, tp + lo, hi - lo);
        }
        for (size_t ch = 0; ch < chunks; ch++)
            acc += part[ch];
    }
    cpu_f(out)[0] = (float)(acc / (double)n);
    return GANTRY_OK;
}

gantry_status cpu_regression_loss_backward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                           float scale, gantry_mem dx)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *tp = cpu_cf(t);
    float *dxp = cpu_f(dx);
    const double k = (double)scale / (double)n;
    int th = cpu_threads_for(c, n, CPU_GRAIN);
    if (kind == GANTRY_LOSS_MSE) {
#pragma omp parallel for simd num_threads(th) if (parallel : th > 1) schedule(static)
        for (size_t i = 0; i < n; i++) {
            double d = (double)xp[i] - (double)tp[i];
            dxp[i] = (float)(k * (2.0 * d));
        }
    } else {
        /* sign(d) with sign(0) = sign(NaN) = 0, as the reference. */
#pragma omp parallel for simd num_threads(th) if (parallel : th > 1) schedule(static)
        for (size_t i = 0; i < n; i++) {
            double d = (double)xp[i] - (double)tp[i];
            double g = (double)((d > 0.0) - (d < 0.0));
            dxp[i] = (float)(k * g);
        }
    }
    return GANTRY_OK;
}

/* ---- softmax cross-entropy and logsumexp -------------------------------- */

/* Rows per thread for per-row work of k exp() calls each. */
static int row_threads(const cpu_ctx *c, size_t rows, size_t k)
{
    return cpu_threads_for(c, rows * k, CPU_GRAIN / 16);
}

gantry_status cpu_softmax_ce_forward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, gantry_mem out)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *tp = cpu_cf(t);
    size_t grain = CPU_GRAIN / 16 / k;
    size_t chunks = cpu_reduce_chunks(rows, grain ? grain : 1);
    double acc = 0.0;
    if (chunks == 1) {
        acc = host_softmax_ce_sum(xp, tp, 0, rows, k);
    } else {
        double part[CPU_MAX_REDUCE_CHUNKS];
        int th = cpu_threads_for(c, chunks, 1);
#pragma omp parallel for num_threads(th) if (parallel : th > 1) schedule(static)
        for (size_t ch = 0; ch < chunks; ch++) {
            size_t lo = rows / chunks * ch, hi = ch + 1 == chunks ? rows : rows / chunks * (ch + 1);
            part[ch] = host_softmax_ce_sum(xp, tp, lo, hi, k);
        }
        /* The reference adds every term to one running sum; each part
         * starts from 0, so adding the parts continues it. */
        for (size_t ch = 0; ch < chunks; ch++)
            acc += part[ch];
    }
    cpu_f(out)[0] = (float)(acc / (double)rows);
    return GANTRY_OK;
}

gantry_status cpu_softmax_ce_backward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, float scale,
                                      gantry_mem dx)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *tp = cpu_cf(t);
    float *dxp = cpu_f(dx);
    const double s = (double)scale / (double)rows;
    int th = row_threads(c, rows, k);
#pragma omp parallel for num_threads(th) if (parallel : th > 1) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = xp + r * k, *tr = tp + r * k;
        float *dr = dxp + r * k;
        gantry_row_lse lse = gantry_row_lse_of(xr, k);
        double tsum = 0.0;
        for (size_t j = 0; j < k; j++)
            tsum += tr[j];
        for (size_t j = 0; j < k; j++) {
            double p = gantry_row_softmax(lse, xr[j]);
            dr[j] = (float)(s * (p * tsum - (double)tr[j]));
        }
    }
    return GANTRY_OK;
}

gantry_status cpu_logsumexp_forward(void *ctx, gantry_mem x, gantry_mem out, size_t rows, size_t k)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    float *op = cpu_f(out);
    int th = row_threads(c, rows, k);
#pragma omp parallel for num_threads(th) if (parallel : th > 1) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        gantry_row_lse lse = gantry_row_lse_of(xp + r * k, k);
        op[r] = (float)(lse.max + lse.log_sum);
    }
    return GANTRY_OK;
}

gantry_status cpu_logsumexp_backward(void *ctx, gantry_mem x, gantry_mem dout, gantry_mem dx, size_t rows, size_t k)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *dp = cpu_cf(dout);
    float *dxp = cpu_f(dx);
    int th = row_threads(c, rows, k);
#pragma omp parallel for num_threads(th) if (parallel : th > 1) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = xp + r * k;
        float *dr = dxp + r * k;
        const gantry_row_lse lse = gantry_row_lse_of(xr, k);
        const double d = dp[r];
        for (size_t j = 0; j < k; j++)
            dr[j] = (float)(d * gantry_row_softmax(lse, xr[j]));
    }
    return GANTRY_OK;
}
