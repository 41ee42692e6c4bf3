/* The loss sums the host backends (reference and cpu) share, so that they
 * agree bit for bit: each adds its terms in double, in index order, from
 * 0.0.  The reference sums a whole tensor with one call; the cpu backend
 * sums fixed chunks with them and adds the chunks' sums in order. */
#ifndef GANTRY_BACKENDS_HOST_LOSS_H
#define GANTRY_BACKENDS_HOST_LOSS_H

#include <math.h>
#include <stddef.h>

#include "gantry/backend.h"

#include "row_lse.h"

/* BCE with logits against one target t: the sum over x[0..n) of
 * max(x, 0) - x t + log1p(exp(-|x|)). */
static inline double host_bce_logits_sum(const float *x, size_t n, double t)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        acc += (v > 0.0 ? v : 0.0) - v * t + log1p(exp(-fabs(v)));
    }
    return acc;
}

/* The sum over [0, n) of (x - t)^2 (MSE) or |x - t| (L1). */
static inline double host_regression_sum(gantry_loss_kind kind, const float *x, const float *t, size_t n)
{
    double acc = 0.0;
    if (kind == GANTRY_LOSS_MSE) {
        for (size_t i = 0; i < n; i++) {
            double d = (double)x[i] - (double)t[i];
            acc += d * d;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            double d = (double)x[i] - (double)t[i];
            acc += fabs(d);
        }
    }
    return acc;
}

/* -sum over rows [lo, hi) of sum_j t log softmax(x)_j, rows of k logits. */
static inline double host_softmax_ce_sum(const float *xp, const float *tp, size_t lo, size_t hi, size_t k)
{
    double acc = 0.0;
    for (size_t r = lo; r < hi; r++) {
        gantry_row_lse lse = gantry_row_lse_of(xp + r * k, k);
        for (size_t j = 0; j < k; j++)
            if (tp[r * k + j] != 0.0f) /* -t log softmax = t ((max - x) + log_sum) */
                acc += (double)tp[r * k + j] * ((lse.max - (double)xp[r * k + j]) + lse.log_sum);
    }
    return acc;
}

#endif
