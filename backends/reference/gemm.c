/* gantry reference backend: C = alpha op(A) op(B) + beta C. */
#include <stdlib.h>

#include "reference_impl.h"

/* Each C element is a double sum over p in ascending order.  The loop order
 * only decides which operand is walked contiguously: dot products when B is
 * transposed (rows of A and B), row updates otherwise (rows of B), so every
 * case reads memory in order and gives the same bits as the naive triple loop. */
gantry_status ref_gemm(void *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                       gantry_mem a, size_t lda, gantry_mem b, size_t ldb, float beta, gantry_mem c,
                       size_t ldc)
{
    ref_ctx *rc = ctx;
    const float *ap = ref_cf(a);
    const float *bp = ref_cf(b);
    float *cp = ref_f(c);
    double *row = malloc((n ? n : 1) * sizeof *row);
    if (!row)
        return ref_error(rc->host, GANTRY_OUT_OF_MEMORY, "reference: gemm: no memory for a row of %zu", n);
    for (size_t i = 0; i < m; i++) {
        if (trans_b) {
            for (size_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (size_t p = 0; p < k; p++) {
                    double aip = trans_a ? ap[p * lda + i] : ap[i * lda + p]; /* op(A)[i][p] */
                    acc += aip * (double)bp[j * ldb + p];                     /* op(B)[p][j] */
                }
                row[j] = acc;
            }
        } else {
            for (size_t j = 0; j < n; j++)
                row[j] = 0.0;
            for (size_t p = 0; p < k; p++) {
                double aip = trans_a ? ap[p * lda + i] : ap[i * lda + p];
                const float *brow = bp + p * ldb;
                for (size_t j = 0; j < n; j++)
                    row[j] += aip * (double)brow[j];
            }
        }
        for (size_t j = 0; j < n; j++) {
            double r = (double)alpha * row[j];
            if (beta != 0.0f) /* beta == 0: C is not read, NaN in C must not leak */
                r += (double)beta * (double)cp[i * ldc + j];
            cp[i * ldc + j] = (float)r;
        }
    }
    free(row);
    return GANTRY_OK;
}
