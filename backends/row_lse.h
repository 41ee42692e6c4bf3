/* The log-sum-exp of one row of logits, in double, as the ABI defines it
 * (backend.h, logsumexp_forward) and as the host backends (reference and
 * cpu) compute it, so they agree bit for bit.
 *
 * lse = max + log_sum: max is the row's maximum, log_sum =
 * log1p(sum of exp(x_j - max) over every entry but the first maximum).
 * Kept apart, a value just above the maximum's own term 1 keeps its digits
 * (log(1 + 1e-9) in floats is 0): the cross-entropy of a confident right
 * answer is (max - x) + log_sum, not a difference of two large numbers.
 * Non-finite rows, as torch.logsumexp: a NaN anywhere gives max = NaN (+Inf
 * beside it included); else an infinite maximum (+Inf, or -Inf for a row
 * of -Inf) is the answer, with log_sum = 0. */
#ifndef GANTRY_BACKENDS_ROW_LSE_H
#define GANTRY_BACKENDS_ROW_LSE_H

#include <math.h>
#include <stddef.h>

typedef struct gantry_row_lse {
    double max, log_sum;
} gantry_row_lse;

static inline gantry_row_lse gantry_row_lse_of(const float *row, size_t k)
{
    gantry_row_lse r = { -INFINITY, 0.0 };
    size_t at = 0;
    for (size_t j = 0; j < k; j++) {
        if (isnan(row[j])) {
            r.max = NAN;
            return r;
        }
        if (row[j] > r.max) {
            r.max = row[j];
            at = j;
        }
    }
    if (isinf(r.max))
        return r;
    double rest = 0.0;
    for (size_t j = 0; j < k; j++)
        if (j != at)
            rest += exp((double)row[j] - r.max);
    r.log_sum = log1p(rest);
    return r;
}

/* softmax(row)_j = exp((x_j - max) - log_sum). */
static inline double gantry_row_softmax(gantry_row_lse r, float x)
{
    return exp(((double)x - r.max) - r.log_sum);
}

#endif
