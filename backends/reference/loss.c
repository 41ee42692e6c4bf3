/* gantry reference backend: the losses (BCE with logits, MSE / L1
 * regression, softmax cross-entropy) and logsumexp. */
#include "reference_impl.h"

#include "../host_loss.h"
#include "../row_lse.h"
#include "../sigmoid_double.h"

/* ---- binary cross-entropy ----------------------------------------------- */

gantry_status ref_bce_logits_forward(void *ctx, gantry_mem x, size_t n, float target, gantry_mem out)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    double acc = host_bce_logits_sum(xp, n, target);
    ref_f(out)[0] = (float)(n ? acc / (double)n : 0.0);
    return GANTRY_OK;
}

gantry_status ref_bce_logits_backward(void *ctx, gantry_mem x, size_t n, float target, float scale,
                                      gantry_mem dx)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *dxp = ref_f(dx);
    const double t = target, k = (double)scale / (double)n;
    for (size_t i = 0; i < n; i++)
        dxp[i] = (float)(k * (gantry_sigmoid_double(xp[i]) - t));
    return GANTRY_OK;
}

/* ---- regression --------------------------------------------------------- */

gantry_status ref_regression_loss_forward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                          gantry_mem out)
{
    (void)ctx;
    const float *xp = ref_cf(x), *tp = ref_cf(t);
    double acc = host_regression_sum(kind, xp, tp, n);
    ref_f(out)[0] = (float)(acc / (double)n);
    return GANTRY_OK;
}

gantry_status ref_regression_loss_backward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                           float scale, gantry_mem dx)
{
    (void)ctx;
    const float *xp = ref_cf(x), *tp = ref_cf(t);
    float *dxp = ref_f(dx);
    const double k = (double)scale / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = (double)xp[i] - (double)tp[i];
        double g = kind == GANTRY_LOSS_MSE ? 2.0 * d : (double)((d > 0.0) - (d < 0.0));
        dxp[i] = (float)(k * g);
    }
    return GANTRY_OK;
}

/* ---- softmax cross-entropy and logsumexp -------------------------------- */

gantry_status ref_softmax_ce_forward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, gantry_mem out)
{
    (void)ctx;
    const float *xp = ref_cf(x), *tp = ref_cf(t);
    double acc = host_softmax_ce_sum(xp, tp, 0, rows, k);
    ref_f(out)[0] = (float)(acc / (double)rows);
    return GANTRY_OK;
}

gantry_status ref_softmax_ce_backward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, float scale,
                                      gantry_mem dx)
{
    (void)ctx;
    const float *xp = ref_cf(x), *tp = ref_cf(t);
    float *dxp = ref_f(dx);
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
    const float *xp = ref_cf(x);
    float *op = ref_f(out);
    for (size_t r = 0; r < rows; r++) {
        gantry_row_lse lse = gantry_row_lse_of(xp + r * k, k);
        op[r] = (float)(lse.max + lse.log_sum);
    }
    return GANTRY_OK;
}

gantry_status ref_logsumexp_backward(void *ctx, gantry_mem x, gantry_mem dout, gantry_mem dx, size_t rows, size_t k)
{
    (void)ctx;
    const float *xp = ref_cf(x), *dp = ref_cf(dout);
    float *dxp = ref_f(dx);
    for (size_t r = 0; r < rows; r++) {
        gantry_row_lse lse = gantry_row_lse_of(xp + r * k, k);
        for (size_t j = 0; j < k; j++)
            dxp[r * k + j] = (float)((double)dp[r] * gantry_row_softmax(lse, xp[r * k + j]));
    }
    return GANTRY_OK;
}
