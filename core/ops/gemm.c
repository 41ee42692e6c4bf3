/* Checked ops of the gemm family: matrix products. */
#include "core/ops/ops_check.h"

gantry_status gantry_op_gemm(int trans_a, int trans_b, float alpha, const gantry_tensor *a, const gantry_tensor *b,
                             float beta, gantry_tensor *c)
{
    static const char op[] = "gemm";
    CHECK_TENSORS(op, "A,B,C", a, b, c);
    GANTRY_TRY(check_finite(op, "alpha", alpha));
    GANTRY_TRY(check_finite(op, "beta", beta));
    if (a->ndim != 2 || b->ndim != 2 || c->ndim != 2)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "gemm: A, B and C must be 2-D (got %d, %d, %d dims)", a->ndim,
                                b->ndim, c->ndim);
    size_t m = trans_a ? a->shape[1] : a->shape[0];
    size_t k = trans_a ? a->shape[0] : a->shape[1];
    size_t kb = trans_b ? b->shape[1] : b->shape[0];
    size_t n = trans_b ? b->shape[0] : b->shape[1];
    if (k != kb || c->shape[0] != m || c->shape[1] != n) {
        char sa[96], sb[96], sc[96];
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "gemm: op(A) of %s%s times op(B) of %s%s does not give C %s",
                                trans_a ? "A^T, A " : "A ", gantry__shape_str(a, sa, sizeof sa),
                                trans_b ? "B^T, B " : "B ", gantry__shape_str(b, sb, sizeof sb),
                                gantry__shape_str(c, sc, sizeof sc));
    }
    return DISPATCH(c, gemm, trans_a != 0, trans_b != 0, m, n, k, alpha, MEM(a), a->shape[1], MEM(b), b->shape[1], beta,
                    MEM(c), c->shape[1]);
}
