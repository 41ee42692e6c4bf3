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

typedef struct bce_sum_args {
    const float *x;
    double t;
} bce_sum_args;

static double bce_range_sum(const void *arg, size_t lo, size_t hi)
{
    const bce_sum_args *a = arg;
    return host_bce_logits_sum(a->x + lo, hi - lo, a->t);
}

gantry_status cpu_bce_logits_forward(void *ctx, gantry_mem x, size_t n, float target, gantry_mem out)
{
    const cpu_ctx *c = ctx;
    const bce_sum_args args = { cpu_cf(x), target };
    double acc = cpu_chunked_sum(c, n, CPU_GRAIN / 16, bce_range_sum, &args);
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

typedef struct regression_sum_args {
    gantry_loss_kind kind;
    const float *x, *t;
} regression_sum_args;

static double regression_range_sum(const void *arg, size_t lo, size_t hi)
{
    const regression_sum_args *a = arg;
    return host_regression_sum(a->kind, a->x + lo, a->t + lo, hi - lo);
}

gantry_status cpu_regression_loss_forward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                          gantry_mem out)
{
    const cpu_ctx *c = ctx;
    const regression_sum_args args = { kind, cpu_cf(x), cpu_cf(t) };
    double acc = cpu_chunked_sum(c, n, CPU_GRAIN, regression_range_sum, &args);
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

typedef struct softmax_ce_sum_args {
    const float *x, *t;
    size_t k;
} softmax_ce_sum_args;

static double softmax_ce_range_sum(const void *arg, size_t lo, size_t hi)
{
    const softmax_ce_sum_args *a = arg;
    return host_softmax_ce_sum(a->x, a->t, lo, hi, a->k);
}

gantry_status cpu_softmax_ce_forward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, gantry_mem out)
{
    const cpu_ctx *c = ctx;
    size_t grain = CPU_GRAIN / 16 / k;
    const softmax_ce_sum_args args = { cpu_cf(x), cpu_cf(t), k };
    /* The reference adds every term to one running sum; each part
     * starts from 0, so adding the parts continues it. */
    double acc = cpu_chunked_sum(c, rows, grain ? grain : 1, softmax_ce_range_sum, &args);
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
